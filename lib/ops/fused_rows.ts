// Row-wise fused ops over native kernels (native/common/fused_rows.h): layer and RMS
// normalisation over the trailing dims, bias + GELU, and softmax cross-entropy with integer
// targets. Each is one autograd node whose forward and backward are one kernel call on a
// contiguous [rows, cols] view of its input (strided inputs are copied first). When the backward
// itself is recorded (createGraph), it is written in differentiable ops instead.
import { isGradEnabled } from '../autograd/grad_mode.js';
import { backendOf } from '../backend/index.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { scoped } from '../scope.js';
import { Tensor } from '../tensor.js';
import { arange } from './creation.js';
import * as ew from './elementwise.js';
import { assertTensor, record, sameDevice } from './record.js';
import { mean, sum, variance } from './reduce.js';
import { reshape } from './shape.js';
import { softmax } from './softmax.js';

/** torch.finfo(torch.float32).eps, RMSNorm's default eps. */
export const FLOAT32_EPS = 1.1920928955078125e-7;

function float32(op: string, what: string, t: Tensor): void {
  assertTensor(t, op, what);
  if (t.dtype !== 'float32') throw new DTypeError(`${op}: ${what} must be float32, got ${t.dtype}`);
}

function checkEps(op: string, eps: number): void {
  if (typeof eps !== 'number' || !(eps >= 0)) throw new ArgumentError(`${op}: eps must be a number >= 0, got ${String(eps)}`);
}

/** t as a contiguous tensor (t itself when it already is; a copy freed by the enclosing scope otherwise). */
const dense = (t: Tensor): Tensor => (t.isContiguous() ? t : t.contiguous());

// ---- layer norm / RMS norm --------------------------------------------------------------------

/** The normalised dims' count (cols) after checking that input ends in normalizedShape. */
function normCols(op: string, input: Tensor, normalizedShape: readonly number[], params: [string, Tensor | null][]): number {
  float32(op, 'input', input);
  if (!Array.isArray(normalizedShape) || !normalizedShape.every((s) => Number.isInteger(s) && s >= 0)) {
    throw new ArgumentError(`${op}: normalizedShape must be an array of sizes >= 0, got ${String(normalizedShape)}`);
  }
  const k = normalizedShape.length;
  const tail = input.shape.slice(input.ndim - k);
  if (k === 0 || k > input.ndim || tail.join(',') !== normalizedShape.join(',')) {
    throw new ShapeError(`${op}: input ${fmtShape(input.shape)} does not end in normalized_shape ${fmtShape(normalizedShape)}`);
  }
  const given = [input];
  for (const [name, t] of params) {
    if (!t) continue;
    float32(op, name, t);
    if (t.shape.join(',') !== normalizedShape.join(',')) {
      throw new ShapeError(`${op}: ${name} ${fmtShape(t.shape)} must have normalized_shape ${fmtShape(normalizedShape)}`);
    }
    given.push(t);
  }
  sameDevice(op, ...given);
  return normalizedShape.reduce((a, b) => a * b, 1);
}

/** The composed backward (differentiable), for createGraph: statistics recomputed from x2 [rows, cols]. */
function composedNormBackward(rms: boolean, eps: number, x2: Tensor, g2: Tensor, w: Tensor | null): [Tensor, Tensor, Tensor] {
  const mu = rms ? null : mean(x2, 1, true);
  const centred = mu ? ew.sub(x2, mu) : x2;
  const second = rms ? mean(ew.mul(x2, x2), 1, true) : variance(x2, 1, { correction: 0, keepdim: true });
  const rstd = ew.rsqrt(ew.add(second, eps));
  const xhat = ew.mul(centred, rstd);
  const gw = w ? ew.mul(g2, w) : g2;
  let inner = ew.sub(gw, ew.mul(xhat, mean(ew.mul(gw, xhat), 1, true)));
  if (!rms) inner = ew.sub(inner, mean(gw, 1, true));
  return [ew.mul(rstd, inner), sum(ew.mul(g2, xhat), 0), sum(g2, 0)];
}

