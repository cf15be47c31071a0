// Learning-rate schedulers, as torch.optim.lr_scheduler. Each epoch-based scheduler computes the
// lr in closed form from the group's initial lr and the epoch count (lastEpoch), which equals
// PyTorch's recursive values up to rounding and makes schedulers composable by SequentialLR.
// Construction performs step 0, so the optimizer's lr is the scheduled one at once; call
// step() after each optimizer.step() (per epoch or per batch, as the schedule is meant).
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { GroupOptions, Optimizer } from './optimizer.js';

type AnyOptimizer = Optimizer<GroupOptions>;
export type SchedulerStateDict = Record<string, unknown>;

function checkOptimizer(op: string, optimizer: unknown): AnyOptimizer {
  if (!optimizer || typeof optimizer !== 'object' || !Array.isArray((optimizer as AnyOptimizer).paramGroups)) {
    throw new ArgumentError(`${op}: expected an optimizer (kd.optim.SGD, Adam, ...), got ${String(optimizer)}`);
  }
  return optimizer as AnyOptimizer;
}

function checkNumber(op: string, name: string, value: unknown, ok: (v: number) => boolean, rule: string): number {
  if (typeof value !== 'number' || Number.isNaN(value) || !ok(value)) throw new ArgumentError(`${op}: ${name} must be ${rule}, got ${String(value)}`);
  return value;
}

function checkPositiveInt(op: string, name: string, value: unknown): number {
  return checkNumber(op, name, value, (v) => Number.isInteger(v) && v > 0, 'a positive integer');
}

/** Copies values between a scheduler's fields (camelCase) and a state dict (PyTorch's keys). */
function copyFields(from: Record<string, unknown>, to: Record<string, unknown>, keys: [string, string][], reverse: boolean): void {
  for (const [field, key] of keys) {
    const [src, dst] = reverse ? [key, field] : [field, key];
    if (!(src in from)) continue;
    const v = from[src];
    to[dst] = Array.isArray(v) ? [...v] : v;
  }
}

export interface SchedulerOptions {
  /** The index of the last epoch when resuming; -1 (default) starts fresh. */
  lastEpoch?: number;
}

/** The base of the epoch-based schedulers. */
export abstract class LRScheduler {
  readonly optimizer: AnyOptimizer;
  /** Each group's lr at epoch 0 (its initialLr). */
  baseLrs: number[];
  lastEpoch: number;
  protected stepCount = 0;
  protected lastLr: number[] = [];
  protected readonly name: string;
  /** Hyperparameter fields and their names in PyTorch's state dict. */
  protected abstract readonly stateKeys: [string, string][];

  constructor(name: string, optimizer: AnyOptimizer, lastEpoch = -1) {
    this.name = name;
    this.optimizer = checkOptimizer(name, optimizer);
    if (!Number.isInteger(lastEpoch) || lastEpoch < -1) throw new ArgumentError(`${name}: lastEpoch must be an integer >= -1, got ${lastEpoch}`);
    const groups = this.optimizer.paramGroups;
    if (lastEpoch === -1) {
      for (const g of groups) if (g.initialLr === undefined) g.initialLr = g.lr;
    } else {
      groups.forEach((g, i) => {
        if (g.initialLr === undefined) throw new ArgumentError(`${name}: resuming at lastEpoch ${lastEpoch} needs initialLr in parameter group ${i}`);
      });
    }
    this.baseLrs = groups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
  }

  /** Subclass constructors call this once their fields are set: PyTorch's initial step. */
  protected initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** The learning rate of a group whose initial lr is baseLr, at `epoch`. */
  protected abstract lrAt(baseLr: number, epoch: number, groupIndex: number): number;

  /** The learning rates of every group at `epoch` (the closed form). */
  lrsAt(epoch: number): number[] {
    return this.baseLrs.map((base, i) => this.lrAt(base, epoch, i));
  }

  /** Advances one epoch and writes the new learning rates into the optimizer's groups. */
  step(): void {
    this.stepCount++;
    this.lastEpoch++;
    this.apply(this.lrsAt(this.lastEpoch));
  }

