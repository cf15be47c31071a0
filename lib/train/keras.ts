// The Keras workflow on every Module, spelled the JavaScript way and run by kd.train:
//   model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
//   await model.fit(x, y, { epochs: 5, batchSize: 32, validationData: [xt, yt] });
//   model.evaluate(xt, yt);   model.predict(xt);   model.summary();
// This file turns names into kd.optim optimizers, loss functions and metrics, tensors into
// datasets, and calls kd.train.fit / evaluate / predict: there is one training loop.
import { DataLoader, Dataset, Subset, TensorDataset } from '../data/dataset.js';
import type { Device } from '../device.js';
import type { DType } from '../dtype.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import * as F from '../nn/functional/loss.js';
import { Module, type SampleInput, installKerasWorkflow } from '../nn/module.js';
import { Adam, AdamW } from '../optim/adam.js';
import { RMSprop } from '../optim/rmsprop.js';
import { SGD } from '../optim/sgd.js';
import { Tensor } from '../tensor.js';
import { type AnyOptimizer, type Callback, type DataInput, type History, type LossInput, type Regularizer, evaluate, fit } from './fit.js';
import { type MetricInput, accuracy, alignTarget, resolveMetrics } from './metrics.js';
import { type PredictOptions, predict } from './predict.js';
import type { Logs } from './progress.js';

/**
 * Optimizers by name, with Keras's defaults (not PyTorch's): adam lr 0.001, eps 1e-7; adamw
 * lr 0.001, weightDecay 0.004, eps 1e-7; sgd lr 0.01; rmsprop lr 0.001, alpha (Keras's rho) 0.9,
 * eps 1e-7. For other settings pass an optimizer: new kd.optim.Adam(model.parameters(), { lr }).
 */
export type OptimizerName = 'adam' | 'adamw' | 'sgd' | 'rmsprop';

/**
 * Losses by name. The cross entropies take the model's output as logits (fromLogits, default
 * true) or, with fromLogits: false, as probabilities (clipped to [1e-7, 1 - 1e-7], as Keras):
 * - sparseCategoricalCrossentropy: int32 class indices [N] against [N, C] (F.crossEntropy);
 * - categoricalCrossentropy: one-hot or probability targets [N, C];
 * - binaryCrossentropy: 0/1 (or soft) targets shaped like the output ([N] fits an [N, 1] output);
 * - mse, mae: mean squared / absolute error (targets reshaped and cast to float32 the same way).
 */
export type LossName = 'sparseCategoricalCrossentropy' | 'categoricalCrossentropy' | 'binaryCrossentropy' | 'mse' | 'mae';

export interface CompileOptions {
  optimizer: OptimizerName | AnyOptimizer;
  loss: LossName | LossInput;
  /** 'accuracy', 'mae', 'mse', 'topKAccuracy', or functions (output, target) => number, logged under their names. */
  metrics?: MetricInput[];
  /**
   * Whether the model outputs logits (default true: kindling models end in a Linear, as
   * PyTorch's do; Keras's default is false because its models end in a softmax). Applies to the
   * named cross-entropy losses and to 'accuracy' on single-output models (threshold 0, or 0.5).
   */
  fromLogits?: boolean;
  /** A penalty added to the loss in fit and evaluate, e.g. (m) => F.l1Penalty(m.parameters()).mul(1e-4). */
  regularizer?: Regularizer;
}

/** Inputs and targets as tensors of samples along dim 0, or a dataset / loader of [input, target]. */
export type ValidationData = [Tensor, Tensor] | DataInput;

export interface ModelFitOptions {
  /** Epochs to train. Default 1 (as Keras). */
  epochs?: number;
  /** Default 32. */
  batchSize?: number;
  validationData?: ValidationData;
  /** Holds out this fraction of the samples, the last ones (before shuffling, as Keras), for validation. */
  validationSplit?: number;
  callbacks?: Callback[];
  /** Shuffle the training samples each epoch. Default true. */
  shuffle?: boolean;
  /** 1 (default): a progress bar and a line per epoch; 2: the line only; 0: silent. */
  verbose?: 0 | 1 | 2;
  /** Seed of the shuffles (epoch e uses seed + e). Default random. */
  seed?: number;
  /** Epochs already done, when resuming; training runs epochs initialEpoch + 1 .. epochs. */
  initialEpoch?: number;
  /** The history to append to, when resuming. */
  history?: History;
  device?: Device;
  /** Stop at the first non-finite loss (default true, see kd.train.fit). */
  terminateOnNaN?: boolean;
}

export interface ModelEvaluateOptions {
  /** Default 32. */
  batchSize?: number;
  device?: Device;
}

