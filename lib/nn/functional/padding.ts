// F.pad: pads (or, with negative constant pads, crops) the trailing dims, as
// torch.nn.functional.pad. Each padded dim is one cat of the input with its border pieces (a
// constant, a mirror, the edge repeated, or the wrapped-around end), so autograd gives the
// gradient: cat splits it, and flip / expand / slice route each piece back to where it came from.
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import { full } from '../../ops/creation.js';
import { clone } from '../../ops/elementwise.js';
import { assertTensor } from '../../ops/record.js';
import { cat, expand, flip, slice } from '../../ops/shape.js';
import { scoped } from '../../scope.js';
import type { Tensor } from '../../tensor.js';

export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';

export interface PadOptions {
  mode?: PadMode;
  /** The fill value for mode 'constant' (default 0). */
  value?: number;
}

/**
 * pad = [left, right] for the last dim, then [left, right] for the one before, and so on (PyTorch's
 * order). 'reflect' mirrors without repeating the edge, 'replicate' repeats the edge, 'circular'
 * wraps around; those three pad the last 1 to 3 dims of a batched or unbatched input.
 */
export function pad(input: Tensor, padding: number[], options: PadOptions = {}): Tensor {
  const op = 'pad';
  assertTensor(input, op, 'input');
  const { mode = 'constant', value = 0 } = options;
  if (!['constant', 'reflect', 'replicate', 'circular'].includes(mode)) {
    throw new ArgumentError(`${op}: mode must be 'constant', 'reflect', 'replicate' or 'circular', got '${String(mode)}'`);
  }
  if (!Array.isArray(padding) || padding.length % 2 !== 0 || padding.some((p) => !Number.isInteger(p))) {
    throw new ArgumentError(`${op}: padding must be an even-length array of integers, got ${JSON.stringify(padding)}`);
  }
  const k = padding.length / 2;
  if (k > input.ndim) throw new ShapeError(`${op}: padding of length ${padding.length} pads ${k} dims but input ${fmtShape(input.shape)} has ${input.ndim}`);
  if (mode !== 'constant') {
    if (k === 0 || k > 3 || (input.ndim !== k + 1 && input.ndim !== k + 2)) {
      throw new ShapeError(`${op}: mode '${mode}' with padding of length ${padding.length} expects a ${k + 1}-d or ${k + 2}-d input, got ${fmtShape(input.shape)}`);
    }
    if (padding.some((p) => p < 0)) throw new ArgumentError(`${op}: mode '${mode}' needs non-negative padding, got ${JSON.stringify(padding)}`);
  }
  if (mode === 'constant' && typeof value !== 'number') throw new ArgumentError(`${op}: value must be a number, got ${typeof value}`);
  return scoped(() => {
    let x = input;
    for (let j = 0; j < k; j++) {
      const d = input.ndim - 1 - j;
      const [left, right] = [padding[2 * j], padding[2 * j + 1]];
      x = padDim(x, d, left, right, mode, value, input);
    }
    return x === input ? clone(input) : x;
  });
}

function padDim(x: Tensor, d: number, left: number, right: number, mode: PadMode, value: number, input: Tensor): Tensor {
  const n = x.shape[d];
  const op = 'pad';
  if (mode === 'constant') {
    // Negative pads crop first; what remains is padded with the value.
    const cropped = left < 0 || right < 0 ? slice(x, d, Math.max(-left, 0), n - Math.max(-right, 0)) : x;
    if (n + Math.min(left, 0) + Math.min(right, 0) < 0) {
      throw new ShapeError(`${op}: padding ${left}, ${right} of dim ${d} leaves a negative size for input ${fmtShape(input.shape)}`);
    }
    const piece = (size: number) => full(x.shape.map((s, i) => (i === d ? size : s)), value, { dtype: x.dtype, device: x.device });
    const parts = [...(left > 0 ? [piece(left)] : []), cropped, ...(right > 0 ? [piece(right)] : [])];
    return parts.length === 1 ? cropped : cat(parts, d);
  }
  if (left === 0 && right === 0) return x;
  if (mode === 'reflect' && (left >= n || right >= n)) {
    throw new ShapeError(`${op}: reflect padding ${left}, ${right} of dim ${d} must be less than its size ${n} (input ${fmtShape(input.shape)})`);
  }
  if (mode === 'circular' && (left > n || right > n)) {
    throw new ShapeError(`${op}: circular padding ${left}, ${right} of dim ${d} must be at most its size ${n} (input ${fmtShape(input.shape)})`);
  }
  if (mode === 'replicate' && n === 0) throw new ShapeError(`${op}: cannot replicate-pad dim ${d} of size 0 (input ${fmtShape(input.shape)})`);
  const sized = (size: number) => x.shape.map((s, i) => (i === d ? size : s));
  let before: Tensor | null = null, after: Tensor | null = null;
  if (left > 0) {
    before = mode === 'reflect' ? flip(slice(x, d, 1, 1 + left), d)
      : mode === 'replicate' ? expand(slice(x, d, 0, 1), sized(left))
        : slice(x, d, n - left, n);
  }
  if (right > 0) {
    after = mode === 'reflect' ? flip(slice(x, d, n - 1 - right, n - 1), d)
      : mode === 'replicate' ? expand(slice(x, d, n - 1, n), sized(right))
        : slice(x, d, 0, right);
  }
  return cat([before, x, after].filter((t): t is Tensor => t !== null), d);
}
