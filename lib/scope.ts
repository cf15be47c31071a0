// Deterministic memory release. A scope frees every tensor made while it was open except those
// it returns and those marked kept (parameters, gradients, optimizer state, autograd's saved
// aliases); what it returns passes to the enclosing scope. kd.tidy(fn) is the public scope (it
// finds tensors anywhere inside arrays, Maps and objects); scoped(fn) is the one ops use: fn
// returns a tensor or an array of them, and opening it costs no allocation; forwardScope(fn) is
// the one every Module.forward runs in.
import { ArgumentError } from './errors.js';

export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
  /** Called when no open scope holds the tensor any longer and it was not disposed. */
  leftScopes?(): void;
}

// The tensors made inside open scopes, oldest first; frames[i] is where scope i's tensors start.
// Closing the innermost scope frees its tail of `made` and keeps only what it returned there.
const made: Disposable[] = [];
const frames: number[] = [];
const kept = new WeakSet<Disposable>();
// Kept tensors that left an inner scope undisposed, told leftScopes() when the outermost scope
// closes if still undisposed then: most are autograd's saved aliases, which the backward frees
// within the same outer scope (a training step), so they never reach the garbage collector's
// count. Like `made`, the list holds them until then (WeakRefs would pin their targets until the
// event loop turns); disposed entries are dropped whenever it has doubled, so an outer scope
// around many steps keeps only what is still live.
const deferred: Disposable[] = [];
let deferredPruneAt = 1024;
// More live deferred tensors than this after a prune (a training step's saved tensors are a few
// hundred) are released to the collector at once.
const kDeferredLiveCap = 2048;

function defer(t: Disposable): void {
  deferred.push(t);
  if (deferred.length < deferredPruneAt) return;
  let n = 0;
  for (const d of deferred) if (!d.isDisposed) deferred[n++] = d;
  deferred.length = n;
  // Many still live: an outer scope spanning many steps whose inner scopes keep tensors the
  // program may forget. Hand them to the collector now rather than pin them until it closes.
  if (n > kDeferredLiveCap) releaseDeferred();
  deferredPruneAt = Math.max(1024, 2 * deferred.length);
}

function releaseDeferred(): void {
  for (const t of deferred) if (!t.isDisposed) t.leftScopes?.();
  deferred.length = 0;
  deferredPruneAt = 1024;
}

export function trackTensor(t: Disposable): boolean {
  if (frames.length === 0) return false;
  made.push(t);
  return true;
}

/** Exempts a tensor from the enclosing tidy scopes; it lives until disposed. */
export function keep<T extends Disposable>(t: T): T {
  kept.add(t);
  return t;
}

export function isKept(t: Disposable): boolean {
  return kept.has(t);
}

function openScope(): number {
  const start = made.length;
  frames.push(start);
  return start;
}

export type ScopeResult = Disposable | null | undefined | void | readonly (Disposable | null | undefined)[];

function isReturned(t: Disposable, returned: ScopeResult | Set<unknown>): boolean {
  if (returned instanceof Set) return returned.has(t);
  if (Array.isArray(returned)) return returned.includes(t);
  return t === returned;
}

/**
 * Closes the innermost scope: frees what it made, except what it returned (handed on to the
 * enclosing one, or out of every scope when this was the outermost). What leaves every scope
 * undisposed (what the outermost returns, kept tensors) is told so (leftScopes) when the
 * outermost scope closes.
 */
function closeScope(start: number, returned: ScopeResult | Set<unknown>): void {
  frames.pop();
  const outermost = frames.length === 0;
  let handedOn = start;
  const end = made.length;
  for (let i = start; i < end; i++) {
    const t = made[i];
    if (isReturned(t, returned)) {
      made[handedOn++] = t;
      if (outermost && !t.isDisposed) t.leftScopes?.();
    } else if (!kept.has(t)) t.dispose();
    else if (t.isDisposed) continue;
    else if (outermost) t.leftScopes?.();
    else defer(t);
  }
  made.length = outermost ? 0 : handedOn;
  if (outermost && deferred.length > 0) releaseDeferred();
}

/**
 * Runs fn and frees every tensor made meanwhile except the one (or the array of them) fn returns,
 * which may also be a tensor made before (an input, or one of several aliases). If fn throws,
 * everything it made is freed.
 */
export function scoped<T extends ScopeResult>(fn: () => T): T {
  const start = openScope();
  let result: T | undefined;
  try {
    result = fn();
    return result;
  } finally {
    closeScope(start, result);
  }
}

// The tensors reachable from a scope's result: through arrays, Maps, Sets and the own fields of
// any other object (a plain object, an RNN's [output, [h, c]], a class instance holding tensors).
function collectReturned(value: unknown, into: Set<unknown>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (typeof (value as Disposable).dispose === 'function' && 'isDisposed' in (value as object)) {
    into.add(value);
    return;
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return;
  if (Array.isArray(value)) {
    for (const v of value) collectReturned(v, into, seen);
  } else if (value instanceof Map || value instanceof Set) {
    for (const v of value.values()) collectReturned(v, into, seen);
  } else {
    for (const v of Object.values(value)) collectReturned(v, into, seen);
  }
}

function isThenable(value: unknown): boolean {
  return value !== null && (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function';
}

/**
 * The scope every Module.forward call runs in (lib/nn/module.ts): frees what the forward made
 * except what it returns (found as tidy finds it), so the intermediates of a Sequential or of any
 * user module free themselves while autograd keeps its own aliases. A forward that returns a
 * Promise keeps everything it made (its body may still be running).
 */
export function forwardScope<T>(fn: () => T): T {
  const start = openScope();
  let returned: Set<unknown> | null = null;
  try {
    const result = fn();
    returned = new Set<unknown>();
    if (isThenable(result)) for (let i = start; i < made.length; i++) returned.add(made[i]);
    else collectReturned(result, returned);
    return result;
  } finally {
    closeScope(start, returned ?? new Set<unknown>());
  }
}

export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new ArgumentError('tidy: expected a function');
  const start = openScope();
  const returned = new Set<unknown>();
  try {
    const result = fn();
    if (result instanceof Promise) throw new ArgumentError('tidy: fn must be synchronous (it returned a Promise)');
    collectReturned(result, returned);
    return result;
  } finally {
    closeScope(start, returned);
  }
}
