// Convolution and pooling over NCHW float32 with PyTorch's semantics: conv1d, conv2d (stride,
// padding incl. 'same'/'valid', dilation, groups), maxPool2d, avgPool2d, adaptiveAvgPool2d.
// Each op validates, allocates, makes one backend call and records a backward that makes one
// backend call per input gradient. Unbatched (3-d / 2-d) inputs and conv1d are presented to the
// 4-d kernels as operands with extra size-1 dims, without view tensors.
import { isGradEnabled } from '../autograd/grad_mode.js';
import type { ConvGeometry, KernelOperand, PoolGeometry } from '../backend/backend.js';
import { backendOf } from '../backend/index.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { scoped } from '../scope.js';
import { Tensor, contiguousStrides } from '../tensor.js';
import { assertTensor, record, sameDevice } from './record.js';
import { contiguous } from './shape.js';

export type Size2 = number | readonly [number, number];

export interface Conv2dOptions {
  stride?: Size2;
  /** Zero padding on both sides of each spatial dim, or 'valid' (none) / 'same' (output size = input size, stride 1). */
  padding?: Size2 | 'same' | 'valid';
  dilation?: Size2;
  groups?: number;
}

export interface Conv1dOptions {
  stride?: number | readonly [number];
  padding?: number | readonly [number] | 'same' | 'valid';
  dilation?: number | readonly [number];
  groups?: number;
}

export interface MaxPool2dOptions {
  /** Defaults to the kernel size. */
  stride?: Size2 | null;
  padding?: Size2;
  dilation?: Size2;
  ceilMode?: boolean;
}

export interface AvgPool2dOptions {
  /** Defaults to the kernel size. */
  stride?: Size2 | null;
  padding?: Size2;
  ceilMode?: boolean;
  /** Count the zero padding in each window's divisor (default true, as PyTorch). */
  countIncludePad?: boolean;
}

// --- argument parsing ---------------------------------------------------------------------

function pair(value: number | readonly number[], dims: number, op: string, what: string): number[] {
  const list = typeof value === 'number' ? new Array<number>(dims).fill(value) : [...value];
  if (list.length === 1 && dims > 1) list.push(...new Array<number>(dims - 1).fill(list[0]));
  if (list.length !== dims || list.some((v) => !Number.isInteger(v))) {
    throw new ArgumentError(`${op}: ${what} must be an integer or ${dims} integers, got ${JSON.stringify(value)}`);
  }
  return list;
}

export function positive(value: number | readonly number[], dims: number, op: string, what: string): number[] {
  const list = pair(value, dims, op, what);
  if (list.some((v) => v <= 0)) throw new ArgumentError(`${op}: ${what} must be positive, got ${JSON.stringify(value)}`);
  return list;
}

export function nonNegative(value: number | readonly number[], dims: number, op: string, what: string): number[] {
  const list = pair(value, dims, op, what);
  if (list.some((v) => v < 0)) throw new ArgumentError(`${op}: ${what} must be non-negative, got ${JSON.stringify(value)}`);
  return list;
}

export function assertFloat(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'float32') throw new DTypeError(`${op}: expected float32 tensors, got ${t.dtype}`);
}

/** An operand of shape `shape` over t's storage with the given strides. */
function operand(t: Tensor, shape: number[], strides: number[]): KernelOperand {
  return { handle: t.handle, offset: t.offset, shape, strides, dtype: t.dtype };
}

/** A contiguous tensor seen with the (same-numel) shape `shape`. */
export function dense(t: Tensor, shape: number[]): KernelOperand {
  return operand(t, shape, contiguousStrides(shape));
}

export function noDoubleBackward(op: string): void {
  if (isGradEnabled()) throw new ArgumentError(`${op}: double backward (createGraph) is not supported`);
}

// --- convolution --------------------------------------------------------------------------

/** Spatial rank 1 or 2, described as a 2-d convolution (conv1d has height 1). */
interface ConvSpec {
  op: string;
  x: Tensor;
  weight: Tensor;
  bias: Tensor | null;
  batched: boolean;
  geom: ConvGeometry;
  /** x's strides as [n, c, h, w]. */
  xStrides: number[];
  outShape: number[];
}

