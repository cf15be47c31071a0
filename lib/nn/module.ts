// Module: the base of every layer. Parameters, buffers and child modules are found from the
// module's own fields (in the order they were assigned), so a layer is written as a plain class.
// Field names are camelCase; checkpoint keys are PyTorch's snake_case (`inProjWeight` ->
// `in_proj_weight`), so state dicts written by PyTorch load here and the reverse.
// Every module also has the Keras workflow (compile, fit, evaluate, predict), which
// lib/train/keras.ts implements over kd.train and installs here.
import { noGrad } from '../autograd/grad_mode.js';
import type { Device } from '../device.js';
import { type DType, dtypeBytes } from '../dtype.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { full } from '../ops/creation.js';
import { forwardScope, keep, tidy } from '../scope.js';
import { Tensor } from '../tensor.js';
import type { DataInput, History } from '../train/fit.js';
import type { CompileOptions, ModelEvaluateOptions, ModelFitOptions } from '../train/keras.js';
import type { PredictOptions } from '../train/predict.js';
import type { Logs } from '../train/progress.js';

const parameterSet = new WeakSet<Tensor>();

/** Marks a tensor as a trainable parameter: it requires grad and outlives tidy scopes. */
export function Parameter(t: Tensor, requiresGrad = true): Tensor {
  if (!(t instanceof Tensor)) throw new ArgumentError('Parameter: expected a Tensor');
  if (t.gradFn) throw new ArgumentError('Parameter: expected a leaf tensor (use t.detach())');
  if (requiresGrad) t.requiresGrad = true;
  parameterSet.add(t);
  return keep(t);
}

export function isParameter(t: unknown): t is Tensor {
  return t instanceof Tensor && parameterSet.has(t);
}

/** camelCase field name -> PyTorch's snake_case key ("inProjWeight" -> "in_proj_weight"). */
export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase();
}

/** A number as Python's repr writes a float: 1e-05, 0.001, 1.0, None for null. */
export function reprFloat(v: number | null): string {
  if (v === null) return 'None';
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return v.toFixed(1);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e16)) {
    const [mant, exp] = v.toExponential().split('e');
    const e = Number(exp);
    return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  return String(v);
}

/** A shape or size pair as Python's tuple repr: (8,) or (4, 8). */
export function reprTuple(v: readonly number[]): string {
  return v.length === 1 ? `(${v[0]},)` : `(${v.join(', ')})`;
}

/** Which parameters freeze/unfreeze select: a name regex (RegExp or its source) or a predicate. */
export type ParameterPattern = RegExp | string | ((name: string, param: Tensor) => boolean);

/** A predicate over (name, param) for a ParameterPattern; undefined selects everything. */
export function parameterMatcher(op: string, pattern: ParameterPattern | undefined): (name: string, param: Tensor) => boolean {
  if (pattern === undefined) return () => true;
  if (typeof pattern === 'function') return (name, p) => Boolean(pattern(name, p));
  if (typeof pattern === 'string') {
    let re: RegExp;
    try {
      re = new RegExp(pattern);
    } catch (err) {
      throw new ArgumentError(`${op}: '${pattern}' is not a valid regular expression (${(err as Error).message})`);
    }
    return (name) => re.test(name);
  }
  if (pattern instanceof RegExp) {
    // A global or sticky regex keeps lastIndex between test() calls; match on a fresh copy.
    const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    return (name) => re.test(name);
  }
  throw new ArgumentError(`${op}: expected a RegExp, a string or a function (name, param) => boolean, got ${pattern === null ? 'null' : typeof pattern}`);
}

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export interface NumParametersOptions {
  /** true (default): only parameters that require grad; false: all of them, frozen ones too. */
  trainable?: boolean;
}

/** One sample's input (without the batch dim), for summary to run through the model. */
export interface SampleInput {
  shape: readonly number[];
  dtype?: DType;
}

export interface SummaryOptions {
  /**
   * One sample's shape without the batch dim (e.g. [1, 28, 28]): summary runs a batch of one
   * through the model, in eval mode without grad, and lists each layer's output shape. Default:
   * the input shape of the last model.fit / evaluate / predict, if any; else parameter shapes are listed.
   */
  inputShape?: readonly number[];
  /** The dtype of that input (int32 for token ids). Default float32. */
  inputDtype?: DType;
}

