// kd.nn.functional: linear, dropout, embedding, normalisation and the activations, written
// over the tensor ops (autograd comes from them).
import { noGrad } from '../../autograd/grad_mode.js';
import { ArgumentError, DTypeError, KindlingError, ShapeError, fmtShape } from '../../errors.js';
import { rand } from '../../ops/creation.js';
import { dropoutMasked } from '../../ops/dropout.js';
import * as ew from '../../ops/elementwise.js';
import { indexSelect } from '../../ops/indexing.js';
import { matmul, matmulBias } from '../../ops/matmul.js';
import { type BatchNormOptions, batchNorm as batchNormOp } from '../../ops/normalization.js';
import { layerNormFused, rmsNormFused } from '../../ops/fused_rows.js';
import { assertTensor } from '../../ops/record.js';
import { reshape, transpose } from '../../ops/shape.js';
import { logSoftmax as logSoftmaxOp, softmax as softmaxOp } from '../../ops/softmax.js';
import { scoped } from '../../scope.js';
import type { Tensor } from '../../tensor.js';

/** y = x W^T + b, with W [out, in] as PyTorch stores it (the transpose is a strided view). */
export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  assertTensor(input, 'linear', 'input');
  assertTensor(weight, 'linear', 'weight');
  if (weight.ndim !== 2) throw new ShapeError(`linear: weight must be 2-d [out, in], got ${fmtShape(weight.shape)}`);
  if (input.ndim === 0 || input.shape[input.ndim - 1] !== weight.shape[1]) {
    throw new ShapeError(`linear: input ${fmtShape(input.shape)} does not end in in_features=${weight.shape[1]} (weight ${fmtShape(weight.shape)})`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new ShapeError(`linear: bias ${fmtShape(bias.shape)} does not match out_features=${weight.shape[0]}`);
  }
  return scoped(() => {
    const weightT = transpose(weight, 0, 1);
    if (!bias) return matmul(input, weightT);
    // Leading dims fold into the rows of one product whose GEMM adds the bias as it stores.
    const rows = input.shape.slice(0, -1).reduce((p, s) => p * s, 1);
    const y = matmulBias(reshape(input, [rows, weight.shape[1]]), weightT, bias);
    return reshape(y, [...input.shape.slice(0, -1), weight.shape[0]]);
  });
}

/** Zeroes each element with probability p in training and scales the rest by 1/(1-p). */
export function dropout(input: Tensor, p = 0.5, training = true): Tensor {
  assertTensor(input, 'dropout', 'input');
  if (!(p >= 0 && p <= 1)) throw new ArgumentError(`dropout: probability has to be between 0 and 1, got ${p}`);
  if (!training || p === 0) return ew.mul(input, 1);
  if (p === 1) return ew.mul(input, 0);
  if (input.dtype === 'float32') return dropoutMasked(input, p);
  return scoped(() => {
    const scale = noGrad(() => ew.mul(ew.cast(ew.ge(rand(input.shape, { device: input.device }), p), 'float32'), 1 / (1 - p)));
    return ew.mul(input, scale);
  });
}

export interface EmbeddingFunctionalOptions {
  paddingIdx?: number | null;
  /** Rows looked up whose normType-norm exceeds maxNorm are rescaled in the weight, in place, first. */
  maxNorm?: number | null;
  normType?: number;
  /** Scales each row's gradient by 1 / (how often its index occurs in this input). */
  scaleGradByFreq?: boolean;
}

/**
 * PyTorch's embedding_renorm_: each distinct looked-up row whose p-norm exceeds maxNorm is
 * scaled, in the weight itself and outside autograd, by maxNorm / (norm + 1e-7).
 */
export function embeddingRenorm_(weight: Tensor, input: Tensor, maxNorm: number, normType = 2): void {
  if (!(maxNorm > 0)) throw new ArgumentError(`embedding: max_norm must be positive, got ${maxNorm}`);
  if (!(normType > 0)) throw new ArgumentError(`embedding: norm_type must be positive, got ${normType}`);
  scoped(() => noGrad(() => {
    const ids = input.reshape([input.numel]).unique();
    if (ids.numel === 0) return;
    const rows = indexSelect(weight, 0, ids);
    const norms = rows.norm(normType, 1, true);
    const scale = ew.where(ew.gt(norms, maxNorm), ew.mul(ew.pow(ew.add(norms, 1e-7), -1), maxNorm), 1);
    const index = ids.reshape([ids.numel, 1]).expand([ids.numel, weight.shape[1]]).contiguous();
    weight.scatter_(0, index, ew.mul(rows, scale));
  }));
}

