// Loss functions, composed from ops so autograd differentiates them; PyTorch's formulas,
// defaults and reductions (weighted means divide by the summed target weights). Binary cross
// entropy alone defines its own backward, because the clamped logs would give 0/0 at 0 and 1.
import { noGrad } from '../../autograd/grad_mode.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../../errors.js';
import { where } from '../../ops/elementwise.js';
import { rowCrossEntropy } from '../../ops/fused_rows.js';
import { assertTensor, broadcastShapes, record } from '../../ops/record.js';
import { scoped } from '../../scope.js';
import { Tensor } from '../../tensor.js';

export type Reduction = 'mean' | 'sum' | 'none';

export interface ReductionOptions {
  /** 'mean' (default) averages the elementwise losses, 'sum' adds them, 'none' returns them. */
  reduction?: Reduction;
}

export interface NLLLossOptions extends ReductionOptions {
  /** A float32 [C] rescaling weight per class. */
  weight?: Tensor | null;
  /** Targets equal to this contribute nothing (and do not count in the mean). Default -100. */
  ignoreIndex?: number;
}

export interface CrossEntropyOptions extends NLLLossOptions {
  /** In [0, 1]: mixes the target with the uniform distribution over the classes. Default 0. */
  labelSmoothing?: number;
}

export interface SmoothL1Options extends ReductionOptions {
  /** Where the loss turns from quadratic to linear. Default 1; 0 gives the L1 loss. */
  beta?: number;
}

export interface HuberOptions extends ReductionOptions {
  /** Where the loss turns from quadratic to linear. Default 1. */
  delta?: number;
}

export interface BCELossOptions extends ReductionOptions {
  /** Rescaling weight, broadcast to the input's shape. */
  weight?: Tensor | null;
}

export interface BCEWithLogitsOptions extends BCELossOptions {
  /** Weight of the positive examples, broadcast along the last (class) dim. */
  posWeight?: Tensor | null;
}

// ---- validation -----------------------------------------------------------------------------

/** @internal The reduction option, checked ('mean' when unset); the loss modules share it. */
export function reductionOf(op: string, options: ReductionOptions): Reduction {
  const r = options.reduction ?? 'mean';
  if (r !== 'mean' && r !== 'sum' && r !== 'none') {
    throw new ArgumentError(`${op}: reduction must be 'mean', 'sum' or 'none', got '${String(r)}'`);
  }
  return r;
}

function floatInput(value: unknown, op: string, what: string): Tensor {
  const t = assertTensor(value, op, what);
  if (t.dtype !== 'float32') throw new DTypeError(`${op}: ${what} must be float32, got ${t.dtype}`);
  return t;
}