interface Compiled {
  optimizer: AnyOptimizer;
  loss: LossInput;
  metrics: MetricInput[];
  regularizer?: Regularizer;
}

const compiled = new WeakMap<Module, Compiled>();
const sampleInputs = new WeakMap<Module, SampleInput>();

const optimizerNames: Record<OptimizerName, (params: Tensor[]) => AnyOptimizer> = {
  adam: (params) => new Adam(params, { lr: 1e-3, eps: 1e-7 }) as AnyOptimizer,
  adamw: (params) => new AdamW(params, { lr: 1e-3, weightDecay: 0.004, eps: 1e-7 }) as AnyOptimizer,
  sgd: (params) => new SGD(params, { lr: 1e-2 }) as AnyOptimizer,
  rmsprop: (params) => new RMSprop(params, { lr: 1e-3, alpha: 0.9, eps: 1e-7 }) as AnyOptimizer,
};

/** Keras clips probabilities to [eps, 1 - eps] before taking logs. */
const PROB_EPS = 1e-7;

function named<T extends (...args: never[]) => unknown>(name: string, fn: T): T {
  Object.defineProperty(fn, 'name', { value: name });
  return fn;
}

function lossFromName(name: LossName, fromLogits: boolean): (output: Tensor, target: Tensor) => Tensor {
  switch (name) {
    case 'sparseCategoricalCrossentropy':
      return named(name, fromLogits
        ? (output: Tensor, target: Tensor) => F.crossEntropy(output, target)
        : (output: Tensor, target: Tensor) => F.nllLoss(output.clamp(PROB_EPS, 1 - PROB_EPS).log(), target));
    case 'categoricalCrossentropy':
      return named(name, (output: Tensor, target: Tensor) => {
        const t = alignTarget(name, output, target);
        if (fromLogits) return F.crossEntropy(output, t);
        if (output.ndim !== 2) throw new ShapeError(`${name}: output must be [N, classes] probabilities, got ${fmtShape(output.shape)}`);
        const p = output.div(output.sum(-1, true)).clamp(PROB_EPS, 1 - PROB_EPS);
        return t.mul(p.log()).sum(-1).mean().neg();
      });
    case 'binaryCrossentropy':
      return named(name, fromLogits
        ? (output: Tensor, target: Tensor) => F.bceWithLogitsLoss(output, alignTarget(name, output, target))
        : (output: Tensor, target: Tensor) => F.bceLoss(output.clamp(PROB_EPS, 1 - PROB_EPS), alignTarget(name, output, target)));
    case 'mse':
      return named(name, (output: Tensor, target: Tensor) => F.mseLoss(output, alignTarget(name, output, target)));
    case 'mae':
      return named(name, (output: Tensor, target: Tensor) => F.l1Loss(output, alignTarget(name, output, target)));
  }
}

