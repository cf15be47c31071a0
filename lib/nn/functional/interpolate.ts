// Resampling of [N, C, L] and [N, C, H, W] inputs, as torch.nn.functional.interpolate: 'nearest'
// picks one source element per output element (an indexSelect per spatial dim); 'linear' (1-d)
// is a weighted pair of indexSelects, and 'bilinear' is separable, that along W and then along H,
// which is PyTorch's
// λh0·(λw0·x00 + λw1·x01) + λh1·(λw0·x10 + λw1·x11). The source indices and weights are
// computed on the host in float32 arithmetic (Math.fround), as PyTorch's CPU kernels compute
// them, so the same elements are picked; autograd differentiates the indexSelects.
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../../errors.js';
import { fromTypedArray } from '../../ops/creation.js';
import { assertTensor } from '../../ops/record.js';
import { scoped } from '../../scope.js';
import type { Tensor } from '../../tensor.js';

export type InterpolateMode = 'nearest' | 'linear' | 'bilinear';

export interface InterpolateOptions {
  /** The output's spatial size: one number for every spatial dim, or one per dim. */
  size?: number | readonly number[] | null;
  /** Multiplier of each spatial size (output = floor(input · scaleFactor)); instead of size. */
  scaleFactor?: number | readonly number[] | null;
  /** Default 'nearest'. */
  mode?: InterpolateMode;
  /**
   * 'linear' / 'bilinear' only: true maps the corner pixels' centres onto each other (source index
   * dst·(in−1)/(out−1)); false (the default) maps pixel areas ((dst + 0.5)·scale − 0.5).
   */
  alignCorners?: boolean | null;
  /**
   * With scaleFactor: true computes the source positions from in/out (the sizes) instead of
   * from 1/scaleFactor itself, which PyTorch uses by default.
   */
  recomputeScaleFactor?: boolean | null;
}

const f32 = Math.fround;

/** Resizes the spatial dims of x: [N, C, L] ('nearest', 'linear') or [N, C, H, W] ('nearest', 'bilinear'). */
export function interpolate(x: Tensor, options: InterpolateOptions = {}): Tensor {
  const op = 'interpolate';
  assertTensor(x, op, 'input');
  if (x.dtype !== 'float32') throw new DTypeError(`${op}: input must be float32, got ${x.dtype}`);
  const mode = options.mode ?? 'nearest';
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'bilinear') {
    throw new ArgumentError(`${op}: mode must be 'nearest', 'linear' or 'bilinear', got '${String(mode)}'`);
  }
  const alignCornersGiven = options.alignCorners !== undefined && options.alignCorners !== null;
  if (mode === 'nearest' && alignCornersGiven) {
    throw new ArgumentError(`${op}: alignCorners can only be set with the interpolating modes 'linear' and 'bilinear', not '${mode}'`);
  }
  const alignCorners = options.alignCorners ?? false;
  if (mode === 'nearest' && x.ndim !== 3 && x.ndim !== 4) {
    throw new ShapeError(`${op}: 'nearest' expects a 3-d [N, C, L] or 4-d [N, C, H, W] input, got ${fmtShape(x.shape)}`);
  }
  if (mode === 'linear' && x.ndim !== 3) {
    throw new ShapeError(`${op}: 'linear' expects a 3-d [N, C, L] input, got ${x.ndim}-d ${fmtShape(x.shape)}`);
  }
  if (mode === 'bilinear' && x.ndim !== 4) {
    throw new ShapeError(`${op}: 'bilinear' expects a 4-d [N, C, H, W] input, got ${x.ndim}-d ${fmtShape(x.shape)}`);
  }
  const inSizes = x.shape.slice(2);
  const { outSizes, scaleFactors } = outputSizes(op, x, inSizes, options);
  return scoped(() => {
    let y = x;
    // W before H: PyTorch's bilinear weights the W-interpolated rows by the H weights.
    for (let d = inSizes.length - 1; d >= 0; d--) {
      const axis = 2 + d, inSize = inSizes[d], outSize = outSizes[d], sf = scaleFactors?.[d] ?? null;
      y = mode === 'nearest'
        ? resampleNearest(y, axis, inSize, outSize, sf, x.ndim === 4)
        : resampleLinear(y, axis, inSize, outSize, sf, alignCorners);
    }
    // A size-preserving call still returns a new tensor, as PyTorch does.
    return y === x ? x.clone() : y;
  });
}

