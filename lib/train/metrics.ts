// Metrics for fit and evaluate. A metric is a function (output, target) -> the batch's mean value
// (a number or a tensor, whose mean is taken); fit and evaluate weight each batch by its number
// of samples, so an epoch's value is the mean over its samples, as Keras's stateful metrics give.
// The log key of a metric is its name: 'accuracy', 'mae', 'mse', 'topKAccuracy' for the built-in
// ones, the function's name for a user's.
import { noGrad } from '../autograd/grad_mode.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { tidy } from '../scope.js';
import { Tensor } from '../tensor.js';

/** A user metric: the batch's mean value of something computed from the output and the target. */
export type MetricFn = (output: Tensor, target: Tensor) => number | Tensor;

/**
 * 'accuracy': the argmax over the last dim against int32 class indices or one-hot/probability
 * targets; with one output per sample, output > 0 (a logit) against target > 0.5.
 * 'mae' / 'mse': the mean absolute / squared error. 'topKAccuracy': the target class is among
 * the k = 5 highest outputs.
 */
export type MetricName = 'accuracy' | 'mae' | 'mse' | 'topKAccuracy';

/** What fit, evaluate and compile take in `metrics`. */
export type MetricInput = MetricName | MetricFn;

/** A metric ready to run: its log key and a function giving the batch's mean as a number. */
export interface Metric {
  readonly name: string;
  batchMean(output: Tensor, target: Tensor): number;
}

