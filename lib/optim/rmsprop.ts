// RMSprop in torch.optim.RMSprop's form: a running mean of squared gradients (alpha), optionally
// centered by the running mean of gradients, with optional momentum on the scaled step.
import type { Tensor } from '../tensor.js';
import { type ParamGroup, type ParamState, type ParamsInput, Optimizer, checkNonNegative, definedOnly } from './optimizer.js';

export interface RMSpropOptions {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
  maximize: boolean;
}

/** torch.optim.RMSprop: lr 1e-2, alpha 0.99, eps 1e-8, weightDecay 0, momentum 0, centered false. */
export class RMSprop extends Optimizer<RMSpropOptions> {
  constructor(params: ParamsInput<RMSpropOptions>, options: Partial<RMSpropOptions> = {}) {
    super('RMSprop', params, {
      lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false, ...definedOnly(options),
    });
  }

  protected validateGroup(g: ParamGroup<RMSpropOptions>): void {
    for (const key of ['lr', 'alpha', 'eps', 'weightDecay', 'momentum'] as const) checkNonNegative('RMSprop', key, g[key]);
  }

  protected updateParam(p: Tensor, grad0: Tensor, state: ParamState, g: ParamGroup<RMSpropOptions>): void {
    if (state.step === undefined) {
      state.step = 0;
      state.squareAvg = this.zeroBuffer(p);
      if (g.momentum > 0) state.momentumBuffer = this.zeroBuffer(p);
      if (g.centered) state.gradAvg = this.zeroBuffer(p);
    }
    state.step = (state.step as number) + 1;
    let grad = g.maximize ? grad0.neg() : grad0;
    if (g.weightDecay !== 0) grad = grad.add(p, g.weightDecay);
    const squareAvg = state.squareAvg as Tensor;
    squareAvg.mul_(g.alpha).add_(grad.square(), 1 - g.alpha);
    let avg: Tensor;
    if (g.centered) {
      const gradAvg = (state.gradAvg as Tensor | undefined) ?? this.zeroBuffer(p);
      state.gradAvg = gradAvg;
      gradAvg.mul_(g.alpha).add_(grad, 1 - g.alpha);
      avg = squareAvg.sub(gradAvg.square()).sqrt();
    } else {
      avg = squareAvg.sqrt();
    }
    avg.add_(g.eps);
    if (g.momentum > 0) {
      const buf = (state.momentumBuffer as Tensor | undefined) ?? this.zeroBuffer(p);
      state.momentumBuffer = buf;
      buf.mul_(g.momentum).add_(grad.div(avg));
      p.add_(buf, -g.lr);
    } else {
      p.add_(grad.div(avg), -g.lr);
    }
  }
}