/** 'sparse_categorical_crossentropy' -> 'sparseCategoricalCrossentropy', for a hint. */
function camelCase(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function unknownName(op: string, what: string, name: string, known: readonly string[]): ArgumentError {
  const camel = camelCase(name);
  const hint = camel !== name && known.includes(camel) ? ` (did you mean '${camel}'?)` : '';
  return new ArgumentError(`${op}: unknown ${what} '${name}'${hint}; known: ${known.join(', ')}`);
}

function compileModel(model: Module, options: CompileOptions): void {
  const op = 'compile';
  if (!options || typeof options !== 'object') throw new ArgumentError(`${op}: expected options { optimizer, loss, metrics? }`);
  const fromLogits = options.fromLogits ?? true;
  if (typeof fromLogits !== 'boolean') throw new ArgumentError(`${op}: fromLogits must be a boolean, got ${String(fromLogits)}`);

  let optimizer: AnyOptimizer;
  if (typeof options.optimizer === 'string') {
    const make = Object.hasOwn(optimizerNames, options.optimizer) ? optimizerNames[options.optimizer] : undefined;
    if (!make) throw unknownName(op, 'optimizer', options.optimizer, Object.keys(optimizerNames));
    const params = model.parameters();
    if (params.length === 0) throw new ArgumentError(`${op}: optimizer '${options.optimizer}' has nothing to train: the model has no parameters`);
    optimizer = make(params);
  } else if (options.optimizer && typeof options.optimizer === 'object' && typeof options.optimizer.step === 'function' && Array.isArray(options.optimizer.paramGroups)) {
    optimizer = options.optimizer;
  } else {
    throw new ArgumentError(`${op}: optimizer must be one of ${Object.keys(optimizerNames).map((n) => `'${n}'`).join(', ')} or a kd.optim optimizer`);
  }

  let loss: LossInput;
  const lossNames: readonly LossName[] = ['sparseCategoricalCrossentropy', 'categoricalCrossentropy', 'binaryCrossentropy', 'mse', 'mae'];
  if (typeof options.loss === 'string') {
    if (!lossNames.includes(options.loss)) throw unknownName(op, 'loss', options.loss, lossNames);
    loss = lossFromName(options.loss, fromLogits);
  } else if (options.loss instanceof Module || typeof options.loss === 'function') {
    loss = options.loss;
  } else {
    throw new ArgumentError(`${op}: loss must be one of ${lossNames.map((n) => `'${n}'`).join(', ')}, a loss module (new kd.nn.CrossEntropyLoss()) or a function (output, target) => Tensor`);
  }

  const metrics = options.metrics ?? [];
  if (!Array.isArray(metrics)) throw new ArgumentError(`${op}: metrics must be an array such as ['accuracy']`);
  // 'accuracy' on one output per sample thresholds it where a logit or a probability says 'yes'.
  const resolved = metrics.map((m) => (m === 'accuracy' && !fromLogits ? accuracy({ threshold: 0.5 }) : m));
  if (options.regularizer !== undefined && typeof options.regularizer !== 'function') {
    throw new ArgumentError(`${op}: regularizer must be a function (model) => Tensor`);
  }
  resolveMetrics(op, resolved); // checked now (names, log keys), so a bad metric fails at compile, not in fit
  compiled.set(model, { optimizer, loss, metrics: resolved, regularizer: options.regularizer });
}

function compiledOf(op: string, model: Module): Compiled {
  const c = compiled.get(model);
  if (!c) throw new ArgumentError(`${op}: call model.compile({ optimizer, loss, metrics }) before model.${op}()`);
  return c;
}

function isOptions(value: unknown): boolean {
  return value === undefined || (value !== null && typeof value === 'object' && !(value instanceof Tensor) && !(value instanceof Dataset) && !(value instanceof DataLoader) && !Array.isArray(value));
}

/** (x, y, options?) with tensors, or (data, options?) with a Dataset / DataLoader. */
function dataArguments(op: string, args: readonly unknown[]): { data: DataInput; options: unknown } {
  const [first, second, third] = args;
  if (first instanceof Tensor) {
    if (!(second instanceof Tensor)) throw new ArgumentError(`${op}: expected model.${op}(x, y, options?) with x and y tensors, got x and ${second === undefined ? 'no y' : typeof second}`);
    if (args.length > 3) throw new ArgumentError(`${op}: expected at most (x, y, options), got ${args.length} arguments`);
    return { data: tensorDataset(op, first, second), options: third };
  }
  if (first instanceof Dataset || first instanceof DataLoader) {
    if (args.length > 2) throw new ArgumentError(`${op}: expected (data, options) with a dataset, got ${args.length} arguments`);
    return { data: first, options: second };
  }
  throw new ArgumentError(`${op}: expected model.${op}(x, y, options?) with tensors or model.${op}(dataset, options?), got ${first === null ? 'null' : typeof first}`);
}

function tensorDataset(op: string, x: Tensor, y: Tensor): TensorDataset {
  if (x.ndim === 0 || y.ndim === 0) throw new ShapeError(`${op}: x ${fmtShape(x.shape)} and y ${fmtShape(y.shape)} need samples along dim 0`);
  if (x.shape[0] !== y.shape[0]) throw new ShapeError(`${op}: x ${fmtShape(x.shape)} and y ${fmtShape(y.shape)} have different numbers of samples (${x.shape[0]} and ${y.shape[0]})`);
  return new TensorDataset(x, y);
}

/** Remembers one sample's shape and dtype, for model.summary(). */
function rememberInput(model: Module, data: DataInput): void {
  const first = data instanceof TensorDataset ? data.tensors[0] : data instanceof DataLoader && data.dataset instanceof TensorDataset ? data.dataset.tensors[0] : null;
  if (first) sampleInputs.set(model, { shape: first.shape.slice(1), dtype: first.dtype as DType });
}

/**
 * The last rows as validation and the rest for training, split where Keras's validation_split
 * splits: at floor(n * (1 - fraction)), before any shuffling.
 */
function splitLast(op: string, data: DataInput, fraction: number, views: Tensor[]): [DataInput, DataInput] {
  if (data instanceof DataLoader) throw new ArgumentError(`${op}: validationSplit needs tensors or a Dataset, not a DataLoader (pass validationData instead)`);
  const n = data.length;
  const splitAt = Math.floor(n * (1 - fraction));
  if (splitAt === 0 || splitAt === n) throw new ArgumentError(`${op}: validationSplit ${fraction} of ${n} samples leaves ${splitAt === n ? 'no validation' : 'no training'} samples`);
  if (data instanceof TensorDataset) {
    const rows = (start: number, end: number) => {
      const parts = data.tensors.map((t) => t.slice(0, start, end));
      views.push(...parts);
      return new TensorDataset(...parts);
    };
    return [rows(0, splitAt), rows(splitAt, n)];
  }
  const range = (start: number, end: number) => Array.from({ length: end - start }, (_, i) => start + i);
  return [new Subset(data, range(0, splitAt)), new Subset(data, range(splitAt, n))];
}

function validationDataOf(op: string, value: unknown): DataInput {
  if (Array.isArray(value)) {
    if (value.length !== 2 || !(value[0] instanceof Tensor) || !(value[1] instanceof Tensor)) {
      throw new ArgumentError(`${op}: validationData must be [x, y] tensors, a Dataset or a DataLoader`);
    }
    return tensorDataset(`${op}: validationData`, value[0], value[1]);
  }
  if (value instanceof Dataset || value instanceof DataLoader) return value;
  throw new ArgumentError(`${op}: validationData must be [x, y] tensors, a Dataset or a DataLoader`);
}

const fitOptionNames = new Set(['epochs', 'batchSize', 'validationData', 'validationSplit', 'callbacks', 'shuffle', 'verbose', 'seed', 'initialEpoch', 'history', 'device', 'terminateOnNaN']);

function checkOptionNames(op: string, options: object, known: Set<string>): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new ArgumentError(`${op}: unknown option '${key}' (known: ${[...known].join(', ')})`);
  }
}

