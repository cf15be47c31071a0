// Matrix products on the packed GEMM kernel: matmul with PyTorch's rules (1-d operands,
// broadcast batch dims), with transposed and sliced operands passed as strides, not copies.
import { isGradEnabled } from '../autograd/grad_mode.js';
import { backendOf } from '../backend/index.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { scoped } from '../scope.js';
import { Tensor } from '../tensor.js';
import { mul } from './elementwise.js';
import { assertTensor, broadcastShapes, record, sameDevice } from './record.js';
import { sumToShape } from './reduce.js';
import { contiguous, expand, reshape, squeeze, transpose, unsqueeze } from './shape.js';

interface MatrixOperand {
  handle: unknown;
  offset: number;
  rowStride: number;
  colStride: number;
  batchStride: number;
}

/**
 * Describes t ([...batch, r, c], batch dims already broadcast to `batchShape`) as a GEMM
 * operand with one batch stride; returns null when the batch dims cannot collapse to one stride.
 */
function asOperand(t: Tensor, batchShape: number[]): MatrixOperand | null {
  const nb = batchShape.length;
  const bstrides = t.strides.slice(0, nb).filter((_, i) => batchShape[i] !== 1);
  const bshape = batchShape.filter((s) => s !== 1);
  let batchStride = 0;
  for (let i = bshape.length - 1; i >= 0; i--) {
    if (i === bshape.length - 1) batchStride = bstrides[i];
    else if (bstrides[i] !== bstrides[i + 1] * bshape[i + 1]) return null;
  }
  return { handle: t.handle, offset: t.offset, rowStride: t.strides[nb], colStride: t.strides[nb + 1], batchStride };
}

/** What a product may take beside its operands (batch 1): GemmCall's A row sums and addend. */
interface GemmExtras {
  /** Receives A's row sums, [m] float32. */
  aRowSums?: Tensor;
  /** Added to the product (beta 1), [m, n]; made contiguous here. */
  addend?: Tensor;
}

/**
 * out = a @ b (+ bias) (+ addend) for a [..., m, k] and b [..., k, n] with equal (already
 * broadcast) batch dims; bias: a contiguous [n] added to every row as the GEMM stores C.
 */
function gemmBatched(a: Tensor, b: Tensor, batchShape: number[], bias: Tensor | null = null, extras: GemmExtras = {}): Tensor {
  const m = a.shape[a.ndim - 2], k = a.shape[a.ndim - 1], n = b.shape[b.ndim - 1];
  const batch = batchShape.reduce((p, s) => p * s, 1);
  const out = Tensor._empty([...batchShape, m, n], 'float32', a.device);
  scoped(() => {
    // Batch dims that do not collapse to one stride are copied so that they do.
    const oa = asOperand(a, batchShape) ?? asOperand(contiguous(a), batchShape)!;
    const ob = asOperand(b, batchShape) ?? asOperand(contiguous(b), batchShape)!;
    if (batch === 1) { oa.batchStride = 0; ob.batchStride = 0; }
    const addend = extras.addend ? contiguous(extras.addend) : null;
    backendOf(a).gemm({
      m, n, k, batch,
      a: oa, b: ob,
      c: { handle: out.handle, offset: 0, rowStride: n, colStride: 1, batchStride: m * n },
      alpha: 1, beta: addend ? 1 : 0,
      bias: bias ? { handle: bias.handle, offset: bias.offset } : null,
      aRowSums: extras.aRowSums ? { handle: extras.aRowSums.handle, offset: extras.aRowSums.offset } : null,
      cIn: addend ? { handle: addend.handle, offset: addend.offset } : null,
    });
  });
  return out;
}

/**
 * dB = Aᵀ·g of a 2-d product. A transposed B (linear's weight.T) gets (gᵀ·A)ᵀ instead, contiguous
 * in B's storage order, so the transpose's backward hands the weight a contiguous gradient.
 */
function isTransposedMatrix(b: Tensor): boolean {
  return b.strides[0] === 1 && b.strides[1] === b.shape[0] && b.shape[0] > 1;
}

