// ConvTranspose2d over F.convTranspose2d, with PyTorch's parameters, initialisation and repr.
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import { empty } from '../../ops/creation.js';
import type { Tensor } from '../../tensor.js';
import { convTranspose2d } from '../functional/convolution.js';
import { Module, Parameter, reprTuple } from '../module.js';
import { resetAffine } from './linear.js';

type Pair = number | readonly [number, number];

export interface ConvTranspose2dOptions {
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  groups?: number;
  bias?: boolean;
  dilation?: Pair;
}

function pair(name: string, what: string, v: Pair): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((x) => Number.isInteger(x))) throw new ArgumentError(`${name}: ${what} must be an integer or 2 integers, got ${JSON.stringify(v)}`);
  return p;
}

/**
 * The transposed 2-d convolution: weight [inChannels, outChannels/groups, kh, kw], bias
 * [outChannels]. Both are initialised as PyTorch's _ConvNd: kaiming-uniform with a = √5 and a
 * bias uniform in ±1/√fanIn, where fanIn is the weight's size(1)·kh·kw (outChannels/groups·kh·kw).
 */
export class ConvTranspose2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  weight: Tensor;
  bias: Tensor | null;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, options: ConvTranspose2dOptions = {}) {
    super();
    const name = 'ConvTranspose2d';
    this.groups = options.groups ?? 1;
    for (const [what, v] of [['in_channels', inChannels], ['out_channels', outChannels], ['groups', this.groups]] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new ArgumentError(`${name}: ${what} must be a positive integer, got ${v}`);
    }
    if (inChannels % this.groups !== 0) throw new ArgumentError(`${name}: in_channels ${inChannels} must be divisible by groups ${this.groups}`);
    if (outChannels % this.groups !== 0) throw new ArgumentError(`${name}: out_channels ${outChannels} must be divisible by groups ${this.groups}`);
    this.kernelSize = pair(name, 'kernelSize', kernelSize);
    this.stride = pair(name, 'stride', options.stride ?? 1);
    this.padding = pair(name, 'padding', options.padding ?? 0);
    this.outputPadding = pair(name, 'outputPadding', options.outputPadding ?? 0);
    this.dilation = pair(name, 'dilation', options.dilation ?? 1);
    if (this.kernelSize.some((k) => k <= 0)) throw new ArgumentError(`${name}: kernelSize must be positive, got ${JSON.stringify(kernelSize)}`);
    this.weight = Parameter(empty([inChannels, outChannels / this.groups, ...this.kernelSize]));
    this.bias = options.bias ?? true ? Parameter(empty([outChannels])) : null;
    this.resetParameters();
  }

  resetParameters(): void {
    resetAffine(this.weight, this.bias);
  }

  /**
   * outputSize ([h, w], optionally with the leading batch / channel dims) picks the output
   * padding that gives that size, as PyTorch's forward(input, output_size).
   */
  forward(input: Tensor, outputSize?: readonly number[]): Tensor {
    const outputPadding = outputSize ? this.outputPaddingFor(input, outputSize) : this.outputPadding;
    return convTranspose2d(input, this.weight, this.bias, {
      stride: this.stride, padding: this.padding, outputPadding, groups: this.groups, dilation: this.dilation,
    });
  }

  private outputPaddingFor(input: Tensor, outputSize: readonly number[]): [number, number] {
    const leading = input.ndim === 4 ? 2 : 1;
    const size = outputSize.length === leading + 2 ? outputSize.slice(leading) : [...outputSize];
    if (size.length !== 2) throw new ShapeError(`ConvTranspose2d: outputSize must have 2 or ${leading + 2} elements, got ${JSON.stringify(outputSize)}`);
    const padding: [number, number] = [0, 0];
    for (let d = 0; d < 2; d++) {
      const min = (input.shape[leading + d] - 1) * this.stride[d] - 2 * this.padding[d] + this.dilation[d] * (this.kernelSize[d] - 1) + 1;
      const max = min + this.stride[d] - 1;
      if (!(size[d] >= min && size[d] <= max)) {
        throw new ShapeError(`ConvTranspose2d: requested an output size of [${size}], but valid sizes of dim ${d} range from ${min} to ${max} ` +
          `(for an input of ${fmtShape(input.shape)})`);
      }
      padding[d] = size[d] - min;
    }
    return padding;
  }

  override extraRepr(): string {
    const isAll = (v: readonly number[], x: number) => v.every((e) => e === x);
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${reprTuple(this.kernelSize)}, stride=${reprTuple(this.stride)}`;
    if (!isAll(this.padding, 0)) s += `, padding=${reprTuple(this.padding)}`;
    if (!isAll(this.dilation, 1)) s += `, dilation=${reprTuple(this.dilation)}`;
    if (!isAll(this.outputPadding, 0)) s += `, output_padding=${reprTuple(this.outputPadding)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.bias) s += ', bias=False';
    return s;
  }
}