/**
 * The Keras workflow on modules. lib/train/keras.ts implements it over kd.train and installs it
 * with installKerasWorkflow (this file cannot import kd.train, which imports it).
 * @internal
 */
export interface KerasWorkflow {
  compile(model: Module, options: CompileOptions): void;
  fit(model: Module, args: readonly unknown[]): Promise<History>;
  evaluate(model: Module, args: readonly unknown[]): Logs;
  predict(model: Module, data: unknown, options: PredictOptions | undefined): Tensor;
  /** The per-sample input last seen by fit/evaluate/predict, for summary. */
  sampleInput(model: Module): SampleInput | undefined;
}

let keras: KerasWorkflow | null = null;

/** @internal */
export function installKerasWorkflow(workflow: KerasWorkflow): void {
  keras = workflow;
}

function kerasWorkflow(method: string): KerasWorkflow {
  if (!keras) throw new ArgumentError(`Module.${method}: the Keras workflow comes with kd.train; import kindling (lib/index.js), not lib/nn alone`);
  return keras;
}

/** "1.2 KB", as Keras's summary gives parameter memory (units of 1024 bytes). */
function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${v.toFixed(2)} ${units[u]}`;
}

function outputShapeText(out: unknown): string {
  if (out instanceof Tensor) return fmtShape(out.shape);
  if (Array.isArray(out) && out.length > 0 && out.every((o) => o instanceof Tensor || o === null)) return out.map(outputShapeText).join(' ');
  return out === null ? '-' : '?';
}

/**
 * Each module's output shape for a batch of one zero sample: every forward is wrapped (on the
 * instance, so Sequential runs the layers one by one) while the batch runs in eval mode without grad.
 */
function probeOutputShapes(model: Module, sample: SampleInput): Map<Module, string> {
  const shapes = new Map<Module, string>();
  const modules = model.modules();
  const saved = modules.map((m) => [m, m.training, Object.getOwnPropertyDescriptor(m, 'forward')] as const);
  for (const m of modules) {
    const forward = m.forward;
    Object.defineProperty(m, 'forward', {
      configurable: true, enumerable: false, writable: true,
      value: (...inputs: unknown[]) => {
        const out = forward.apply(m, inputs);
        shapes.set(m, outputShapeText(out));
        return out;
      },
    });
  }
  const device = model.parameters()[0]?.device ?? 'cpu';
  const shape = [1, ...sample.shape];
  try {
    model.eval();
    noGrad(() => tidy(() => { model.forward(full(shape, 0, { dtype: sample.dtype ?? 'float32', device })); }));
  } catch (err) {
    throw new ShapeError(`summary: a batch of shape ${fmtShape(shape)} (${sample.dtype ?? 'float32'}) does not run through the model: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    for (const [m, training, descriptor] of saved) {
      m.training = training;
      if (descriptor) Object.defineProperty(m, 'forward', descriptor);
      else delete (m as { forward?: unknown }).forward;
    }
  }
  return shapes;
}

/** The per-instance forward wrappers the Module constructor installs. */
const scopedForwards = new WeakSet<Function>();

/** True when `m.forward` was replaced on the instance (not the class's method in its scope). */
export function hasReplacedForward(m: Module): boolean {
  return !scopedForwards.has(m.forward);
}

export abstract class Module {
  training = true;
  /** Field names holding buffers (running statistics, ...), and whether each is saved. */
  private _bufferFields = new Map<string, boolean>();
  /** Explicit checkpoint names for fields whose PyTorch name is not their snake_case. */
  private _keyOverrides = new Map<string, string>();

  abstract forward(...inputs: unknown[]): unknown;

  constructor() {
    // Every forward call, of every subclass, runs in a scope that frees what it made except what
    // it returns (lib/scope.ts, forwardScope): `this.forward` here is already the most derived
    // class's method, wrapped once per instance in a non-enumerable own property.
    const forward = this.forward;
    const scoped = (...inputs: unknown[]) => forwardScope(() => forward.apply(this, inputs));
    scopedForwards.add(scoped);
    Object.defineProperty(this, 'forward', { value: scoped, writable: true, configurable: true, enumerable: false });
  }

  // ---- registration -------------------------------------------------------------------------

  /** Stores a buffer (state that is not trained, like running_mean) in a field. */
  registerBuffer(field: string, value: Tensor | null, persistent = true): void {
    if (value) keep(value);
    (this as unknown as Record<string, unknown>)[field] = value;
    this._bufferFields.set(field, persistent);
  }

