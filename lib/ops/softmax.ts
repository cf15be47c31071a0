// softmax and logSoftmax over one dim, composed from reductions (a fused kernel replaces this).
import { DTypeError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import * as ew from './elementwise.js';
import { assertTensor } from './record.js';
import { logsumexp } from './reduce.js';

export function logSoftmax(x: Tensor, dim: number): Tensor {
  assertTensor(x, 'logSoftmax', 'input');
  if (x.dtype !== 'float32') throw new DTypeError(`logSoftmax: expected float32, got ${x.dtype}`);
  const l = logsumexp(x, dim, true);
  const out = ew.sub(x, l);
  l.dispose();
  return out;
}

export function softmax(x: Tensor, dim: number): Tensor {
  const ls = logSoftmax(x, dim);
  const out = ew.exp(ls);
  ls.dispose();
  return out;
}