  protected apply(lrs: number[]): void {
    this.optimizer.paramGroups.forEach((g, i) => { g.lr = lrs[i]; });
    this.lastLr = [...lrs];
  }

  /** The learning rates set by the last step(), one per parameter group. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  stateDict(): SchedulerStateDict {
    const out: SchedulerStateDict = {};
    copyFields(this as unknown as Record<string, unknown>, out, this.stateKeys, false);
    out.base_lrs = [...this.baseLrs];
    out.last_epoch = this.lastEpoch;
    out._step_count = this.stepCount;
    out._last_lr = [...this.lastLr];
    return out;
  }

  /** Restores the scheduler's counters and hyperparameters (the optimizer's lr is in its own state dict). */
  loadStateDict(stateDict: SchedulerStateDict): void {
    if (!stateDict || typeof stateDict !== 'object') throw new ArgumentError(`${this.name}.loadStateDict: expected an object`);
    copyFields(stateDict, this as unknown as Record<string, unknown>, this.stateKeys, true);
    if (Array.isArray(stateDict.base_lrs)) this.baseLrs = [...(stateDict.base_lrs as number[])];
    if (typeof stateDict.last_epoch === 'number') this.lastEpoch = stateDict.last_epoch;
    if (typeof stateDict._step_count === 'number') this.stepCount = stateDict._step_count;
    if (Array.isArray(stateDict._last_lr)) this.lastLr = [...(stateDict._last_lr as number[])];
  }
}

export interface StepLROptions extends SchedulerOptions {
  stepSize: number;
  /** Default 0.1. */
  gamma?: number;
}

/** lr = initialLr · gamma^floor(epoch / stepSize). */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;
  protected readonly stateKeys: [string, string][] = [['stepSize', 'step_size'], ['gamma', 'gamma']];

  constructor(optimizer: AnyOptimizer, options: StepLROptions) {
    super('StepLR', optimizer, options?.lastEpoch);
    this.stepSize = checkPositiveInt('StepLR', 'stepSize', options.stepSize);
    this.gamma = checkNumber('StepLR', 'gamma', options.gamma ?? 0.1, (v) => v >= 0, 'a number >= 0');
    this.initialStep();
  }

  protected lrAt(base: number, epoch: number): number {
    return base * this.gamma ** Math.floor(epoch / this.stepSize);
  }
}

export interface MultiStepLROptions extends SchedulerOptions {
  /** Epochs at which the lr is multiplied by gamma (a repeated milestone multiplies again). */
  milestones: number[];
  /** Default 0.1. */
  gamma?: number;
}

/** lr = initialLr · gamma^(number of milestones <= epoch). */
export class MultiStepLR extends LRScheduler {
  milestones: number[];
  gamma: number;
  protected readonly stateKeys: [string, string][] = [['milestones', 'milestones'], ['gamma', 'gamma']];

  constructor(optimizer: AnyOptimizer, options: MultiStepLROptions) {
    super('MultiStepLR', optimizer, options?.lastEpoch);
    if (!Array.isArray(options.milestones)) throw new ArgumentError('MultiStepLR: milestones must be an array of epochs');
    for (const m of options.milestones) checkNumber('MultiStepLR', 'each milestone', m, Number.isInteger, 'an integer');
    this.milestones = [...options.milestones].sort((a, b) => a - b);
    this.gamma = checkNumber('MultiStepLR', 'gamma', options.gamma ?? 0.1, (v) => v >= 0, 'a number >= 0');
    this.initialStep();
  }

  protected lrAt(base: number, epoch: number): number {
    let passed = 0;
    for (const m of this.milestones) if (m <= epoch) passed++;
    return base * this.gamma ** passed;
  }
}

export interface ExponentialLROptions extends SchedulerOptions {
  gamma: number;
}

/** lr = initialLr · gamma^epoch. */
export class ExponentialLR extends LRScheduler {
  gamma: number;
  protected readonly stateKeys: [string, string][] = [['gamma', 'gamma']];

