// Containers: Sequential runs its children in order; ModuleList and ModuleDict hold modules
// whose parameters are found like any field's. Keys are "0", "1", ... as in PyTorch.
import { ArgumentError } from '../../errors.js';
import { Module } from '../module.js';

export class Sequential extends Module {
  [index: number]: Module;

  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => this.append(m, i));
  }

  private append(m: Module, index: number): void {
    if (!(m instanceof Module)) throw new ArgumentError(`Sequential: item ${index} is not a Module`);
    (this as unknown as Record<string, Module>)[String(index)] = m;
  }

  get length(): number {
    return this.children().length;
  }

  at(i: number): Module {
    const list = this.children();
    const m = list[i < 0 ? i + list.length : i];
    if (!m) throw new ArgumentError(`Sequential: index ${i} is out of range for ${list.length} modules`);
    return m;
  }

  push(m: Module): this {
    this.append(m, this.length);
    return this;
  }

  forward(input: unknown): unknown {
    let x = input;
    for (const m of this.children()) x = m.forward(x);
    return x;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]();
  }
}

export class ModuleList extends Module {
  [index: number]: Module;

  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  get length(): number {
    return this.children().length;
  }

  at(i: number): Module {
    const list = this.children();
    const m = list[i < 0 ? i + list.length : i];
    if (!m) throw new ArgumentError(`ModuleList: index ${i} is out of range for ${list.length} modules`);
    return m;
  }

  push(m: Module): this {
    if (!(m instanceof Module)) throw new ArgumentError('ModuleList: expected a Module');
    (this as unknown as Record<string, Module>)[String(this.length)] = m;
    return this;
  }

  forward(): never {
    throw new ArgumentError('ModuleList has no forward(); call its modules');
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]();
  }
}

export class ModuleDict extends Module {
  constructor(modules: Record<string, Module> = {}) {
    super();
    for (const [k, m] of Object.entries(modules)) this.set(k, m);
  }

  set(key: string, m: Module): this {
    if (!(m instanceof Module)) throw new ArgumentError(`ModuleDict: value for '${key}' is not a Module`);
    if (key.startsWith('_') || key in Module.prototype || key === 'training') throw new ArgumentError(`ModuleDict: '${key}' is not allowed as a key`);
    (this as unknown as Record<string, Module>)[key] = m;
    this.setStateKey(key, key);
    return this;
  }

  get(key: string): Module | undefined {
    const v = (this as unknown as Record<string, unknown>)[key];
    return v instanceof Module ? v : undefined;
  }

  keys(): string[] {
    return [...this.namedChildren()].map(([k]) => k);
  }

  forward(): never {
    throw new ArgumentError('ModuleDict has no forward(); call its modules');
  }
}
