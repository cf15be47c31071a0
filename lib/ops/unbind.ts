// unbind: the slices of a tensor along one dim, each a view without that dim (as torch.unbind).
import { ShapeError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { assertTensor } from './record.js';
import { normalizeDim, select } from './shape.js';

export function unbind(x: Tensor, dim = 0): Tensor[] {
  assertTensor(x, 'unbind', 'input');
  if (x.ndim === 0) throw new ShapeError(`unbind: dimension specified as ${dim} but tensor has no dimensions (shape ${fmtShape(x.shape)})`);
  const d = normalizeDim(dim, x.ndim, 'unbind');
  return Array.from({ length: x.shape[d] }, (_, i) => select(x, d, i));
}
