// The training loop: fit (epochs of shuffled batches, validation, callbacks, a progress bar) and
// evaluate (loss and metrics under eval mode and noGrad). Each optimisation step runs in its own
// kd.tidy, so a long run holds flat memory; fit awaits between epochs so output can render.
// The Keras-style methods on every Module (compile, fit, evaluate, predict) run these; see keras.ts.
import { noGrad } from '../autograd/grad_mode.js';
import { DataLoader, type DataLoaderState, Dataset } from '../data/dataset.js';
import { pathExists } from '../io/files.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { Device } from '../device.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Module } from '../nn/module.js';
import { clipGradNorm as clipGradients } from '../optim/clip.js';
import { LRScheduler, type SchedulerStateDict } from '../optim/lr_scheduler.js';
import type { GroupOptions, Optimizer } from '../optim/optimizer.js';
import { getRngState, setRngState } from '../random.js';
import { tidy } from '../scope.js';
import { Tensor } from '../tensor.js';
import { type Metric, type MetricInput, resolveMetrics } from './metrics.js';
import { EpochProgress, type Logs } from './progress.js';

/** A loss: a module such as new kd.nn.CrossEntropyLoss(), or a function such as F.crossEntropy. */
export type LossInput = Module | ((output: Tensor, target: Tensor) => Tensor);

/**
 * A penalty added to the loss of every step (and to the loss evaluate reports), computed from the
 * model: (m) => F.l1Penalty(m.parameters()).mul(1e-4). It must return a one-element tensor.
 */
export type Regularizer = (model: Module) => Tensor;

/** Batches of [input, target]: a dataset (fit batches and shuffles it) or a ready DataLoader. */
export type DataInput = Dataset<Tensor[]> | DataLoader;

export type AnyOptimizer = Optimizer<GroupOptions>;

/** Per-epoch values, Keras-style: history.loss[i] belongs to epoch epoch[i] (numbered from 1). */
export interface History {
  epoch: number[];
  history: Record<string, number[]>;
}

/** What callbacks see and may change (stopTraining ends fit after the current batch, or the current epoch when set at its end). */
export interface TrainState {
  model: Module;
  optimizer: AnyOptimizer;
  history: History;
  /** The last epoch number fit will run to. */
  epochs: number;
  stopTraining: boolean;
}

/** Hooks fit calls; each may return a promise, which fit awaits. Epochs are numbered from 1. */
export interface Callback {
  onTrainBegin?(state: TrainState): void | Promise<void>;
  onEpochBegin?(epoch: number, state: TrainState): void | Promise<void>;
  /** After each step: the batch index within the epoch and its loss and size. */
  onBatchEnd?(batch: number, logs: { loss: number; size: number }, state: TrainState): void | Promise<void>;
  /** logs holds loss, the metrics, val_loss and val_<metric> when there is valData, and lr. */
  onEpochEnd?(epoch: number, logs: Logs, state: TrainState): void | Promise<void>;
  onTrainEnd?(state: TrainState): void | Promise<void>;
}