function convOutputSize(op: string, x: Tensor, weight: Tensor, inSize: number, k: number, stride: number, pad: number,
  dilation: number): number {
  const out = Math.floor((inSize + 2 * pad - dilation * (k - 1) - 1) / stride) + 1;
  if (out <= 0) {
    throw new ShapeError(`${op}: input ${fmtShape(x.shape)} with padding ${pad} is smaller than the dilated kernel ` +
      `(${dilation * (k - 1) + 1}) of weight ${fmtShape(weight.shape)}: the output size would be ${out}`);
  }
  return out;
}

function convSpec(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, spatial: 1 | 2,
  options: Conv2dOptions | Conv1dOptions): ConvSpec {
  assertTensor(x, op, 'input');
  assertTensor(weight, op, 'weight');
  if (bias !== null && bias !== undefined) assertTensor(bias, op, 'bias');
  const b = bias ?? null;
  sameDevice(op, x, weight, ...(b ? [b] : []));
  assertFloat(op, x, weight, ...(b ? [b] : []));
  const rank = spatial + 2;
  if (x.ndim !== rank && x.ndim !== rank - 1) {
    throw new ShapeError(`${op}: expected a ${rank - 1}-d (unbatched) or ${rank}-d (batched) input, got ${fmtShape(x.shape)}`);
  }
  if (weight.ndim !== rank) throw new ShapeError(`${op}: expected a ${rank}-d weight, got ${fmtShape(weight.shape)}`);
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups <= 0) throw new ArgumentError(`${op}: groups must be a positive integer, got ${groups}`);
  const batched = x.ndim === rank;
  const xs = batched ? x.shape : [1, ...x.shape];
  const xst = batched ? x.strides : [0, ...x.strides];
  const [n, c] = xs;
  const [k, cg] = weight.shape;
  if (weight.shape.some((s) => s === 0)) throw new ShapeError(`${op}: weight ${fmtShape(weight.shape)} has a zero-size dim`);
  if (c !== cg * groups) {
    throw new ShapeError(`${op}: input ${fmtShape(x.shape)} has ${c} channels, but weight ${fmtShape(weight.shape)} ` +
      `with groups=${groups} expects ${cg * groups}`);
  }
  if (k % groups !== 0) throw new ShapeError(`${op}: weight ${fmtShape(weight.shape)}: ${k} output channels are not divisible by groups=${groups}`);
  if (b && (b.ndim !== 1 || b.shape[0] !== k)) throw new ShapeError(`${op}: bias ${fmtShape(b.shape)} must have shape [${k}] for weight ${fmtShape(weight.shape)}`);
  if (xs.slice(1).some((s) => s === 0)) throw new ShapeError(`${op}: input ${fmtShape(x.shape)} has a zero-size channel or spatial dim`);

  // Spatial dims as [h, w]; conv1d is a conv2d of height 1.
  const inSp = spatial === 2 ? xs.slice(2) : [1, xs[2]];
  const kSp = spatial === 2 ? weight.shape.slice(2) : [1, weight.shape[2]];
  const xStrides = spatial === 2 ? [...xst] : [xst[0], xst[1], 0, xst[2]];
  const widen = (v: number[], one: number) => (spatial === 2 ? v : [one, v[0]]);
  const stride = widen(positive(options.stride ?? 1, spatial, op, 'stride'), 1);
  const dilation = widen(positive(options.dilation ?? 1, spatial, op, 'dilation'), 1);
  const padOption = options.padding ?? 0;
  let pad: number[];
  const out: number[] = [];
  if (padOption === 'same') {
    if (stride.some((s) => s !== 1)) throw new ArgumentError(`${op}: padding='same' is not supported for strided convolutions`);
    // PyTorch pads dilation*(k-1) in total, the odd one on the bottom/right; the output keeps the input size.
    pad = [0, 1].map((d) => Math.floor((dilation[d] * (kSp[d] - 1)) / 2));
    out.push(inSp[0], inSp[1]);
  } else {
    if (padOption === 'valid') pad = [0, 0];
    else if (typeof padOption === 'string') throw new ArgumentError(`${op}: padding must be a number, 'same' or 'valid', got '${padOption}'`);
    else pad = widen(nonNegative(padOption, spatial, op, 'padding'), 0);
    for (let d = 0; d < 2; d++) out.push(convOutputSize(op, x, weight, inSp[d], kSp[d], stride[d], pad[d], dilation[d]));
  }
  const geom: ConvGeometry = {
    n, c, h: inSp[0], w: inSp[1], k, kh: kSp[0], kw: kSp[1], oh: out[0], ow: out[1],
    strideH: stride[0], strideW: stride[1], padH: pad[0], padW: pad[1],
    dilationH: dilation[0], dilationW: dilation[1], groups,
  };
  const spatialOut = spatial === 2 ? out : [out[1]];
  return { op, x, weight, bias: b, batched, geom, xStrides, outShape: batched ? [n, k, ...spatialOut] : [k, ...spatialOut] };
}

