// Containers: Sequential runs its children in order; ModuleList and ModuleDict hold modules
// whose parameters are found like any field's. Keys are "0", "1", ... as in PyTorch. A module
// placed twice occupies two slots (Sequential runs it twice, as PyTorch's _modules).
import { ArgumentError } from '../../errors.js';
import { Module } from '../module.js';
import { matchFusion } from '../fusion.js';
import type { Tensor } from '../../tensor.js';

/** What Sequential and ModuleList share: modules in slots "0", "1", ..., read by index or in order. */
export abstract class ModuleSequence extends Module {
  [index: number]: Module;

  get length(): number {
    return [...this.childSlots()].length;
  }

  at(i: number): Module {
    const list = this.slotModules();
    const m = list[i < 0 ? i + list.length : i];
    if (!m) throw new ArgumentError(`${this.constructor.name}: index ${i} is out of range for ${list.length} modules`);
    return m;
  }

  push(m: Module): this {
    if (!(m instanceof Module)) throw new ArgumentError(`${this.constructor.name}: item ${this.length} is not a Module`);
    (this as unknown as Record<string, Module>)[String(this.length)] = m;
    return this;
  }

  protected slotModules(): Module[] {
    return [...this.childSlots()].map(([, m]) => m);
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.slotModules()[Symbol.iterator]();
  }
}

export class Sequential extends ModuleSequence {
  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.push(m);
  }

  /**
   * Runs the modules in order; a run of modules that lib/nn/fusion.ts lists (Conv2d, ReLU,
   * MaxPool2d; ReLU, MaxPool2d) runs as its fused op, with the same values and gradients.
   */
  forward(input: unknown): unknown {
    let x = input;
    const modules = this.slotModules();
    for (let i = 0; i < modules.length;) {
      const fused = matchFusion(modules, i);
      if (fused) {
        x = fused.run(modules.slice(i, i + fused.pattern.length), x as Tensor);
        i += fused.pattern.length;
      } else {
        x = modules[i].forward(x);
        i++;
      }
    }
    return x;
  }
}

export class ModuleList extends ModuleSequence {
  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  forward(): never {
    throw new ArgumentError('ModuleList has no forward(); call its modules');
  }
}

export class ModuleDict extends Module {
  /** Keys in insertion order: object properties would list integer-like keys ("10") first. */
  private _order: string[] = [];

  constructor(modules: Record<string, Module> | Iterable<[string, Module]> = {}) {
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