export interface FitOptions {
  optimizer: AnyOptimizer;
  loss: LossInput;
  trainData: DataInput;
  valData?: DataInput;
  /** The epoch number to stop after (with initialEpoch k, epochs k+1 .. epochs run). */
  epochs: number;
  /** Batch size when trainData/valData is a Dataset. Default 32. */
  batchSize?: number;
  /** 'accuracy', 'mae', 'mse', 'topKAccuracy', or functions (output, target) => number logged under their names. */
  metrics?: MetricInput[];
  /** Added to the loss before backward; the logged loss includes it (as Keras's regularization losses). */
  regularizer?: Regularizer;
  callbacks?: Callback[];
  /** Shuffle a Dataset each epoch. Default true. */
  shuffle?: boolean;
  /** Epoch e (0-based) is shuffled with seed + e, so a resumed run sees the same order. Default random. */
  seed?: number;
  /** 1 (default): a progress bar per epoch (when stderr is a TTY) and a summary line; 2: the summary line only; 0: silent. */
  verbose?: 0 | 1 | 2;
  /** Moves the model there and each batch before its step. */
  device?: Device;
  /** Epochs already done (when resuming from a checkpoint). Default 0. */
  initialEpoch?: number;
  /** A history to append to (the one saved with the checkpoint being resumed). */
  history?: History;
  /**
   * Stop at the first batch whose loss is NaN or infinite, before its update reaches the weights
   * (Keras's TerminateOnNaN, on by default here). false: train on regardless.
   */
  terminateOnNaN?: boolean;
  /**
   * Micro-batches whose gradients are averaged into one optimizer step (the loss of each is
   * divided by the number in its group), so k batches of n train as one batch of k·n. The last
   * group of an epoch may be shorter. Default 1.
   */
  accumulationSteps?: number;
  /** Clip the gradients' total 2-norm to this before each optimizer step (kd.optim.clipGradNorm). */
  clipGradNorm?: number;
  /**
   * A learning-rate scheduler stepped after every optimizer step (WarmupCosineLR,
   * WarmupLinearLR, ...); per-epoch schedules go in callbacks (lrSchedulerCallback).
   */
  scheduler?: LRScheduler;
  /** Stop after this many optimizer steps in all (counting those of a resumed run). */
  maxSteps?: number;
  /**
   * A checkpoint path (model.safetensors) that fit writes every checkpointEvery optimizer steps
   * and at the end: model, optimizer, scheduler, random generator, data position and step,
   * whole or not at all (see kd.train.saveCheckpoint).
   */
  checkpoint?: string;
  /** Optimizer steps between checkpoints. Default: only at the end. */
  checkpointEvery?: number;
  /**
   * Resume from a checkpoint fit wrote (a path, or true for `checkpoint` when it exists): the
   * run continues from its step exactly as the interrupted one would have (same batches, same
   * dropout masks, same losses). The model and optimizer must be built as before.
   */
  resume?: string | boolean;
}

/** What fit saves in a checkpoint's trainingState to resume exactly. */
interface ResumePoint {
  version: 1;
  /** Optimizer steps done. */
  step: number;
  /** The epoch in progress (0-based) and the micro-batches of it done. */
  epochIndex: number;
  batchInEpoch: number;
  seed: number;
  /** A DataLoader given as trainData: its state at the start of the epoch in progress. */
  loader: DataLoaderState | null;
  rng: number[];
  totals: { samples: number; lossSum: number; metricSums: number[] };
  lr: number;
  scheduler: SchedulerStateDict | null;
}

export interface EvaluateOptions {
  data: DataInput;
  loss?: LossInput;
  metrics?: MetricInput[];
  /** Added to the reported loss (needs loss). */
  regularizer?: Regularizer;
  /** Batch size when data is a Dataset. Default 256. */
  batchSize?: number;
  device?: Device;
}

function lossFunction(op: string, loss: unknown): LossFn {
  if (loss instanceof Module) return (output, target) => loss.forward(output, target) as Tensor;
  if (typeof loss === 'function') return loss as (output: Tensor, target: Tensor) => Tensor;
  throw new ArgumentError(`${op}: loss must be a loss module (new kd.nn.CrossEntropyLoss()) or a function (output, target) => Tensor`);
}

type LossFn = (output: Tensor, target: Tensor) => Tensor;

function checkRegularizer(op: string, regularizer: unknown): Regularizer | null {
  if (regularizer === undefined) return null;
  if (typeof regularizer !== 'function') throw new ArgumentError(`${op}: regularizer must be a function (model) => Tensor, got ${typeof regularizer}`);
  return regularizer as Regularizer;
}