function runConv(s: ConvSpec): Tensor {
  const { op, x, weight, bias, geom: g } = s;
  const out = Tensor._empty(s.outShape, 'float32', x.device);
  const out4 = [g.n, g.k, g.oh, g.ow], x4 = [g.n, g.c, g.h, g.w], w4 = [g.k, g.c / g.groups, g.kh, g.kw];
  if (g.n === 0) return out;
  scoped(() => {
    const w = weight.isContiguous() ? weight : contiguous(weight);
    const b = bias && !bias.isContiguous() ? contiguous(bias) : bias;
    backendOf(x).conv2d(g, dense(out, out4), operand(x, x4, s.xStrides), dense(w, w4), b);
  });
  return record('ConvolutionBackward', out, [x, weight, bias], (node) => {
    const xs = node.save(x), ws = node.save(weight);
    return (grad) => {
      noDoubleBackward(op);
      const gc = contiguous(grad), go = dense(gc, out4);
      let dx: Tensor | null = null, dw: Tensor | null = null, db: Tensor | null = null;
      if (x.requiresGrad) {
        dx = Tensor._empty(x.shape, 'float32', x.device);
        backendOf(gc).conv2dInputGrad(g, dense(dx, x4), go, dense(contiguous(ws), w4));
      }
      if (weight.requiresGrad) {
        dw = Tensor._empty(weight.shape, 'float32', weight.device);
        backendOf(gc).conv2dWeightGrad(g, dense(dw, w4), operand(xs, x4, s.xStrides), go);
      }
      if (bias?.requiresGrad) {
        db = Tensor._empty(bias.shape, 'float32', bias.device);
        backendOf(gc).conv2dBiasGrad(g, db, go);
      }
      return [dx, dw, db];
    };
  });
}

/**
 * 2-d convolution (cross-correlation, as PyTorch): x [n, c, h, w] or [c, h, w], weight
 * [k, c/groups, kh, kw], bias [k].
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Tensor {
  return runConv(convSpec('conv2d', x, weight, bias, 2, options));
}

/** 1-d convolution: x [n, c, l] or [c, l], weight [k, c/groups, kl], bias [k]. */
export function conv1d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv1dOptions = {}): Tensor {
  return runConv(convSpec('conv1d', x, weight, bias, 1, options));
}

// --- pooling ------------------------------------------------------------------------------

interface PoolSpec {
  batched: boolean;
  geom: PoolGeometry;
  xStrides: number[];
  outShape: number[];
}

function poolInputDims(op: string, x: Tensor): { n: number; c: number; h: number; w: number; strides: number[]; batched: boolean } {
  assertTensor(x, op, 'input');
  assertFloat(op, x);
  if (x.ndim !== 3 && x.ndim !== 4) throw new ShapeError(`${op}: expected a 3-d (unbatched) or 4-d (batched) input, got ${fmtShape(x.shape)}`);
  const batched = x.ndim === 4;
  const shape = batched ? x.shape : [1, ...x.shape];
  const strides = batched ? [...x.strides] : [0, ...x.strides];
  if (shape.slice(1).some((s) => s === 0)) throw new ShapeError(`${op}: input ${fmtShape(x.shape)} has a zero-size channel or spatial dim`);
  return { n: shape[0], c: shape[1], h: shape[2], w: shape[3], strides, batched };
}

// PyTorch's pooling_output_shape: in ceil mode the last window must still start inside the
// input or its left padding.
function poolOutputSize(inSize: number, k: number, pad: number, stride: number, dilation: number, ceilMode: boolean): number {
  let out = Math.floor((inSize + 2 * pad - dilation * (k - 1) - 1 + (ceilMode ? stride - 1 : 0)) / stride) + 1;
  if (ceilMode && (out - 1) * stride >= inSize + pad) out--;
  return out;
}

function poolSpec(op: string, x: Tensor, kernelSize: Size2, stride: Size2 | null | undefined, padding: Size2,
  dilation: Size2, ceilMode: boolean): PoolSpec {
  return poolSpecOf(op, poolInputDims(op, x), x.shape, kernelSize, stride, padding, dilation, ceilMode);
}