  constructor(optimizer: AnyOptimizer, options: ExponentialLROptions) {
    super('ExponentialLR', optimizer, options?.lastEpoch);
    this.gamma = checkNumber('ExponentialLR', 'gamma', options.gamma, (v) => v >= 0, 'a number >= 0');
    this.initialStep();
  }

  protected lrAt(base: number, epoch: number): number {
    return base * this.gamma ** epoch;
  }
}

export interface CosineAnnealingLROptions extends SchedulerOptions {
  /** Half the period: the lr reaches etaMin after tMax steps (and climbs back after, as in PyTorch). */
  tMax: number;
  /** Default 0. */
  etaMin?: number;
}

/** lr = etaMin + (initialLr − etaMin) · (1 + cos(π · epoch / tMax)) / 2. */
export class CosineAnnealingLR extends LRScheduler {
  tMax: number;
  etaMin: number;
  protected readonly stateKeys: [string, string][] = [['tMax', 'T_max'], ['etaMin', 'eta_min']];

  constructor(optimizer: AnyOptimizer, options: CosineAnnealingLROptions) {
    super('CosineAnnealingLR', optimizer, options?.lastEpoch);
    this.tMax = checkPositiveInt('CosineAnnealingLR', 'tMax', options.tMax);
    this.etaMin = checkNumber('CosineAnnealingLR', 'etaMin', options.etaMin ?? 0, (v) => v >= 0, 'a number >= 0');
    this.initialStep();
  }

  protected lrAt(base: number, epoch: number): number {
    return this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}

export interface LinearLROptions extends SchedulerOptions {
  /** The factor at epoch 0. Default 1/3. */
  startFactor?: number;
  /** The factor from totalIters on. Default 1. */
  endFactor?: number;
  /** Default 5. */
  totalIters?: number;
}

/** lr = initialLr · (startFactor + (endFactor − startFactor) · min(epoch, totalIters) / totalIters). */
export class LinearLR extends LRScheduler {
  startFactor: number;
  endFactor: number;
  totalIters: number;
  protected readonly stateKeys: [string, string][] = [['startFactor', 'start_factor'], ['endFactor', 'end_factor'], ['totalIters', 'total_iters']];

  constructor(optimizer: AnyOptimizer, options: LinearLROptions = {}, name = 'LinearLR') {
    super(name, optimizer, options?.lastEpoch);
    // PyTorch requires startFactor > 0 because its recursive form divides by it; the closed form allows 0.
    this.startFactor = checkNumber(name, 'startFactor', options.startFactor ?? 1 / 3, (v) => v >= 0 && v <= 1, 'in [0, 1]');
    this.endFactor = checkNumber(name, 'endFactor', options.endFactor ?? 1, (v) => v >= 0 && v <= 1, 'in [0, 1]');
    this.totalIters = checkPositiveInt(name, 'totalIters', options.totalIters ?? 5);
    this.initialStep();
  }