/** The regularizer's penalty for `model`, checked to be a one-element tensor. */
function penaltyOf(op: string, regularizer: Regularizer, model: Module): Tensor {
  const penalty = regularizer(model);
  if (!(penalty instanceof Tensor)) throw new ArgumentError(`${op}: regularizer must return a Tensor, got ${penalty === null ? 'null' : typeof penalty}`);
  if (penalty.numel !== 1) throw new ShapeError(`${op}: regularizer must return a one-element tensor, got shape ${fmtShape(penalty.shape)}`);
  return penalty.reshape([]);
}

const callbackHooks = ['onTrainBegin', 'onEpochBegin', 'onBatchEnd', 'onEpochEnd', 'onTrainEnd'] as const;

/** Each entry must be an object with at least one hook, and every hook it has a function. */
function checkCallbacks(op: string, callbacks: unknown): Callback[] {
  if (callbacks === undefined) return [];
  if (!Array.isArray(callbacks)) throw new ArgumentError(`${op}: callbacks must be an array of callback objects, got ${typeof callbacks}`);
  callbacks.forEach((cb: unknown, i) => {
    const shown = typeof cb === 'string' ? `'${cb}'` : typeof cb === 'object' && cb !== null ? 'an object' : String(cb);
    if (typeof cb !== 'object' || cb === null || !callbackHooks.some((h) => h in cb)) {
      throw new ArgumentError(`${op}: callbacks[${i}] is ${shown}, not a callback (an object with ${callbackHooks.join(', ')})`);
    }
    for (const hook of callbackHooks) {
      const fn = (cb as Record<string, unknown>)[hook];
      if (fn !== undefined && typeof fn !== 'function') throw new ArgumentError(`${op}: callbacks[${i}].${hook} must be a function, got ${typeof fn}`);
    }
  });
  return callbacks as Callback[];
}

/** @internal */
export function checkPositiveInt(op: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new ArgumentError(`${op}: ${name} must be a positive integer, got ${String(value)}`);
  return value;
}

/** @internal */
export function checkData(op: string, name: string, data: unknown): DataInput {
  if (data instanceof DataLoader || data instanceof Dataset) return data;
  throw new ArgumentError(`${op}: ${name} must be a kd.data.Dataset (e.g. a TensorDataset) or a kd.data.DataLoader`);
}

/** @internal */
export function batchesOf(data: DataInput, batchSize: number, shuffle: boolean, seed: number): DataLoader {
  return data instanceof DataLoader ? data : new DataLoader(data, { batchSize, shuffle, seed });
}

function splitBatch(op: string, batch: Tensor[], device: Device | undefined): [Tensor, Tensor] {
  if (!Array.isArray(batch) || batch.length < 2 || !(batch[0] instanceof Tensor) || !(batch[1] instanceof Tensor)) {
    throw new ArgumentError(`${op}: each batch must be [input, target] tensors, got ${Array.isArray(batch) ? `${batch.length} field(s)` : typeof batch}`);
  }
  const [x, y] = batch;
  if (!device) return [x, y];
  return [x.device === device ? x : x.to(device), y.device === device ? y : y.to(device)];
}

/** @internal */
export function forwardOf(op: string, model: Module, x: Tensor): Tensor {
  const out = model.forward(x);
  if (!(out instanceof Tensor)) throw new ArgumentError(`${op}: model.forward must return a Tensor`);
  return out;
}

/**
 * Runs fn with every module of `model` in eval mode, then puts back each module's own mode (a
 * frozen BatchNorm kept in eval inside a training model stays so).
 * @internal
 */
export function inEvalMode<T>(model: Module, fn: () => T): T {
  const modes = model.modules().map((m) => [m, m.training] as const);
  model.eval();
  try {
    return fn();
  } finally {
    for (const [m, training] of modes) m.training = training;
  }
}

/** Sums of loss·n and metric·n over an epoch, turned into per-sample means. */
class EpochTotals {
  samples = 0;
  lossSum = 0;
  metricSums: number[];

  constructor(private readonly metrics: readonly Metric[]) {
    this.metricSums = metrics.map(() => 0);
  }

