// Scaled dot-product attention with torch.nn.functional.scaled_dot_product_attention's semantics,
// on the fused kernels (native/common/attention.h): the forward keeps only each query row's
// log-sum-exp, the backward recomputes the weights tile by tile, so no L×S matrix is ever stored.
// Any number of leading batch dims (broadcast between q, k and v) is presented to the kernel as
// [batch, heads, len, headDim] with differentiable views, so autograd carries gradients back
// through them; the fused node itself sees only the 4-d operands.
import type { AttentionGeometry, KernelOperand } from '../backend/backend.js';
import { backendOf } from '../backend/index.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { nextUint32 } from '../random.js';
import { scoped } from '../scope.js';
import { Tensor, contiguousStrides } from '../tensor.js';
import { noDoubleBackward } from './conv.js';
import { full } from './creation.js';
import { assertTensor, broadcastShapes, broadcastStrides, record, sameDevice } from './record.js';
import { cat, contiguous, expand, markSplitGradBuffer, reshape, slice } from './shape.js';

export interface ScaledDotProductAttentionOptions {
  /**
   * Broadcastable to [..., L, S]: bool (true = the key takes part in attention) or float32 (added
   * to the scaled scores, -Infinity masks). Receives no gradient.
   */
  attnMask?: Tensor | null;
  /** Keep key j for query i only when j <= i (top-left aligned, also when L != S). */
  isCausal?: boolean;
  /** Dropout probability on the attention weights, in [0, 1); applied whenever > 0. */
  dropoutP?: number;
  /** Factor on q·k; default 1 / sqrt(E). */
  scale?: number | null;
  /** Let k and v have fewer heads (dim -3) than q: query head h reads head h / (Hq / Hkv). */
  enableGqa?: boolean;
}

const OP = 'scaledDotProductAttention';

/** The one stride that walks dims [shape] as a single dim, or null when no stride does. */
function mergedStride(shape: readonly number[], strides: readonly number[]): number | null {
  let stride: number | null = null, span = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] === 1) continue;
    if (stride === null) stride = strides[d];
    else if (strides[d] !== stride * span) return null;
    span *= shape[d];
  }
  return stride ?? 0;
}

/** t as [...lead of rank `rank`, rows, cols]: size-1 leading dims added in front. */
function withRank(t: Tensor, rank: number): Tensor {
  return t.ndim === rank + 2 ? t : reshape(t, [...new Array<number>(rank + 2 - t.ndim).fill(1), ...t.shape]);
}

/** t (already of the right rank) expanded to [...batch, heads, rows, cols] and seen as 4-d. */
function asKernelShape(t: Tensor, batch: readonly number[], heads: number, cols: number): Tensor {
  const rows = t.shape[t.ndim - 2];
  const full4 = [...batch, heads, rows, cols];
  const e = full4.every((s, i) => s === t.shape[i]) ? t : expand(t, full4);
  const shape4 = [batch.reduce((a, b) => a * b, 1), heads, rows, cols];
  return e.ndim === 4 ? e : reshape(e, shape4);
}

/** Zero columns appended to the last dim up to `width` (a differentiable cat). */
function padLastDim(t: Tensor, width: number): Tensor {
  const e = t.shape[t.ndim - 1];
  if (e === width) return t;
  return cat([t, full([...t.shape.slice(0, -1), width - e], 0, { dtype: 'float32', device: t.device })], -1);
}

function operand(t: Tensor): KernelOperand {
  return { handle: t.handle, offset: t.offset, shape: t.shape, strides: t.strides, dtype: t.dtype };
}

function dense(t: Tensor, shape: number[]): KernelOperand {
  return { handle: t.handle, offset: t.offset, shape, strides: contiguousStrides(shape), dtype: t.dtype };
}

/**
 * A [batch, heads, len, dim] result stored as [batch, len, heads, dim] (stacked `pieces` times
 * along a dim after len; this one at index `piece`), as PyTorch's CPU flash attention lays out its
 * output: the usual next step, transpose(1, 2).reshape([batch, len, heads·dim]), is then a view.
 */
function headsInnerView(buffer: Tensor, shape: number[], pieces = 1, piece = 0): Tensor {
  const [, h, l, d] = shape;
  return buffer._view(shape, [l * pieces * h * d, d, pieces * h * d, 1], buffer.offset + piece * h * d);
}

/** Whether q, k and v are equal-shaped views of one storage with equal strides (one qkv projection, split). */
function sharesQkvSource(q: Tensor, k: Tensor, v: Tensor): boolean {
  return q._storage === k._storage && k._storage === v._storage &&
    [k, v].every((t) => t.shape.every((n, i) => n === q.shape[i]) && t.strides.every((st, i) => st === q.strides[i]));
}