/** Input and target of a pointwise loss: both float32 and of one shape. */
function pointwisePair(op: string, input: unknown, target: unknown): [Tensor, Tensor] {
  const x = floatInput(input, op, 'input');
  const t = floatInput(target, op, 'target');
  if (!sameShape(x.shape, t.shape)) {
    throw new ShapeError(`${op}: input ${fmtShape(x.shape)} and target ${fmtShape(t.shape)} must have the same shape`);
  }
  return [x, t];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

/** An optional weight that must broadcast onto `shape` without growing it. */
function broadcastWeight(op: string, what: string, w: Tensor | null | undefined, shape: readonly number[]): Tensor | null {
  if (w === undefined || w === null) return null;
  floatInput(w, op, what);
  let fits = true;
  try {
    fits = sameShape(broadcastShapes(op, shape, w.shape), shape);
  } catch {
    fits = false;
  }
  if (!fits) throw new ShapeError(`${op}: ${what} ${fmtShape(w.shape)} does not broadcast to the input's shape ${fmtShape(shape)}`);
  return w;
}

function applyReduction(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss;
  return reduction === 'sum' ? loss.sum() : loss.mean();
}

// ---- classification -------------------------------------------------------------------------

interface ClassProblem {
  classDim: number;
  numClasses: number;
  weight: Tensor | null;
  ignoreIndex: number;
}

function classProblem(op: string, input: Tensor, options: NLLLossOptions): ClassProblem {
  if (input.ndim === 0) throw new ShapeError(`${op}: input must have a class dim, got shape ${fmtShape(input.shape)}`);
  const classDim = input.ndim === 1 ? 0 : 1;
  const numClasses = input.shape[classDim];
  if (numClasses === 0) throw new ShapeError(`${op}: input ${fmtShape(input.shape)} has no classes`);
  const ignoreIndex = options.ignoreIndex ?? -100;
  if (!Number.isInteger(ignoreIndex)) throw new ArgumentError(`${op}: ignoreIndex must be an integer, got ${ignoreIndex}`);
  let weight: Tensor | null = null;
  if (options.weight !== undefined && options.weight !== null) {
    weight = floatInput(options.weight, op, 'weight');
    if (weight.ndim !== 1 || weight.shape[0] !== numClasses) {
      throw new ShapeError(`${op}: weight must have shape [${numClasses}] (one per class), got ${fmtShape(weight.shape)}`);
    }
  }
  return { classDim, numClasses, weight, ignoreIndex };
}

/** Class-index targets: int32, shaped like the input without its class dim, each in [0, C) or ignored. */
function checkClassTarget(op: string, input: Tensor, target: Tensor, p: ClassProblem): boolean {
  if (target.dtype !== 'int32') {
    throw new DTypeError(`${op}: class-index target must be int32, got ${target.dtype} (float targets are class probabilities)`);
  }
  const expected = input.shape.filter((_, d) => d !== p.classDim);
  if (!sameShape(target.shape, expected)) {
    throw new ShapeError(`${op}: input ${fmtShape(input.shape)} needs a target of shape ${fmtShape(expected)}, got ${fmtShape(target.shape)}`);
  }
  const values = target._dataCopy();
  let anyIgnored = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === p.ignoreIndex) anyIgnored = true;
    else if (v < 0 || v >= p.numClasses) {
      throw new ArgumentError(`${op}: target ${v} is out of bounds for ${p.numClasses} classes (input ${fmtShape(input.shape)})`);
    }
  }
  return anyIgnored;
}

/** weight [C] viewed so it broadcasts along the class dim of an input of `ndim` dims. */
function classWeightView(weight: Tensor, classDim: number, ndim: number): Tensor {
  const shape = new Array<number>(ndim).fill(1);
  shape[classDim] = weight.shape[0];
  return weight.reshape(shape);
}

interface PickedTargets {
  /** -logp[target] * weight[target], zero where ignored; shaped like the target. */
  loss: Tensor;
  /** weight[target] (1 without weights), zero where ignored; null when all are 1. */
  targetWeight: Tensor | null;
  ignored: Tensor | null;
}

/** The negative log-likelihood of each target class; call it in a scope. */
function pickTargets(logp: Tensor, target: Tensor, p: ClassProblem, anyIgnored: boolean): PickedTargets {
  const ignored = anyIgnored ? target.eq(p.ignoreIndex) : null;
  // Ignored positions read class 0 (any valid index) and are zeroed by their weight.
  const safeTarget = ignored ? where(ignored, 0, target) : target;
  const picked = logp.gather(p.classDim, safeTarget.unsqueeze(p.classDim)).squeeze(p.classDim);
  let targetWeight: Tensor | null = null;
  if (p.weight) targetWeight = p.weight.gather(0, safeTarget.flatten()).reshape(target.shape);
  let loss = targetWeight ? picked.mul(targetWeight).neg() : picked.neg();
  if (ignored) {
    // Filled rather than multiplied by 0, so an infinite log-probability at an ignored spot stays out.
    loss = loss.maskedFill(ignored, 0);
    targetWeight = targetWeight ? targetWeight.maskedFill(ignored, 0) : ignored.logicalNot().float();
  }
  return { loss, targetWeight, ignored };
}

function reduceWeighted(loss: Tensor, targetWeight: Tensor | null, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return loss.sum();
  return targetWeight ? loss.sum().div(targetWeight.sum()) : loss.mean();
}

function nllFromLogProbs(op: string, logp: Tensor, target: Tensor, p: ClassProblem, reduction: Reduction, labelSmoothing: number): Tensor {
  const anyIgnored = checkClassTarget(op, logp, target, p);
  const { loss, targetWeight, ignored } = pickTargets(logp, target, p, anyIgnored);
  const nll = reduceWeighted(loss, targetWeight, reduction);
  if (labelSmoothing === 0) return nll;
  // PyTorch's smoothing term: -sum_c w_c logp_c per position, normalised like the NLL term.
  const weighted = p.weight ? logp.mul(classWeightView(p.weight, p.classDim, logp.ndim)) : logp;
  let smooth = weighted.sum(p.classDim).neg();
  if (ignored) smooth = smooth.maskedFill(ignored, 0);
  const smoothReduced = reduceWeighted(smooth, targetWeight, reduction);
  return nll.mul(1 - labelSmoothing).add(smoothReduced.mul(labelSmoothing / p.numClasses));
}

