// The optimizer base: parameter groups with per-group hyperparameters, per-parameter state,
// zeroGrad, and state dicts shaped exactly like PyTorch's ({ state, param_groups }, snake_case
// keys, parameters named by their index across the groups in order).
//
// Updates run under noGrad with in-place ops. State tensors are kept (a surrounding kd.tidy does
// not free them); each parameter's update runs in its own tidy, so no temporary outlives it.
import { noGrad } from '../autograd/grad_mode.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { snakeCase } from '../nn/module.js';
import { zerosLike } from '../ops/creation.js';
import { noteOptimizerStep } from '../memory.js';
import { keep, tidy } from '../scope.js';
import { Tensor } from '../tensor.js';

/** A value an optimizer keeps per parameter: a buffer, or a number such as the step count. */
export type StateValue = Tensor | number;
export type ParamState = Record<string, StateValue>;

/** Hyperparameters every optimizer's groups carry (the learning rate, at least). */
export interface GroupOptions {
  lr: number;
}

/** What the constructor accepts as a group: some parameters and optionally their own options. */
export type ParamGroupInput<O> = { params: Iterable<Tensor> } & Partial<O>;

/**
 * A parameter group after construction: its parameters and every option filled in; a learning
 * rate scheduler adds initialLr (the lr it started from).
 */
export type ParamGroup<O> = { params: Tensor[]; initialLr?: number } & O;

export type ParamsInput<O> = Iterable<Tensor> | Iterable<ParamGroupInput<O>>;

/** The optimizer's state in PyTorch's layout; buffers are the optimizer's own tensors. */
export interface OptimizerStateDict {
  state: Record<number, Record<string, StateValue>>;
  param_groups: Record<string, unknown>[];
}

