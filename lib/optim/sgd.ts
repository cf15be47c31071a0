// Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay, in
// torch.optim.SGD's order: decay into the gradient, then momentum, then the step.
import { ArgumentError } from '../errors.js';
import { keep } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { type ParamGroup, type ParamState, type ParamsInput, Optimizer, checkNonNegative, definedOnly } from './optimizer.js';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

export class SGD extends Optimizer<SGDOptions> {
  constructor(params: ParamsInput<SGDOptions>, options: Partial<SGDOptions> = {}) {
    super('SGD', params, {
      lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...definedOnly(options),
    });
  }

  protected validateGroup(g: ParamGroup<SGDOptions>): void {
    checkNonNegative('SGD', 'lr', g.lr);
    checkNonNegative('SGD', 'momentum', g.momentum);
    checkNonNegative('SGD', 'weightDecay', g.weightDecay);
    if (typeof g.dampening !== 'number' || !Number.isFinite(g.dampening)) throw new ArgumentError(`SGD: dampening must be a number, got ${String(g.dampening)}`);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new ArgumentError('SGD: Nesterov momentum requires a momentum > 0 and zero dampening');
    }
  }

  protected updateParam(p: Tensor, grad0: Tensor, state: ParamState, g: ParamGroup<SGDOptions>): void {
    let grad = g.maximize ? grad0.neg() : grad0;
    if (g.weightDecay !== 0) grad = grad.add(p, g.weightDecay);
    if (g.momentum !== 0) {
      let buf = state.momentumBuffer as Tensor | undefined;
      if (buf === undefined) {
        buf = keep(grad.clone());
        state.momentumBuffer = buf;
      } else {
        buf.mul_(g.momentum).add_(grad, 1 - g.dampening);
      }
      grad = g.nesterov ? grad.add(buf, g.momentum) : buf;
    }
    p.add_(grad, -g.lr);
  }
}