/**
 * The negative log-likelihood loss over log-probabilities `input` ([C], [N, C] or
 * [N, C, d1, ...]) and int32 class-index `target` ([], [N] or [N, d1, ...]).
 */
export function nllLoss(input: Tensor, target: Tensor, options: NLLLossOptions = {}): Tensor {
  const op = 'nllLoss';
  const x = floatInput(input, op, 'input');
  const t = assertTensor(target, op, 'target');
  const reduction = reductionOf(op, options);
  const p = classProblem(op, x, options);
  return scoped(() => nllFromLogProbs(op, x, t, p, reduction, 0));
}

/**
 * Cross entropy of logits `input` ([C], [N, C] or [N, C, d1, ...]) against int32 class indices
 * (shaped like the input without the class dim) or float32 class probabilities (shaped like the
 * input), as torch.nn.functional.cross_entropy.
 */
export function crossEntropy(input: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  const x = floatInput(input, op, 'input');
  const t = assertTensor(target, op, 'target');
  const reduction = reductionOf(op, options);
  const p = classProblem(op, x, options);
  const labelSmoothing = options.labelSmoothing ?? 0;
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    throw new ArgumentError(`${op}: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  }
  if (t.dtype === 'float32') {
    if (!sameShape(t.shape, x.shape)) {
      throw new ShapeError(`${op}: probability target ${fmtShape(t.shape)} must have the input's shape ${fmtShape(x.shape)}`);
    }
    return scoped(() => softTargetCrossEntropy(x, t, p, reduction, labelSmoothing));
  }
  checkClassTarget(op, x, t, p);
  return scoped(() => fusedCrossEntropy(x, t, p, reduction, labelSmoothing));
}

/**
 * Class-index cross entropy through the fused softmax-cross-entropy node (lib/ops/fused_rows.ts):
 * the logits as [rows, C] rows (the class dim moved last when there are spatial dims), the
 * per-row losses reduced as PyTorch does (the mean divides by the summed target weights).
 */
function fusedCrossEntropy(x: Tensor, t: Tensor, p: ClassProblem, reduction: Reduction, labelSmoothing: number): Tensor {
  const c = p.numClasses;
  const rows = x.ndim === 1 ? x.reshape([1, c]) : x.ndim === 2 ? x : x.permute([0, ...x.shape.slice(2).map((_, i) => i + 2), 1]).reshape([-1, c]);
  const { loss, targetWeight } = rowCrossEntropy(rows, t.reshape([-1]), p.weight, p.ignoreIndex, labelSmoothing);
  if (reduction === 'none') return loss.reshape(t.shape);
  if (reduction === 'sum') return loss.sum();
  return loss.sum().div(targetWeight.sum());
}

function softTargetCrossEntropy(x: Tensor, target: Tensor, p: ClassProblem, reduction: Reduction, labelSmoothing: number): Tensor {
  const logp = x.logSoftmax(p.classDim);
  const smoothed = labelSmoothing > 0 ? target.mul(1 - labelSmoothing).add(labelSmoothing / p.numClasses) : target;
  let prod = logp.mul(smoothed);
  if (p.weight) prod = prod.mul(classWeightView(p.weight, p.classDim, x.ndim));
  if (reduction === 'none') return prod.sum(p.classDim).neg();
  if (reduction === 'sum') return prod.sum().neg();
  // The mean is over positions (numel / C), not over the classes too.
  return prod.sum().neg().div(x.numel / p.numClasses);
}

// ---- binary classification ------------------------------------------------------------------

/**
 * Binary cross entropy of probabilities `input` against `target` (both float32, one shape); the
 * logs are clamped at -100 like PyTorch, so a saturated prediction gives a finite loss.
 */
