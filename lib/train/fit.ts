// The training loop: fit (epochs of shuffled batches, validation, callbacks, a progress bar) and
// evaluate (loss and metrics under eval mode and noGrad). Each optimisation step runs in its own
// kd.tidy, so a long run holds flat memory; fit awaits between epochs so output can render.
// The Keras-style methods on every Module (compile, fit, evaluate, predict) run these; see keras.ts.
import { noGrad } from '../autograd/grad_mode.js';
import { DataLoader, Dataset } from '../data/dataset.js';
import type { Device } from '../device.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Module } from '../nn/module.js';
import type { GroupOptions, Optimizer } from '../optim/optimizer.js';
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

/** What callbacks see and may change (stopTraining ends fit after the current epoch). */
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
  private lossSum = 0;
  private readonly metricSums: number[];

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
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const callbacks = checkCallbacks(op, options.callbacks);
  const terminateOnNaN = options.terminateOnNaN ?? true;
  if (typeof terminateOnNaN !== 'boolean') throw new ArgumentError(`${op}: terminateOnNaN must be a boolean, got ${String(terminateOnNaN)}`);
  const device = options.device;
  if (device) model.to(device);

  const history: History = options.history ?? { epoch: [], history: {} };
  const state: TrainState = { model, optimizer, history, epochs, stopTraining: false };
  const valLoader = valData ? batchesOf(valData, Math.max(batchSize, 256), false, 0) : null;

  for (const cb of callbacks) await cb.onTrainBegin?.(state);
  for (let e = initialEpoch; e < epochs && !state.stopTraining; e++) {
    const epoch = e + 1;
    model.train();
    for (const cb of callbacks) await cb.onEpochBegin?.(epoch, state);
    const lr = optimizer.paramGroups[0].lr;
    const loader = batchesOf(trainData, batchSize, shuffle, seed + e);
    const progress = new EpochProgress({ epoch, epochs, batches: loader.length, enabled: verbose !== 0, bar: verbose === 1 });
    const totals = new EpochTotals(metrics);
    const started = performance.now();
    let batchIndex = 0;
    try {
      for (const batch of loader) {
        let lossValue: number, values: number[], n: number;
        try {
          [lossValue, values, n] = tidy(() => {
            const [x, y] = splitBatch(op, batch, device);
            optimizer.zeroGrad();
            const out = forwardOf(op, model, x);
            const dataLoss = loss(out, y);
            const l = regularizer ? dataLoss.add(penaltyOf(op, regularizer, model)) : dataLoss;
            const value = l.item();
            const values = metricValues(metrics, out, y);
            if (terminateOnNaN && !Number.isFinite(value)) return [value, values, x.shape[0]] as const;
            l.backward();
            optimizer.step();
            return [value, values, x.shape[0]] as const;
          });
        } finally {
          for (const t of batch) t.dispose();
        }
        totals.add(lossValue, values, n);
        if (terminateOnNaN && !Number.isFinite(lossValue)) {
          console.warn(`${op}: epoch ${epoch}, batch ${batchIndex + 1}: the loss is ${lossValue}; training stopped (terminateOnNaN) with the weights from before this batch. Pass terminateOnNaN: false to train on.`);
          state.stopTraining = true;
          break;
        }
        progress.update(batchIndex + 1, totals.samples, totals.logs('', true));
        for (const cb of callbacks) await cb.onBatchEnd?.(batchIndex, { loss: lossValue, size: n }, state);
        batchIndex++;
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
    await yieldToEventLoop();
  }
  for (const cb of callbacks) await cb.onTrainEnd?.(state);
  return history;
}