/** 53 random bits from kindling's generator (kd.manualSeed makes dropout repeatable). */
export function dropoutSeed(): number {
  return (nextUint32() >>> 11) * 2 ** 32 + nextUint32();
}

/**
 * softmax(q kᵀ · scale + mask) v with dropout on the weights, as torch's
 * F.scaled_dot_product_attention: q [..., L, E], k [..., S, E], v [..., S, Ev] → [..., L, Ev].
 */
export function scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor,
  options: ScaledDotProductAttentionOptions = {}): Tensor {
  const q = assertTensor(query, OP, 'query'), k = assertTensor(key, OP, 'key'), v = assertTensor(value, OP, 'value');
  const mask = options.attnMask == null ? null : assertTensor(options.attnMask, OP, 'attnMask');
  sameDevice(OP, q, k, v, ...(mask ? [mask] : []));
  for (const [name, t] of [['query', q], ['key', k], ['value', v]] as const) {
    if (t.dtype !== 'float32') throw new DTypeError(`${OP}: ${name} must be float32, got ${t.dtype}`);
    if (t.ndim < 2) throw new ShapeError(`${OP}: ${name} must have at least 2 dims [..., len, dim], got ${fmtShape(t.shape)}`);
  }
  const shapes = `query ${fmtShape(q.shape)}, key ${fmtShape(k.shape)}, value ${fmtShape(v.shape)}`;
  const L = q.shape[q.ndim - 2], E = q.shape[q.ndim - 1];
  const S = k.shape[k.ndim - 2], Ev = v.shape[v.ndim - 1];
  if (k.shape[k.ndim - 1] !== E) throw new ShapeError(`${OP}: ${shapes}: query and key dims differ (${E} vs ${k.shape[k.ndim - 1]})`);
  if (v.shape[v.ndim - 2] !== S) throw new ShapeError(`${OP}: ${shapes}: key and value lengths differ (${S} vs ${v.shape[v.ndim - 2]})`);
  const D = Math.max(E, Ev);
  if (D > 256) throw new ShapeError(`${OP}: ${shapes}: head dims up to 256 are supported, got ${D}`);

  const isCausal = options.isCausal ?? false;
  if (isCausal && mask) throw new ArgumentError(`${OP}: an explicit attnMask must not be given with isCausal`);
  const dropoutP = options.dropoutP ?? 0;
  if (!(dropoutP >= 0 && dropoutP < 1)) throw new ArgumentError(`${OP}: dropoutP must be in [0, 1), got ${dropoutP}`);
  const scale = options.scale ?? 1 / Math.sqrt(E);
  if (!Number.isFinite(scale)) throw new ArgumentError(`${OP}: scale must be a finite number, got ${scale}`);
  if (mask && mask.dtype !== 'bool' && mask.dtype !== 'float32') {
    throw new DTypeError(`${OP}: attnMask must be bool or float32, got ${mask.dtype}`);
  }

  // Leading dims: [...batch, heads]; batch broadcasts across q, k, v, heads too unless GQA.
  const rank = Math.max(q.ndim, k.ndim, v.ndim) - 2;
  const lead = (t: Tensor) => [...new Array<number>(rank - (t.ndim - 2)).fill(1), ...t.shape.slice(0, -2)];
  const [lq, lk, lv] = [lead(q), lead(k), lead(v)];
  const bshape = (l: number[]) => l.slice(0, Math.max(0, rank - 1));
  const batch = broadcastShapes(OP, broadcastShapes(OP, bshape(lq), bshape(lk)), bshape(lv));
  const headOf = (l: number[]) => (rank > 0 ? l[rank - 1] : 1);
  let heads = headOf(lq), kvHeads: number;
  if (options.enableGqa ?? false) {
    kvHeads = headOf(lk);
    if (headOf(lv) !== kvHeads || heads % kvHeads !== 0) {
      throw new ShapeError(`${OP}: ${shapes}: with enableGqa the query heads (dim -3) must be a multiple of the key/value heads, which must agree`);
    }
  } else {
    const h = [headOf(lq), headOf(lk), headOf(lv)];
    heads = Math.max(...h);
    if (h.some((x) => x !== 1 && x !== heads)) {
      throw new ShapeError(`${OP}: ${shapes}: heads (dim -3) ${h.join(', ')} cannot be broadcast (pass enableGqa for grouped-query attention)`);
    }
    kvHeads = heads;
  }
  const outLead = rank > 0 ? [...batch, heads] : [];
  const outShape = [...outLead, L, Ev];
  let maskKind: AttentionGeometry['maskKind'] = 'none';
  if (mask) {
    maskKind = mask.dtype === 'bool' ? 'bool' : 'additive';
    const scores = [...outLead, L, S];
    if (mask.ndim > scores.length || mask.shape.some((s, i) => s !== 1 && s !== scores[i + scores.length - mask.ndim])) {
      throw new ShapeError(`${OP}: ${shapes}: attnMask ${fmtShape(mask.shape)} does not broadcast to the scores ${fmtShape(scores)}`);
    }
  }
  const nBatch = batch.reduce((a, b) => a * b, 1);
  if (nBatch === 0 || heads === 0 || L === 0 || Ev === 0) return full(outShape, 0, { dtype: 'float32', device: q.device });
  if (S === 0 || E === 0) return full(outShape, 0, { dtype: 'float32', device: q.device }); // no key to attend to

  return scoped(() => {
    const q4 = asKernelShape(padLastDim(withRank(q, rank), D), batch, heads, D);
    const k4 = asKernelShape(padLastDim(withRank(k, rank), D), batch, kvHeads, D);
    const v4 = asKernelShape(padLastDim(withRank(v, rank), D), batch, kvHeads, D);
    const out4 = attention4d(q4, k4, v4, mask && maskOperand(mask.detach(), batch, heads, L, S), {
      batch: nBatch, heads, kvHeads, qLen: L, kvLen: S, headDim: D, scale, causal: isCausal, dropoutP,
      seed: dropoutP > 0 ? dropoutSeed() : 0, offset: 0, maskKind,
    });
    const out = reshape(out4, [...outLead, L, D]);
    return Ev === D ? out : slice(out, -1, 0, Ev);
  });
}