async function fitModel(model: Module, args: readonly unknown[]): Promise<History> {
  const op = 'fit';
  const c = compiledOf(op, model);
  const { data, options: raw } = dataArguments(op, args);
  if (!isOptions(raw)) throw new ArgumentError(`${op}: options must be an object { epochs, batchSize, validationData, ... }`);
  const options = (raw ?? {}) as ModelFitOptions;
  checkOptionNames(op, options, fitOptionNames);
  let trainData = data, valData: DataInput | undefined;
  if (options.validationData !== undefined && options.validationSplit !== undefined) {
    throw new ArgumentError(`${op}: pass validationData or validationSplit, not both`);
  }
  if (options.validationData !== undefined) valData = validationDataOf(op, options.validationData);
  // Row views of the user's tensors made for validationSplit: freed after fit, so they do not
  // hold the data's storage once the caller disposes it.
  const views: Tensor[] = [];
  if (options.validationSplit !== undefined && options.validationSplit !== 0) {
    const f = options.validationSplit;
    if (typeof f !== 'number' || !(f > 0 && f < 1)) throw new ArgumentError(`${op}: validationSplit must be a fraction in (0, 1), got ${String(f)}`);
    [trainData, valData] = splitLast(op, data, f, views);
  }
  rememberInput(model, data);
  try {
    return await fit(model, {
      optimizer: c.optimizer, loss: c.loss, metrics: c.metrics, regularizer: c.regularizer,
      trainData, valData, epochs: options.epochs ?? 1, batchSize: options.batchSize ?? 32,
      callbacks: options.callbacks, shuffle: options.shuffle, verbose: options.verbose, seed: options.seed,
      initialEpoch: options.initialEpoch, history: options.history, device: options.device, terminateOnNaN: options.terminateOnNaN,
    });
  } finally {
    for (const v of views) v.dispose();
  }
}

function evaluateModel(model: Module, args: readonly unknown[]): Logs {
  const op = 'evaluate';
  const c = compiledOf(op, model);
  const { data, options: raw } = dataArguments(op, args);
  if (!isOptions(raw)) throw new ArgumentError(`${op}: options must be an object { batchSize?, device? }`);
  const options = (raw ?? {}) as ModelEvaluateOptions;
  checkOptionNames(op, options, new Set(['batchSize', 'device']));
  rememberInput(model, data);
  return evaluate(model, {
    data, loss: c.loss, metrics: c.metrics, regularizer: c.regularizer, batchSize: options.batchSize ?? 32, device: options.device,
  });
}

function predictModel(model: Module, data: unknown, options: PredictOptions | undefined): Tensor {
  if (data instanceof Tensor && data.ndim > 0) sampleInputs.set(model, { shape: data.shape.slice(1), dtype: data.dtype });
  else if (data instanceof Dataset || data instanceof DataLoader) rememberInput(model, data);
  return predict(model, data as Tensor, options);
}

installKerasWorkflow({
  compile: compileModel,
  fit: fitModel,
  evaluate: evaluateModel,
  predict: predictModel,
  sampleInput: (model) => sampleInputs.get(model),
});