  registerParameter(field: string, value: Tensor | null): void {
    (this as unknown as Record<string, unknown>)[field] = value === null ? null : Parameter(value);
  }

  /** Names a field's checkpoint key explicitly. */
  protected setStateKey(field: string, key: string): void {
    this._keyOverrides.set(field, key);
  }

  private keyOf(field: string): string {
    return this._keyOverrides.get(field) ?? snakeCase(field);
  }

  /** The module's state-holding fields in order (own enumerable fields; `_`-prefixed ones are internal). */
  protected fields(): [string, unknown][] {
    return Object.entries(this).filter(([k]) => !k.startsWith('_'));
  }

  /**
   * Every child slot in order, a module held twice listed twice: PyTorch's `_modules.items()`,
   * which Sequential runs, state dicts walk and repr prints.
   */
  protected *childSlots(): Generator<[string, Module]> {
    for (const [field, value] of this.fields()) if (value instanceof Module) yield [this.keyOf(field), value];
  }

  // ---- traversal ----------------------------------------------------------------------------

  /** Direct children, each module once (as PyTorch's named_children). */
  *namedChildren(): Generator<[string, Module]> {
    const seen = new Set<Module>();
    for (const [name, m] of this.childSlots()) {
      if (seen.has(m)) continue;
      seen.add(m);
      yield [name, m];
    }
  }

