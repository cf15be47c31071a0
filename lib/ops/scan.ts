// Running sums and products along one dim. The scan runs on the host over rows with the dim
// moved last, accumulating in float64 as PyTorch's CPU scans do (for CUDA tensors this is a
// round trip through host memory until the GPU issue adds a device scan): one pass per row, exact,
// and no kernel to add.
import { DTypeError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { assertTensor, record } from './record.js';
import { flip, normalizeDim } from './shape.js';
import { fromRows, rowsAlong } from './sorting.js';

function checkScannable(op: string, x: Tensor, dim: number): number {
  assertTensor(x, op, 'input');
  if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') throw new DTypeError(`${op}: unsupported dtype ${x.dtype}`);
  if (typeof dim !== 'number') throw new DTypeError(`${op}: dim must be a number, got ${typeof dim}`);
  return normalizeDim(dim, x.ndim, op);
}

/** Each row's running sum (sum) or product along dim d, float32 for float32 input and int32 otherwise. */
function scan(x: Tensor, d: number, product: boolean): Tensor {
  const { values, rows, n, movedShape } = rowsAlong(x, d);
  const float = x.dtype === 'float32';
  const out = float ? new Float32Array(rows * n) : new Int32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    let acc = product ? 1 : 0;
    for (let i = r * n; i < (r + 1) * n; i++) {
      if (product) acc = float ? acc * values[i] : Math.imul(acc, values[i]);
      else acc = float ? acc + values[i] : (acc + values[i]) | 0;
      out[i] = acc;
    }
  }
  return fromRows(out, float ? 'float32' : 'int32', x, d, movedShape, n);
}

/** The running sum along dim; int32 for int32 and bool input (PyTorch: int64). */
export function cumsum(x: Tensor, dim: number): Tensor {
  const d = checkScannable('cumsum', x, dim);
  const out = scan(x, d, false);
  if (x.dtype !== 'float32') return out;
  // d(out_k)/d(x_i) = 1 for k >= i: the gradient is g's running sum taken from the end.
  return record('CumsumBackward', out, [x], () => (g) => [x.ndim === 0 ? g : flip(cumsum(flip(g, d), d), d)]);
}

/**
 * The running product along dim; int32 for int32 and bool input (PyTorch: int64). Its gradient
 * is exact with zeros in the input (no division): see cumprodGrad.
 */
export function cumprod(x: Tensor, dim: number): Tensor {
  const d = checkScannable('cumprod', x, dim);
  const out = scan(x, d, true);
  if (x.dtype !== 'float32') return out;
  return record('CumprodBackward', out, [x], (node) => {
    const xs = node.save(x);
    return (g) => [cumprodGrad(xs, g, d)];
  });
}

/**
 * grad_i = sum_{k>=i} g_k * prod_{j<=k, j!=i} x_j = P_{i-1} * S_i, with P the running product
 * before i and S_i = g_i + x_{i+1} * S_{i+1} taken from the end: O(n) per row, in float64, and
 * never dividing by x, so zeros in the input get their true gradient. Computed on the host, so
 * this gradient is not itself differentiable (a second derivative of cumprod is not supported).
 */
function cumprodGrad(x: Tensor, g: Tensor, d: number): Tensor {
  const xr = rowsAlong(x, d), gr = rowsAlong(g, d);
  const { rows, n, values: xv } = xr;
  const gv = gr.values;
  const out = new Float32Array(rows * n);
  const suffix = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let s = 0;
    for (let i = n - 1; i >= 0; i--) {
      s = i === n - 1 ? gv[base + i] : gv[base + i] + xv[base + i + 1] * s;
      suffix[i] = s;
    }
    let before = 1;
    for (let i = 0; i < n; i++) {
      out[base + i] = before * suffix[i];
      before *= xv[base + i];
    }
  }
  return fromRows(out, 'float32', x, d, xr.movedShape, n);
}