  add(lossValue: number | null, metricValues: readonly number[], n: number): void {
    this.samples += n;
    if (lossValue !== null) this.lossSum += lossValue * n;
    metricValues.forEach((v, i) => { this.metricSums[i] += v * n; });
  }

  logs(prefix: string, withLoss: boolean): Logs {
    const out: Logs = {};
    if (withLoss) out[`${prefix}loss`] = this.lossSum / this.samples;
    this.metrics.forEach((m, i) => { out[`${prefix}${m.name}`] = this.metricSums[i] / this.samples; });
    return out;
  }
}

function metricValues(metrics: readonly Metric[], output: Tensor, target: Tensor): number[] {
  return metrics.map((m) => m.batchMean(output, target));
}

function evaluateBatches(op: string, model: Module, loader: DataLoader, loss: LossFn | null, metrics: readonly Metric[], regularizer: Regularizer | null, device?: Device, prefix = ''): Logs {
  const totals = new EpochTotals(metrics);
  const penalty = inEvalMode(model, () => {
    for (const batch of loader) {
      try {
        noGrad(() =>
          tidy(() => {
            const [x, y] = splitBatch(op, batch, device);
            const out = forwardOf(op, model, x);
            const l = loss ? loss(out, y).item() : null;
            totals.add(l, metricValues(metrics, out, y), x.shape[0]);
          }),
        );
      } finally {
        for (const t of batch) t.dispose();
      }
    }
    // The weights do not change while evaluating, so the penalty is the same for every batch.
    return loss && regularizer ? noGrad(() => tidy(() => penaltyOf(op, regularizer, model).item())) : 0;
  });
  if (totals.samples === 0) throw new ArgumentError(`${op}: the data has no batches`);
  const logs = totals.logs(prefix, loss !== null);
  if (loss) logs[`${prefix}loss`] += penalty;
  return logs;
}

