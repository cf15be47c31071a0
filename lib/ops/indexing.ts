// gather / indexSelect / scatterAdd: being written (native kernels + autograd) in this change.
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor.js';

export function gather(_x: Tensor, _dim: number, _index: Tensor): Tensor {
  throw new ArgumentError('gather: unavailable in this build');
}
export function indexSelect(_x: Tensor, _dim: number, _index: Tensor): Tensor {
  throw new ArgumentError('indexSelect: unavailable in this build');
}
export function scatterAdd(_x: Tensor, _dim: number, _index: Tensor, _src: Tensor): Tensor {
  throw new ArgumentError('scatterAdd: unavailable in this build');
}