/** How many samples of the batch the output classifies correctly (see MetricName). */
export function countCorrect(output: Tensor, target: Tensor, threshold = 0): number {
  return noGrad(() =>
    tidy(() => {
      const perSampleScore = output.ndim === 1 || (output.ndim === 2 && output.shape[1] === 1);
      let pred: Tensor, truth: Tensor;
      if (perSampleScore) {
        pred = output.reshape(-1).gt(threshold);
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

/** Gives a function the log key `name` (what fit and evaluate log it under). */
function named(name: string, fn: MetricFn): MetricFn {
  Object.defineProperty(fn, 'name', { value: name });
  return fn;
}

function samplesOf(output: Tensor): number {
  return output.ndim === 0 ? 1 : output.shape[0];
}

function checkOptions(op: string, options: unknown): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || options instanceof Tensor) {
    throw new ArgumentError(`${op}: expected options such as { k: 3 } (pass '${op}' itself, or ${op}({ ... }), in metrics)`);
  }
  return options as Record<string, unknown>;
}

function checkName(op: string, name: unknown, fallback: string): string {
  if (name === undefined) return fallback;
  if (typeof name !== 'string' || name === '') throw new ArgumentError(`${op}: name must be a non-empty string, got ${String(name)}`);
  return name;
}

export interface AccuracyOptions {
  /** For one output per sample: the output above which the prediction is positive. Default 0 (logits); 0.5 for probabilities. */
  threshold?: number;
  /** The log key. Default 'accuracy'. */
  name?: string;
}

/** The 'accuracy' metric with a threshold for single-output (binary) models. */
export function accuracy(options?: AccuracyOptions): MetricFn {
  const op = 'accuracy';
  const o = checkOptions(op, options);
  const threshold = o.threshold ?? 0;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) throw new ArgumentError(`${op}: threshold must be a finite number, got ${String(threshold)}`);
  return named(checkName(op, o.name, 'accuracy'), (output, target) => countCorrect(output, target, threshold) / samplesOf(output));
}

export interface TopKAccuracyOptions {
  /** How many of the highest outputs may hold the target class. Default 5. */
  k?: number;
  /** The log key. Default 'topKAccuracy'. */
  name?: string;
}

/**
 * The fraction of samples whose target class (int32 indices [N], or the argmax of one-hot [N, C])
 * is among the k highest of the output's C scores. A tie with the target's score counts for it;
 * k >= C is always right.
 */
export function topKAccuracy(options?: TopKAccuracyOptions): MetricFn {
  const op = 'topKAccuracy';
  const o = checkOptions(op, options);
  const k = o.k ?? 5;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) throw new ArgumentError(`${op}: k must be a positive integer, got ${String(k)}`);
  return named(checkName(op, o.name, 'topKAccuracy'), (output, target) => noGrad(() => tidy(() => {
    if (output.ndim !== 2) throw new ShapeError(`${op}: output must be [N, classes], got ${fmtShape(output.shape)}`);
    const classes = target.dtype === 'int32' ? target : target.argmax(-1);
    if (classes.ndim !== 1 || classes.shape[0] !== output.shape[0]) {
      throw new ShapeError(`${op}: targets ${fmtShape(target.shape)} do not match output ${fmtShape(output.shape)} (expected [${output.shape[0]}] class indices or [${output.shape.join(', ')}] one-hot)`);
    }
    const targetScore = output.gather(1, classes.unsqueeze(1));
    const higher = output.gt(targetScore).int().sum(1);
    return higher.lt(k).float().sum().item() / output.shape[0];
  })));
}

/**
 * The target as a float32 tensor of the output's shape, for pointwise losses and metrics:
 * int32/bool targets become float32, and [N] against [N, 1] (or the reverse) is reshaped.
 * @internal
 */
export function alignTarget(op: string, output: Tensor, target: Tensor): Tensor {
  let t = target.dtype === 'float32' ? target : target.float();
  if (t.shape.join(',') !== output.shape.join(',')) {
    if (t.numel !== output.numel) {
      throw new ShapeError(`${op}: output ${fmtShape(output.shape)} and target ${fmtShape(target.shape)} do not match`);
    }
    t = t.reshape(output.shape);
  }
  return t;
}

const mae = named('mae', (output, target) => noGrad(() => tidy(() => output.sub(alignTarget('mae', output, target)).abs().mean().item())));
const mse = named('mse', (output, target) => noGrad(() => tidy(() => output.sub(alignTarget('mse', output, target)).square().mean().item())));

const builtIn: Record<MetricName, () => MetricFn> = {
  accuracy: () => accuracy(),
  mae: () => mae,
  mse: () => mse,
  topKAccuracy: () => topKAccuracy(),
};

/** Log keys fit itself writes, which a metric may not take. */
const reservedNames = new Set(['loss', 'lr']);

/** metrics as given to fit/evaluate/compile, checked and ready to run. */
export function resolveMetrics(op: string, metrics: unknown): Metric[] {
  if (metrics === undefined) return [];
  if (!Array.isArray(metrics)) throw new ArgumentError(`${op}: metrics must be an array such as ['accuracy']`);
  const out: Metric[] = [];
  metrics.forEach((m: unknown, i) => {
    let fn: MetricFn;
    if (typeof m === 'string') {
      if (!Object.hasOwn(builtIn, m)) {
        throw new ArgumentError(`${op}: unknown metric '${m}' (known: ${Object.keys(builtIn).join(', ')}, or a function (output, target) => number)`);
      }
      fn = builtIn[m as MetricName]();
    } else if (typeof m === 'function') {
      fn = m as MetricFn;
      if (!fn.name) {
        throw new ArgumentError(`${op}: metric ${i} is an anonymous function; its name is its log key, so name it (const f1 = (output, target) => ...; metrics: [f1])`);
      }
    } else {
      throw new ArgumentError(`${op}: metric ${i} must be a metric name (${Object.keys(builtIn).join(', ')}) or a function (output, target) => number, got ${m === null ? 'null' : typeof m}`);
    }
    const name = fn.name;
    if (reservedNames.has(name) || name.startsWith('val_')) throw new ArgumentError(`${op}: a metric may not be named '${name}' (fit logs loss, lr and val_* itself)`);
    if (out.some((r) => r.name === name)) throw new ArgumentError(`${op}: two metrics are named '${name}'; each needs its own log key`);
    out.push({ name, batchMean: (output, target) => metricValue(op, name, fn, output, target) });
  });
  return out;
}

function metricValue(op: string, name: string, fn: MetricFn, output: Tensor, target: Tensor): number {
  return noGrad(() => tidy(() => {
    const v = fn(output, target);
    if (typeof v === 'number') return v;
    if (v instanceof Tensor) return v.numel === 1 ? v.item() : v.float().mean().item();
    throw new ArgumentError(`${op}: metric '${name}' returned ${v === null ? 'null' : typeof v}; it must return a number or a Tensor`);
  }));
}