export function snakeToCamel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Options with the undefined entries dropped, so they do not mask the defaults. */
export function definedOnly<T extends object>(options: T): Partial<T> {
  if (options === null || typeof options !== 'object') throw new ArgumentError(`optimizer options must be an object, got ${String(options)}`);
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(options)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

export function checkNonNegative(op: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    throw new ArgumentError(`${op}: ${name} must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

export function checkInUnitInterval(op: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) {
    throw new ArgumentError(`${op}: ${name} must be in [0, 1), got ${String(value)}`);
  }
  return value;
}

export abstract class Optimizer<O extends GroupOptions = GroupOptions> {
  readonly paramGroups: ParamGroup<O>[] = [];
  readonly defaults: O;
  /** Per-parameter state, created on the parameter's first update. */
  readonly state = new Map<Tensor, ParamState>();
  protected readonly name: string;

  constructor(name: string, params: ParamsInput<O>, defaults: O) {
    this.name = name;
    this.defaults = defaults;
    if (params instanceof Tensor) {
      throw new ArgumentError(`${name}: params must be an iterable of tensors, got a single Tensor (wrap it in an array)`);
    }
    if (params === null || params === undefined || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      throw new ArgumentError(`${name}: params must be an iterable of tensors or of parameter groups { params, ... }`);
    }
    const items = [...(params as Iterable<unknown>)];
    if (items.length === 0) throw new ArgumentError(`${name}: got an empty parameter list`);
    if (items[0] instanceof Tensor) this.addParamGroup({ params: items as Tensor[] } as unknown as ParamGroupInput<O>);
    else for (const group of items) this.addParamGroup(group as ParamGroupInput<O>);
  }

  /** Adds a group (e.g. layers unfrozen during fine-tuning); unset options take the defaults. */
  addParamGroup(group: ParamGroupInput<O>): void {
    if (group === null || typeof group !== 'object' || group instanceof Tensor || !('params' in group)) {
      throw new ArgumentError(`${this.name}: a parameter group must be an object { params, ...options }`);
    }
    const raw = group.params as unknown;
    const params = raw instanceof Tensor ? [raw] : [...(raw as Iterable<unknown>)];
    const seen = new Set<Tensor>();
    for (const other of this.paramGroups) for (const p of other.params) seen.add(p);
    params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new ArgumentError(`${this.name}: parameter ${i} of a group is not a Tensor`);
      p._assertLive(this.name);
      if (p.dtype !== 'float32') throw new ArgumentError(`${this.name}: can only optimize float32 tensors, got ${p.dtype} (parameter ${i})`);
      if (!p.isLeaf) throw new ArgumentError(`${this.name}: can't optimize a non-leaf tensor (parameter ${i}); use detach().requiresGrad_()`);
      if (seen.has(p)) throw new ArgumentError(`${this.name}: some parameters appear in more than one parameter group`);
      seen.add(p);
    });
    const filled = { ...this.defaults } as Record<string, unknown>;
    for (const [key, value] of Object.entries(group)) if (key !== 'params' && value !== undefined) filled[key] = value;
    filled.params = params as Tensor[];
    const complete = filled as unknown as ParamGroup<O>;
    this.validateGroup(complete);
    this.paramGroups.push(complete);
    this.initGroupState(complete);
  }

  /** Throws ArgumentError for a hyperparameter out of range. */
  protected abstract validateGroup(group: ParamGroup<O>): void;

  /** Updates one parameter whose grad is set; runs under noGrad inside a tidy. */
  protected abstract updateParam(p: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<O>): void;

  /** Called after every parameter of `group` was updated (where a fused optimizer runs what it batched). */
  protected endGroup(_group: ParamGroup<O>): void {}

  /** State an optimizer creates at construction rather than on the first step (Adagrad's sum). */
  protected initGroupState(_group: ParamGroup<O>): void {}

  /** A new zero buffer shaped like p, kept alive across tidies until the optimizer frees it. */
  protected zeroBuffer(p: Tensor): Tensor {
    return keep(zerosLike(p));
  }

  /** One optimization step over every parameter that has a gradient. */
  step(): void {
    noGrad(() => {
      for (const group of this.paramGroups) {
        try {
          for (const p of group.params) {
            const grad = p.grad;
            if (grad === null) continue;
            if (!sameShape(grad.shape, p.shape)) {
              throw new ShapeError(`${this.name}.step: gradient ${fmtShape(grad.shape)} does not match its parameter ${fmtShape(p.shape)}`);
            }
            let state = this.state.get(p);
            if (!state) {
              state = {};
              this.state.set(p, state);
            }
            const s = state;
            tidy(() => this.updateParam(p, grad, s, group));
          }
        } finally {
          this.endGroup(group);  // the parameters updated before an error stay updated, as unbatched
        }
      }
    });
    noteOptimizerStep();
  }

  /** Clears the gradients: disposes them and sets .grad to null (PyTorch's set_to_none), or zeroes them in place. */
  zeroGrad(setToNone = true): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (p.grad === null) continue;
        if (setToNone) {
          p.grad.dispose();
          p.grad = null;
        } else {
          const g = p.grad;
          noGrad(() => g.zero_());
        }
      }
    }
  }

  /**
   * { state: { [index]: { step, exp_avg, ... } }, param_groups: [{ lr, ..., params: [indices] }] }.
   * The tensors are the optimizer's own buffers (not copies), as in PyTorch.
   */
  stateDict(): OptimizerStateDict {
    const indexOf = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((group) => {
      const entry: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(group)) {
        if (key === 'params') continue;
        entry[snakeCase(key)] = Array.isArray(value) ? [...value] : value;
      }
      entry.params = group.params.map((p) => {
        const index = indexOf.size;
        indexOf.set(p, index);
        return index;
      });
      return entry;
    });
    const state: Record<number, Record<string, StateValue>> = {};
    for (const [p, s] of this.state) {
      const index = indexOf.get(p);
      if (index === undefined) continue;
      const entry: Record<string, StateValue> = {};
      for (const [key, value] of Object.entries(s)) entry[snakeCase(key)] = value;
      state[index] = entry;
    }
    return { state, param_groups: paramGroups };
  }

  /**
   * Restores hyperparameters and state from stateDict() (of this optimizer kind, over parameters
   * of the same shapes in the same groups). Buffers are copied, so the dict may be freed after.
   */
  loadStateDict(stateDict: OptimizerStateDict): void {
    const op = `${this.name}.loadStateDict`;
    if (!stateDict || typeof stateDict !== 'object' || !Array.isArray(stateDict.param_groups) || typeof stateDict.state !== 'object') {
      throw new ArgumentError(`${op}: expected { state, param_groups }`);
    }
    const saved = stateDict.param_groups;
    if (saved.length !== this.paramGroups.length) {
      throw new ArgumentError(`${op}: the state dict has ${saved.length} parameter groups, the optimizer ${this.paramGroups.length}`);
    }
    const byIndex = new Map<number, Tensor>();
    saved.forEach((g, gi) => {
      const indices = g.params as unknown;
      const own = this.paramGroups[gi].params;
      if (!Array.isArray(indices) || indices.length !== own.length) {
        throw new ArgumentError(`${op}: group ${gi} has ${Array.isArray(indices) ? indices.length : 'no'} parameters in the state dict, ${own.length} in the optimizer`);
      }
      indices.forEach((index: unknown, k) => byIndex.set(Number(index), own[k]));
    });
    // Validate everything before changing anything, so a bad dict leaves the optimizer intact.
    const newState = new Map<Tensor, ParamState>();
    for (const [key, entry] of Object.entries(stateDict.state)) {
      const p = byIndex.get(Number(key));
      if (!p) throw new ArgumentError(`${op}: state for parameter ${key}, which no group lists`);
      const s: ParamState = {};
      for (const [name, value] of Object.entries(entry)) {
        if (name === 'step' && value instanceof Tensor) {
          // PyTorch keeps the step count as a 0-d tensor; here it is a number.
          s.step = value.item();
        } else if (value instanceof Tensor) {
          if (!sameShape(value.shape, p.shape)) {
            throw new ShapeError(`${op}: state '${name}' of parameter ${key} has shape ${fmtShape(value.shape)}, the parameter ${fmtShape(p.shape)}`);
          } else s[snakeToCamel(name)] = value;
        } else if (typeof value === 'number') {
          s[snakeToCamel(name)] = value;
        } else {
          throw new ArgumentError(`${op}: state '${name}' of parameter ${key} must be a Tensor or a number`);
        }
      }
      newState.set(p, s);
    }
    const groups = saved.map((g, gi) => {
      const options: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(g)) if (key !== 'params') options[snakeToCamel(key)] = Array.isArray(value) ? [...value] : value;
      const merged = { ...this.paramGroups[gi], ...options } as ParamGroup<O>;
      this.validateGroup(merged);
      return options;
    });
    groups.forEach((options, gi) => Object.assign(this.paramGroups[gi], options));
    // Copy before freeing the old buffers: the dict may hold this optimizer's own tensors.
    noGrad(() => {
      for (const [p, s] of newState) {
        for (const [name, value] of Object.entries(s)) {
          if (value instanceof Tensor) s[name] = keep(tidy(() => value.to({ device: p.device, dtype: 'float32' }).clone()));
        }
      }
    });
    this.disposeState();
    for (const [p, s] of newState) this.state.set(p, s);
  }

  private disposeState(): void {
    for (const s of this.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    this.state.clear();
  }

  /** Frees the optimizer's state buffers (the parameters are the caller's). */
  dispose(): void {
    this.disposeState();
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}
