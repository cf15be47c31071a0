// Loss modules: the functional losses with their options fixed at construction. Class and
// positive weights are buffers named as PyTorch names them (weight, pos_weight), so a model
// holding a weighted loss saves and loads them with its state dict.
import type { Tensor } from '../tensor.js';
import * as F from './functional/loss.js';
import { Module } from './module.js';

abstract class Loss extends Module {
  readonly reduction: F.Reduction;

  constructor(options: F.ReductionOptions = {}) {
    super();
    this.reduction = F.reductionOf(new.target.name, options);
  }

  abstract override forward(input: Tensor, target: Tensor): Tensor;

  override extraRepr(): string {
    return `reduction='${this.reduction}'`;
  }
}

/** torch.nn.CrossEntropyLoss: logits against class indices or class probabilities. */
export class CrossEntropyLoss extends Loss {
  declare weight: Tensor | null;
  readonly ignoreIndex: number;
  readonly labelSmoothing: number;

  constructor(options: F.CrossEntropyOptions = {}) {
    super(options);
    this.registerBuffer('weight', options.weight ?? null);
    this.ignoreIndex = options.ignoreIndex ?? -100;
    this.labelSmoothing = options.labelSmoothing ?? 0;
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return F.crossEntropy(input, target, {
      weight: this.weight, ignoreIndex: this.ignoreIndex, labelSmoothing: this.labelSmoothing, reduction: this.reduction,
    });
  }

  override extraRepr(): string {
    return `${super.extraRepr()}, ignore_index=${this.ignoreIndex}, label_smoothing=${this.labelSmoothing}`;
  }
}

/** torch.nn.NLLLoss: log-probabilities against class indices. */
export class NLLLoss extends Loss {
  declare weight: Tensor | null;
  readonly ignoreIndex: number;

  constructor(options: F.NLLLossOptions = {}) {
    super(options);
    this.registerBuffer('weight', options.weight ?? null);
    this.ignoreIndex = options.ignoreIndex ?? -100;
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return F.nllLoss(input, target, { weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction });
  }
}

export class MSELoss extends Loss {
  forward(input: Tensor, target: Tensor): Tensor {
    return F.mseLoss(input, target, { reduction: this.reduction });
  }
}

export class L1Loss extends Loss {
  forward(input: Tensor, target: Tensor): Tensor {
    return F.l1Loss(input, target, { reduction: this.reduction });
  }
}

export class SmoothL1Loss extends Loss {
  readonly beta: number;

  constructor(options: F.SmoothL1Options = {}) {
    super(options);
    this.beta = options.beta ?? 1;
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return F.smoothL1Loss(input, target, { beta: this.beta, reduction: this.reduction });
  }

  override extraRepr(): string {
    return `${super.extraRepr()}, beta=${this.beta}`;
  }
}

export class HuberLoss extends Loss {
  readonly delta: number;

  constructor(options: F.HuberOptions = {}) {
    super(options);
    this.delta = options.delta ?? 1;
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return F.huberLoss(input, target, { delta: this.delta, reduction: this.reduction });
  }

  override extraRepr(): string {
    return `${super.extraRepr()}, delta=${this.delta}`;
  }
}

/** torch.nn.BCELoss: probabilities against binary (or soft) targets. */
export class BCELoss extends Loss {
  declare weight: Tensor | null;

  constructor(options: F.BCELossOptions = {}) {
    super(options);
    this.registerBuffer('weight', options.weight ?? null);
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return F.bceLoss(input, target, { weight: this.weight, reduction: this.reduction });
  }
}

/** torch.nn.BCEWithLogitsLoss: logits against binary (or soft) targets, computed stably. */
export class BCEWithLogitsLoss extends Loss {
  declare weight: Tensor | null;
  declare posWeight: Tensor | null;

  constructor(options: F.BCEWithLogitsOptions = {}) {
    super(options);
    this.registerBuffer('weight', options.weight ?? null);
    this.registerBuffer('posWeight', options.posWeight ?? null);
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return F.bceWithLogitsLoss(input, target, { weight: this.weight, posWeight: this.posWeight, reduction: this.reduction });
  }
}
