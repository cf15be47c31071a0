// GEMM operands inside native storages and one checked run of native.gemm against a float64
// reference, shared by the GEMM test files (gemm.test.ts: every path on small and odd shapes;
// gemm_blocked.test.ts: the packed path on products past the small path's limit, and the bias).
import { afterAll, expect, it } from 'vitest';
import { native } from '../../lib/native.js';
import { makeRng } from '../helpers.js';

/** Relative error allowed of float32 GEMM output against the float64 reference. */
export const TOLERANCE = 1e-5;

export interface Layout {
  transposed?: boolean; // stored column-major: row stride 1
  broadcast?: boolean; // one matrix shared by every batch item: batch stride 0
  pad?: number; // extra elements between stored rows (a sliced view: row stride > width)
  offset?: number; // elements before the view starts
}

// One GEMM operand: a batch of rows×cols matrices somewhere inside a native storage.
export interface Operand {
  buf: unknown;
  data: Float32Array;
  offset: number;
  rowStride: number;
  colStride: number;
  batchStride: number;
  at(b: number, i: number, j: number): number; // index into data
}

export function operand(batch: number, rows: number, cols: number, layout: Layout): Operand {
  const pad = layout.pad ?? 0;
  const offset = layout.offset ?? 0;
  const lead = (layout.transposed ? rows : cols) + pad; // stride between stored rows
  const item = (layout.transposed ? cols : rows) * lead;
  const items = layout.broadcast ? 1 : batch;
  const elems = offset + items * item;
  const buf: unknown = native.alloc(Math.max(1, elems) * 4);
  const rowStride = layout.transposed ? 1 : lead;
  const colStride = layout.transposed ? lead : 1;
  const batchStride = layout.broadcast ? 0 : item;
  return {
    buf,
    data: new Float32Array(native.hostView(buf)),
    offset,
    rowStride,
    colStride,
    batchStride,
    at: (b, i, j) => offset + b * batchStride + i * rowStride + j * colStride,
  };
}

export function fill(op: Operand, batch: number, rows: number, cols: number, next: () => number): void {
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) op.data[op.at(b, i, j)] = next() * 2 - 1;
}

export interface Case {
  name: string;
  m: number;
  n: number;
  k: number;
  batch?: number;
  a?: Layout;
  b?: Layout;
  c?: Layout;
  alpha?: number;
  beta?: number;
  /** A bias of n floats, this many elements into its storage, added to every row of C. */
  biasOffset?: number;
  /** Also ask for A's row sums (m floats, two elements into their storage); batch 1 only. */
  rowSums?: boolean;
  /** beta scales an addend Cin in its own storage, laid out as C, instead of C (left NaN). */
  addend?: boolean;
}

/** What follows beta: (bias buffer, offset), then the row sums', then Cin's; or none. */
export type BiasArgs = [] | [unknown, number] | [unknown, number, unknown, number] |
  [unknown, number, unknown, number, unknown, number];

export function callGemm(fn: string, m: number, n: number, k: number, batch: number, a: Operand, b: Operand,
  c: Operand, alpha: number, beta: number, bias: BiasArgs = []): void {
  native[fn](m, n, k, batch,
    a.buf, a.offset, a.rowStride, a.colStride, a.batchStride,
    b.buf, b.offset, b.rowStride, b.colStride, b.batchStride,
    c.buf, c.offset, c.rowStride, c.colStride, c.batchStride, alpha, beta, ...bias);
}