  children(): Module[] {
    return [...this.namedChildren()].map(([, m]) => m);
  }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    const seen = new Set<Module>();
    const walk = function* (m: Module, p: string): Generator<[string, Module]> {
      if (seen.has(m)) return;
      seen.add(m);
      yield [p, m];
      for (const [name, child] of m.namedChildren()) yield* walk(child, p ? `${p}.${name}` : name);
    };
    yield* walk(this, prefix);
  }

  modules(): Module[] {
    return [...this.namedModules()].map(([, m]) => m);
  }

  /** This module's own parameters (not its children's), in field order. */
  private *ownParameters(): Generator<[string, Tensor]> {
    for (const [field, value] of this.fields()) if (isParameter(value)) yield [this.keyOf(field), value];
  }

  private *ownBuffers(persistentOnly: boolean): Generator<[string, Tensor]> {
    for (const [field, persistent] of this._bufferFields) {
      const value = (this as unknown as Record<string, unknown>)[field];
      if (value instanceof Tensor && (persistent || !persistentOnly)) yield [this.keyOf(field), value];
    }
  }

  *namedParameters(prefix = '', recurse = true): Generator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    const mods: [string, Module][] = recurse ? [...this.namedModules(prefix)] : [[prefix, this]];
    for (const [p, m] of mods) {
      for (const [name, t] of m.ownParameters()) {
        if (seen.has(t)) continue;
        seen.add(t);
        yield [p ? `${p}.${name}` : name, t];
      }
    }
  }

  parameters(recurse = true): Tensor[] {
    return [...this.namedParameters('', recurse)].map(([, t]) => t);
  }

  *namedBuffers(prefix = '', recurse = true): Generator<[string, Tensor]> {
    const mods: [string, Module][] = recurse ? [...this.namedModules(prefix)] : [[prefix, this]];
    for (const [p, m] of mods) for (const [name, t] of m.ownBuffers(false)) yield [p ? `${p}.${name}` : name, t];
  }

  buffers(recurse = true): Tensor[] {
    return [...this.namedBuffers('', recurse)].map(([, t]) => t);
  }

  // ---- state --------------------------------------------------------------------------------

  /**
   * Parameters and persistent buffers by PyTorch key, in PyTorch's order (each module's
   * parameters, then its buffers, then its children). Values are detached tensors sharing
   * the module's storage.
   */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    const visit = (m: Module, prefix: string) => {
      for (const [name, t] of m.ownParameters()) out[prefix + name] = t.detach();
      for (const [name, t] of m.ownBuffers(true)) out[prefix + name] = t.detach();
      for (const [name, child] of m.childSlots()) visit(child, `${prefix}${name}.`);
    };
    visit(this, '');
    return out;
  }

  /** Copies values into this module's tensors (shapes must match); strict by default. */
  loadStateDict(state: Record<string, Tensor>, options: { strict?: boolean } = {}): LoadResult {
    const strict = options.strict ?? true;
    const targets = new Map<string, Tensor>();
    const visit = (m: Module, prefix: string) => {
      for (const [name, t] of m.ownParameters()) targets.set(prefix + name, t);
      for (const [name, t] of m.ownBuffers(true)) targets.set(prefix + name, t);
      for (const [name, child] of m.childSlots()) visit(child, `${prefix}${name}.`);
    };
    visit(this, '');
    const missingKeys = [...targets.keys()].filter((k) => !(k in state));
    const unexpectedKeys = Object.keys(state).filter((k) => !targets.has(k));
    if (strict && (missingKeys.length || unexpectedKeys.length)) {
      throw new ArgumentError(
        `loadStateDict: ${missingKeys.length ? `missing keys: ${missingKeys.join(', ')}` : ''}` +
          `${missingKeys.length && unexpectedKeys.length ? '; ' : ''}` +
          `${unexpectedKeys.length ? `unexpected keys: ${unexpectedKeys.join(', ')}` : ''}`,
      );
    }
    for (const [key, target] of targets) {
      if (!(key in state)) continue;
      const src = state[key];
      if (!(src instanceof Tensor)) throw new ArgumentError(`loadStateDict: value for ${key} is not a Tensor`);
      if (src.shape.join(',') !== target.shape.join(',')) {
        throw new ShapeError(`loadStateDict: size mismatch for ${key}: checkpoint has ${fmtShape(src.shape)}, the module has ${fmtShape(target.shape)}`);
      }
    }
    noGrad(() => {
      for (const [key, target] of targets) {
        const src = state[key];
        if (src instanceof Tensor) target.copy_(src);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  // ---- modes and utilities ------------------------------------------------------------------

  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Calls fn on every submodule (children first) and then on this module, like PyTorch. */
  apply(fn: (m: Module) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Moves every parameter and buffer to `device`, keeping each tensor object (optimizers hold them). */
  to(device: Device | 'cuda:0'): this {
    for (const t of [...this.parameters(), ...this.buffers()]) {
      if (t.device === device || (device === 'cuda:0' && t.device === 'cuda')) continue;
      const moved = t.detach().to(device);
      t._replaceWith(moved);
      moved.dispose();
    }
    return this;
  }

  /**
   * Stops gradients for the parameters `pattern` selects (requiresGrad false, grad dropped), so
   * backward skips them and optimizers leave them as they are. `pattern`: a RegExp or string
   * (a regular expression) tested against the parameter's name in namedParameters(), or a
   * predicate (name, param) => boolean; no pattern: every parameter. Returns the module.
   */
  freeze(pattern?: ParameterPattern): this {
    return this.setRequiresGrad('freeze', pattern, false);
  }

  /** The reverse of freeze: the selected parameters (all when no pattern) require grad again. */
  unfreeze(pattern?: ParameterPattern): this {
    return this.setRequiresGrad('unfreeze', pattern, true);
  }

  private setRequiresGrad(op: string, pattern: ParameterPattern | undefined, requiresGrad: boolean): this {
    const test = parameterMatcher(op, pattern);
    for (const [name, p] of this.namedParameters()) {
      if (!test(name, p)) continue;
      p.requiresGrad = requiresGrad;
      if (!requiresGrad && p.grad) {
        p.grad.dispose();
        p.grad = null;
      }
    }
    return this;
  }

  /**
   * The number of trainable parameter elements (those that require grad), each shared tensor
   * once; with { trainable: false }, of all parameters, frozen ones included.
   */
  numParameters(options: NumParametersOptions = {}): number {
    if (options === null || typeof options !== 'object') {
      throw new ArgumentError(`numParameters: expected options { trainable?: boolean }, got ${String(options)}`);
    }
    const trainableOnly = options.trainable ?? true;
    if (typeof trainableOnly !== 'boolean') throw new ArgumentError(`numParameters: trainable must be a boolean, got ${String(trainableOnly)}`);
    return this.parameters().filter((p) => !trainableOnly || p.requiresGrad).reduce((n, p) => n + p.numel, 0);
  }

  /** What goes inside the parentheses of this module's repr, e.g. "in_features=4, out_features=2". */
  extraRepr(): string {
    return '';
  }

  toString(): string {
    const children = [...this.childSlots()];
    const name = this.constructor.name;
    if (children.length === 0) return `${name}(${this.extraRepr()})`;
    const lines = children.map(([k, m]) => `  (${k}): ${m.toString().replace(/\n/g, '\n  ')}`);
    const extra = this.extraRepr();
    return `${name}(${extra ? `\n  ${extra}` : ''}\n${lines.join('\n')}\n)`;
  }

  /**
   * A table as Keras's model.summary() prints: each layer (every module without children, and
   * any module that holds parameters itself) with its type, its output shape (when an input
   * shape is known, see SummaryOptions) or else its parameters' shapes, and its parameter count;
   * then the total, trainable and non-trainable parameter counts and their memory.
   */
  summary(options: SummaryOptions = {}): string {
    if (options === null || typeof options !== 'object') throw new ArgumentError('summary: expected options { inputShape?, inputDtype? }');
    let outputShapes: Map<Module, string> | null = null;
    if (options.inputShape) {
      outputShapes = probeOutputShapes(this, { shape: options.inputShape, dtype: options.inputDtype });
    } else {
      // The input fit/evaluate/predict last saw may no longer fit a model changed since: then list parameter shapes.
      const seen = keras?.sampleInput(this);
      try {
        outputShapes = seen ? probeOutputShapes(this, seen) : null;
      } catch {
        outputShapes = null;
      }
    }
    const rows: string[][] = [['Layer (type)', outputShapes ? 'Output Shape' : 'Param Shapes', 'Param #']];
    for (const [name, m] of this.namedModules()) {
      const own = [...m.ownParameters()];
      if (own.length === 0 && m.children().length > 0) continue;
      const count = own.reduce((n, [, t]) => n + t.numel, 0);
      const shapes = outputShapes ? outputShapes.get(m) ?? '-' : own.map(([k, t]) => `${k}${fmtShape(t.shape)}`).join(' ');
      rows.push([`${name || '(root)'} (${m.constructor.name})`, shapes, count.toLocaleString('en-US')]);
    }
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    const fmt = (r: string[]) => r.map((cell, c) => (c === 2 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('   ').trimEnd();
    const width = widths.reduce((a, b) => a + b + 3, -3);
    const params = this.parameters();
    const bytesOf = (ps: Tensor[]) => ps.reduce((n, p) => n + p.numel * dtypeBytes(p.dtype), 0);
    const trainable = params.filter((p) => p.requiresGrad), frozen = params.filter((p) => !p.requiresGrad);
    const line = (label: string, ps: Tensor[]) =>
      `${label}: ${ps.reduce((n, p) => n + p.numel, 0).toLocaleString('en-US')} (${formatBytes(bytesOf(ps))})`;
    return [`Model: "${this.constructor.name}"`, '_'.repeat(width), fmt(rows[0]), '='.repeat(width), ...rows.slice(1).map(fmt), '='.repeat(width),
      line('Total params', params), line('Trainable params', trainable), line('Non-trainable params', frozen), '_'.repeat(width)].join('\n');
  }

  // ---- the Keras workflow (lib/train/keras.ts) ----------------------------------------------

  /**
   * Sets the optimizer ('adam', 'sgd', 'adamw', 'rmsprop' with Keras's defaults, or a kd.optim
   * optimizer), the loss (a name such as 'sparseCategoricalCrossentropy', a loss module or a
   * function) and the metrics that fit and evaluate use. Returns the module.
   */
  compile(options: CompileOptions): this {
    kerasWorkflow('compile').compile(this, options);
    return this;
  }

  /** Trains the compiled model on x and y (tensors of samples along dim 0); see kd.train.fit. */
  fit(x: Tensor, y: Tensor, options?: ModelFitOptions): Promise<History>;
  /** Trains the compiled model on a dataset of [input, target] (or a DataLoader of them). */
  fit(data: DataInput, options?: ModelFitOptions): Promise<History>;
  async fit(...args: unknown[]): Promise<History> {
    return kerasWorkflow('fit').fit(this, args);
  }

  /** The compiled loss and metrics over x and y (in eval mode, without grad): { loss, accuracy, ... }. */
  evaluate(x: Tensor, y: Tensor, options?: ModelEvaluateOptions): Logs;
  evaluate(data: DataInput, options?: ModelEvaluateOptions): Logs;
  evaluate(...args: unknown[]): Logs {
    return kerasWorkflow('evaluate').evaluate(this, args);
  }

  /** The outputs for every sample of x, batched, in eval mode without grad; see kd.train.predict. */
  predict(x: Tensor | DataInput, options?: PredictOptions): Tensor {
    return kerasWorkflow('predict').predict(this, x, options);
  }
}