/** The pooling of an input with dims d (inputShape for messages). */
function poolSpecOf(op: string, d: ReturnType<typeof poolInputDims>, inputShape: readonly number[], kernelSize: Size2,
  stride: Size2 | null | undefined, padding: Size2, dilation: Size2, ceilMode: boolean): PoolSpec {
  const k = positive(kernelSize, 2, op, 'kernelSize');
  const s = stride === null || stride === undefined ? k : positive(stride, 2, op, 'stride');
  const p = nonNegative(padding, 2, op, 'padding');
  const dl = positive(dilation, 2, op, 'dilation');
  if (p[0] > Math.floor(k[0] / 2) || p[1] > Math.floor(k[1] / 2)) {
    throw new ArgumentError(`${op}: padding [${p}] must be at most half the kernel size [${k}]`);
  }
  const oh = poolOutputSize(d.h, k[0], p[0], s[0], dl[0], ceilMode);
  const ow = poolOutputSize(d.w, k[1], p[1], s[1], dl[1], ceilMode);
  if (oh < 1 || ow < 1) {
    throw new ShapeError(`${op}: input ${fmtShape(inputShape)} is too small for kernel [${k}] with padding [${p}], ` +
      `dilation [${dl}]: the output size would be [${oh},${ow}]`);
  }
  const geom: PoolGeometry = {
    n: d.n, c: d.c, h: d.h, w: d.w, oh, ow, kh: k[0], kw: k[1], strideH: s[0], strideW: s[1],
    padH: p[0], padW: p[1], dilationH: dl[0], dilationW: dl[1],
  };
  return { batched: d.batched, geom, xStrides: d.strides, outShape: d.batched ? [d.n, d.c, oh, ow] : [d.c, oh, ow] };
}

/** Max over each window; on ties the first maximum in row-major window order gets the gradient. */
export function maxPool2d(x: Tensor, kernelSize: Size2, options: MaxPool2dOptions = {}): Tensor {
  const op = 'maxPool2d';
  const { geom: g, xStrides, outShape } = poolSpec(op, x, kernelSize, options.stride, options.padding ?? 0,
    options.dilation ?? 1, options.ceilMode ?? false);
  const x4 = [g.n, g.c, g.h, g.w], out4 = [g.n, g.c, g.oh, g.ow];
  if (g.n === 0) return Tensor._empty(outShape, 'float32', x.device);
  return scoped(() => {
    const out = Tensor._empty(outShape, 'float32', x.device), indices = Tensor._empty(outShape, 'int32', x.device);
    backendOf(x).maxPool2d(g, dense(out, out4), dense(indices, out4), operand(x, x4, xStrides));
    return record('MaxPool2DWithIndicesBackward', out, [x], (node) => {
      const idx = node.save(indices);
      return (grad) => {
        noDoubleBackward(op);
        const gc = contiguous(grad);
        const dx = Tensor._empty(x.shape, 'float32', x.device);
        backendOf(gc).maxPool2dBackward(g, dense(dx, x4), dense(gc, out4), dense(idx, out4));
        return [dx];
      };
    });
  });
}

/**
 * maxPool2d(conv2d(x, weight, bias, convOptions), kernelSize, poolOptions) as one autograd node:
 * the same values, and the same gradients, but the backward goes from the pooled gradient
 * straight to the convolution's gradients. Only each window's maximum receives a gradient, so
 * the convolution's output gradient would be mostly zeros; the backend's conv2dPooledBackward
 * skips them.
 */
