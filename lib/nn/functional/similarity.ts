// F.normalize and F.cosineSimilarity, composed from norm and arithmetic (autograd differentiates
// them), with PyTorch's numerics: each norm is clamped below by eps before dividing.
import { ArgumentError, DTypeError, fmtShape } from '../../errors.js';
import { noGrad } from '../../autograd/grad_mode.js';
import * as ew from '../../ops/elementwise.js';
import { norm } from '../../ops/linalg.js';
import { assertTensor, broadcastShapes, sameDevice } from '../../ops/record.js';
import { sum } from '../../ops/reduce.js';
import { expand, normalizeDim } from '../../ops/shape.js';
import { scoped } from '../../scope.js';
import type { Tensor } from '../../tensor.js';

export interface NormalizeOptions {
  /** The norm's order (default 2). */
  p?: number;
  /** The dim to normalise over (default 1). */
  dim?: number | number[];
  /** The smallest norm divided by (default 1e-12). */
  eps?: number;
}

/** x / max(||x||_p over dim, eps): unit vectors along dim. */
export function normalize(input: Tensor, options: NormalizeOptions = {}): Tensor {
  assertTensor(input, 'normalize', 'input');
  const { p = 2, dim = 1, eps = 1e-12 } = options;
  if (input.dtype !== 'float32') throw new DTypeError(`normalize: expected a float32 input, got ${input.dtype} (shape ${fmtShape(input.shape)})`);
  if (typeof eps !== 'number' || !(eps >= 0)) throw new ArgumentError(`normalize: eps must be a number >= 0, got ${String(eps)}`);
  return scoped(() => ew.div(input, ew.clamp(norm(input, p, dim, true), eps, null)));
}

export interface CosineSimilarityOptions {
  /** The dim holding the vectors (default 1). */
  dim?: number;
  /** The smallest norm divided by (default 1e-8). */
  eps?: number;
}

/**
 * sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) over dim, x1 and x2 broadcast together: the
 * formula of PyTorch 2, which normalises each input before the product so the result stays in
 * [-1, 1]. As there, the clamp changes the norms' values but not their gradient path.
 */
export function cosineSimilarity(x1: Tensor, x2: Tensor, options: CosineSimilarityOptions = {}): Tensor {
  const op = 'cosineSimilarity';
  assertTensor(x1, op, 'x1');
  assertTensor(x2, op, 'x2');
  sameDevice(op, x1, x2);
  for (const [name, t] of [['x1', x1], ['x2', x2]] as const) {
    if (t.dtype !== 'float32') throw new DTypeError(`${op}: expected float32 inputs, got ${name} ${t.dtype} (shape ${fmtShape(t.shape)})`);
  }
  const { dim = 1, eps = 1e-8 } = options;
  if (typeof eps !== 'number' || !(eps >= 0)) throw new ArgumentError(`${op}: eps must be a number >= 0, got ${String(eps)}`);
  const shape = broadcastShapes(op, x1.shape, x2.shape);
  const d = normalizeDim(dim, shape.length, op);
  return scoped(() => {
    const a = expand(x1, shape), b = expand(x2, shape);
    const unit = (x: Tensor) => {
      const n = norm(x, 2, d, true);
      // n's values clamped below by eps, its gradient still n's (PyTorch clamps in place under no_grad).
      const lift = noGrad(() => ew.sub(ew.clamp(n, eps, null), n));
      return ew.div(x, ew.add(n, lift));
    };
    return sum(ew.mul(unit(a), unit(b)), d);
  });
}