export function bceLoss(input: Tensor, target: Tensor, options: BCELossOptions = {}): Tensor {
  const op = 'bceLoss';
  const [x, t] = pointwisePair(op, input, target);
  const reduction = reductionOf(op, options);
  const weight = broadcastWeight(op, 'weight', options.weight, x.shape);
  if (x.numel > 0) {
    let lo = 0, hi = 0;
    // Under noGrad: a recorded amin would save tensors that only a backward would free.
    noGrad(() => scoped(() => { lo = x.amin().item(); hi = x.amax().item(); }));
    if (!(lo >= 0 && hi <= 1)) throw new ArgumentError(`${op}: input values must be probabilities in [0, 1], got a range [${lo}, ${hi}]`);
  }
  return scoped(() => applyReduction(bceElementwise(x, t, weight), reduction));
}

function bceElementwise(x: Tensor, t: Tensor, weight: Tensor | null): Tensor {
  const { loss, logX, log1mX } = noGrad(() => {
    const logX = x.log().clamp(-100, null);
    const log1mX = x.neg().add(1).log().clamp(-100, null);
    // -(t log x + (1 - t) log(1 - x)) = -(log(1 - x) + t (log x - log(1 - x)))
    let loss = log1mX.add(t.mul(logX.sub(log1mX))).neg();
    if (weight) loss = loss.mul(weight);
    return { loss, logX, log1mX };
  });
  return record('BinaryCrossEntropyBackward', loss, [x, t], (node) => {
    const xs = node.save(x), ts = node.save(t), lx = node.save(logX), l1x = node.save(log1mX);
    const ws = weight ? node.save(weight) : null;
    return (g) => {
      const scale = ws ? g.mul(ws) : g;
      // d/dx = (x - t) / (x (1 - x)), the denominator clamped at 1e-12 as PyTorch does.
      const gx = x.requiresGrad ? scale.mul(xs.sub(ts)).div(xs.mul(xs.neg().add(1)).clamp(1e-12, null)) : null;
      const gt = t.requiresGrad ? scale.mul(l1x.sub(lx)) : null;
      return [gx, gt];
    };
  });
}

/**
 * Binary cross entropy on logits, computed stably as (1 - t) x + (1 + (p - 1) t) softplus(-x)
 * where p is posWeight, as torch.nn.functional.binary_cross_entropy_with_logits.
 */
export function bceWithLogitsLoss(input: Tensor, target: Tensor, options: BCEWithLogitsOptions = {}): Tensor {
  const op = 'bceWithLogitsLoss';
  const [x, t] = pointwisePair(op, input, target);
  const reduction = reductionOf(op, options);
  const weight = broadcastWeight(op, 'weight', options.weight, x.shape);
  const posWeight = broadcastWeight(op, 'posWeight', options.posWeight, x.shape);
  return scoped(() => {
    const softplusNegX = x.neg().softplus();
    const logWeighted = posWeight ? softplusNegX.mul(posWeight.sub(1).mul(t).add(1)) : softplusNegX;
    let loss = t.neg().add(1).mul(x).add(logWeighted);
    if (weight) loss = loss.mul(weight);
    return applyReduction(loss, reduction);
  });
}

/** PyTorch's name for bceLoss (torch.nn.functional.binary_cross_entropy). */
export const binaryCrossEntropy = bceLoss;

/** PyTorch's name for bceWithLogitsLoss (torch.nn.functional.binary_cross_entropy_with_logits). */
export const binaryCrossEntropyWithLogits = bceWithLogitsLoss;

// ---- distributions --------------------------------------------------------------------------

export interface KLDivOptions {
  /**
   * 'mean' (default) averages over every element, 'batchmean' divides the sum by the batch size
   * (the KL divergence's true value per sample), 'sum' adds, 'none' returns the elementwise terms.
   */
  reduction?: Reduction | 'batchmean';
  /** The target holds log-probabilities instead of probabilities. Default false. */
  logTarget?: boolean;
}

/**
 * The Kullback-Leibler divergence of the target distribution from the input's, with the input
 * given as log-probabilities: target · (log target − input) elementwise (0 where target is 0), or
 * exp(target) · (target − input) when logTarget, as torch.nn.functional.kl_div.
 */