  protected lrAt(base: number, epoch: number): number {
    const progress = Math.min(epoch, this.totalIters) / this.totalIters;
    return base * (this.startFactor + (this.endFactor - this.startFactor) * progress);
  }
}

export interface LinearWarmupOptions extends SchedulerOptions {
  /** Steps to reach the full lr. */
  warmupSteps: number;
  /** The factor at step 0. Default 1/3, as LinearLR. */
  startFactor?: number;
}

/** A linear warm-up: LinearLR from startFactor to 1 over warmupSteps, then the initial lr. */
export class LinearWarmup extends LinearLR {
  constructor(optimizer: AnyOptimizer, options: LinearWarmupOptions) {
    if (!options || typeof options !== 'object') throw new ArgumentError('LinearWarmup: expected options { warmupSteps, startFactor }');
    checkPositiveInt('LinearWarmup', 'warmupSteps', options.warmupSteps);
    super(optimizer, { startFactor: options.startFactor, endFactor: 1, totalIters: options.warmupSteps, lastEpoch: options.lastEpoch }, 'LinearWarmup');
  }
}

export interface WarmupDecayOptions extends SchedulerOptions {
  /** Steps of linear warm-up from 0 to the initial lr. */
  warmupSteps: number;
  /** Steps in the whole run; the decay ends there. */
  totalSteps: number;
}

export interface WarmupCosineOptions extends WarmupDecayOptions {
  /** Cosine waves over the decay; 0.5 (default) goes from the initial lr down to 0 once. */
  numCycles?: number;
}

function checkWarmup(name: string, options: WarmupDecayOptions): void {
  if (!options || typeof options !== 'object') throw new ArgumentError(`${name}: expected options { warmupSteps, totalSteps }`);
  checkNumber(name, 'warmupSteps', options.warmupSteps, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
  checkPositiveInt(name, 'totalSteps', options.totalSteps);
}

/** The warm-up factor at `step`: step / warmupSteps while step < warmupSteps, as transformers. */
function warmupFactor(step: number, warmupSteps: number): number {
  return step / Math.max(1, warmupSteps);
}

/**
 * transformers' get_linear_schedule_with_warmup, stepped once per optimizer step: the lr rises
 * linearly from 0 over warmupSteps, then falls linearly to 0 at totalSteps (and stays 0).
 */
export class WarmupLinearLR extends LRScheduler {
  warmupSteps: number;
  totalSteps: number;
  protected readonly stateKeys: [string, string][] = [['warmupSteps', 'num_warmup_steps'], ['totalSteps', 'num_training_steps']];

  constructor(optimizer: AnyOptimizer, options: WarmupDecayOptions) {
    checkWarmup('WarmupLinearLR', options);
    super('WarmupLinearLR', optimizer, options.lastEpoch);
    this.warmupSteps = options.warmupSteps;
    this.totalSteps = options.totalSteps;
    this.initialStep();
  }

  protected lrAt(base: number, step: number): number {
    if (step < this.warmupSteps) return base * warmupFactor(step, this.warmupSteps);
    return base * Math.max(0, (this.totalSteps - step) / Math.max(1, this.totalSteps - this.warmupSteps));
  }
}

/**
 * transformers' get_cosine_schedule_with_warmup, stepped once per optimizer step: a linear
 * warm-up from 0 over warmupSteps, then lr · max(0, ½(1 + cos(2π · numCycles · progress))) with
 * progress going from 0 to 1 at totalSteps.
 */
export class WarmupCosineLR extends LRScheduler {
  warmupSteps: number;
  totalSteps: number;
  numCycles: number;
  protected readonly stateKeys: [string, string][] = [['warmupSteps', 'num_warmup_steps'], ['totalSteps', 'num_training_steps'], ['numCycles', 'num_cycles']];

  constructor(optimizer: AnyOptimizer, options: WarmupCosineOptions) {
    checkWarmup('WarmupCosineLR', options);
    super('WarmupCosineLR', optimizer, options.lastEpoch);
    this.warmupSteps = options.warmupSteps;
    this.totalSteps = options.totalSteps;
    this.numCycles = checkNumber('WarmupCosineLR', 'numCycles', options.numCycles ?? 0.5, (v) => v > 0 && Number.isFinite(v), 'a positive number');
    this.initialStep();
  }

  protected lrAt(base: number, step: number): number {
    if (step < this.warmupSteps) return base * warmupFactor(step, this.warmupSteps);
    const progress = (step - this.warmupSteps) / Math.max(1, this.totalSteps - this.warmupSteps);
    return base * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * this.numCycles * 2 * progress)));
  }
}

/** lr = initialLr · lrLambda(epoch) (one function for all groups, or one per group). */
export class LambdaLR extends LRScheduler {
  private readonly lambdas: ((epoch: number) => number)[];
  protected readonly stateKeys: [string, string][] = [];

