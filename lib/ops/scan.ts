// Running sums and products along one dim. The scan runs on the host over x's row-major values,
// accumulating in float64 as PyTorch's CPU scans do (for CUDA tensors this is a round trip through
// host memory until the GPU issue adds a device scan): one pass, exact, and no kernel to add.
import { noGrad } from '../autograd/grad_mode.js';
import { ArgumentError, DTypeError } from '../errors.js';
import { type Tensor, shapeNumel } from '../tensor.js';
import { fromTypedArray } from './creation.js';
import { assertTensor, record } from './record.js';
import { flip, normalizeDim } from './shape.js';

function checkScannable(op: string, x: Tensor, dim: number): number {
  assertTensor(x, op, 'input');
  if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') throw new DTypeError(`${op}: unsupported dtype ${x.dtype}`);
  if (typeof dim !== 'number') throw new ArgumentError(`${op}: dim must be a number, got ${typeof dim}`);
  return normalizeDim(dim, x.ndim, op);
}

/**
 * The running sum (or product) along dim d, float32 for float32 input and int32 otherwise. One
 * pass over x's row-major values as [outer, n, inner]: each step along d updates `inner` float64
 * accumulators, so the innermost loop reads and writes contiguous memory whatever d is.
 */
function scan(x: Tensor, d: number, product: boolean): Tensor {
  const values = noGrad(() => x.data());
  const n = x.ndim === 0 ? 1 : x.shape[d];
  const inner = shapeNumel(x.shape.slice(d + 1)), outer = n === 0 ? 0 : values.length / (n * inner);
  const float = x.dtype === 'float32';
  const out = float ? new Float32Array(values.length) : new Int32Array(values.length);
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(product ? 1 : 0);
    for (let k = 0; k < n; k++) {
      const base = (o * n + k) * inner;
      for (let i = 0; i < inner; i++) {
        const v = values[base + i];
        const a = product ? (float ? acc[i] * v : Math.imul(acc[i], v)) : float ? acc[i] + v : (acc[i] + v) | 0;
        acc[i] = a;
        out[base + i] = a;
      }
    }
  }
  return fromTypedArray(out, [...x.shape], float ? 'float32' : 'int32', x.device);
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
  const xv = noGrad(() => x.data()), gv = noGrad(() => g.data());
  const n = x.ndim === 0 ? 1 : x.shape[d];
  const inner = shapeNumel(x.shape.slice(d + 1)), outer = n === 0 ? 0 : xv.length / (n * inner);
  const out = new Float32Array(xv.length);
  const suffix = new Float64Array(n * inner), acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const block = o * n * inner;
    for (let k = n - 1; k >= 0; k--) {
      for (let i = 0; i < inner; i++) {
        const at = block + k * inner + i;
        const s = k === n - 1 ? gv[at] : gv[at] + xv[at + inner] * suffix[(k + 1) * inner + i];
        suffix[k * inner + i] = s;
      }
    }
    acc.fill(1);
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < inner; i++) {
        const at = block + k * inner + i;
        out[at] = acc[i] * suffix[k * inner + i];
        acc[i] *= xv[at];
      }
    }
  }
  return fromTypedArray(out, [...x.shape], 'float32', x.device);
}
