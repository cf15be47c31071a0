// Conv1d, Conv2d and the pooling layers, over lib/ops/conv.ts.
import { ArgumentError } from '../../errors.js';
import { empty } from '../../ops/creation.js';
import { adaptiveAvgPool2d, avgPool2d, conv1d, conv2d, maxPool2d } from '../../ops/conv.js';
import type { Tensor } from '../../tensor.js';
import { resetAffine } from './linear.js';
import { Module, Parameter, reprTuple } from '../module.js';

type Pair = number | [number, number];
type Padding = Pair | 'same' | 'valid';

export interface ConvOptions<P> {
  stride?: P;
  padding?: P | 'same' | 'valid';
  dilation?: P;
  groups?: number;
  bias?: boolean;
}

function pair(v: Pair): [number, number] {
  return Array.isArray(v) ? [v[0], v[1]] : [v, v];
}

/** A conv argument as PyTorch prints it: always a tuple of per-dim values; 'same' / 'valid' bare. */
function reprPerDim(v: number | readonly number[] | string, dims: number): string {
  if (typeof v === 'string') return v;
  return reprTuple(typeof v === 'number' ? new Array<number>(dims).fill(v) : v);
}

/** A pooling argument as given: a number plainly, a pair as a tuple. */
function reprSize(v: number | readonly number[] | null | undefined, fallback: number | readonly number[]): string {
  const x = v ?? fallback;
  return typeof x === 'number' ? String(x) : reprTuple(x);
}

/** PyTorch's conv extra_repr: padding and dilation only when not the defaults. */
function convRepr(m: { inChannels: number; outChannels: number; kernelSize: number[]; groups: number; bias: Tensor | null }, stride: number | readonly number[], padding: number | readonly number[] | string, dilation: number | readonly number[]): string {
  const dims = m.kernelSize.length;
  const all = (v: number | readonly number[], d: number) => (typeof v === 'number' ? v === d : v.every((x) => x === d));
  let s = `${m.inChannels}, ${m.outChannels}, kernel_size=${reprTuple(m.kernelSize)}, stride=${reprPerDim(stride, dims)}`;
  if (typeof padding === 'string' || !all(padding, 0)) s += `, padding=${reprPerDim(padding, dims)}`;
  if (!all(dilation, 1)) s += `, dilation=${reprPerDim(dilation, dims)}`;
  if (m.groups !== 1) s += `, groups=${m.groups}`;
  if (!m.bias) s += ', bias=False';
  return s;
}

abstract class ConvNd extends Module {
  weight: Tensor;
  bias: Tensor | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number[],
    readonly groups: number,
    bias: boolean,
  ) {
    super();
    const name = new.target.name;
    for (const [what, v] of [['in_channels', inChannels], ['out_channels', outChannels], ['groups', groups]] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new ArgumentError(`${name}: ${what} must be a positive integer, got ${v}`);
    }
    if (inChannels % groups !== 0) throw new ArgumentError(`${name}: in_channels ${inChannels} must be divisible by groups ${groups}`);
    if (outChannels % groups !== 0) throw new ArgumentError(`${name}: out_channels ${outChannels} must be divisible by groups ${groups}`);
    this.weight = Parameter(empty([outChannels, inChannels / groups, ...kernelSize]));
    this.bias = bias ? Parameter(empty([outChannels])) : null;
    this.resetParameters();
  }

  resetParameters(): void {
    resetAffine(this.weight, this.bias);
  }
}

export class Conv2d extends ConvNd {
  readonly stride: Pair;
  readonly padding: Padding;
  readonly dilation: Pair;

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, options: ConvOptions<Pair> = {}) {
    super(inChannels, outChannels, pair(kernelSize), options.groups ?? 1, options.bias ?? true);
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    this.dilation = options.dilation ?? 1;
  }

  forward(input: Tensor): Tensor {
    return conv2d(input, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }

  override extraRepr(): string {
    return convRepr(this, this.stride, this.padding, this.dilation);
  }
}

export class Conv1d extends ConvNd {
  readonly stride: number;
  readonly padding: number | 'same' | 'valid';
  readonly dilation: number;

  constructor(inChannels: number, outChannels: number, kernelSize: number, options: ConvOptions<number> = {}) {
    super(inChannels, outChannels, [kernelSize], options.groups ?? 1, options.bias ?? true);
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    this.dilation = options.dilation ?? 1;
  }

  forward(input: Tensor): Tensor {
    return conv1d(input, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }

  override extraRepr(): string {
    return convRepr(this, this.stride, this.padding, this.dilation);
  }
}

export interface PoolOptions {
  stride?: Pair | null;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
}

export class MaxPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly options: PoolOptions = {}) {
    super();
  }

  forward(input: Tensor): Tensor {
    return maxPool2d(input, this.kernelSize, { ...this.options, stride: this.options.stride ?? this.kernelSize });
  }

  override extraRepr(): string {
    const o = this.options;
    return `kernel_size=${reprSize(this.kernelSize, 0)}, stride=${reprSize(o.stride, this.kernelSize)}, padding=${reprSize(o.padding, 0)}, dilation=${reprSize(o.dilation, 1)}, ceil_mode=${o.ceilMode ? 'True' : 'False'}`;
  }
}

export class AvgPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly options: PoolOptions & { countIncludePad?: boolean } = {}) {
    super();
  }

  forward(input: Tensor): Tensor {
    return avgPool2d(input, this.kernelSize, { ...this.options, stride: this.options.stride ?? this.kernelSize });
  }

  override extraRepr(): string {
    return `kernel_size=${reprSize(this.kernelSize, 0)}, stride=${reprSize(this.options.stride, this.kernelSize)}, padding=${reprSize(this.options.padding, 0)}`;
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }

  forward(input: Tensor): Tensor {
    return adaptiveAvgPool2d(input, this.outputSize);
  }

  override extraRepr(): string {
    return `output_size=${reprSize(this.outputSize, 0)}`;
  }
}