function rhsGrad2d(g: Tensor, a: Tensor, b: Tensor): Tensor {
  return isTransposedMatrix(b) ? transpose(matmul(transpose(g, 0, 1), a), 0, 1) : matmul(transpose(a, 0, 1), g);
}

/**
 * Linear's weight and bias gradients from one GEMM, for g [rows, out] and the saved input a
 * [rows, in]: (gᵀ·a)ᵀ as rhsGrad2d gives it, and the bias gradient Σ_rows g, which is the row sums
 * of gᵀ: the GEMM takes them from gᵀ's packed panels (GemmCall.aRowSums) rather than a second
 * pass over g.
 */
function weightAndBiasGrads(g: Tensor, a: Tensor): [Tensor, Tensor] {
  const dBias = Tensor._empty([g.shape[1]], 'float32', g.device);
  const dW = gemmBatched(transpose(g, 0, 1), a, [], null, { aRowSums: dBias });
  return [transpose(dW, 0, 1), dBias];
}

/** The gradients of a 2-d a @ b + bias (bias null when absent) for the output's gradient g; as, bs: the saved a and b. */
function affineGrads(g: Tensor, a: Tensor, b: Tensor, bias: Tensor | null, as: Tensor, bs: Tensor): (Tensor | null)[] {
  const dA = a.requiresGrad ? matmul(g, transpose(bs, 0, 1)) : null;
  // A Linear (b is its weight, transposed) with both gradients wanted: one GEMM gives both,
  // unless the backward is itself recorded (createGraph), which needs differentiable ops.
  if (b.requiresGrad && bias?.requiresGrad && isTransposedMatrix(b) && !isGradEnabled()) return [dA, ...weightAndBiasGrads(g, as)];
  return [
    dA,
    b.requiresGrad ? rhsGrad2d(g, as, b) : null,
    bias?.requiresGrad ? sumToShape(g, bias.shape) : null,
  ];
}