/** The loss (when given) and metrics of `model` over `data`, in eval mode and without grad. */
export function evaluate(model: Module, options: EvaluateOptions): Logs {
  const op = 'evaluate';
  if (!(model instanceof Module)) throw new ArgumentError(`${op}: expected a kd.nn.Module`);
  if (!options || typeof options !== 'object') throw new ArgumentError(`${op}: expected options { data, loss?, metrics?, batchSize? }`);
  const data = checkData(op, 'data', options.data);
  const loss = options.loss === undefined ? null : lossFunction(op, options.loss);
  const metrics = resolveMetrics(op, options.metrics);
  if (!loss && metrics.length === 0) throw new ArgumentError(`${op}: nothing to compute: pass a loss and/or metrics: ['accuracy']`);
  const regularizer = checkRegularizer(op, options.regularizer);
  if (regularizer && !loss) throw new ArgumentError(`${op}: a regularizer is added to the loss: pass a loss too`);
  const batchSize = checkPositiveInt(op, 'batchSize', options.batchSize ?? 256);
  if (options.device) model.to(options.device);
  return evaluateBatches(op, model, batchesOf(data, batchSize, false, 0), loss, metrics, regularizer, options.device);
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The checkpoint to resume from: a path, or `checkpoint` when resume is true and it exists. */
function resumeSource(op: string, resume: unknown, checkpointPath: string | undefined): string | null {
  if (resume === undefined || resume === false) return null;
  if (resume === true) {
    if (!checkpointPath) throw new ArgumentError(`${op}: resume: true resumes from the checkpoint option's path: pass checkpoint`);
    return pathExists(checkpointPath) ? checkpointPath : null;
  }
  if (typeof resume !== 'string') throw new ArgumentError(`${op}: resume must be a checkpoint path or a boolean, got ${typeof resume}`);
  return resume;
}

function checkResumePoint(op: string, path: string, raw: Record<string, unknown> | null): ResumePoint {
  const p = raw as Partial<ResumePoint> | null;
  const ints = ['step', 'epochIndex', 'batchInEpoch'] as const;
  if (!p || p.version !== 1 || ints.some((k) => !Number.isInteger(p[k]) || (p[k] as number) < 0) || typeof p.seed !== 'number' || !Array.isArray(p.rng) ||
    !p.totals || typeof p.totals !== 'object' || !Array.isArray(p.totals.metricSums) || typeof p.lr !== 'number') {
    throw new ArgumentError(`${op}: ${path} has no resume point (it was not written by fit's checkpoint option): load it with kd.train.loadCheckpoint and pass initialEpoch instead`);
  }
  return p as ResumePoint;
}

/**
 * Trains `model` for epochs initialEpoch+1 .. epochs and returns the history of per-epoch logs:
 * loss and metrics over the training batches (as computed during the epoch), val_loss and
 * val_<metric> after it, and the lr the epoch ran with.
 */
export async function fit(model: Module, options: FitOptions): Promise<History> {
  const op = 'fit';
  if (!(model instanceof Module)) throw new ArgumentError(`${op}: expected a kd.nn.Module`);
  if (!options || typeof options !== 'object') throw new ArgumentError(`${op}: expected options { optimizer, loss, trainData, epochs, ... }`);
  const { optimizer } = options;
  if (!optimizer || typeof optimizer.step !== 'function' || typeof optimizer.zeroGrad !== 'function' || !Array.isArray(optimizer.paramGroups)) {
    throw new ArgumentError(`${op}: optimizer must be a kd.optim optimizer (new kd.optim.Adam(model.parameters()))`);
  }
  const loss = lossFunction(op, options.loss);
  const trainData = checkData(op, 'trainData', options.trainData);
  const valData = options.valData === undefined ? null : checkData(op, 'valData', options.valData);
  const metrics = resolveMetrics(op, options.metrics);
  const regularizer = checkRegularizer(op, options.regularizer);
  const batchSize = checkPositiveInt(op, 'batchSize', options.batchSize ?? 32);
  const initialEpoch = options.initialEpoch ?? 0;
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0) throw new ArgumentError(`${op}: initialEpoch must be an integer >= 0, got ${initialEpoch}`);
  const epochs = checkPositiveInt(op, 'epochs', options.epochs);
  if (epochs < initialEpoch) throw new ArgumentError(`${op}: epochs (${epochs}) is the last epoch to run and must be >= initialEpoch (${initialEpoch})`);
  const verbose = options.verbose ?? 1;
  if (verbose !== 0 && verbose !== 1 && verbose !== 2) throw new ArgumentError(`${op}: verbose must be 0, 1 or 2, got ${String(verbose)}`);
  const shuffle = options.shuffle ?? true;
  const callbacks = checkCallbacks(op, options.callbacks);
  const terminateOnNaN = options.terminateOnNaN ?? true;
  if (typeof terminateOnNaN !== 'boolean') throw new ArgumentError(`${op}: terminateOnNaN must be a boolean, got ${String(terminateOnNaN)}`);
  const device = options.device;
  const accumulation = checkPositiveInt(op, 'accumulationSteps', options.accumulationSteps ?? 1);
  const maxNorm = options.clipGradNorm;
  if (maxNorm !== undefined && (typeof maxNorm !== 'number' || !(maxNorm > 0) || !Number.isFinite(maxNorm))) throw new ArgumentError(`${op}: clipGradNorm must be a positive number, got ${String(maxNorm)}`);
  const scheduler = options.scheduler ?? null;
  if (scheduler !== null && !(scheduler instanceof LRScheduler)) throw new ArgumentError(`${op}: scheduler must be a kd.optim.lrScheduler scheduler (stepped per optimizer step)`);
  if (scheduler && scheduler.optimizer !== optimizer) throw new ArgumentError(`${op}: the scheduler belongs to another optimizer than fit's`);
  const maxSteps = options.maxSteps === undefined ? Infinity : checkPositiveInt(op, 'maxSteps', options.maxSteps);
  const checkpointPath = options.checkpoint;
  if (checkpointPath !== undefined && typeof checkpointPath !== 'string') throw new ArgumentError(`${op}: checkpoint must be a path, got ${typeof checkpointPath}`);
  const checkpointEvery = options.checkpointEvery === undefined ? Infinity : checkPositiveInt(op, 'checkpointEvery', options.checkpointEvery);
  if (options.checkpointEvery !== undefined && !checkpointPath) throw new ArgumentError(`${op}: checkpointEvery needs a checkpoint path`);
  const resumePath = resumeSource(op, options.resume, checkpointPath);
  if (device) model.to(device);

  let history: History = options.history ?? { epoch: [], history: {} };
  let resumed: ResumePoint | null = null;
  if (resumePath) {
    const loaded = loadCheckpoint(resumePath, { model, optimizer });
    resumed = checkResumePoint(op, resumePath, loaded.trainingState);
    if (!options.history && loaded.history) history = loaded.history;
    if (resumed.scheduler) {
      if (!scheduler) throw new ArgumentError(`${op}: ${resumePath} was written with a scheduler: pass the same kind of scheduler to resume`);
      scheduler.loadStateDict(resumed.scheduler);
      scheduler.optimizer.paramGroups.forEach((g, i) => { g.lr = scheduler.getLastLr()[i] ?? g.lr; });
    }
    setRngState(resumed.rng);
  }
  const seed = resumed?.seed ?? options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const firstEpoch = resumed?.epochIndex ?? initialEpoch;
  if (epochs < firstEpoch) throw new ArgumentError(`${op}: epochs (${epochs}) is the last epoch to run and the run resumes in epoch ${firstEpoch + 1}`);
  const state: TrainState = { model, optimizer, history, epochs, stopTraining: false };
  const valLoader = valData ? batchesOf(valData, Math.max(batchSize, 256), false, 0) : null;
  let step = resumed?.step ?? 0;
  let lastSavedStep = resumed ? step : -1;
  if (trainData instanceof DataLoader && resumed?.loader) trainData.loadState(resumed.loader);

  const saveResumePoint = (epochIndex: number, batchInEpoch: number, loaderState: DataLoaderState | null, totals: EpochTotals, lr: number) => {
    if (!checkpointPath) return;
    const point: ResumePoint = {
      version: 1, step, epochIndex, batchInEpoch, seed, loader: loaderState, rng: getRngState(),
      totals: { samples: totals.samples, lossSum: totals.lossSum, metricSums: [...totals.metricSums] }, lr, scheduler: scheduler ? scheduler.stateDict() : null,
    };
    saveCheckpoint(checkpointPath, { model, optimizer, epoch: epochIndex, history: history.epoch.length > 0 ? history : undefined, trainingState: point as unknown as Record<string, unknown> });
    lastSavedStep = step;
  };

  for (const cb of callbacks) await cb.onTrainBegin?.(state);
  for (let e = firstEpoch; e < epochs && !state.stopTraining && step < maxSteps; e++) {
    const epoch = e + 1;
    const resumingHere = resumed !== null && e === resumed.epochIndex;
    model.train();
    for (const cb of callbacks) await cb.onEpochBegin?.(epoch, state);
    const lr = resumingHere ? resumed!.lr : optimizer.paramGroups[0].lr;
    const loader = batchesOf(trainData, batchSize, shuffle, seed + e);
    const loaderState = trainData instanceof DataLoader ? trainData.state() : null;
    const startBatch = resumingHere ? resumed!.batchInEpoch : 0;
    const progress = new EpochProgress({ epoch, epochs, batches: loader.length, enabled: verbose !== 0, bar: verbose === 1 });
    const totals = new EpochTotals(metrics);
    if (resumingHere) {
      totals.samples = resumed!.totals.samples;
      totals.lossSum = resumed!.totals.lossSum;
      totals.metricSums = [...resumed!.totals.metricSums];
    }
    const started = performance.now();
    const batchCount = loader.length;
    let batchIndex = startBatch;
    optimizer.zeroGrad();
    try {
      for (const batch of loader.batchesFrom(startBatch)) {
        // The micro-batches of this batch's accumulation group; the loss of each is divided by it.
        const groupStart = batchIndex - (batchIndex % accumulation);
        const groupSize = Math.min(accumulation, batchCount - groupStart);
        const lastOfGroup = batchIndex === groupStart + groupSize - 1;
        let lossValue: number, values: number[], n: number;
        try {
          [lossValue, values, n] = tidy(() => {
            const [x, y] = splitBatch(op, batch, device);
            const out = forwardOf(op, model, x);
            const dataLoss = loss(out, y);
            const l = regularizer ? dataLoss.add(penaltyOf(op, regularizer, model)) : dataLoss;
            const value = l.item();
            const values = metricValues(metrics, out, y);
            if (terminateOnNaN && !Number.isFinite(value)) return [value, values, x.shape[0]] as const;
            (groupSize > 1 ? l.div(groupSize) : l).backward();
            if (lastOfGroup) {
              if (maxNorm !== undefined) clipGradients(optimizer.paramGroups.flatMap((g) => g.params), maxNorm);
              optimizer.step();
              optimizer.zeroGrad();
            }
            return [value, values, x.shape[0]] as const;
          });
        } finally {
          for (const t of batch) t.dispose();
        }
        totals.add(lossValue, values, n);
        if (terminateOnNaN && !Number.isFinite(lossValue)) {
          optimizer.zeroGrad();
          console.warn(`${op}: epoch ${epoch}, batch ${batchIndex + 1}: the loss is ${lossValue}; training stopped (terminateOnNaN) with the weights from before this ${accumulation > 1 ? 'accumulation group' : 'batch'}. Pass terminateOnNaN: false to train on.`);
          state.stopTraining = true;
          break;
        }
        batchIndex++;
        if (lastOfGroup) {
          step++;
          scheduler?.step();
          if (step % checkpointEvery === 0 || step >= maxSteps) saveResumePoint(e, batchIndex, loaderState, totals, lr);
        }
        progress.update(batchIndex, totals.samples, totals.logs('', true));
        for (const cb of callbacks) await cb.onBatchEnd?.(batchIndex - 1, { loss: lossValue, size: n }, state);
        // maxSteps reached, or a callback's onBatchEnd set stopTraining (as Keras's stop_training): the epoch ends here.
        if (step >= maxSteps || state.stopTraining) break;
      }
    } finally {
      progress.stop();
    }
    optimizer.zeroGrad();
    const trainSeconds = (performance.now() - started) / 1000;
    if (totals.samples === 0) throw new ArgumentError(`${op}: trainData gave no batches (is it empty, or smaller than the batch with dropLast?)`);
    const logs: Logs = totals.logs('', true);
    if (valLoader) Object.assign(logs, evaluateBatches(op, model, valLoader, loss, metrics, regularizer, device, 'val_'));
    logs.lr = lr;
    history.epoch.push(epoch);
    for (const [key, value] of Object.entries(logs)) {
      const series = (history.history[key] ??= new Array<number>(history.epoch.length - 1).fill(NaN));
      series.push(value);
    }
    progress.summary(logs, (performance.now() - started) / 1000, totals.samples / trainSeconds);
    for (const cb of callbacks) await cb.onEpochEnd?.(epoch, logs, state);
    // A finished epoch is a resume point too: the next run starts the next epoch.
    if (checkpointPath && batchIndex >= batchCount && step !== lastSavedStep) {
      saveResumePoint(e + 1, 0, trainData instanceof DataLoader ? trainData.state() : null, new EpochTotals(metrics), optimizer.paramGroups[0].lr);
    }
    await yieldToEventLoop();
  }
  for (const cb of callbacks) await cb.onTrainEnd?.(state);
  return history;
}
