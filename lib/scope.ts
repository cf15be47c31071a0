// Deterministic memory release: kd.tidy(fn) disposes every tensor created while fn runs except
// those it returns (anywhere inside arrays or plain objects) and those marked kept (parameters,
// gradients, optimizer state). Nested tidies hand returned tensors to the enclosing scope.
import { ArgumentError } from './errors.js';

export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

const scopes: Set<Disposable>[] = [];
const kept = new WeakSet<Disposable>();

export function trackTensor(t: Disposable): void {
  if (scopes.length > 0) scopes[scopes.length - 1].add(t);
}

/** Exempts a tensor from the enclosing tidy scopes; it lives until disposed. */
export function keep<T extends Disposable>(t: T): T {
  kept.add(t);
  for (const scope of scopes) scope.delete(t);
  return t;
}

export function isKept(t: Disposable): boolean {
  return kept.has(t);
}

function collectReturned(value: unknown, into: Set<unknown>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (typeof (value as Disposable).dispose === 'function' && 'isDisposed' in (value as object)) {
    into.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectReturned(v, into, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collectReturned(v, into, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectReturned(v, into, seen);
  }
}

export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new ArgumentError('tidy: expected a function');
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new ArgumentError('tidy: fn must be synchronous (it returned a Promise)');
  } finally {
    scopes.pop();
    const returned = new Set<unknown>();
    // eslint-disable-next-line @typescript-eslint/no-unsafe-finally
    if (typeof result! !== 'undefined') collectReturned(result!, returned);
    for (const t of scope) {
      if (returned.has(t) || kept.has(t)) continue;
      t.dispose();
    }
    if (scopes.length > 0) {
      const parent = scopes[scopes.length - 1];
      for (const t of returned) if (scope.has(t as Disposable)) parent.add(t as Disposable);
    }
  }
  return result;
}