  constructor(optimizer: AnyOptimizer, lrLambda: ((epoch: number) => number) | ((epoch: number) => number)[], options: SchedulerOptions = {}) {
    super('LambdaLR', optimizer, options.lastEpoch);
    const n = this.optimizer.paramGroups.length;
    const list = Array.isArray(lrLambda) ? lrLambda : new Array<(epoch: number) => number>(n).fill(lrLambda);
    if (list.length !== n || list.some((f) => typeof f !== 'function')) {
      throw new ArgumentError(`LambdaLR: expected a function or ${n} functions (one per parameter group)`);
    }
    this.lambdas = list;
    this.initialStep();
  }

  protected lrAt(base: number, epoch: number, groupIndex: number): number {
    return base * this.lambdas[groupIndex](epoch);
  }
}

/**
 * Runs schedulers one after another: schedulers[i] from milestones[i - 1] on, counting its own
 * epochs from 0 there (a warm-up then a cosine decay, say).
 */
export class SequentialLR extends LRScheduler {
  readonly schedulers: LRScheduler[];
  milestones: number[];
  protected readonly stateKeys: [string, string][] = [['milestones', '_milestones']];

  constructor(optimizer: AnyOptimizer, options: { schedulers: LRScheduler[]; milestones: number[] } & SchedulerOptions) {
    super('SequentialLR', optimizer, options?.lastEpoch);
    const { schedulers, milestones } = options;
    if (!Array.isArray(schedulers) || schedulers.length === 0 || schedulers.some((s) => !(s instanceof LRScheduler))) {
      throw new ArgumentError('SequentialLR: schedulers must be a non-empty array of schedulers');
    }
    if (schedulers.some((s) => s.optimizer !== this.optimizer)) throw new ArgumentError('SequentialLR: every scheduler must belong to the same optimizer');
    if (!Array.isArray(milestones) || milestones.length !== schedulers.length - 1) {
      throw new ArgumentError(`SequentialLR: expected ${schedulers.length - 1} milestones for ${schedulers.length} schedulers, got ${String(milestones?.length)}`);
    }
    milestones.forEach((m, i) => {
      checkPositiveInt('SequentialLR', 'each milestone', m);
      if (i > 0 && m <= milestones[i - 1]) throw new ArgumentError('SequentialLR: milestones must increase');
    });
    this.schedulers = [...schedulers];
    this.milestones = [...milestones];
    this.initialStep();
  }

  override lrsAt(epoch: number): number[] {
    let k = 0;
    while (k < this.milestones.length && this.milestones[k] <= epoch) k++;
    const start = k === 0 ? 0 : this.milestones[k - 1];
    return this.schedulers[k].lrsAt(epoch - start);
  }

  protected lrAt(): number {
    throw new Error('unreachable: SequentialLR computes whole epochs in lrsAt');
  }
}

export type PlateauMode = 'min' | 'max';
export type ThresholdMode = 'rel' | 'abs';

export interface ReduceLROnPlateauOptions {
  /** 'min' (default): lower metrics are better; 'max': higher are. */
  mode?: PlateauMode;
  /** The lr is multiplied by this (< 1) on a plateau. Default 0.1. */
  factor?: number;
  /** Epochs without improvement tolerated before reducing. Default 10. */
  patience?: number;
  /** How much better counts as better. Default 1e-4. */
  threshold?: number;
  /** 'rel' (default): better than best · (1 ∓ threshold); 'abs': better than best ∓ threshold. */
  thresholdMode?: ThresholdMode;
  /** Epochs to wait after a reduction before counting again. Default 0. */
  cooldown?: number;
  /** A floor for the lr: one number or one per group. Default 0. */
  minLr?: number | number[];
  /** Reductions smaller than this are skipped. Default 1e-8. */
  eps?: number;
}