function outputSizes(op: string, x: Tensor, inSizes: number[], options: InterpolateOptions): { outSizes: number[]; scaleFactors: number[] | null } {
  const dims = inSizes.length;
  const { size, scaleFactor, recomputeScaleFactor } = options;
  const hasSize = size !== undefined && size !== null, hasScale = scaleFactor !== undefined && scaleFactor !== null;
  if (hasSize && hasScale) throw new ArgumentError(`${op}: only one of size or scaleFactor should be given`);
  if (!hasSize && !hasScale) throw new ArgumentError(`${op}: either size or scaleFactor should be given`);
  const perDim = (v: number | readonly number[], what: string): number[] => {
    const list = typeof v === 'number' ? new Array<number>(dims).fill(v) : [...v];
    if (list.length !== dims) {
      throw new ShapeError(`${op}: input ${fmtShape(x.shape)} has ${dims} spatial dims, but ${what} ${JSON.stringify(v)} has ${list.length}`);
    }
    return list;
  };
  let outSizes: number[];
  let scaleFactors: number[] | null = null;
  if (hasSize) {
    if (recomputeScaleFactor) throw new ArgumentError(`${op}: recomputeScaleFactor is not meaningful with an explicit size`);
    outSizes = perDim(size, 'size');
    if (!outSizes.every((s) => Number.isInteger(s) && s > 0)) throw new ArgumentError(`${op}: size must hold positive integers, got ${JSON.stringify(size)}`);
  } else {
    const factors = perDim(scaleFactor!, 'scaleFactor');
    if (!factors.every((s) => typeof s === 'number' && Number.isFinite(s) && s > 0)) {
      throw new ArgumentError(`${op}: scaleFactor must hold finite numbers > 0, got ${JSON.stringify(scaleFactor)}`);
    }
    outSizes = inSizes.map((s, d) => Math.floor(s * factors[d]));
    if (outSizes.some((s) => s <= 0)) {
      throw new ShapeError(`${op}: input ${fmtShape(x.shape)} with scaleFactor ${JSON.stringify(scaleFactor)} gives an empty output [${outSizes}]`);
    }
    scaleFactors = recomputeScaleFactor ? null : factors;
  }
  if (inSizes.some((s) => s <= 0)) throw new ShapeError(`${op}: input ${fmtShape(x.shape)} has an empty spatial dim`);
  return { outSizes, scaleFactors };
}

/** PyTorch's compute_scales_value in float32: 1/scaleFactor when one was given, else in/out. */
function sourceScale(inSize: number, outSize: number, scaleFactor: number | null): number {
  return scaleFactor !== null ? f32(1 / scaleFactor) : f32(inSize / outSize);
}

function resampleNearest(y: Tensor, axis: number, inSize: number, outSize: number, sf: number | null, fourD: boolean): Tensor {
  // The 2-d kernel copies equal sizes and halves indices at exactly twice the size without
  // multiplying; the 1-d one always floors dst·scale (PyTorch 2's CPU kernels differ so).
  if (fourD && outSize === inSize) return y;
  const index = new Int32Array(outSize);
  const scale = sourceScale(inSize, outSize, sf);
  for (let i = 0; i < outSize; i++) {
    index[i] = fourD && outSize === 2 * inSize ? i >> 1 : Math.min(Math.floor(f32(i * scale)), inSize - 1);
  }
  return y.indexSelect(axis, fromTypedArray(index, [outSize], 'int32', y.device));
}

function resampleLinear(y: Tensor, axis: number, inSize: number, outSize: number, sf: number | null, alignCorners: boolean): Tensor {
  if (outSize === inSize) return y;
  const scale = alignCorners ? (outSize > 1 ? f32((inSize - 1) / (outSize - 1)) : 0) : sourceScale(inSize, outSize, sf);
  const i0 = new Int32Array(outSize), i1 = new Int32Array(outSize);
  const l0 = new Float32Array(outSize), l1 = new Float32Array(outSize);
  for (let i = 0; i < outSize; i++) {
    let real = alignCorners ? f32(scale * i) : f32(f32(scale * (i + 0.5)) - 0.5);
    if (!alignCorners && real < 0) real = 0;
    const lo = Math.min(Math.floor(real), inSize - 1);
    const lambda = Math.min(Math.max(f32(real - lo), 0), 1);
    i0[i] = lo;
    i1[i] = lo < inSize - 1 ? lo + 1 : lo;
    l1[i] = lambda;
    l0[i] = f32(1 - lambda);
  }
  const weightShape = axis === y.ndim - 1 ? [outSize] : [outSize, ...new Array<number>(y.ndim - 1 - axis).fill(1)];
  const dev = y.device;
  const near = y.indexSelect(axis, fromTypedArray(i0, [outSize], 'int32', dev)).mul(fromTypedArray(l0, weightShape, 'float32', dev));
  const far = y.indexSelect(axis, fromTypedArray(i1, [outSize], 'int32', dev)).mul(fromTypedArray(l1, weightShape, 'float32', dev));
  return near.add(far);
}
