// What every device's kernels take (lib/backend/cpu.ts, lib/backend/cuda.ts). Ops call
// `backendOf(tensor)` and never test the device themselves. Kernels receive tensors (storage
// handle, offset, strides, shape, dtype); outputs are allocated by the op before the call.
import type { DType } from '../dtype.js';
import type { nativeBackend } from './native_backend.js';

/** What a kernel needs to know about an operand; `Tensor` satisfies it. */
export interface KernelOperand {
  readonly handle: unknown;
  readonly offset: number;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly dtype: DType;
}

/**
 * C[b] = alpha * A[b] @ B[b] + beta * C[b] (+ bias); A is [batch, m, k], B [batch, k, n], C [batch, m, n].
 * bias, when given: n contiguous float32 added to every row of C after the product is rounded.
 */
export interface GemmCall {
  m: number;
  n: number;
  k: number;
  batch: number;
  a: { handle: unknown; offset: number; rowStride: number; colStride: number; batchStride: number };
  b: { handle: unknown; offset: number; rowStride: number; colStride: number; batchStride: number };
  c: { handle: unknown; offset: number; rowStride: number; colStride: number; batchStride: number };
  alpha: number;
  beta: number;
  bias?: { handle: unknown; offset: number } | null;
  /** batch 1 only: receives A's m row sums, Σ_p A(i, p) (a Linear's bias gradient beside its weight gradient). */
  aRowSums?: { handle: unknown; offset: number } | null;
  /**
   * The addend beta scales instead of C, laid out with C's strides (C itself or not overlapping
   * it): C = (alpha·A·B + beta·Cin) + bias, a residual block's x + Linear(y) in one GEMM.
   */
  cIn?: { handle: unknown; offset: number } | null;
}

/** An out-of-range index a kernel found: its row-major position in the index and its value. */
export interface BadIndex {
  position: number;
  value: number;
}

/** A 2-d convolution over NCHW float32 (PyTorch's semantics); weight is [k, c/groups, kh, kw]. */
export interface ConvGeometry {
  n: number; c: number; h: number; w: number;
  k: number; kh: number; kw: number;
  /** Output size; rows/columns past the input read zeros (so asymmetric 'same' padding works). */
  oh: number; ow: number;
  strideH: number; strideW: number;
  /** Top / left padding. */
  padH: number; padW: number;
  dilationH: number; dilationW: number;
  groups: number;
}

/** 2-d pooling windows over NCHW float32: `x` may be strided, the rest is contiguous. */
export interface PoolGeometry {
  n: number; c: number; h: number; w: number; oh: number; ow: number;
  kh: number; kw: number; strideH: number; strideW: number;
  padH: number; padW: number; dilationH: number; dilationW: number;
}

/**
 * Fused scaled-dot-product attention over [batch, heads, len, headDim] float32 (see
 * native/common/attention.h): query head h reads key/value head h / (heads / kvHeads); causal keeps
 * key j for query i when j <= i; dropout is a pure function of (seed, offset).
 */
export interface AttentionGeometry {
  batch: number; heads: number; kvHeads: number; qLen: number; kvLen: number; headDim: number;
  scale: number; causal: boolean; dropoutP: number;
  /** Non-negative integers below 2^53. */
  seed: number; offset: number;
  maskKind: 'none' | 'additive' | 'bool';
}

/** Hyperparameters of one Adam/AdamW step (torch.optim's update order and bias correction). */
export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: p <- p (1 - lr wd) first; Adam: grad + wd p. */
  decoupled: boolean;
  maximize: boolean;
}

/** One parameter's tensors for a fused Adam step: all float32, contiguous, of the parameter's size. */
export interface AdamTensors {
  param: KernelOperand;
  grad: KernelOperand;
  expAvg: KernelOperand;
  expAvgSq: KernelOperand;
  /** AMSGrad's running maximum of expAvgSq, or null. */
  maxExpAvgSq: KernelOperand | null;
  /** The step number after this update (1 on the first), for the bias corrections. */
  step: number;
}

/**
 * Every kernel a device offers, as nativeBackend (native_backend.ts) builds it over the device's
 * table of native entry points; the type is taken from that function, so a new kernel is one
 * member there, documented where it is written.
 */
export type Backend = ReturnType<typeof nativeBackend>;
