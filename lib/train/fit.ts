// The training loop: fit (epochs of shuffled batches, validation, callbacks, a progress bar) and
// evaluate (loss and metrics under eval mode and noGrad). Each optimisation step runs in its own
// kd.tidy, so a long run holds flat memory; fit awaits between epochs so output can render.
import { noGrad } from '../autograd/grad_mode.js';
import { DataLoader, Dataset } from '../data/dataset.js';
import type { Device } from '../device.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Module } from '../nn/module.js';
import type { GroupOptions, Optimizer } from '../optim/optimizer.js';
import { tidy } from '../scope.js';
import { Tensor } from '../tensor.js';
import { EpochProgress, type Logs } from './progress.js';

/** A loss: a module such as new kd.nn.CrossEntropyLoss(), or a function such as F.crossEntropy. */
export type LossInput = Module | ((output: Tensor, target: Tensor) => Tensor);

/**
 * 'accuracy': the argmax over the last dim against int32 class indices or one-hot/probability
 * targets; with one output per sample, output > 0 (a logit) against target > 0.5.
 */
export type MetricName = 'accuracy';

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
  metrics?: MetricName[];
  callbacks?: Callback[];
  /** Shuffle a Dataset each epoch. Default true. */
  shuffle?: boolean;
  /** Epoch e (0-based) is shuffled with seed + e, so a resumed run sees the same order. Default random. */
  seed?: number;
  /** 1 (default): a progress bar per epoch (when stderr is a TTY) and a summary line; 0: silent. */
  verbose?: 0 | 1;
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
  metrics?: MetricName[];
  /** Batch size when data is a Dataset. Default 256. */
  batchSize?: number;
  device?: Device;
}

const knownMetrics: readonly string[] = ['accuracy'];

function lossFunction(op: string, loss: unknown): (output: Tensor, target: Tensor) => Tensor {
  if (loss instanceof Module) return (output, target) => loss.forward(output, target) as Tensor;
  if (typeof loss === 'function') return loss as (output: Tensor, target: Tensor) => Tensor;
  throw new ArgumentError(`${op}: loss must be a loss module (new kd.nn.CrossEntropyLoss()) or a function (output, target) => Tensor`);
}

