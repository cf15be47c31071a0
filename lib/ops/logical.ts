// any and all: whether some / every element (along dims, or over the whole tensor) is non-zero.
// NaN counts as true, as in PyTorch; an empty reduction gives any = false and all = true. Counted
// with the int32 sum kernel on the tensor's device; the result is bool and has no gradient.
import { noGrad } from '../autograd/grad_mode.js';
import { scoped } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { eq, gt, ne } from './elementwise.js';
import { assertTensor } from './record.js';
import { sum } from './reduce.js';
import { normalizeDim } from './shape.js';

/** Checks dim against x under the op's own name (the sum kernel would report it as sum's). */
function checkDims(op: string, x: Tensor, dim: number | number[] | null | undefined): void {
  assertTensor(x, op, 'input');
  if (dim === undefined || dim === null) return;
  for (const d of Array.isArray(dim) ? dim : [dim]) normalizeDim(d, x.ndim, op);
}

/** True where any element along dim (every dim when omitted) is non-zero. */
export function any(x: Tensor, dim?: number | number[] | null, keepdim = false): Tensor {
  checkDims('any', x, dim);
  return noGrad(() => scoped(() => gt(sum(ne(x, 0), dim, keepdim), 0)));
}

/** True where every element along dim (every dim when omitted) is non-zero. */
export function all(x: Tensor, dim?: number | number[] | null, keepdim = false): Tensor {
  checkDims('all', x, dim);
  return noGrad(() => scoped(() => eq(sum(eq(x, 0), dim, keepdim), 0)));
}
