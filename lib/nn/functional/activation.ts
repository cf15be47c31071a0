// hardtanh: the clamp to [minVal, maxVal] with PyTorch's gradient, which is zero on the
// boundaries themselves (clamp's passes there), so it is an op of its own.
import { ArgumentError, DTypeError } from '../../errors.js';
import { clamp, where } from '../../ops/elementwise.js';
import { assertTensor, record } from '../../ops/record.js';
import { noGrad } from '../../autograd/grad_mode.js';
import { scoped } from '../../scope.js';
import type { Tensor } from '../../tensor.js';

/** min(max(x, minVal), maxVal); the gradient flows only where minVal < x < maxVal. */
export function hardtanh(x: Tensor, minVal = -1, maxVal = 1): Tensor {
  const op = 'hardtanh';
  assertTensor(x, op, 'input');
  if (x.dtype !== 'float32') throw new DTypeError(`${op}: input must be float32, got ${x.dtype}`);
  for (const [name, v] of [['minVal', minVal], ['maxVal', maxVal]] as const) {
    if (typeof v !== 'number' || Number.isNaN(v)) throw new ArgumentError(`${op}: ${name} must be a number, got ${String(v)}`);
  }
  if (minVal > maxVal) throw new ArgumentError(`${op}: minVal ${minVal} cannot be greater than maxVal ${maxVal}`);
  const out = noGrad(() => clamp(x, minVal, maxVal));
  return record('HardtanhBackward', out, [x], (node) => {
    const xs = node.save(x);
    return (g) => [where(xs.gt(minVal).logicalAnd(xs.lt(maxVal)), g, 0)];
  });
}
