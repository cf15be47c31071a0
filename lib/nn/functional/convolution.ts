// The transposed convolution and im2col (unfold), with PyTorch's semantics.
//
// convTranspose2d is the adjoint of conv2d, so it needs no kernel of its own: for the conv whose
// input is the transposed conv's output (geometry g below: c = outChannels, h×w = output size,
// k = inChannels, oh×ow = input size), the forward is that conv's input gradient, the input
// gradient is that conv's forward, and the weight gradient is its weight gradient with the
// roles of input and output swapped. unfold gathers each window's elements with one
// indexSelect, whose backward scatters them back.
import type { ConvGeometry } from '../../backend/backend.js';
import { backendOf } from '../../backend/index.js';
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import { fromTypedArray, zeros } from '../../ops/creation.js';
import { assertTensor, record, sameDevice } from '../../ops/record.js';
import { assertFloat, dense, noDoubleBackward, nonNegative, positive } from '../../ops/conv.js';
import { cat, contiguous } from '../../ops/shape.js';
import { scoped } from '../../scope.js';
import { Tensor } from '../../tensor.js';

export type Size2 = number | readonly [number, number];

export interface ConvTranspose2dOptions {
  stride?: Size2;
  /** Removed from both sides of each output dim: dilation·(kernel−1)−padding zeros pad the input. */
  padding?: Size2;
  /** Extra rows / columns added on one side of the output; smaller than the stride or the dilation. */
  outputPadding?: Size2;
  groups?: number;
  dilation?: Size2;
}

export interface UnfoldOptions {
  dilation?: Size2;
  padding?: Size2;
  stride?: Size2;
}


/** A float32 tensor argument. */
export function floatTensor(op: string, what: string, value: unknown): Tensor {
  const t = assertTensor(value, op, what);
  assertFloat(op, t);
  return t;
}

// ---- transposed convolution -----------------------------------------------------------------

/**
 * 2-d transposed convolution ("deconvolution"): x [n, inC, h, w] or [inC, h, w], weight
 * [inC, outC/groups, kh, kw], bias [outC]; the output is (h−1)·stride − 2·padding +
 * dilation·(kh−1) + outputPadding + 1 tall, and likewise wide.
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvTranspose2dOptions = {}): Tensor {
  const op = 'convTranspose2d';
  floatTensor(op, 'input', x);
  floatTensor(op, 'weight', weight);
  const b = bias === undefined || bias === null ? null : floatTensor(op, 'bias', bias);
  sameDevice(op, x, weight, ...(b ? [b] : []));
  if (x.ndim !== 3 && x.ndim !== 4) throw new ShapeError(`${op}: expected a 3-d (unbatched) or 4-d (batched) input, got ${fmtShape(x.shape)}`);
  if (weight.ndim !== 4) throw new ShapeError(`${op}: expected a 4-d weight [in, out/groups, kh, kw], got ${fmtShape(weight.shape)}`);
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups <= 0) throw new ArgumentError(`${op}: groups must be a positive integer, got ${groups}`);
  const batched = x.ndim === 4;
  const [n, inC, h, w] = batched ? x.shape : [1, ...x.shape];
  const [wIn, outPerGroup, kh, kw] = weight.shape;
  if (weight.shape.some((s) => s === 0)) throw new ShapeError(`${op}: weight ${fmtShape(weight.shape)} has a zero-size dim`);
  if (inC !== wIn) throw new ShapeError(`${op}: input ${fmtShape(x.shape)} has ${inC} channels, but weight ${fmtShape(weight.shape)} expects ${wIn}`);
  if (inC % groups !== 0) throw new ShapeError(`${op}: weight ${fmtShape(weight.shape)}: ${inC} input channels are not divisible by groups=${groups}`);
  const outC = outPerGroup * groups;
  if (b && (b.ndim !== 1 || b.shape[0] !== outC)) throw new ShapeError(`${op}: bias ${fmtShape(b.shape)} must have shape [${outC}] for weight ${fmtShape(weight.shape)} with groups=${groups}`);
  if (inC === 0 || h === 0 || w === 0) throw new ShapeError(`${op}: input ${fmtShape(x.shape)} has a zero-size channel or spatial dim`);
  const stride = positive(options.stride ?? 1, 2, op, 'stride');
  const padding = nonNegative(options.padding ?? 0, 2, op, 'padding');
  const outputPadding = nonNegative(options.outputPadding ?? 0, 2, op, 'outputPadding');
  const dilation = positive(options.dilation ?? 1, 2, op, 'dilation');
  for (let d = 0; d < 2; d++) {
    if (outputPadding[d] >= stride[d] && outputPadding[d] >= dilation[d]) {
      throw new ArgumentError(`${op}: outputPadding [${outputPadding}] must be smaller than either stride [${stride}] or dilation [${dilation}]`);
    }
  }
  const k = [kh, kw], inSize = [h, w];
  const outSize = [0, 1].map((d) => (inSize[d] - 1) * stride[d] - 2 * padding[d] + dilation[d] * (k[d] - 1) + outputPadding[d] + 1);
  if (outSize.some((s) => s <= 0)) {
    throw new ShapeError(`${op}: input ${fmtShape(x.shape)} with weight ${fmtShape(weight.shape)}, stride [${stride}] and padding [${padding}] ` +
      `gives a non-positive output size [${outSize}]`);
  }
  const g: ConvGeometry = {
    n, c: outC, h: outSize[0], w: outSize[1], k: inC, kh, kw, oh: h, ow: w,
    strideH: stride[0], strideW: stride[1], padH: padding[0], padW: padding[1],
    dilationH: dilation[0], dilationW: dilation[1], groups,
  };
  const outShape = batched ? [n, outC, ...outSize] : [outC, ...outSize];
  return scoped(() => {
    const y = transposedConv(op, x, weight, g, outShape);
    return b ? y.add(b.reshape([outC, 1, 1])) : y;
  });
}

/** The bias-free transposed convolution of geometry g as one autograd node (see the header). */
function transposedConv(op: string, x: Tensor, weight: Tensor, g: ConvGeometry, outShape: number[]): Tensor {
  // In the conv's terms: its input is our output, its output is our input.
  const convIn4 = [g.n, g.c, g.h, g.w], convOut4 = [g.n, g.k, g.oh, g.ow], w4 = [g.k, g.c / g.groups, g.kh, g.kw];
  const out = Tensor._empty(outShape, 'float32', x.device);
  if (g.n === 0) return out;
  backendOf(x).conv2dInputGrad(g, dense(out, convIn4), dense(contiguous(x), convOut4), dense(contiguous(weight), w4));
  return record('ConvolutionTransposeBackward', out, [x, weight], (node) => {
    const xs = node.save(x), ws = node.save(weight);
    return (grad) => {
      noDoubleBackward(op);
      const gc = contiguous(grad);
      let dx: Tensor | null = null, dw: Tensor | null = null;
      if (x.requiresGrad) {
        dx = Tensor._empty(x.shape, 'float32', x.device);
        backendOf(gc).conv2d(g, dense(dx, convOut4), dense(gc, convIn4), dense(contiguous(ws), w4), null);
      }
      if (weight.requiresGrad) {
        dw = Tensor._empty(weight.shape, 'float32', weight.device);
        backendOf(gc).conv2dWeightGrad(g, dense(dw, w4), dense(gc, convIn4), dense(contiguous(xs), convOut4));
      }
      return [dx, dw];
    };
  });
}

