// Dropout as one op with its own kernel: each element is zeroed with probability p and the rest
// scaled by 1 / (1 - p), in one pass. The mask is a pure function of (seed, element index)
// (native/common/dropout.h), the seed drawn from kd.manualSeed's generator, so the backward is the
// same op on the gradient with the same seed and no mask is stored (PyTorch keeps a bool mask).
import { backendOf } from '../backend/index.js';
import { ArgumentError, DTypeError, fmtShape } from '../errors.js';
import { scoped } from '../scope.js';
import { Tensor } from '../tensor.js';
import { dropoutSeed } from './attention.js';
import { assertTensor, record } from './record.js';

/** x · mask / (1 - p) with the mask of `seed`; its gradient is the same op on g. */
function maskedScale(x: Tensor, p: number, seed: number): Tensor {
  const out = scoped(() => {
    const xs = x.isContiguous() ? x : x.contiguous();
    const y = Tensor._empty(x.shape, 'float32', x.device);
    backendOf(xs).dropout(p, seed, y, xs);
    return y;
  });
  return record('DropoutBackward', out, [x], () => (g) => [maskedScale(g, p, seed)]);
}

/** Training-mode dropout of a float32 tensor with 0 <= p <= 1 (a fresh mask per call). */
export function dropoutMasked(input: Tensor, p: number): Tensor {
  assertTensor(input, 'dropout', 'input');
  if (input.dtype !== 'float32') throw new DTypeError(`dropout: expected a float32 input, got ${input.dtype} ${fmtShape(input.shape)}`);
  if (!(p >= 0 && p <= 1)) throw new ArgumentError(`dropout: probability has to be between 0 and 1, got ${p}`);
  return maskedScale(input, p, dropoutSeed());
}
