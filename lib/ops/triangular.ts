// triu and tril: the upper or lower triangle of the last two dims, the rest zero. A bool mask of
// the matrix is built on the host and broadcast over the batch dims; where() applies it on the
// tensor's device and carries the gradient (g inside the triangle, zero outside).
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { scoped } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { fromTypedArray } from './creation.js';
import { where } from './elementwise.js';
import { assertTensor } from './record.js';

function triangle(op: 'triu' | 'tril', x: Tensor, diagonal: number): Tensor {
  assertTensor(x, op, 'input');
  if (x.ndim < 2) throw new ShapeError(`${op}: input tensor must have at least 2 dims, got shape ${fmtShape(x.shape)}`);
  if (!Number.isInteger(diagonal)) throw new ArgumentError(`${op}: diagonal must be an integer, got ${diagonal}`);
  const rows = x.shape[x.ndim - 2], cols = x.shape[x.ndim - 1];
  const keep = new Uint8Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) keep[i * cols + j] = (op === 'triu' ? j - i >= diagonal : j - i <= diagonal) ? 1 : 0;
  }
  return scoped(() => where(fromTypedArray(keep, [rows, cols], 'bool', x.device), x, x.dtype === 'bool' ? false : 0));
}

/** The elements on and above diagonal `diagonal` of the last two dims (> 0 above the main one). */
export const triu = (x: Tensor, diagonal = 0): Tensor => triangle('triu', x, diagonal);

/** The elements on and below diagonal `diagonal` of the last two dims (< 0 below the main one). */
export const tril = (x: Tensor, diagonal = 0): Tensor => triangle('tril', x, diagonal);
