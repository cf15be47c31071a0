// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_: the gradients are
// changed in place; parameters without a gradient are skipped.
import { noGrad } from '../autograd/grad_mode.js';
import { ArgumentError } from '../errors.js';
import { zeros } from '../ops/creation.js';
import { tidy } from '../scope.js';
import { Tensor } from '../tensor.js';

function gradsOf(op: string, parameters: Iterable<Tensor> | Tensor): Tensor[] {
  if (parameters instanceof Tensor) return parameters.grad ? [parameters.grad] : [];
  if (parameters === null || parameters === undefined || typeof (parameters as Iterable<Tensor>)[Symbol.iterator] !== 'function') {
    throw new ArgumentError(`${op}: expected a Tensor or an iterable of tensors (e.g. model.parameters())`);
  }
  const grads: Tensor[] = [];
  for (const p of parameters) {
    if (!(p instanceof Tensor)) throw new ArgumentError(`${op}: expected tensors, got ${typeof p}`);
    if (p.grad) grads.push(p.grad);
  }
  return grads;
}

/**
 * Scales the gradients so their joint normType-norm is at most maxNorm (by
 * maxNorm / (norm + 1e-6) when it is larger) and returns that norm, before clipping, as a 0-d
 * tensor. normType is a positive number or Infinity (the largest |g|).
 */
export function clipGradNorm(parameters: Iterable<Tensor> | Tensor, maxNorm: number, normType = 2, errorIfNonfinite = false): Tensor {
  const op = 'clipGradNorm';
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm)) throw new ArgumentError(`${op}: maxNorm must be a number, got ${String(maxNorm)}`);
  if (typeof normType !== 'number' || !(normType > 0)) throw new ArgumentError(`${op}: normType must be a positive number or Infinity, got ${String(normType)}`);
  const grads = gradsOf(op, parameters);
  if (grads.length === 0) return zeros([]);
  return noGrad(() => tidy(() => {
    let total: Tensor;
    if (normType === Infinity) {
      total = grads.map((g) => g.abs().amax()).reduce((a, b) => a.maximum(b));
    } else {
      const powered = (g: Tensor) => (normType === 2 ? g.square() : normType === 1 ? g.abs() : g.abs().pow(normType)).sum();
      const sum = grads.map(powered).reduce((a, b) => a.add(b));
      total = normType === 2 ? sum.sqrt() : normType === 1 ? sum : sum.pow(1 / normType);
    }
    if (errorIfNonfinite && !Number.isFinite(total.item())) {
      throw new ArgumentError(`${op}: the total norm of order ${normType} of the gradients is non-finite (${total.item()}), so it cannot be clipped`);
    }
    // Multiplying by a factor clamped at 1 (rather than testing on the host) avoids a device sync.
    const factor = total.add(1e-6).reciprocal().mul(maxNorm).clamp(null, 1);
    for (const g of grads) g.mul_(factor);
    return total;
  }));
}

/** Clamps every gradient element into [-clipValue, clipValue]. */
export function clipGradValue(parameters: Iterable<Tensor> | Tensor, clipValue: number): void {
  const op = 'clipGradValue';
  if (typeof clipValue !== 'number' || !(clipValue >= 0)) throw new ArgumentError(`${op}: clipValue must be a number >= 0, got ${String(clipValue)}`);
  const grads = gradsOf(op, parameters);
  noGrad(() => {
    for (const g of grads) g.clamp_(-clipValue, clipValue);
  });
}