/** The mask as a kernel operand over [batch, heads, L, S], copied only when its batch dims do not merge. */
function maskOperand(mask: Tensor, batch: readonly number[], heads: number, L: number, S: number): { t: Tensor; op: KernelOperand } {
  const full4 = [...batch, heads, L, S];
  let m = mask, strides = broadcastStrides(m, full4);
  let bStride = mergedStride(batch, strides.slice(0, batch.length));
  if (bStride === null) {
    m = contiguous(expand(m, full4));
    strides = m.strides.slice();
    bStride = mergedStride(batch, strides.slice(0, batch.length)) ?? 0;
  }
  const n = full4.length;
  const shape4 = [batch.reduce((a, b) => a * b, 1), heads, L, S];
  return { t: m, op: { handle: m.handle, offset: m.offset, shape: shape4, strides: [bStride, strides[n - 3], strides[n - 2], strides[n - 1]], dtype: m.dtype } };
}

/** The fused node over 4-d operands; `mask` is already a kernel operand over [batch, heads, L, S]. */
function attention4d(q: Tensor, k: Tensor, v: Tensor, mask: { t: Tensor; op: KernelOperand } | null,
  g: AttentionGeometry): Tensor {
  const qShape = [g.batch, g.heads, g.qLen, g.headDim], kvShape = [g.batch, g.kvHeads, g.kvLen, g.headDim];
  const out = scoped(() => headsInnerView(Tensor._empty([g.batch, g.qLen, g.heads, g.headDim], 'float32', q.device), qShape));
  const lse = Tensor._empty([g.batch, g.heads, g.qLen], 'float32', q.device);
  backendOf(q).attentionForward(g, operand(out), dense(lse, [g.batch, g.heads, g.qLen]), operand(q), operand(k),
    operand(v), mask && mask.op);
  return record('ScaledDotProductAttentionBackward', out, [q, k, v], (node) => {
    const qs = node.save(q), ks = node.save(k), vs = node.save(v), os = node.save(out), ls = node.save(lse);
    const ms = mask && node.save(mask.t);
    return (grad) => {
      noDoubleBackward(OP);
      // Gradients of q, k, v split from one projection go to one [batch, len, 3, heads, dim] buffer,
      // laid out as that projection's output: the split's backward then takes it with no copy.
      let dq: Tensor, dk: Tensor, dv: Tensor;
      if (sharesQkvSource(q, k, v)) {
        const qkv = Tensor._empty([g.batch, g.qLen, 3, g.heads, g.headDim], 'float32', q.device);
        markSplitGradBuffer(qkv);
        [dq, dk, dv] = scoped(() => [0, 1, 2].map((i) => headsInnerView(qkv, qShape, 3, i)));
      } else {
        dq = Tensor._empty(qShape, 'float32', q.device);
        dk = Tensor._empty(kvShape, 'float32', q.device);
        dv = Tensor._empty(kvShape, 'float32', q.device);
      }
      const maskOp = ms && mask && { ...mask.op, handle: ms.handle, offset: ms.offset };
      backendOf(grad).attentionBackward(g, operand(dq), operand(dk), operand(dv), operand(qs),
        operand(ks), operand(vs), maskOp, operand(os), operand(grad), dense(ls, [g.batch, g.heads, g.qLen]));
      return [q.requiresGrad ? dq : null, k.requiresGrad ? dk : null, v.requiresGrad ? dv : null];
    };
  });
}
