// kd.nn.init: fill parameters in place, as torch.nn.init. Values come from the seeded generator
// in lib/random.ts (kd.manualSeed), are drawn on the host and copied in under noGrad, so a
// parameter that requires grad can be re-initialised. Each function returns its tensor.
import { noGrad } from '../autograd/grad_mode.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { fromTypedArray } from '../ops/creation.js';
import { fillNormal, fillUniform, nextUniform } from '../random.js';
import { Tensor } from '../tensor.js';

export type Nonlinearity =
  | 'linear' | 'identity' | 'conv1d' | 'conv2d' | 'conv3d' | 'conv_transpose1d' | 'conv_transpose2d' | 'conv_transpose3d'
  | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

export type FanMode = 'fanIn' | 'fanOut';

export interface KaimingOptions {
  /** The negative slope of the leaky ReLU that follows (0 for ReLU). Default 0. */
  a?: number;
  /** 'fanIn' (default) keeps the forward pass's variance, 'fanOut' the backward pass's. */
  mode?: FanMode;
  /** Default 'leaky_relu' (with slope a), as PyTorch. */
  nonlinearity?: Nonlinearity;
}

const LINEAR_LIKE = new Set(['linear', 'identity', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d', 'conv_transpose3d', 'sigmoid']);

/** The recommended gain for a nonlinearity (torch.nn.init.calculate_gain); param is leaky_relu's slope. */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  if (LINEAR_LIKE.has(nonlinearity)) return 1;
  switch (nonlinearity) {
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'selu': return 3 / 4;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      if (typeof slope !== 'number' || !Number.isFinite(slope)) throw new ArgumentError(`calculateGain: negative slope ${String(slope)} is not a valid number`);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    default:
      throw new ArgumentError(`calculateGain: unsupported nonlinearity '${String(nonlinearity)}'`);
  }
}

/**
 * fanIn = size(1) · receptive field, fanOut = size(0) · receptive field, where the receptive
 * field is the product of the dims after the first two (a Linear weight [out, in]; a conv weight
 * [out, in/groups, kH, kW]), as PyTorch's _calculate_fan_in_and_fan_out.
 */
export function calculateFanInAndFanOut(t: Tensor): { fanIn: number; fanOut: number } {
  if (!(t instanceof Tensor)) throw new ArgumentError('calculateFanInAndFanOut: expected a Tensor');
  if (t.ndim < 2) {
    throw new ShapeError(`calculateFanInAndFanOut: fan in and fan out can not be computed for a tensor with fewer than 2 dims, got ${fmtShape(t.shape)}`);
  }
  let receptiveField = 1;
  for (let d = 2; d < t.ndim; d++) receptiveField *= t.shape[d];
  return { fanIn: t.shape[1] * receptiveField, fanOut: t.shape[0] * receptiveField };
}

function fanOf(op: string, t: Tensor, mode: FanMode | 'fan_in' | 'fan_out'): number {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  if (mode === 'fanIn' || mode === 'fan_in') return fanIn;
  if (mode === 'fanOut' || mode === 'fan_out') return fanOut;
  throw new ArgumentError(`${op}: mode must be 'fanIn' or 'fanOut', got '${String(mode)}'`);
}

function target(op: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) throw new ArgumentError(`${op}: expected a Tensor`);
  t._assertLive(op);
  if (t.dtype !== 'float32') throw new DTypeError(`${op}: can only initialise float32 tensors, got ${t.dtype}`);
  return t;
}

function checkFinite(op: string, name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`${op}: ${name} must be a finite number, got ${String(v)}`);
}

/** Draws t.numel values on the host and copies them into t (any layout, any device). */
function fillFromHost(t: Tensor, fill: (values: Float32Array) => void): Tensor {
  const values = new Float32Array(t.numel);
  fill(values);
  const src = fromTypedArray(values, [...t.shape], 'float32', t.device);
  noGrad(() => t.copy_(src));
  src.dispose();
  return t;
}

/** Uniform on [a, b). */
export function uniform_(t: Tensor, a = 0, b = 1): Tensor {
  target('uniform_', t);
  checkFinite('uniform_', 'a', a);
  checkFinite('uniform_', 'b', b);
  if (a > b) throw new ArgumentError(`uniform_: expected a <= b, got a=${a}, b=${b}`);
  return fillFromHost(t, (v) => fillUniform(v, a, b));
}

/** Normal with the given mean and standard deviation. */
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  target('normal_', t);
  checkFinite('normal_', 'mean', mean);
  checkFinite('normal_', 'std', std);
  if (std < 0) throw new ArgumentError(`normal_: std must be >= 0, got ${std}`);
  return fillFromHost(t, (v) => fillNormal(v, mean, std));
}

export function constant_(t: Tensor, value: number): Tensor {
  target('constant_', t);
  if (typeof value !== 'number') throw new ArgumentError(`constant_: value must be a number, got ${typeof value}`);
  noGrad(() => t.fill_(value));
  return t;
}

export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}

export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

/** Glorot uniform: U(-a, a) with a = gain · sqrt(6 / (fanIn + fanOut)). */
export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  target('xavierUniform_', t);
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return fillFromHost(t, (v) => fillUniform(v, -bound, bound));
}

