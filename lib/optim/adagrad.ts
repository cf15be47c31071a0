// Adagrad in torch.optim.Adagrad's form: a per-element sum of squared gradients scales each
// step; the learning rate decays as lr / (1 + (step - 1) lrDecay).
import { fullLike } from '../ops/creation.js';
import { keep } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { type ParamGroup, type ParamState, type ParamsInput, Optimizer, checkNonNegative, definedOnly } from './optimizer.js';

export interface AdagradOptions {
  lr: number;
  lrDecay: number;
  weightDecay: number;
  initialAccumulatorValue: number;
  eps: number;
  maximize: boolean;
}

/** torch.optim.Adagrad: lr 1e-2, lrDecay 0, weightDecay 0, initialAccumulatorValue 0, eps 1e-10. */
export class Adagrad extends Optimizer<AdagradOptions> {
  constructor(params: ParamsInput<AdagradOptions>, options: Partial<AdagradOptions> = {}) {
    super('Adagrad', params, {
      lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false, ...definedOnly(options),
    });
  }

  protected validateGroup(g: ParamGroup<AdagradOptions>): void {
    for (const key of ['lr', 'lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps'] as const) checkNonNegative('Adagrad', key, g[key]);
  }

  // Like PyTorch, the accumulators exist from construction (they appear in stateDict at once).
  protected override initGroupState(g: ParamGroup<AdagradOptions>): void {
    for (const p of g.params) {
      if (this.state.has(p)) continue;
      this.state.set(p, { step: 0, sum: keep(fullLike(p, g.initialAccumulatorValue)) });
    }
  }

  protected updateParam(p: Tensor, grad0: Tensor, state: ParamState, g: ParamGroup<AdagradOptions>): void {
    if (state.sum === undefined) {
      state.step = 0;
      state.sum = keep(fullLike(p, g.initialAccumulatorValue));
    }
    const step = (state.step as number) + 1;
    state.step = step;
    let grad = g.maximize ? grad0.neg() : grad0;
    if (g.weightDecay !== 0) grad = grad.add(p, g.weightDecay);
    const clr = g.lr / (1 + (step - 1) * g.lrDecay);
    const sum = state.sum as Tensor;
    sum.add_(grad.square());
    const std = sum.sqrt().add(g.eps);
    p.add_(grad.div(std), -clr);
  }
}
