// Rotary position embeddings (RoPE) in the rotate-half convention of GPT-NeoX, Llama and
// Hugging Face's apply_rotary_pos_emb: the head dimension is split into halves [x1, x2], and
// position p rotates the pair (x1[i], x2[i]) by the angle p * base^(-2i/headDim).
import { ShapeError, fmtShape } from '../../errors.js';
import { assertTensor } from '../../ops/record.js';
import { cat } from '../../ops/shape.js';
import { scoped } from '../../scope.js';
import type { Tensor } from '../../tensor.js';

/** [-x2, x1] for x = [x1, x2] split at the middle of the last dim. */
export function rotateHalf(x: Tensor): Tensor {
  const last = x.ndim - 1, d = x.shape[last];
  if (d % 2 !== 0) throw new ShapeError(`rotateHalf: last dim of ${fmtShape(x.shape)} must be even`);
  return scoped(() => cat([x.narrow(last, d / 2, d / 2).neg(), x.narrow(last, 0, d / 2)], last));
}

/**
 * x * cos + rotateHalf(x) * sin. x is [..., seq, headDim] (e.g. [batch, heads, seq, headDim]);
 * cos and sin hold one row per position, [seq, headDim], or any shape that broadcasts to x
 * (each row is the angle table repeated twice: cat(freqs, freqs), as Hugging Face builds it).
 */
export function applyRotaryEmb(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  assertTensor(x, 'applyRotaryEmb', 'x');
  assertTensor(cos, 'applyRotaryEmb', 'cos');
  assertTensor(sin, 'applyRotaryEmb', 'sin');
  const d = x.shape[x.ndim - 1];
  if (x.ndim < 2 || d % 2 !== 0) throw new ShapeError(`applyRotaryEmb: x ${fmtShape(x.shape)} must be [..., seq, headDim] with an even headDim`);
  if (cos.shape.join(',') !== sin.shape.join(',')) throw new ShapeError(`applyRotaryEmb: cos ${fmtShape(cos.shape)} and sin ${fmtShape(sin.shape)} differ`);
  if (cos.ndim > x.ndim || cos.shape.some((n, i) => {
    const xn = x.shape[x.ndim - cos.ndim + i];
    return n !== xn && n !== 1;
  })) {
    throw new ShapeError(`applyRotaryEmb: cos/sin ${fmtShape(cos.shape)} do not broadcast to x ${fmtShape(x.shape)}`);
  }
  return scoped(() => x.mul(cos).add(rotateHalf(x).mul(sin)));
}