function checkMetrics(op: string, metrics: unknown): MetricName[] {
  if (metrics === undefined) return [];
  if (!Array.isArray(metrics)) throw new ArgumentError(`${op}: metrics must be an array such as ['accuracy']`);
  for (const m of metrics) {
    if (!knownMetrics.includes(m)) throw new ArgumentError(`${op}: unknown metric '${String(m)}' (known: ${knownMetrics.join(', ')})`);
  }
  return metrics as MetricName[];
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

function checkPositiveInt(op: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new ArgumentError(`${op}: ${name} must be a positive integer, got ${String(value)}`);
  return value;
}

function checkData(op: string, name: string, data: unknown): DataInput {
  if (data instanceof DataLoader || data instanceof Dataset) return data;
  throw new ArgumentError(`${op}: ${name} must be a kd.data.Dataset (e.g. a TensorDataset) or a kd.data.DataLoader`);
}

function batchesOf(data: DataInput, batchSize: number, shuffle: boolean, seed: number): DataLoader {
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

function forwardOf(op: string, model: Module, x: Tensor): Tensor {
  const out = model.forward(x);
  if (!(out instanceof Tensor)) throw new ArgumentError(`${op}: model.forward must return a Tensor`);
  return out;
}

/** How many samples of the batch the output classifies correctly (see MetricName). */
export function countCorrect(output: Tensor, target: Tensor): number {
  return noGrad(() =>
    tidy(() => {
      const perSampleLogit = output.ndim === 1 || (output.ndim === 2 && output.shape[1] === 1);
      let pred: Tensor, truth: Tensor;
      if (perSampleLogit) {
        pred = output.reshape(-1).gt(0);
        truth = target.reshape(-1).gt(0.5);
      } else {
        pred = output.argmax(-1);
        truth = target.dtype === 'int32' ? target : target.argmax(-1);
      }
      if (pred.shape.join(',') !== truth.shape.join(',')) {
        throw new ShapeError(`accuracy: predictions ${fmtShape(pred.shape)} (from output ${fmtShape(output.shape)}) do not match targets ${fmtShape(truth.shape)}`);
      }
      return pred.eq(truth).float().sum().item();
    }),
  );
}

/** Sums of loss·n and correct counts over an epoch, turned into per-sample means. */
class EpochTotals {
  samples = 0;
  private lossSum = 0;
  private correct = 0;

  add(lossValue: number | null, correct: number | null, n: number): void {
    this.samples += n;
    if (lossValue !== null) this.lossSum += lossValue * n;
    if (correct !== null) this.correct += correct;
  }

  logs(prefix: string, withLoss: boolean, metrics: MetricName[]): Logs {
    const out: Logs = {};
    if (withLoss) out[`${prefix}loss`] = this.lossSum / this.samples;
    if (metrics.includes('accuracy')) out[`${prefix}accuracy`] = this.correct / this.samples;
    return out;
  }
}

function evaluateBatches(op: string, model: Module, loader: DataLoader, loss: ((o: Tensor, t: Tensor) => Tensor) | null, metrics: MetricName[], device?: Device, prefix = ''): Logs {
  const wasTraining = model.training;
  model.eval();
  const totals = new EpochTotals();
  try {
    for (const batch of loader) {
      try {
        noGrad(() =>
          tidy(() => {
            const [x, y] = splitBatch(op, batch, device);
            const out = forwardOf(op, model, x);
            const l = loss ? loss(out, y).item() : null;
            const correct = metrics.includes('accuracy') ? countCorrect(out, y) : null;
            totals.add(l, correct, x.shape[0]);
          }),
        );
      } finally {
        for (const t of batch) t.dispose();
      }
    }
  } finally {
    model.train(wasTraining);
  }
  if (totals.samples === 0) throw new ArgumentError(`${op}: the data has no batches`);
  return totals.logs(prefix, loss !== null, metrics);
}

/** The loss (when given) and metrics of `model` over `data`, in eval mode and without grad. */
export function evaluate(model: Module, options: EvaluateOptions): Logs {
  const op = 'evaluate';
  if (!(model instanceof Module)) throw new ArgumentError(`${op}: expected a kd.nn.Module`);
  if (!options || typeof options !== 'object') throw new ArgumentError(`${op}: expected options { data, loss?, metrics?, batchSize? }`);
  const data = checkData(op, 'data', options.data);
  const loss = options.loss === undefined ? null : lossFunction(op, options.loss);
  const metrics = checkMetrics(op, options.metrics);
  if (!loss && metrics.length === 0) throw new ArgumentError(`${op}: nothing to compute: pass a loss and/or metrics: ['accuracy']`);
  const batchSize = checkPositiveInt(op, 'batchSize', options.batchSize ?? 256);
  if (options.device) model.to(options.device);
  return evaluateBatches(op, model, batchesOf(data, batchSize, false, 0), loss, metrics, options.device);
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
  const metrics = checkMetrics(op, options.metrics);
  const batchSize = checkPositiveInt(op, 'batchSize', options.batchSize ?? 32);
  const initialEpoch = options.initialEpoch ?? 0;
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0) throw new ArgumentError(`${op}: initialEpoch must be an integer >= 0, got ${initialEpoch}`);
  const epochs = checkPositiveInt(op, 'epochs', options.epochs);
  if (epochs < initialEpoch) throw new ArgumentError(`${op}: epochs (${epochs}) is the last epoch to run and must be >= initialEpoch (${initialEpoch})`);
  const verbose = options.verbose ?? 1;
  if (verbose !== 0 && verbose !== 1) throw new ArgumentError(`${op}: verbose must be 0 or 1, got ${String(verbose)}`);
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
    const progress = new EpochProgress({ epoch, epochs, batches: loader.length, enabled: verbose === 1 });
    const totals = new EpochTotals();
    const started = performance.now();
    let batchIndex = 0;
    try {
      for (const batch of loader) {
        let lossValue: number, correct: number | null, n: number;
        try {
          [lossValue, correct, n] = tidy(() => {
            const [x, y] = splitBatch(op, batch, device);
            optimizer.zeroGrad();
            const out = forwardOf(op, model, x);
            const l = loss(out, y);
            const value = l.item();
            const accuracy = metrics.includes('accuracy') ? countCorrect(out, y) : null;
            if (terminateOnNaN && !Number.isFinite(value)) return [value, accuracy, x.shape[0]] as const;
            l.backward();
            optimizer.step();
            return [value, accuracy, x.shape[0]] as const;
          });
        } finally {
          for (const t of batch) t.dispose();
        }
        totals.add(lossValue, correct, n);
        if (terminateOnNaN && !Number.isFinite(lossValue)) {
          console.warn(`${op}: epoch ${epoch}, batch ${batchIndex + 1}: the loss is ${lossValue}; training stopped (terminateOnNaN) with the weights from before this batch. Pass terminateOnNaN: false to train on.`);
          state.stopTraining = true;
          break;
        }
        progress.update(batchIndex + 1, totals.samples, totals.logs('', true, metrics));
        for (const cb of callbacks) await cb.onBatchEnd?.(batchIndex, { loss: lossValue, size: n }, state);
        batchIndex++;
      }
    } finally {
      progress.stop();
    }
    optimizer.zeroGrad();
    const trainSeconds = (performance.now() - started) / 1000;
    if (totals.samples === 0) throw new ArgumentError(`${op}: trainData gave no batches (is it empty, or smaller than the batch with dropLast?)`);
    const logs: Logs = totals.logs('', true, metrics);
    if (valLoader) Object.assign(logs, evaluateBatches(op, model, valLoader, loss, metrics, device, 'val_'));
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