// ---- unfold (im2col) ------------------------------------------------------------------------

/**
 * Sliding local blocks of x [n, c, h, w] (or [c, h, w]) as columns: [n, c·kh·kw, L] (or
 * [c·kh·kw, L]) where L counts the windows in row-major order and the rows run over channel,
 * then kernel row, then kernel column, as torch.nn.functional.unfold.
 */
export function unfold(x: Tensor, kernelSize: Size2, options: UnfoldOptions = {}): Tensor {
  const op = 'unfold';
  floatTensor(op, 'input', x);
  if (x.ndim !== 3 && x.ndim !== 4) throw new ShapeError(`${op}: expected a 3-d (unbatched) or 4-d (batched) input, got ${fmtShape(x.shape)}`);
  const [kh, kw] = positive(kernelSize, 2, op, 'kernelSize');
  const dilation = positive(options.dilation ?? 1, 2, op, 'dilation');
  const padding = nonNegative(options.padding ?? 0, 2, op, 'padding');
  const stride = positive(options.stride ?? 1, 2, op, 'stride');
  const batched = x.ndim === 4;
  const [n, c, h, w] = batched ? x.shape : [1, ...x.shape];
  if (c === 0 || h === 0 || w === 0) throw new ShapeError(`${op}: input ${fmtShape(x.shape)} has a zero-size channel or spatial dim`);
  const oh = Math.floor((h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) / stride[0]) + 1;
  const ow = Math.floor((w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) / stride[1]) + 1;
  if (oh <= 0 || ow <= 0) {
    throw new ShapeError(`${op}: input ${fmtShape(x.shape)} with kernel [${kh},${kw}], padding [${padding}] and dilation [${dilation}] ` +
      `gives a non-positive number of blocks [${oh},${ow}]`);
  }
  const taps = kh * kw, blocks = oh * ow, plane = h * w;
  // index[tap·L + block] is the position in the flattened plane, or `plane` (a zero appended
  // after it) where the window reaches into the padding.
  const index = new Int32Array(taps * blocks);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let by = 0; by < oh; by++) {
        const y = by * stride[0] - padding[0] + i * dilation[0];
        for (let bx = 0; bx < ow; bx++) {
          const xx = bx * stride[1] - padding[1] + j * dilation[1];
          const inside = y >= 0 && y < h && xx >= 0 && xx < w;
          index[((i * kw + j) * oh + by) * ow + bx] = inside ? y * w + xx : plane;
        }
      }
    }
  }
  return scoped(() => {
    const flat = (batched ? x : x.unsqueeze(0)).reshape([n, c, plane]);
    const withZero = padding[0] > 0 || padding[1] > 0 ? cat([flat, zeros([n, c, 1], { device: x.device })], 2) : flat;
    const cols = withZero.indexSelect(2, fromTypedArray(index, [index.length], 'int32', x.device));
    return cols.reshape(batched ? [n, c * taps, blocks] : [c * taps, blocks]);
  });
}