/** t as `shape` (a broadcast view), or t itself when it has that shape already. */
function expandTo(t: Tensor, shape: number[]): Tensor {
  return t.shape.length === shape.length && t.shape.every((s, i) => s === shape[i]) ? t : expand(t, shape);
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  assertTensor(a, 'matmul', 'input');
  assertTensor(b, 'matmul', 'other');
  sameDevice('matmul', a, b);
  if (a.dtype !== 'float32' || b.dtype !== 'float32') {
    throw new DTypeError(`matmul: expected float32 operands, got ${a.dtype} and ${b.dtype}`);
  }
  if (a.ndim === 0 || b.ndim === 0) throw new ShapeError(`matmul: both arguments need at least 1 dim, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  // 1-d operands become matrices ([1, k] and [k, 1]) and the added dim is removed from the result.
  const aShape = a.ndim === 1 ? [1, a.shape[0]] : a.shape, bShape = b.ndim === 1 ? [b.shape[0], 1] : b.shape;
  const m = aShape[aShape.length - 2], k = aShape[aShape.length - 1], n = bShape[bShape.length - 1];
  if (bShape[bShape.length - 2] !== k) {
    throw new ShapeError(`matmul: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}: inner dims ${k} != ${bShape[bShape.length - 2]}`);
  }
  if (a.ndim > 2 && b.ndim === 2) {
    // [..., m, k] @ [k, n] is one [(...·m), k] @ [k, n] product, as PyTorch folds it: one large GEMM
    // instead of a batch of small ones, and a backward whose weight gradient is one GEMM too
    // rather than a batch of products summed over the batch.
    const rows = a.shape.slice(0, -1).reduce((p, s) => p * s, 1);
    return scoped(() => reshape(matmul(reshape(a, [rows, k]), b), [...a.shape.slice(0, -1), n]));
  }
  const batchShape = broadcastShapes('matmul', aShape.slice(0, -2), bShape.slice(0, -2));
  const vectorOperand = a.ndim === 1 || b.ndim === 1;
  const out = scoped(() => {
    const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a, b2 = b.ndim === 1 ? unsqueeze(b, 1) : b;
    const y = gemmBatched(expandTo(a2, [...batchShape, m, k]), expandTo(b2, [...batchShape, k, n]), batchShape);
    if (!vectorOperand) return y;
    return reshape(y, [...batchShape, ...(a.ndim === 1 ? [] : [m]), ...(b.ndim === 1 ? [] : [n])]);
  });
  return record('MmBackward', out, [a, b], (node) => {
    const as = node.save(a), bs = node.save(b);
    return (g) => {
      // dA = g @ B^T, dB = A^T @ g, each summed back over broadcast batch dims.
      const gM = vectorOperand ? reshape(g, [...batchShape, m, n]) : g;
      const aM = a.ndim === 1 ? unsqueeze(as, 0) : as;
      const bM = b.ndim === 1 ? unsqueeze(bs, 1) : bs;
      let dA: Tensor | null = null, dB: Tensor | null = null;
      if (a.requiresGrad) {
        const r = sumToShape(matmul(gM, transpose(bM, -1, -2)), aM.shape);
        dA = a.ndim === 1 ? squeeze(r, 0) : r;
      }
      if (b.requiresGrad && b.ndim === 2 && a.ndim === 2) {
        dB = rhsGrad2d(gM, aM, b);
      } else if (b.requiresGrad) {
        const r = sumToShape(matmul(transpose(aM, -1, -2), gM), bM.shape);
        dB = b.ndim === 1 ? squeeze(r, -1) : r;
      }
      return [dA, dB];
    };
  });
}

/**
 * a @ b + bias for a [m, k], b [k, n] and bias [n] added to every row: one GEMM that adds the bias
 * as it stores each tile, not a second pass over the output (the sum is rounded before the bias
 * is added, as in matmul followed by add). What F.linear runs when it has a bias.
 */
export function matmulBias(a: Tensor, b: Tensor, bias: Tensor): Tensor {
  assertTensor(a, 'matmulBias', 'input');
  assertTensor(b, 'matmulBias', 'other');
  assertTensor(bias, 'matmulBias', 'bias');
  sameDevice('matmulBias', a, b, bias);
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || bias.dtype !== 'float32') {
    throw new DTypeError(`matmulBias: expected float32 operands, got ${a.dtype}, ${b.dtype} and ${bias.dtype}`);
  }
  if (a.ndim !== 2 || b.ndim !== 2 || bias.ndim !== 1 || a.shape[1] !== b.shape[0] || bias.shape[0] !== b.shape[1]) {
    throw new ShapeError(`matmulBias: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} + ${fmtShape(bias.shape)}: expected [m, k] @ [k, n] + [n]`);
  }
  const out = scoped(() => gemmBatched(a, b, [], contiguous(bias)));
  return record('MmBiasBackward', out, [a, b, bias], (node) => {
    const as = node.save(a), bs = node.save(b);
    return (g) => affineGrads(g, a, b, bias, as, bs);
  });
}

/**
 * residual + (a @ b + bias) for a [m, k], b [k, n], bias [n] (or null) and residual [m, n]: one GEMM
 * that reads the residual where it would read C (GemmCall.cIn, beta = 1) and adds the bias as it
 * stores, so a residual block's x + Linear(y) costs no output and no pass of its own. The sum is
 * rounded as (a @ b + residual) + bias, where the unfused route rounds (a @ b + bias) + residual.
 * Gradients: those of a @ b + bias, and the output's gradient itself for the residual.
 */
export function matmulBiasResidual(a: Tensor, b: Tensor, bias: Tensor | null, residual: Tensor): Tensor {
  const op = 'matmulBiasResidual';
  assertTensor(a, op, 'input');
  assertTensor(b, op, 'other');
  assertTensor(residual, op, 'residual');
  if (bias !== null) assertTensor(bias, op, 'bias');
  const operands = bias ? [a, b, bias, residual] : [a, b, residual];
  sameDevice(op, ...operands);
  if (operands.some((t) => t.dtype !== 'float32')) {
    throw new DTypeError(`${op}: expected float32 operands, got ${operands.map((t) => t.dtype).join(', ')}`);
  }
  if (a.ndim !== 2 || b.ndim !== 2 || residual.ndim !== 2 || a.shape[1] !== b.shape[0] || residual.shape[0] !== a.shape[0]
    || residual.shape[1] !== b.shape[1] || (bias && (bias.ndim !== 1 || bias.shape[0] !== b.shape[1]))) {
    throw new ShapeError(`${op}: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}${bias ? ` + ${fmtShape(bias.shape)}` : ''} + ` +
      `${fmtShape(residual.shape)}: expected [m, k] @ [k, n] (+ [n]) + [m, n]`);
  }
  const out = scoped(() => gemmBatched(a, b, [], bias ? contiguous(bias) : null, { addend: residual }));
  return record('AddmmResidualBackward', out, [a, b, bias, residual], (node) => {
    const as = node.save(a), bs = node.save(b);
    return (g) => [...affineGrads(g, a, b, bias, as, bs), residual.requiresGrad ? g : null];
  });
}

/**
 * a @ b + bias + alpha · (u @ v) for a [m, k], b [k, n], bias [n] (or null), u [m, r], v [r, n]:
 * addmm onto a product made in the same output. The second GEMM accumulates into the first's
 * result as it stores (beta = 1), so the low-rank term costs no output of its own and no pass
 * adding it; what a LoRA layer runs (base product, then its adapter's B · A · x).
 */
export function matmulAddLowRank(a: Tensor, b: Tensor, bias: Tensor | null, u: Tensor, v: Tensor, alpha = 1): Tensor {
  const op = 'matmulAddLowRank';
  assertTensor(a, op, 'input');
  assertTensor(b, op, 'other');
  assertTensor(u, op, 'u');
  assertTensor(v, op, 'v');
  if (bias !== null) assertTensor(bias, op, 'bias');
  const operands = bias ? [a, b, u, v, bias] : [a, b, u, v];
  sameDevice(op, ...operands);
  if (operands.some((t) => t.dtype !== 'float32')) {
    throw new DTypeError(`${op}: expected float32 operands, got ${operands.map((t) => t.dtype).join(', ')}`);
  }
  const shapes = () => `${fmtShape(a.shape)} @ ${fmtShape(b.shape)}${bias ? ` + ${fmtShape(bias.shape)}` : ''} + ${fmtShape(u.shape)} @ ${fmtShape(v.shape)}`;
  if (a.ndim !== 2 || b.ndim !== 2 || u.ndim !== 2 || v.ndim !== 2 || a.shape[1] !== b.shape[0] || u.shape[1] !== v.shape[0]
    || u.shape[0] !== a.shape[0] || v.shape[1] !== b.shape[1] || (bias && (bias.ndim !== 1 || bias.shape[0] !== b.shape[1]))) {
    throw new ShapeError(`${op}: ${shapes()}: expected [m, k] @ [k, n] (+ [n]) + [m, r] @ [r, n]`);
  }
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw new ArgumentError(`${op}: alpha must be a finite number, got ${String(alpha)}`);
  const out = scoped(() => {
    const y = gemmBatched(a, b, [], bias ? contiguous(bias) : null);
    const [m, n] = y.shape;
    const ou = asOperand(u, [])!, ov = asOperand(v, [])!;
    backendOf(u).gemm({
      m, n, k: u.shape[1], batch: 1,
      a: ou, b: ov,
      c: { handle: y.handle, offset: 0, rowStride: n, colStride: 1, batchStride: 0 },
      alpha, beta: 1, bias: null,
    });
    return y;
  });
  return record('MmAddLowRankBackward', out, [a, b, bias, u, v], (node) => {
    const as = node.save(a), bs = node.save(b), us = node.save(u), vs = node.save(v);
    // alpha scales the low-rank side's small operand, not a gradient the size of the output.
    const scaled = (t: Tensor) => (alpha === 1 ? t : mul(t, alpha));
    return (g) => [
      ...affineGrads(g, a, b, bias, as, bs),
      u.requiresGrad ? matmul(g, transpose(scaled(vs), 0, 1)) : null,
      v.requiresGrad ? rhsGrad2d(g, scaled(us), v) : null,
    ];
  });
}
