// F.oneHot: class indices to one-hot rows, as torch.nn.functional.one_hot (int32 here, int64 there).
import { ArgumentError, DTypeError, fmtShape } from '../../errors.js';
import { arange } from '../../ops/creation.js';
import * as ew from '../../ops/elementwise.js';
import { assertTensor } from '../../ops/record.js';
import { unsqueeze } from '../../ops/shape.js';
import { scoped } from '../../scope.js';
import type { Tensor } from '../../tensor.js';

/**
 * [...shape] int32 class indices -> [...shape, numClasses] int32 with a 1 at each index.
 * numClasses = -1 takes the largest index + 1. The indices are checked on the host.
 */
export function oneHot(tensor: Tensor, numClasses = -1): Tensor {
  const op = 'oneHot';
  assertTensor(tensor, op, 'input');
  if (tensor.dtype !== 'int32') throw new DTypeError(`${op}: expected an int32 tensor of class indices, got ${tensor.dtype} (shape ${fmtShape(tensor.shape)})`);
  if (!Number.isInteger(numClasses) || numClasses < -1) throw new ArgumentError(`${op}: numClasses must be -1 or a non-negative integer, got ${numClasses}`);
  const values = tensor.data();
  let max = -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < 0) throw new ArgumentError(`${op}: class values must be non-negative, got ${v} in ${fmtShape(tensor.shape)}`);
    if (v > max) max = v;
  }
  let classes = numClasses;
  if (classes === -1) {
    if (values.length === 0) throw new ArgumentError(`${op}: cannot infer the number of classes from an empty tensor ${fmtShape(tensor.shape)}`);
    classes = max + 1;
  } else if (max >= classes) {
    throw new ArgumentError(`${op}: class value ${max} is out of range for numClasses=${classes} (input ${fmtShape(tensor.shape)})`);
  }
  return scoped(() => ew.cast(ew.eq(unsqueeze(tensor, -1), arange(classes, { device: tensor.device })), 'int32'));
}