/** Glorot normal: N(0, std²) with std = gain · sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  target('xavierNormal_', t);
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const std = gain * Math.sqrt(2 / (fanIn + fanOut));
  return fillFromHost(t, (v) => fillNormal(v, 0, std));
}

function kaimingStd(op: string, t: Tensor, options: KaimingOptions): number {
  const { a = 0, mode = 'fanIn', nonlinearity = 'leaky_relu' } = options ?? {};
  const fan = fanOf(op, t, mode);
  if (fan === 0) throw new ShapeError(`${op}: cannot initialise a tensor with zero elements along its fan (${fmtShape(t.shape)})`);
  return calculateGain(nonlinearity, a) / Math.sqrt(fan);
}

/** He uniform: U(-bound, bound) with bound = gain · sqrt(3 / fan). */
export function kaimingUniform_(t: Tensor, options: KaimingOptions = {}): Tensor {
  target('kaimingUniform_', t);
  const bound = Math.sqrt(3) * kaimingStd('kaimingUniform_', t, options);
  return fillFromHost(t, (v) => fillUniform(v, -bound, bound));
}

/** He normal: N(0, std²) with std = gain / sqrt(fan). */
export function kaimingNormal_(t: Tensor, options: KaimingOptions = {}): Tensor {
  target('kaimingNormal_', t);
  const std = kaimingStd('kaimingNormal_', t, options);
  return fillFromHost(t, (v) => fillNormal(v, 0, std));
}

export interface TruncNormalOptions {
  mean?: number;
  std?: number;
  /** Lower cut-off, in the tensor's units (not in standard deviations). Default -2. */
  a?: number;
  /** Upper cut-off. Default 2. */
  b?: number;
}

/**
 * The normal N(mean, std²) restricted to [a, b], drawn by inverting the CDF (exact even when
 * [a, b] lies far in a tail, where rejection would stall), as torch.nn.init.trunc_normal_.
 */
export function truncNormal_(t: Tensor, options: TruncNormalOptions = {}): Tensor {
  const op = 'truncNormal_';
  target(op, t);
  const { mean = 0, std = 1, a = -2, b = 2 } = options;
  for (const [name, v] of [['mean', mean], ['std', std], ['a', a], ['b', b]] as const) checkFinite(op, name, v);
  if (!(std > 0)) throw new ArgumentError(`${op}: std must be > 0, got ${std}`);
  if (!(a < b)) throw new ArgumentError(`${op}: expected a < b, got a=${a}, b=${b}`);
  // An interval above the mean is drawn mirrored below it, where the CDF's values are small
  // numbers float64 resolves, instead of ones that round to 1.
  const flip = a > mean;
  const alpha = flip ? (mean - b) / std : (a - mean) / std, beta = flip ? (mean - a) / std : (b - mean) / std;
  const lo = normalCdf(alpha), hi = normalCdf(beta);
  return fillFromHost(t, (values) => {
    for (let i = 0; i < values.length; i++) {
      const z = normalQuantile(lo + (hi - lo) * nextUniform());
      const x = mean + std * (flip ? -z : z);
      values[i] = Math.min(b, Math.max(a, x));
    }
  });
}

/**
 * A (semi-)orthogonal matrix: the Q of a QR decomposition of a normal matrix with R's diagonal
 * made positive, so the distribution is uniform (Haar); dims after the first are flattened.
 */
export function orthogonal_(t: Tensor, gain = 1): Tensor {
  const op = 'orthogonal_';
  target(op, t);
  if (t.ndim < 2) throw new ShapeError(`${op}: only tensors with 2 or more dims are supported, got ${fmtShape(t.shape)}`);
  const rows = t.shape[0], cols = t.numel / Math.max(rows, 1);
  if (t.numel === 0) return t;
  // Orthonormalise the columns of a tall matrix (n >= m); a wide one is done transposed.
  const n = Math.max(rows, cols), m = Math.min(rows, cols);
  const draws = new Float32Array(n * m);
  fillNormal(draws, 0, 1);
  const q: Float64Array[] = [];
  for (let j = 0; j < m; j++) {
    const v = Float64Array.from({ length: n }, (_, i) => draws[i * m + j]);
    // Modified Gram-Schmidt, twice, for orthogonality to float64 precision.
    for (let pass = 0; pass < 2; pass++) {
      for (const u of q) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += u[i] * v[i];
        for (let i = 0; i < n; i++) v[i] -= dot * u[i];
      }
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm);
    // The projection onto the new direction is positive, so R's diagonal is positive.
    for (let i = 0; i < n; i++) v[i] /= norm;
    q.push(v);
  }
  return fillFromHost(t, (values) => {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) values[r * cols + c] = gain * (rows >= cols ? q[c][r] : q[r][c]);
    }
  });
}

// ---- the standard normal's CDF and quantile, in float64 -------------------------------------

/** Φ(x) through erfc, accurate to ~1e-7 relative even deep in the tails. */
function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** erfc by a Chebyshev-fitted exponential (Numerical Recipes' erfcc), fractional error < 1.2e-7. */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** Φ⁻¹(p) by Acklam's rational approximation (relative error < 1.2e-9) for p in (0, 1). */
function normalQuantile(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const pLow = 0.02425;
  if (p < pLow) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - pLow) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const q = p - 0.5, r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}
