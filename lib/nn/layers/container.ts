// Containers: Sequential runs its children in order; ModuleList and ModuleDict hold modules
// whose parameters are found like any field's. Keys are "0", "1", ... as in PyTorch. A module
// placed twice occupies two slots (Sequential runs it twice, as PyTorch's _modules).
import { ArgumentError } from '../../errors.js';
import { Module, hasReplacedForward } from '../module.js';
import { matchFusion } from '../fusion.js';
import { Tensor } from '../../tensor.js';

/**
 * What Sequential and ModuleList share: modules in slots "0", "1", ..., read by index or in
 * order. T is the type every slot holds (ModuleList<Linear>: each item is a Linear).
 */
export abstract class ModuleSequence<T extends Module = Module> extends Module {
  [index: number]: T;

  get length(): number {
    return [...this.childSlots()].length;
  }

  /** The module in slot i (negative i counts from the end, as Array.prototype.at). */
  at(i: number): T {
    const list = this.slotModules();
    const m = list[i < 0 ? i + list.length : i];
    if (!m) throw new ArgumentError(`${this.constructor.name}: index ${i} is out of range for ${list.length} modules`);
    return m;
  }

  push(m: T): this {
    if (!(m instanceof Module)) throw new ArgumentError(`${this.constructor.name}: item ${this.length} is not a Module`);
    (this as unknown as Record<string, Module>)[String(this.length)] = m;
    return this;
  }

  protected slotModules(): T[] {
    return [...this.childSlots()].map(([, m]) => m as T);
  }

  [Symbol.iterator](): Iterator<T> {
    return this.slotModules()[Symbol.iterator]();
  }
}

/** The module type in slot I of a tuple of modules, or any of them when I is not a known index. */
export type ModuleAt<M extends readonly Module[], I extends number> = `${I}` extends keyof M ? M[`${I}` & keyof M] : M[number];

/** Slots "0", "1", ... of a Sequential built from a tuple, each typed as its module. */
type TypedSlots<M extends readonly Module[]> = { readonly [K in keyof M as K extends `${number}` ? K : never]: M[K] };

// The class is declared under another name so that the exported `Sequential` can be both the
// constructor and a type that types each slot (seq[0] of new Sequential(conv, relu) is a Conv2d):
// a class cannot carry per-slot property types from a type parameter, an intersection can.
class SequentialModule<M extends readonly Module[] = Module[]> extends ModuleSequence {
  static {
    Object.defineProperty(this, 'name', { value: 'Sequential' });
  }

  constructor(...modules: M) {
    super();
    for (const m of modules) this.push(m);
  }

  /** The module in slot i, typed as the constructor's argument there. */
  override at<I extends number>(i: I): ModuleAt<M, I> {
    return super.at(i) as ModuleAt<M, I>;
  }

  /**
   * Runs the modules in order; a run of modules that lib/nn/fusion.ts lists (Conv2d, ReLU,
   * MaxPool2d; ReLU, MaxPool2d) runs as its fused op, with the same values and gradients,
   * unless one of them has had its forward replaced on the instance (that forward runs).
   */
  forward(input: Tensor): Tensor {
    let x: unknown = input;
    const modules = this.slotModules();
    for (let i = 0; i < modules.length;) {
      const fused = matchFusion(modules, i);
      const span = fused ? modules.slice(i, i + fused.pattern.length) : [];
      if (fused && !span.some(hasReplacedForward)) {
        x = fused.run(span, x as Tensor);
        i += span.length;
      } else {
        x = modules[i].forward(x);
        i++;
      }
    }
    if (!(x instanceof Tensor)) {
      throw new ArgumentError(`Sequential: the last module (${modules.at(-1)?.constructor.name ?? 'none'}) returned ${describe(x)}, not a Tensor`);
    }
    return x;
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return value === null ? 'null' : typeof value === 'object' ? `a ${value.constructor?.name ?? 'object'}` : `a ${typeof value}`;
}

/** A Sequential whose slots are typed by the modules it was built from (default: any Module). */
export type Sequential<M extends readonly Module[] = Module[]> = SequentialModule<M> & TypedSlots<M>;

export interface SequentialConstructor {
  new <M extends readonly Module[] = Module[]>(...modules: M): Sequential<M>;
  readonly prototype: Sequential;
}

/** Runs its modules in order: new Sequential(conv, relu, pool).forward(x). */
export const Sequential = SequentialModule as SequentialConstructor;

export class ModuleList<T extends Module = Module> extends ModuleSequence<T> {
  constructor(modules: Iterable<T> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  forward(): never {
    throw new ArgumentError('ModuleList has no forward(); call its modules');
  }
}

/** Modules by name; R types each key's module when the dict is built from an object literal. */
export class ModuleDict<R extends Record<string, Module> = Record<string, Module>> extends Module {
  /** Keys in insertion order: object properties would list integer-like keys ("10") first. */
  private _order: string[] = [];

  constructor(modules: R | Iterable<[string, Module]> = {} as R) {
    super();
    const entries = Symbol.iterator in modules ? (modules as Iterable<[string, Module]>) : Object.entries(modules);
    for (const [k, m] of entries) this.set(k, m);
  }

  set(key: string, m: Module): this {
    if (!(m instanceof Module)) throw new ArgumentError(`ModuleDict: value for '${key}' is not a Module`);
    if (typeof key !== 'string' || key === '' || key.includes('.') || key.startsWith('_') || key in this) {
      if (!(typeof key === 'string' && this._order.includes(key))) throw new ArgumentError(`ModuleDict: '${key}' is not allowed as a key`);
    }
    (this as unknown as Record<string, Module>)[key] = m;
    if (!this._order.includes(key)) this._order.push(key);
    this.setStateKey(key, key);
    return this;
  }

  protected override fields(): [string, unknown][] {
    const self = this as unknown as Record<string, unknown>;
    const rest = super.fields().filter(([k]) => !this._order.includes(k));
    return [...this._order.map((k): [string, unknown] => [k, self[k]]), ...rest];
  }

  /** The module under key; typed as given to the constructor, undefined for a key not held. */
  get<K extends string>(key: K): K extends keyof R ? (string extends keyof R ? R[K] | undefined : R[K]) : Module | undefined;
  get(key: string): Module | undefined {
    const v = (this as unknown as Record<string, unknown>)[key];
    return v instanceof Module ? v : undefined;
  }

  keys(): string[] {
    return [...this._order];
  }

  forward(): never {
    throw new ArgumentError('ModuleDict has no forward(); call its modules');
  }
}
