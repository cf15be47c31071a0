// Random tensors in the memory layouts every op must accept — contiguous, transposed, sliced with
// step 2 (and an offset), expanded (stride 0) — each with its logical values in row-major order
// as float64, computed here from the base's values rather than read back through kindling.
import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { forEachIndex, numel, stridesOf } from '../helpers.js';

export type Layout = 'contiguous' | 'transposed' | 'sliced' | 'expanded';
export const LAYOUTS: Layout[] = ['contiguous', 'transposed', 'sliced', 'expanded'];

export interface Laid {
  t: Tensor;
  /** Logical values, row-major over t.shape. */
  ref: Float64Array;
  /** Frees the view and its base. */
  free(): void;
}

/** Values drawn by `draw` (float32-rounded for float32, integers for int32). */
export function laid(shape: number[], layout: Layout, draw: () => number, dtype: 'float32' | 'int32' = 'float32'): Laid {
  const nd = shape.length;
  let baseShape = [...shape];
  if (layout === 'transposed' && nd >= 2) [baseShape[0], baseShape[nd - 1]] = [baseShape[nd - 1], baseShape[0]];
  if (layout === 'sliced' && nd >= 1) baseShape[nd - 1] = 2 * shape[nd - 1] + 1;
  if (layout === 'expanded' && nd >= 1) baseShape[0] = 1;
  const n = numel(baseShape);
  const values = dtype === 'float32' ? new Float32Array(n) : new Int32Array(n);
  for (let i = 0; i < n; i++) values[i] = draw();
  const base = kd.tensor(values).reshape(baseShape);
  let t: Tensor;
  if (layout === 'transposed' && nd >= 2) t = base.transpose(0, nd - 1);
  else if (layout === 'sliced' && nd >= 1) t = base.slice(nd - 1, 1, null, 2);
  else if (layout === 'expanded' && nd >= 1) t = base.expand(shape);
  else t = base.reshape(shape);
  const bs = stridesOf(baseShape);
  const ref = new Float64Array(numel(shape));
  forEachIndex(shape, (idx, flat) => {
    const b = [...idx];
    if (layout === 'transposed' && nd >= 2) [b[0], b[nd - 1]] = [b[nd - 1], b[0]];
    if (layout === 'sliced' && nd >= 1) b[nd - 1] = 1 + 2 * idx[nd - 1];
    if (layout === 'expanded' && nd >= 1) b[0] = 0;
    let off = 0;
    for (let d = 0; d < nd; d++) off += b[d] * bs[d];
    ref[flat] = values[off];
  });
  return {
    t,
    ref,
    free() {
      t.dispose();
      base.dispose();
    },
  };
}

/** Reads any tensor's logical values as float64 (booleans as 0/1). */
export function values(t: Tensor): Float64Array {
  return Float64Array.from(t.data() as ArrayLike<number>);
}

/** Element-by-element comparison that also demands NaN and infinities in the same places. */
export function expectSpecial(out: ArrayLike<number>, ref: ArrayLike<number>, tol: number, context: string): void {
  if (out.length !== ref.length) throw new Error(`${context}: length ${out.length} != ${ref.length}`);
  for (let i = 0; i < ref.length; i++) {
    const o = out[i], r = ref[i];
    const ok = Number.isNaN(r) ? Number.isNaN(o) : !Number.isFinite(r) ? o === r : Math.abs(o - r) <= tol * Math.max(1, Math.abs(r));
    if (!ok) throw new Error(`${context}: element ${i}: got ${o}, expected ${r}`);
  }
}

/** The IEEE float32 rounding of a float64 reference, so exact ops compare exactly. */
export const f32 = Math.fround;

/** erf to ~1e-15 (series below 2.5, continued fraction for erfc above). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax === Infinity) return Math.sign(x);
  let r: number;
  if (ax < 2.5) {
    let term = ax, sum = ax;
    for (let k = 1; k < 100; k++) {
      term *= (-ax * ax) / k;
      const add = term / (2 * k + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
    let f = ax;
    for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
    r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}

export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x), d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

export { numel };
