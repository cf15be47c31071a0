// Module: the base of every layer. Parameters, buffers and child modules are found from the
// module's own fields (in the order they were assigned), so a layer is written as a plain class.
// Field names are camelCase; checkpoint keys are PyTorch's snake_case (`inProjWeight` ->
// `in_proj_weight`), so state dicts written by PyTorch load here and the reverse.
import { noGrad } from '../autograd/grad_mode.js';
import type { Device } from '../device.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { forwardScope, keep } from '../scope.js';
import { Tensor } from '../tensor.js';

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

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
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
    Object.defineProperty(this, 'forward', {
      value: (...inputs: unknown[]) => forwardScope(() => forward.apply(this, inputs)),
      writable: true, configurable: true, enumerable: false,
    });
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

  /** The parameter count, trainable only by default. */
  numParameters(trainableOnly = false): number {
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

  /** A table of the modules that own parameters, with their parameter counts and a total. */
  summary(): string {
    const rows: [string, string, string, string][] = [['Layer', 'Type', 'Shape', 'Params']];
    for (const [name, m] of this.namedModules()) {
      const own = [...m.ownParameters()];
      if (own.length === 0) continue;
      const count = own.reduce((n, [, t]) => n + t.numel, 0);
      rows.push([name || '(root)', m.constructor.name, own.map(([k, t]) => `${k}${fmtShape(t.shape)}`).join(' '), count.toLocaleString('en-US')]);
    }
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    const fmt = (r: string[]) => r.map((cell, c) => (c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ');
    const rule = '-'.repeat(widths.reduce((a, b) => a + b + 2, -2));
    const total = this.numParameters(), trainable = this.numParameters(true);
    return [fmt(rows[0]), rule, ...rows.slice(1).map(fmt), rule,
      `Total params: ${total.toLocaleString('en-US')}`, `Trainable params: ${trainable.toLocaleString('en-US')}`,
      `Non-trainable params: ${(total - trainable).toLocaleString('en-US')}`].join('\n');
  }
}