function rowNorm(op: string, rms: boolean, input: Tensor, normalizedShape: readonly number[], weight: Tensor | null,
  bias: Tensor | null, eps: number): Tensor {
  const cols = normCols(op, input, normalizedShape, [['weight', weight], ['bias', bias]]);
  checkEps(op, eps);
  const rows = cols === 0 ? 0 : input.numel / cols;
  return scoped(() => {
    const x = dense(input);
    const w = weight ? dense(weight) : null;
    const b = bias ? dense(bias) : null;
    const y = Tensor._empty(input.shape, 'float32', input.device);
    const saveMean = Tensor._empty([rows], 'float32', input.device);
    const saveRstd = Tensor._empty([rows], 'float32', input.device);
    backendOf(input).rowNormForward(rms, eps, rows, cols, x, w, b, y, saveMean, saveRstd);
    return record(rms ? 'RmsNormBackward' : 'LayerNormBackward', y, [input, weight, bias], (node) => {
      const xs = node.save(x);
      const ws = w ? node.save(w) : null;
      const ms = node.save(saveMean), rs = node.save(saveRstd);
      const wantX = input.requiresGrad, wantW = !!weight?.requiresGrad, wantB = !!bias?.requiresGrad;
      // The input's gradient may go straight onto one the engine already holds for it (the
      // residual's, in a pre-norm block): the kernel adds instead of writing a new tensor.
      node.acceptsInto = true;
      return (g, into) => {
        if (isGradEnabled()) {
          const [dx, dw, db] = composedNormBackward(rms, eps, reshape(xs, [rows, cols]), reshape(g, [rows, cols]),
            ws ? reshape(ws, [cols]) : null);
          return [reshape(dx, xs.shape), wantW ? reshape(dw, [...normalizedShape]) : null, wantB ? reshape(db, [...normalizedShape]) : null];
        }
        const gd = dense(g);
        const onto = into?.[0];
        const accumulate = wantX && !!onto && onto.dtype === 'float32' && onto.device === xs.device && onto.isContiguous() &&
          onto.shape.length === xs.shape.length && onto.shape.every((s, i) => s === xs.shape[i]);
        const dx = !wantX ? null : accumulate ? onto! : Tensor._empty(xs.shape, 'float32', xs.device);
        const dw = wantW ? Tensor._empty(normalizedShape, 'float32', xs.device) : null;
        const db = wantB ? Tensor._empty(normalizedShape, 'float32', xs.device) : null;
        backendOf(xs).rowNormBackward(rms, rows, cols, gd, xs, ws, ms, rs, dx, dw, db, accumulate);
        return [dx, dw, db];
      };
    });
  });
}

/**
 * Layer normalisation over the trailing dims normalizedShape, as torch.nn.functional.layer_norm:
 * (x - mean) / sqrt(var + eps) * weight + bias with the biased variance; weight and bias
 * (shaped normalizedShape) are optional. float32, one fused node.
 */
export function layerNormFused(input: Tensor, normalizedShape: readonly number[], weight: Tensor | null = null,
  bias: Tensor | null = null, eps = 1e-5): Tensor {
  return rowNorm('layerNorm', false, input, normalizedShape, weight, bias, eps);
}

/**
 * RMS normalisation over the trailing dims normalizedShape, as torch.nn.functional.rms_norm:
 * x / sqrt(mean(x²) + eps) * weight; eps null or undefined is float32's machine epsilon.
 */
export function rmsNormFused(input: Tensor, normalizedShape: readonly number[], weight: Tensor | null = null,
  eps: number | null = null): Tensor {
  return rowNorm('rmsNorm', true, input, normalizedShape, weight, null, eps ?? FLOAT32_EPS);
}

// ---- bias + GELU ------------------------------------------------------------------------------

/** gelu'(z) written in ops (differentiable), for createGraph. */
function geluSlopeOps(z: Tensor, tanhForm: boolean): Tensor {
  if (tanhForm) {
    const k = Math.sqrt(2 / Math.PI), z2 = ew.mul(z, z);
    const t = ew.tanh(ew.mul(ew.add(ew.mul(ew.mul(z2, z), 0.044715), z), k));
    const du = ew.mul(ew.add(ew.mul(z2, 3 * 0.044715), 1), k);
    return ew.add(ew.mul(ew.add(t, 1), 0.5), ew.mul(ew.mul(ew.mul(z, 0.5), ew.add(ew.neg(ew.mul(t, t)), 1)), du));
  }
  const cdf = ew.mul(ew.add(ew.erf(ew.mul(z, Math.SQRT1_2)), 1), 0.5);
  const pdf = ew.mul(ew.exp(ew.mul(ew.mul(z, z), -0.5)), 1 / Math.sqrt(2 * Math.PI));
  return ew.add(cdf, ew.mul(z, pdf));
}

/**
 * gelu(x + bias) for x [..., n] and bias [n] as one node: one pass forward, and one backward pass
 * giving dx and dbias (the sum of dx over the rows). approximate 'tanh' uses the tanh form.
 */