/** Reduces the learning rate when a metric (passed to step) stops improving. */
export class ReduceLROnPlateau {
  readonly optimizer: AnyOptimizer;
  mode: PlateauMode;
  factor: number;
  patience: number;
  threshold: number;
  thresholdMode: ThresholdMode;
  cooldown: number;
  minLrs: number[];
  eps: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  private lastLr: number[];
  private static readonly stateKeys: [string, string][] = [
    ['mode', 'mode'], ['factor', 'factor'], ['patience', 'patience'], ['threshold', 'threshold'], ['thresholdMode', 'threshold_mode'],
    ['cooldown', 'cooldown'], ['minLrs', 'min_lrs'], ['eps', 'eps'], ['best', 'best'], ['numBadEpochs', 'num_bad_epochs'],
    ['cooldownCounter', 'cooldown_counter'], ['lastEpoch', 'last_epoch'], ['lastLr', '_last_lr'],
  ];

  constructor(optimizer: AnyOptimizer, options: ReduceLROnPlateauOptions = {}) {
    const op = 'ReduceLROnPlateau';
    this.optimizer = checkOptimizer(op, optimizer);
    this.mode = options.mode ?? 'min';
    if (this.mode !== 'min' && this.mode !== 'max') throw new ArgumentError(`${op}: mode must be 'min' or 'max', got '${String(this.mode)}'`);
    this.thresholdMode = options.thresholdMode ?? 'rel';
    if (this.thresholdMode !== 'rel' && this.thresholdMode !== 'abs') throw new ArgumentError(`${op}: thresholdMode must be 'rel' or 'abs', got '${String(this.thresholdMode)}'`);
    this.factor = checkNumber(op, 'factor', options.factor ?? 0.1, (v) => v >= 0 && v < 1, 'in [0, 1)');
    this.patience = checkNumber(op, 'patience', options.patience ?? 10, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
    this.threshold = checkNumber(op, 'threshold', options.threshold ?? 1e-4, (v) => v >= 0, 'a number >= 0');
    this.cooldown = checkNumber(op, 'cooldown', options.cooldown ?? 0, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
    this.eps = checkNumber(op, 'eps', options.eps ?? 1e-8, (v) => v >= 0, 'a number >= 0');
    const n = this.optimizer.paramGroups.length;
    const minLr = options.minLr ?? 0;
    if (Array.isArray(minLr)) {
      if (minLr.length !== n) throw new ArgumentError(`${op}: expected ${n} minLr values (one per parameter group), got ${minLr.length}`);
      this.minLrs = [...minLr];
    } else {
      this.minLrs = new Array<number>(n).fill(minLr);
    }
    for (const m of this.minLrs) checkNumber(op, 'minLr', m, (v) => v >= 0, 'a number >= 0');
    this.best = this.mode === 'min' ? Infinity : -Infinity;
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** Records one epoch's metric (a number or a one-element tensor) and reduces the lr on a plateau. */
  step(metric: number | Tensor): void {
    const current = metric instanceof Tensor ? metric.item() : metric;
    if (typeof current !== 'number') throw new ArgumentError(`ReduceLROnPlateau.step: expected a number or a one-element tensor, got ${typeof metric}`);
    this.lastEpoch++;
    if (this.isBetter(current)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.reduceLr();
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  private isBetter(a: number): boolean {
    const best = this.best;
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - this.threshold) : a < best - this.threshold;
    return this.thresholdMode === 'rel' ? a > best * (1 + this.threshold) : a > best + this.threshold;
  }

  private reduceLr(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      const newLr = Math.max(g.lr * this.factor, this.minLrs[i]);
      if (g.lr - newLr > this.eps) g.lr = newLr;
    });
  }

  getLastLr(): number[] {
    return [...this.lastLr];
  }

  stateDict(): SchedulerStateDict {
    const out: SchedulerStateDict = {};
    copyFields(this as unknown as Record<string, unknown>, out, ReduceLROnPlateau.stateKeys, false);
    out.mode_worse = this.mode === 'min' ? Infinity : -Infinity;
    return out;
  }

  loadStateDict(stateDict: SchedulerStateDict): void {
    if (!stateDict || typeof stateDict !== 'object') throw new ArgumentError('ReduceLROnPlateau.loadStateDict: expected an object');
    copyFields(stateDict, this as unknown as Record<string, unknown>, ReduceLROnPlateau.stateKeys, true);
  }
}
