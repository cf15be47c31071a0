// softmax and logSoftmax along one dim: one fused native pass per row (max, sum of exp, write),
// and fused backward kernels from the saved output:
//   softmax:    dx = y * (g - sum(g * y))        logSoftmax: dx = g - exp(y) * sum(g)
// When the backward itself is recorded (createGraph), it is composed from differentiable ops.
import { isGradEnabled } from '../autograd/grad_mode.js';
import { backendOf } from '../backend/index.js';
import { DTypeError } from '../errors.js';
import { Tensor } from '../tensor.js';
import * as ew from './elementwise.js';
import { assertTensor, record } from './record.js';
import { sum } from './reduce.js';
import { normalizeDim } from './shape.js';

/** Kernel operands for t, with a 0-d tensor seen as shape [1]. */
function rank1(t: Tensor): Tensor {
  return t.ndim === 0 ? t._view([1], [1], t.offset) : t;
}

function runKernel(tensors: Tensor[], fn: (ts: Tensor[]) => void): void {
  const views = tensors.map(rank1);
  try {
    fn(views);
  } finally {
    views.forEach((v, i) => { if (v !== tensors[i]) v.dispose(); });
  }
}

function composedBackward(log: boolean, y: Tensor, g: Tensor, d: number): Tensor {
  if (log) {
    const s = sum(g, d, true), e = ew.exp(y), es = ew.mul(e, s), dx = ew.sub(g, es);
    for (const t of [s, e, es]) t.dispose();
    return dx;
  }
  const gy = ew.mul(g, y), s = sum(gy, d, true), c = ew.sub(g, s), dx = ew.mul(y, c);
  for (const t of [gy, s, c]) t.dispose();
  return dx;
}

function softmaxOp(op: 'softmax' | 'logSoftmax', x: Tensor, dim: number): Tensor {
  assertTensor(x, op, 'input');
  if (x.dtype !== 'float32') throw new DTypeError(`${op}: expected float32, got ${x.dtype}`);
  const d = normalizeDim(dim, x.ndim, op);
  const log = op === 'logSoftmax';
  const out = Tensor._empty(x.shape, 'float32', x.device);
  if (out.numel > 0) runKernel([out, x], ([o, xv]) => backendOf(x).softmax(log, o, xv, d));
  return record(log ? 'LogSoftmaxBackward' : 'SoftmaxBackward', out, [x], (node) => {
    const ys = node.save(out);
    return (g) => {
      if (isGradEnabled()) return [composedBackward(log, ys, g, d)];
      const dx = Tensor._empty(ys.shape, 'float32', ys.device);
      if (dx.numel > 0) runKernel([dx, ys, g], ([dv, yv, gv]) => backendOf(ys).softmaxBackward(log, dv, yv, gv, d));
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
