// 1-d max pooling: the 2-d pooling kernels over the input seen as [n, c, 1, L] (a size-1 height
// with stride 0, no copy), so the window's index in the plane is its position along L.
import type { PoolGeometry } from '../../backend/backend.js';
import { backendOf } from '../../backend/index.js';
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import { record } from '../../ops/record.js';
import { contiguous } from '../../ops/shape.js';
import { scoped } from '../../scope.js';
import { Tensor } from '../../tensor.js';
import { dense, noDoubleBackward, nonNegative, positive } from '../../ops/conv.js';
import { floatTensor } from './convolution.js';

type Size1 = number | readonly [number];

export interface MaxPool1dOptions {
  /** Defaults to the kernel size. */
  stride?: Size1 | null;
  padding?: Size1;
  dilation?: Size1;
  ceilMode?: boolean;
  /** Also return each maximum's position along L (int32), as PyTorch's return_indices. */
  returnIndices?: boolean;
}

/** The pooled values and, for each, the position along L of the maximum it took. */
export type PooledWithIndices = [values: Tensor, indices: Tensor];

/** Max over windows along the last dim of x [n, c, L] or [c, L]; ties go to the first maximum. */
export function maxPool1d(x: Tensor, kernelSize: Size1, options: MaxPool1dOptions & { returnIndices: true }): PooledWithIndices;
export function maxPool1d(x: Tensor, kernelSize: Size1, options?: MaxPool1dOptions & { returnIndices?: false }): Tensor;
export function maxPool1d(x: Tensor, kernelSize: Size1, options?: MaxPool1dOptions): Tensor | PooledWithIndices;
export function maxPool1d(x: Tensor, kernelSize: Size1, options: MaxPool1dOptions = {}): Tensor | PooledWithIndices {
  const op = 'maxPool1d';
  floatTensor(op, 'input', x);
  if (x.ndim !== 2 && x.ndim !== 3) throw new ShapeError(`${op}: expected a 2-d (unbatched) or 3-d (batched) input, got ${fmtShape(x.shape)}`);
  const [k] = positive(kernelSize, 1, op, 'kernelSize');
  const [s] = options.stride === null || options.stride === undefined ? [k] : positive(options.stride, 1, op, 'stride');
  const [p] = nonNegative(options.padding ?? 0, 1, op, 'padding');
  const [d] = positive(options.dilation ?? 1, 1, op, 'dilation');
  const ceilMode = options.ceilMode ?? false;
  if (p > Math.floor(k / 2)) throw new ArgumentError(`${op}: padding ${p} must be at most half the kernel size ${k}`);
  const batched = x.ndim === 3;
  const [n, c, len] = batched ? x.shape : [1, ...x.shape];
  const [sn, sc, sl] = batched ? x.strides : [0, ...x.strides];
  if (c === 0 || len === 0) throw new ShapeError(`${op}: input ${fmtShape(x.shape)} has a zero-size channel or length`);
  // PyTorch's pooling_output_shape: in ceil mode the last window must start inside the input or its left padding.
  let outLen = Math.floor((len + 2 * p - d * (k - 1) - 1 + (ceilMode ? s - 1 : 0)) / s) + 1;
  if (ceilMode && (outLen - 1) * s >= len + p) outLen--;
  if (outLen < 1) {
    throw new ShapeError(`${op}: input ${fmtShape(x.shape)} is too small for kernel ${k} with padding ${p} and dilation ${d}: ` +
      `the output length would be ${outLen}`);
  }
  const g: PoolGeometry = { n, c, h: 1, w: len, oh: 1, ow: outLen, kh: 1, kw: k, strideH: 1, strideW: s, padH: 0, padW: p, dilationH: 1, dilationW: d };
  const x4 = [n, c, 1, len], out4 = [n, c, 1, outLen];
  const outShape = batched ? [n, c, outLen] : [c, outLen];
  return scoped((): Tensor | PooledWithIndices => {
    const out = Tensor._empty(outShape, 'float32', x.device);
    const indices = Tensor._empty(outShape, 'int32', x.device);
    if (n > 0) {
      backendOf(x).maxPool2d(g, dense(out, out4), dense(indices, out4),
        { handle: x.handle, offset: x.offset, shape: x4, strides: [sn, sc, 0, sl], dtype: x.dtype });
    }
    const values = record('MaxPool1DWithIndicesBackward', out, [x], (node) => {
      const idx = node.save(indices);
      return (grad) => {
        noDoubleBackward(op);
        const gc = contiguous(grad);
        const dx = Tensor._empty(x.shape, 'float32', x.device);
        backendOf(gc).maxPool2dBackward(g, dense(dx, x4), dense(gc, out4), dense(idx, out4));
        return [dx];
      };
    });
    // Unless returned, the indices live on only in the node's saved alias.
    return options.returnIndices ? [values, indices] : values;
  });
}