// Runs one case through native.gemm and returns ‖out − ref‖ / ‖ref‖ against float64 sums: loops
// here ('js'), or the addon's double-accumulating gemmRef ('native', for products too large for
// JavaScript loops). Throws if an element of C outside the view was written.
export function relativeError(cs: Case, seed: number, reference: 'js' | 'native' = 'js'): number {
  const { m, n, k } = cs;
  const batch = cs.batch ?? 1, alpha = cs.alpha ?? 1, beta = cs.beta ?? 0;
  const next = makeRng(seed);
  const a = operand(batch, m, k, cs.a ?? {});
  const b = operand(batch, k, n, cs.b ?? {});
  const c = operand(batch, m, n, { pad: 3, offset: 5, ...cs.c });
  fill(a, batch, m, k, next);
  fill(b, batch, k, n, next);
  // Cin, when given, is what beta scales: C keeps its NaN poison then, as when beta is 0.
  const cin = cs.addend ? operand(batch, m, n, { pad: 3, offset: 5, ...cs.c }) : null;
  if (cin) fill(cin, batch, m, n, next);
  else if (beta !== 0) fill(c, batch, m, n, next); // else C keeps its NaN poison: it must not be read
  const biasBuf: unknown = cs.biasOffset === undefined ? null : native.alloc((cs.biasOffset + n) * 4);
  const bias = biasBuf === null ? null : new Float32Array(native.hostView(biasBuf));
  if (bias) for (let j = 0; j < n; j++) bias[cs.biasOffset! + j] = next() * 2 - 1;
  // Row sums poisoned with NaN, two floats into their storage: each of the m must be written.
  const sumsBuf: unknown = cs.rowSums ? native.alloc((m + 2) * 4) : null;
  const sums = sumsBuf === null ? null : new Float32Array(native.hostView(sumsBuf)).fill(NaN);
  const biasPair: [unknown, number] = [biasBuf, biasBuf === null ? 0 : cs.biasOffset!];
  const biasArgs: BiasArgs = cin ? [...biasPair, sumsBuf, sumsBuf === null ? 0 : 2, cin.buf, cin.offset]
    : sumsBuf !== null ? [...biasPair, sumsBuf, 2] : biasBuf !== null ? biasPair : [];
  const refArgs: BiasArgs = cin ? [...biasPair, null, 0, cin.buf, cin.offset] : biasBuf !== null ? biasPair : [];
  const before = Float64Array.from(c.data);

  let refC: Operand | null = null;
  if (reference === 'native') {
    refC = operand(batch, m, n, { pad: 3, offset: 5, ...cs.c });
    refC.data.set(c.data);
    callGemm('gemmRef', m, n, k, batch, a, b, refC, alpha, beta, refArgs);
  }
  callGemm('gemm', m, n, k, batch, a, b, c, alpha, beta, biasArgs);

  let diff = 0, norm = 0;
  const inView = new Uint8Array(c.data.length);
  for (let bi = 0; bi < batch; bi++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        const at = c.at(bi, i, j);
        let ref: number;
        if (refC) {
          ref = refC.data[at];
        } else {
          let sum = 0;
          for (let p = 0; p < k; p++) sum += a.data[a.at(bi, i, p)] * b.data[b.at(bi, p, j)];
          ref = alpha * sum + (beta === 0 ? 0 : beta * (cin ? cin.data[at] : before[at])) + (bias ? bias[cs.biasOffset! + j] : 0);
        }
        const got = c.data[at];
        if (Number.isNaN(got)) throw new Error(`C[${bi},${i},${j}] is NaN (seed ${seed})`);
        diff += (got - ref) ** 2;
        norm += ref ** 2;
        inView[at] = 1;
      }
  for (let e = 0; e < c.data.length; e++)
    if (!inView[e] && !Object.is(c.data[e], before[e]) && !(Number.isNaN(c.data[e]) && Number.isNaN(before[e])))
      throw new Error(`element ${e} outside C's view was written (seed ${seed})`);
  let sumsError = 0;
  if (sums) {
    // A's row sums against float64 sums, as their own relative error.
    if (!Number.isNaN(sums[0]) || !Number.isNaN(sums[1])) throw new Error(`row sums written before their offset (seed ${seed})`);
    let sd = 0, sn = 0;
    for (let i = 0; i < m; i++) {
      let ref = 0;
      for (let p = 0; p < k; p++) ref += a.data[a.at(0, i, p)];
      const got = sums[2 + i];
      if (Number.isNaN(got)) throw new Error(`row sum ${i} is NaN (seed ${seed})`);
      sd += (got - ref) ** 2;
      sn += ref ** 2;
    }
    sumsError = sn === 0 ? Math.sqrt(sd) : Math.sqrt(sd / sn);
  }
  for (const buf of [a.buf, b.buf, c.buf, refC?.buf, biasBuf, sumsBuf, cin?.buf]) if (buf !== undefined && buf !== null) native.dispose(buf);
  return Math.max(sumsError, norm === 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm));
}

const ISAS = ['avx512', 'avx2', 'scalar'] as const;

/**
 * One test per ISA (skipped where the processor lacks it) and thread count (1, 2) that runs every
 * case through relativeError; case i on t threads uses seed seedBase·(i + 1) + t. Call inside a
 * describe; the ISA and thread count are restored after each test and after the file.
 */
export function itMatchesOnEveryIsa(cases: Case[], seedBase: number, reference: 'js' | 'native'): void {
  const originalIsa: string = native.cpuIsa();
  const originalThreads: number = native.numThreads();
  const available = new Set(ISAS.filter((isa) => native.setCpuIsa(isa)));
  native.setCpuIsa(originalIsa);
  afterAll(() => {
    native.setCpuIsa(originalIsa);
    native.setNumThreads(originalThreads);
  });
  for (const isa of ISAS) {
    const reason = available.has(isa) ? '' : ` (skipped: this processor lacks ${isa}; detected ${native.cpuIsaDetected()})`;
    for (const threads of [1, 2]) {
      it.skipIf(!available.has(isa))(`${isa}, ${threads} thread(s): every case within ${TOLERANCE}${reason}`, () => {
        expect(native.setCpuIsa(isa)).toBe(true);
        native.setNumThreads(threads);
        try {
          cases.forEach((cs, index) => {
            const seed = seedBase * (index + 1) + threads;
            const err = relativeError(cs, seed, reference);
            expect(err, `${isa} ${threads}T ${cs.name} (seed ${seed})`).toBeLessThan(TOLERANCE);
          });
        } finally {
          native.setCpuIsa(originalIsa);
          native.setNumThreads(originalThreads);
        }
      });
    }
  }
}
