// Adam (L2 weight decay folded into the gradient) and AdamW (decoupled weight decay), in
// torch.optim's update order, with the AMSGrad variant and maximize.
import type { AdamTensors } from '../backend/backend.js';
import { backendOf } from '../backend/index.js';
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import {
  type ParamGroup, type ParamState, type ParamsInput, Optimizer, checkInUnitInterval, checkNonNegative, definedOnly,
} from './optimizer.js';

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

abstract class AdamBase extends Optimizer<AdamOptions> {
  /** AdamW shrinks the parameter itself; Adam adds the decay to the gradient. */
  protected abstract readonly decoupled: boolean;
  /** A group's fused updates, run together by endGroup (one launch per step on a GPU). */
  private pending: AdamTensors[] = [];

  protected validateGroup(g: ParamGroup<AdamOptions>): void {
    checkNonNegative(this.name, 'lr', g.lr);
    checkNonNegative(this.name, 'eps', g.eps);
    checkNonNegative(this.name, 'weightDecay', g.weightDecay);
    if (!Array.isArray(g.betas) || g.betas.length !== 2) throw new ArgumentError(`${this.name}: betas must be [beta1, beta2], got ${String(g.betas)}`);
    checkInUnitInterval(this.name, 'betas[0]', g.betas[0]);
    checkInUnitInterval(this.name, 'betas[1]', g.betas[1]);
  }

  protected updateParam(p: Tensor, grad0: Tensor, state: ParamState, g: ParamGroup<AdamOptions>): void {
    const [beta1, beta2] = g.betas;
    if (state.step === undefined) {
      state.step = 0;
      state.expAvg = this.zeroBuffer(p);
      state.expAvgSq = this.zeroBuffer(p);
      if (g.amsgrad) state.maxExpAvgSq = this.zeroBuffer(p);
    }
    const step = (state.step as number) + 1;
    state.step = step;
    if (this.fusedStep(p, grad0, state, g, step)) return;
    let grad = g.maximize ? grad0.neg() : grad0;
    if (g.weightDecay !== 0) {
      if (this.decoupled) p.mul_(1 - g.lr * g.weightDecay);
      else grad = grad.add(p, g.weightDecay);
    }
    const expAvg = state.expAvg as Tensor, expAvgSq = state.expAvgSq as Tensor;
    expAvg.add_(grad.sub(expAvg), 1 - beta1);  // torch: exp_avg.lerp_(grad, 1 - beta1)
    expAvgSq.mul_(beta2).add_(grad.square(), 1 - beta2);
    const biasCorrection1 = 1 - beta1 ** step;
    const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** step);
    let second = expAvgSq;
    if (g.amsgrad) {
      // A missing buffer (amsgrad switched on later) starts from the current second moment.
      const maxSq = (state.maxExpAvgSq as Tensor | undefined) ?? this.zeroBuffer(p);
      state.maxExpAvgSq = maxSq;
      const larger = maxSq.maximum(expAvgSq);
      maxSq.copy_(larger);
      second = maxSq;
    }
    const denom = second.sqrt().div(biasCorrection2Sqrt).add(g.eps);
    p.add_(expAvg.div(denom), -g.lr / biasCorrection1);
  }

  /**
   * The whole update in one kernel pass (the backend's adam) when every tensor is a dense run;
   * returns false to take the op-by-op path above (views, or an AMSGrad buffer added late).
   */
  private fusedStep(p: Tensor, grad: Tensor, state: ParamState, g: ParamGroup<AdamOptions>, step: number): boolean {
    const expAvg = state.expAvg as Tensor, expAvgSq = state.expAvgSq as Tensor;
    const maxSq = g.amsgrad ? (state.maxExpAvgSq as Tensor | undefined) : null;
    if (maxSq === undefined) return false;
    const all = maxSq ? [p, grad, expAvg, expAvgSq, maxSq] : [p, grad, expAvg, expAvgSq];
    if (!all.every((t) => t.isContiguous() && t.device === p.device && t.dtype === 'float32')) return false;
    this.pending.push({ param: p, grad, expAvg, expAvgSq, maxExpAvgSq: maxSq, step });
    for (const t of [p, expAvg, expAvgSq]) t._storage.version++;
    if (maxSq) maxSq._storage.version++;
    return true;
  }

  protected override endGroup(g: ParamGroup<AdamOptions>): void {
    const pending = this.pending;
    this.pending = [];
    const hyper = { lr: g.lr, beta1: g.betas[0], beta2: g.betas[1], eps: g.eps, weightDecay: g.weightDecay, decoupled: this.decoupled, maximize: g.maximize };
    for (const device of new Set(pending.map((t) => (t.param as Tensor).device))) {
      const onDevice = pending.filter((t) => (t.param as Tensor).device === device);
      backendOf(onDevice[0].param as Tensor).adam(hyper, onDevice);
    }
  }
}

/** torch.optim.Adam: lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0 (added to the gradient). */
export class Adam extends AdamBase {
  protected readonly decoupled = false;
  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super('Adam', params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, ...definedOnly(options) });
  }
}

/** torch.optim.AdamW: Adam with decoupled weight decay (default 1e-2): p ← p (1 − lr·wd) before the step. */
export class AdamW extends AdamBase {
  protected readonly decoupled = true;
  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super('AdamW', params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false, ...definedOnly(options) });
  }
}