export function conv2dMaxPool2d(x: Tensor, weight: Tensor, bias: Tensor | null | undefined, convOptions: Conv2dOptions,
  kernelSize: Size2, poolOptions: MaxPool2dOptions = {}): Tensor {
  const s = convSpec('conv2d', x, weight, bias, 2, convOptions);
  const g = s.geom;
  const op = 'maxPool2d';
  // The pooling geometry over the convolution's output, checked as maxPool2d checks its input.
  const dims = { n: g.n, c: g.k, h: g.oh, w: g.ow, strides: contiguousStrides([g.n, g.k, g.oh, g.ow]), batched: s.batched };
  const p = poolSpecOf(op, dims, s.outShape, kernelSize, poolOptions.stride, poolOptions.padding ?? 0,
    poolOptions.dilation ?? 1, poolOptions.ceilMode ?? false);
  const pg = p.geom;
  const x4 = [g.n, g.c, g.h, g.w], w4 = [g.k, g.c / g.groups, g.kh, g.kw], pooled4 = [pg.n, pg.c, pg.oh, pg.ow];
  if (g.n === 0) return Tensor._empty(p.outShape, 'float32', x.device);
  return scoped(() => {
    const out = Tensor._empty(p.outShape, 'float32', x.device), indices = Tensor._empty(p.outShape, 'int32', x.device);
    const w = weight.isContiguous() ? weight : contiguous(weight);
    const b = s.bias && !s.bias.isContiguous() ? contiguous(s.bias) : s.bias;
    backendOf(x).conv2dMaxPool2d(g, pg, dense(out, pooled4), dense(indices, pooled4), operand(x, x4, s.xStrides),
      dense(w, w4), b && dense(b, [g.k]));
    return record('ConvolutionMaxPoolBackward', out, [x, weight, s.bias], (node) => {
      const xs = node.save(x), ws = node.save(weight), idx = node.save(indices);
      return (grad) => {
        noDoubleBackward('conv2d');
        const gc = contiguous(grad);
        const dx = x.requiresGrad ? Tensor._empty(x.shape, 'float32', x.device) : null;
        const dw = weight.requiresGrad ? Tensor._empty(weight.shape, 'float32', weight.device) : null;
        const db = s.bias?.requiresGrad ? Tensor._empty(s.bias.shape, 'float32', s.bias.device) : null;
        backendOf(gc).conv2dPooledBackward(g, pg, operand(xs, x4, s.xStrides), dense(contiguous(ws), w4), dense(gc, pooled4),
          dense(idx, pooled4), dx && dense(dx, x4), dw && dense(dw, w4), db);
        return [dx, dw, db];
      };
    });
  });
}

/** Mean over each window; countIncludePad (default true) counts padding zeros in the divisor. */
export function avgPool2d(x: Tensor, kernelSize: Size2, options: AvgPool2dOptions = {}): Tensor {
  const op = 'avgPool2d';
  const countIncludePad = options.countIncludePad ?? true;
  const { geom: g, xStrides, outShape } = poolSpec(op, x, kernelSize, options.stride, options.padding ?? 0, 1,
    options.ceilMode ?? false);
  const x4 = [g.n, g.c, g.h, g.w], out4 = [g.n, g.c, g.oh, g.ow];
  const out = Tensor._empty(outShape, 'float32', x.device);
  if (g.n === 0) return out;
  backendOf(x).avgPool2d(g, countIncludePad, dense(out, out4), operand(x, x4, xStrides));
  return record('AvgPool2DBackward', out, [x], () => (grad) => {
    noDoubleBackward(op);
    const gc = contiguous(grad);
    const dx = Tensor._empty(x.shape, 'float32', x.device);
    backendOf(gc).avgPool2dBackward(g, countIncludePad, dense(dx, x4), dense(gc, out4));
    return [dx];
  });
}

/**
 * Averages over windows that tile the input into outputSize cells (cell i of n spans
 * [floor(i*h/n), ceil((i+1)*h/n))); a null size keeps the input's size in that dim.
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | readonly [number | null, number | null]): Tensor {
  const op = 'adaptiveAvgPool2d';
  const d = poolInputDims(op, x);
  const sizes = typeof outputSize === 'number' ? [outputSize, outputSize] : [...outputSize];
  if (sizes.length !== 2) throw new ArgumentError(`${op}: outputSize must be a number or 2 sizes, got ${JSON.stringify(outputSize)}`);
  const [oh, ow] = [sizes[0] ?? d.h, sizes[1] ?? d.w];
  if (![oh, ow].every((v) => Number.isInteger(v) && v > 0)) {
    throw new ArgumentError(`${op}: outputSize must hold positive integers, got ${JSON.stringify(outputSize)}`);
  }
  const x4 = [d.n, d.c, d.h, d.w], out4 = [d.n, d.c, oh, ow];
  const out = Tensor._empty(d.batched ? out4 : out4.slice(1), 'float32', x.device);
  if (d.n === 0) return out;
  backendOf(x).adaptiveAvgPool2d(dense(out, out4), operand(x, x4, d.strides));
  return record('AdaptiveAvgPool2DBackward', out, [x], () => (grad) => {
    noDoubleBackward(op);
    const gc = contiguous(grad);
    const dx = Tensor._empty(x.shape, 'float32', x.device);
    backendOf(gc).adaptiveAvgPool2dBackward(dense(dx, x4), dense(gc, out4));
    return [dx];
  });
}
