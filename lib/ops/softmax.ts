// softmax and logSoftmax along one dim: one fused native pass per row (max, sum of exp, write),
// and fused backward kernels from the saved output:
//   softmax:    dx = y * (g - sum(g * y))        logSoftmax: dx = g - exp(y) * sum(g)
// When the backward itself is recorded (createGraph), it is composed from differentiable ops.
import { isGradEnabled } from '../autograd/grad_mode.js';
import { backendOf } from '../backend/index.js';
import { DTypeError } from '../errors.js';
import { Tensor } from '../tensor.js';
import * as ew from './elementwise.js';
import { assertTensor, atLeast1d, record } from './record.js';
import { sum } from './reduce.js';
import { normalizeDim } from './shape.js';

function composedBackward(log: boolean, y: Tensor, g: Tensor, d: number): Tensor {
  if (log) return ew.sub(g, ew.mul(ew.exp(y), sum(g, d, true)));
  return ew.mul(y, ew.sub(g, sum(ew.mul(g, y), d, true)));
}

function softmaxOp(op: 'softmax' | 'logSoftmax', x: Tensor, dim: number): Tensor {
  assertTensor(x, op, 'input');
  if (x.dtype !== 'float32') throw new DTypeError(`${op}: expected float32, got ${x.dtype}`);
  const d = normalizeDim(dim, x.ndim, op);
  const log = op === 'logSoftmax';
  const out = Tensor._empty(x.shape, 'float32', x.device);
  if (out.numel > 0) backendOf(x).softmax(log, atLeast1d(out), atLeast1d(x), d);
  return record(log ? 'LogSoftmaxBackward' : 'SoftmaxBackward', out, [x], (node) => {
    const ys = node.save(out);
    return (g) => {
      if (isGradEnabled()) return [composedBackward(log, ys, g, d)];
      const dx = Tensor._empty(ys.shape, 'float32', ys.device);
      if (dx.numel > 0) backendOf(ys).softmaxBackward(log, atLeast1d(dx), atLeast1d(ys), atLeast1d(g), d);
      return [dx];
    };
  });
}

export function softmax(x: Tensor, dim: number): Tensor {
  return softmaxOp('softmax', x, dim);
}

export function logSoftmax(x: Tensor, dim: number): Tensor {
  return softmaxOp('logSoftmax', x, dim);
}
