// Group normalisation, composed from ops (autograd differentiates it).
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import { scoped } from '../../scope.js';
import type { Tensor } from '../../tensor.js';
import { floatTensor } from './convolution.js';

/**
 * Normalises x [N, C, ...] over each group of C/numGroups channels and the spatial dims (biased
 * variance), then scales and shifts each channel by weight [C] and bias [C], as
 * torch.nn.functional.group_norm.
 */
export function groupNorm(x: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const op = 'groupNorm';
  floatTensor(op, 'input', x);
  if (x.ndim < 2) throw new ShapeError(`${op}: expected an input of at least 2 dims [N, C, ...], got ${fmtShape(x.shape)}`);
  if (!Number.isInteger(numGroups) || numGroups <= 0) throw new ArgumentError(`${op}: numGroups must be a positive integer, got ${numGroups}`);
  if (typeof eps !== 'number' || !(eps >= 0)) throw new ArgumentError(`${op}: eps must be a number >= 0, got ${String(eps)}`);
  const [n, c] = x.shape;
  if (c % numGroups !== 0) throw new ShapeError(`${op}: input ${fmtShape(x.shape)} has ${c} channels, not divisible by numGroups=${numGroups}`);
  const spatial = x.shape.slice(2).reduce((a, b) => a * b, 1);
  const perGroup = (c / numGroups) * spatial;
  if (n * perGroup === 1) throw new ShapeError(`${op}: expected more than 1 value per group, got input ${fmtShape(x.shape)} with numGroups=${numGroups}`);
  const affine = [['weight', weight], ['bias', bias]] as const;
  for (const [name, t] of affine) {
    if (t === undefined || t === null) continue;
    floatTensor(op, name, t);
    if (t.ndim !== 1 || t.shape[0] !== c) throw new ShapeError(`${op}: ${name} ${fmtShape(t.shape)} does not match the ${c} channels of input ${fmtShape(x.shape)}`);
  }
  // weight and bias broadcast along dim 1 of x.
  const channelShape = [c, ...new Array<number>(x.ndim - 2).fill(1)];
  return scoped(() => {
    const grouped = x.reshape([n, numGroups, perGroup]);
    const mu = grouped.mean(2, true);
    const rstd = grouped.var(2, { correction: 0, keepdim: true }).add(eps).rsqrt();
    let y = grouped.sub(mu).mul(rstd).reshape(x.shape);
    if (weight) y = y.mul(weight.reshape(channelShape));
    if (bias) y = y.add(bias.reshape(channelShape));
    return y;
  });
}