export function biasGelu(x: Tensor, bias: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  const op = 'biasGelu';
  float32(op, 'input', x);
  float32(op, 'bias', bias);
  if (approximate !== 'none' && approximate !== 'tanh') throw new ArgumentError(`${op}: approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
  if (x.ndim === 0 || bias.ndim !== 1 || bias.shape[0] !== x.shape[x.ndim - 1]) {
    throw new ShapeError(`${op}: bias ${fmtShape(bias.shape)} must be 1-d with the last dim of input ${fmtShape(x.shape)}`);
  }
  sameDevice(op, x, bias);
  const tanhForm = approximate === 'tanh';
  const cols = bias.shape[0];
  const rows = cols === 0 ? 0 : x.numel / cols;
  return scoped(() => {
    const xd = dense(x), bd = dense(bias);
    const y = Tensor._empty(x.shape, 'float32', x.device);
    backendOf(x).biasGeluForward(tanhForm, rows, cols, xd, bd, y);
    return record('BiasGeluBackward', y, [x, bias], (node) => {
      const xs = node.save(xd), bs = node.save(bd);
      const wantX = x.requiresGrad, wantB = bias.requiresGrad;
      return (g) => {
        if (isGradEnabled()) {
          const dz = ew.mul(g, geluSlopeOps(ew.add(xs, bs), tanhForm));
          return [dz, wantB ? sum(reshape(dz, [rows, cols]), 0) : null];
        }
        const dx = wantX ? Tensor._empty(xs.shape, 'float32', xs.device) : null;
        const db = wantB ? Tensor._empty([cols], 'float32', xs.device) : null;
        backendOf(xs).biasGeluBackward(tanhForm, rows, cols, dense(g), xs, bs, dx, db);
        return [dx, db];
      };
    });
  });
}

// ---- softmax cross-entropy --------------------------------------------------------------------

export interface RowCrossEntropy {
  /** [rows]: (1 - eps) w_t (lse - x_t) + eps / C * sum_c w_c (lse - x_c); 0 on ignored rows. */
  loss: Tensor;
  /** [rows]: w_t (1 without class weights), 0 on ignored rows: the mean's denominators. */
  targetWeight: Tensor;
}

/**
 * The per-row softmax cross-entropy of logits [rows, C] against int32 class targets [rows], with
 * optional class weight [C], ignoreIndex and label smoothing, as one node on loss (the gradient
 * flows to the logits only). The forward reads each row once and saves only its logsumexp; the
 * backward writes (softmax - target distribution) * g in one pass. Targets must already be checked
 * to lie in [0, C) or equal ignoreIndex (others give NaN). F.crossEntropy reduces the result.
 */
export function rowCrossEntropy(logits: Tensor, target: Tensor, weight: Tensor | null, ignoreIndex: number,
  labelSmoothing: number): RowCrossEntropy {
  const op = 'crossEntropy';
  float32(op, 'input', logits);
  assertTensor(target, op, 'target');
  if (target.dtype !== 'int32') throw new DTypeError(`${op}: class-index target must be int32, got ${target.dtype}`);
  if (logits.ndim !== 2 || target.ndim !== 1 || target.shape[0] !== logits.shape[0]) {
    throw new ShapeError(`${op}: expected logits [N, C] and target [N], got ${fmtShape(logits.shape)} and ${fmtShape(target.shape)}`);
  }
  const [rows, cols] = logits.shape;
  if (weight) {
    float32(op, 'weight', weight);
    if (weight.ndim !== 1 || weight.shape[0] !== cols) throw new ShapeError(`${op}: weight must have shape [${cols}] (one per class), got ${fmtShape(weight.shape)}`);
  }
  sameDevice(op, logits, target, ...(weight ? [weight] : []));
  if (!Number.isInteger(ignoreIndex)) throw new ArgumentError(`${op}: ignoreIndex must be an integer, got ${ignoreIndex}`);
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new ArgumentError(`${op}: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  const [loss, targetWeight] = scoped((): [Tensor, Tensor] => {
    const x = dense(logits), t = dense(target), w = weight ? dense(weight) : null;
    const loss = Tensor._empty([rows], 'float32', logits.device);
    const targetWeight = Tensor._empty([rows], 'float32', logits.device);
    const lse = Tensor._empty([rows, 2], 'float32', logits.device);  // logsumexp as a float pair (hi, lo)
    backendOf(logits).crossEntropyForward(ignoreIndex, labelSmoothing, rows, cols, x, t, w, loss, targetWeight, lse);
    const out = record('CrossEntropyBackward', loss, [logits], (node) => {
      const xs = node.save(x), ts = node.save(t), ls = node.save(lse), tw = node.save(targetWeight);
      const ws = w ? node.save(w) : null;
      return (g) => {
        if (isGradEnabled()) {
          // p * ((1 - eps) w_t + eps / C * W) - (1 - eps) w_t onehot - eps / C * weight, times g per row.
          const p = softmax(xs, 1);
          const valid = ew.cast(ew.ne(ts, ignoreIndex), 'float32');
          const safe = ew.mul(ew.cast(ts, 'float32'), valid);
          const classes = arange(cols, { dtype: 'float32', device: xs.device });
          const onehot = ew.cast(ew.eq(reshape(safe, [rows, 1]), reshape(classes, [1, cols])), 'float32');
          const pick = reshape(ew.mul(tw, 1 - labelSmoothing), [rows, 1]);
          const spread = labelSmoothing / cols;
          const spreadTotal = ws ? ew.mul(sum(ws), spread) : cols * spread;
          let d = ew.mul(p, ew.add(pick, ew.mul(reshape(valid, [rows, 1]), spreadTotal)));
          d = ew.sub(d, ew.mul(onehot, pick));
          if (spread > 0) d = ew.sub(d, ew.mul(reshape(valid, [rows, 1]), ws ? ew.mul(reshape(ws, [1, cols]), spread) : spread));
          return [ew.mul(d, reshape(g, [rows, 1]))];
        }
        const dx = Tensor._empty([rows, cols], 'float32', xs.device);
        backendOf(xs).crossEntropyBackward(ignoreIndex, labelSmoothing, rows, cols, xs, ts, ws, ls, dense(g), dx);
        return [dx];
      };
    });
    return [out, targetWeight];
  });
  return { loss, targetWeight };
}