export function klDiv(input: Tensor, target: Tensor, options: KLDivOptions = {}): Tensor {
  const op = 'klDiv';
  const [x, t] = pointwisePair(op, input, target);
  const reduction = options.reduction ?? 'mean';
  if (!['mean', 'batchmean', 'sum', 'none'].includes(reduction)) {
    throw new ArgumentError(`${op}: reduction must be 'mean', 'batchmean', 'sum' or 'none', got '${String(reduction)}'`);
  }
  return scoped(() => {
    // xlogy(t, t): the 0 · log 0 terms are 0, not NaN (their target gradient stays NaN, as PyTorch's).
    const loss = options.logTarget ? t.exp().mul(t.sub(x)) : where(t.gt(0), t.mul(t.log()), 0).sub(t.mul(x));
    if (reduction === 'batchmean') return x.ndim === 0 ? loss.sum() : loss.sum().div(x.shape[0]);
    return applyReduction(loss, reduction as Reduction);
  });
}

// ---- regression -----------------------------------------------------------------------------

/** Mean squared error: (input - target)². */
export function mseLoss(input: Tensor, target: Tensor, options: ReductionOptions = {}): Tensor {
  const [x, t] = pointwisePair('mseLoss', input, target);
  const reduction = reductionOf('mseLoss', options);
  return scoped(() => applyReduction(x.sub(t).square(), reduction));
}

/** Mean absolute error: |input - target|. */
export function l1Loss(input: Tensor, target: Tensor, options: ReductionOptions = {}): Tensor {
  const [x, t] = pointwisePair('l1Loss', input, target);
  const reduction = reductionOf('l1Loss', options);
  return scoped(() => applyReduction(x.sub(t).abs(), reduction));
}

/** 0.5 d² / beta where |d| < beta, else |d| - 0.5 beta (d = input - target). */
export function smoothL1Loss(input: Tensor, target: Tensor, options: SmoothL1Options = {}): Tensor {
  const op = 'smoothL1Loss';
  const [x, t] = pointwisePair(op, input, target);
  const reduction = reductionOf(op, options);
  const beta = options.beta ?? 1;
  if (!(beta >= 0) || !Number.isFinite(beta)) throw new ArgumentError(`${op}: beta must be a finite number >= 0, got ${beta}`);
  if (beta === 0) return l1Loss(x, t, { reduction });
  return scoped(() => {
    const d = x.sub(t), ad = d.abs();
    const loss = where(ad.lt(beta), d.square().mul(0.5 / beta), ad.sub(0.5 * beta));
    return applyReduction(loss, reduction);
  });
}

/** 0.5 d² where |d| < delta, else delta (|d| - 0.5 delta): smoothL1 scaled by delta. */
export function huberLoss(input: Tensor, target: Tensor, options: HuberOptions = {}): Tensor {
  const op = 'huberLoss';
  const [x, t] = pointwisePair(op, input, target);
  const reduction = reductionOf(op, options);
  const delta = options.delta ?? 1;
  if (!(delta > 0) || !Number.isFinite(delta)) throw new ArgumentError(`${op}: delta must be a finite number > 0, got ${delta}`);
  return scoped(() => {
    const d = x.sub(t), ad = d.abs();
    const loss = where(ad.lt(delta), d.square().mul(0.5), ad.sub(0.5 * delta).mul(delta));
    return applyReduction(loss, reduction);
  });
}

// ---- regularisation -------------------------------------------------------------------------

function penalty(op: string, parameters: Iterable<Tensor>, term: (w: Tensor) => Tensor): Tensor {
  if (parameters === null || typeof (parameters as Iterable<Tensor>)[Symbol.iterator] !== 'function') {
    throw new ArgumentError(`${op}: expected an iterable of tensors (e.g. model.parameters())`);
  }
  const params = [...parameters].map((w, i) => floatInput(w, op, `parameter ${i}`));
  if (params.length === 0) throw new ArgumentError(`${op}: got no parameters`);
  return scoped(() => {
    let total = term(params[0]).sum();
    for (let i = 1; i < params.length; i++) total = total.add(term(params[i]).sum());
    return total;
  });
}

/** The sum of |w| over every element of every parameter (add λ · l1Penalty to a loss). */
export function l1Penalty(parameters: Iterable<Tensor>): Tensor {
  return penalty('l1Penalty', parameters, (w) => w.abs());
}

/** The sum of w² over every element of every parameter. */
export function l2Penalty(parameters: Iterable<Tensor>): Tensor {
  return penalty('l2Penalty', parameters, (w) => w.square());
}