/** Rows of weight picked by integer indices of any shape: [..., D]. */
export function embedding(input: Tensor, weight: Tensor, options: number | null | EmbeddingFunctionalOptions = {}): Tensor {
  assertTensor(input, 'embedding', 'input');
  if (input.dtype !== 'int32') throw new DTypeError(`embedding: indices must be int32, got ${input.dtype}`);
  if (weight.ndim !== 2) throw new ShapeError(`embedding: weight must be 2-d [num, dim], got ${fmtShape(weight.shape)}`);
  const { paddingIdx = null, maxNorm = null, normType = 2, scaleGradByFreq = false } = typeof options === 'object' && options !== null ? options : { paddingIdx: options };
  if (maxNorm !== null && maxNorm !== undefined) {
    // Bounds are checked before the weight is touched, so a bad index leaves it unchanged.
    let lo = 0, hi = 0;
    if (input.numel > 0) scoped(() => { lo = input.min().item(); hi = input.max().item(); });
    if (lo < 0 || hi >= weight.shape[0]) throw new ArgumentError(`embedding: indices ${fmtShape(input.shape)} out of range for a table of ${weight.shape[0]} rows`);
    embeddingRenorm_(weight, input, maxNorm, normType);
  }
  return scoped(() => {
    let rows: Tensor;
    try {
      rows = indexSelect(weight, 0, reshape(input, [input.numel]));
    } catch (e) {
      // Name this op and the table size, as PyTorch's "index out of range in self".
      if (e instanceof KindlingError) throw new (e.constructor as new (m: string) => KindlingError)(`embedding: indices ${fmtShape(input.shape)} into a table of ${weight.shape[0]} rows: ${e.message}`);
      throw e;
    }
    const hasPad = paddingIdx !== undefined && paddingIdx !== null;
    if ((hasPad || scaleGradByFreq) && weight.requiresGrad) {
      // Each lookup's gradient is scaled by s (0 for the padding row; 1/count of its index in
      // this batch under scaleGradByFreq): rows * s + detached(rows) * (1 - s) has rows' value.
      const s = noGrad(() => {
        const flat = reshape(input, [input.numel]);
        let scale = ew.cast(hasPad ? ew.ne(flat, paddingIdx) : ew.add(ew.mul(flat, 0), 1), 'float32');
        if (scaleGradByFreq) {
          const [, inverse, counts] = flat.unique({ returnInverse: true, returnCounts: true });
          scale = ew.div(scale, ew.cast(indexSelect(counts, 0, inverse), 'float32'));
        }
        return reshape(scale, [input.numel, 1]);
      });
      rows = ew.add(ew.mul(rows, s), ew.mul(rows.detach(), ew.add(ew.neg(s), 1)));
    }
    return reshape(rows, [...input.shape, weight.shape[1]]);
  });
}

/**
 * Normalises over the trailing dims in normalizedShape: (x - mean) / sqrt(var + eps) * w + b (biased
 * variance), as torch.nn.functional.layer_norm. One fused node (lib/ops/fused_rows.ts).
 */
export function layerNorm(input: Tensor, normalizedShape: number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  return layerNormFused(input, normalizedShape, weight ?? null, bias ?? null, eps);
}

/**
 * Root-mean-square normalisation over the trailing dims: x / sqrt(mean(x²) + eps) * w, as
 * torch.nn.functional.rms_norm; eps null or undefined is float32's machine epsilon, as PyTorch's
 * RMSNorm. One fused node (lib/ops/fused_rows.ts).
 */
export function rmsNorm(input: Tensor, normalizedShape: number[], weight?: Tensor | null, eps?: number | null): Tensor {
  return rmsNormFused(input, normalizedShape, weight ?? null, eps ?? null);
}

export type { BatchNormOptions };

/**
 * Batch normalisation over dim 1 (channels) of [N, C, ...]. In training the batch statistics
 * are used and the running ones updated in place (unbiased variance, as PyTorch); in eval the
 * running statistics are used. One fused native node (lib/ops/normalization.ts).
 */
export function batchNorm(input: Tensor, options: BatchNormOptions = {}): Tensor {
  return batchNormOp(input, options);
}

export const relu = (x: Tensor) => ew.relu(x);
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none') => ew.gelu(x, approximate);
export const silu = (x: Tensor) => ew.silu(x);
export const sigmoid = (x: Tensor) => ew.sigmoid(x);
export const tanh = (x: Tensor) => ew.tanh(x);
export const leakyRelu = (x: Tensor, negativeSlope = 0.01) => ew.leakyRelu(x, negativeSlope);
export const elu = (x: Tensor, alpha = 1) => ew.elu(x, alpha);
export const softplus = (x: Tensor, beta = 1, threshold = 20) => ew.softplus(x, beta, threshold);
export const softmax = (x: Tensor, dim: number) => softmaxOp(x, dim);
export const logSoftmax = (x: Tensor, dim: number) => logSoftmaxOp(x, dim);
