// The native CPU GEMM (native.gemm) against a float64 JavaScript reference, for every ISA this
// processor offers, on odd shapes, transposed / sliced / broadcast operands, alpha and beta, k = 0,
// and 1 and 2 threads. Outputs arrive poisoned with NaN (test/setup.ts), so an unwritten element
// fails; padding between rows of C must stay NaN, so a stray write fails too.
import { afterAll, describe, expect, it } from 'vitest';
import { native } from '../../lib/native.js';
import { makeRng } from '../helpers.js';

const TOLERANCE = 1e-5;


interface Layout {
  transposed?: boolean; // stored column-major: row stride 1
  broadcast?: boolean; // one matrix shared by every batch item: batch stride 0
  pad?: number; // extra elements between stored rows (a sliced view: row stride > width)
  offset?: number; // elements before the view starts
}

// One GEMM operand: a batch of rows×cols matrices somewhere inside a native storage.
interface Operand {
  buf: unknown;
  data: Float32Array;
  offset: number;
  rowStride: number;
  colStride: number;
  batchStride: number;
  at(b: number, i: number, j: number): number; // index into data
}

function operand(batch: number, rows: number, cols: number, layout: Layout): Operand {
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

function fill(op: Operand, batch: number, rows: number, cols: number, next: () => number): void {
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) op.data[op.at(b, i, j)] = next() * 2 - 1;
}

interface Case {
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
}

function callGemm(fn: string, m: number, n: number, k: number, batch: number, a: Operand, b: Operand, c: Operand,
  alpha: number, beta: number): void {
  native[fn](m, n, k, batch,
    a.buf, a.offset, a.rowStride, a.colStride, a.batchStride,
    b.buf, b.offset, b.rowStride, b.colStride, b.batchStride,
    c.buf, c.offset, c.rowStride, c.colStride, c.batchStride, alpha, beta);
}

// Runs one case through native.gemm and returns ‖out − ref‖ / ‖ref‖ against float64 loops.
// Throws if an element of C outside the view was written.
function relativeError(cs: Case, seed: number): number {
  const { m, n, k } = cs;
  const batch = cs.batch ?? 1, alpha = cs.alpha ?? 1, beta = cs.beta ?? 0;
  const next = makeRng(seed);
  const a = operand(batch, m, k, cs.a ?? {});
  const b = operand(batch, k, n, cs.b ?? {});
  const c = operand(batch, m, n, { pad: 3, offset: 5, ...cs.c });
  fill(a, batch, m, k, next);
  fill(b, batch, k, n, next);
  if (beta !== 0) fill(c, batch, m, n, next); // else C keeps its NaN poison: it must not be read
  const before = Float64Array.from(c.data);

  callGemm('gemm', m, n, k, batch, a, b, c, alpha, beta);

  let diff = 0, norm = 0;
  const inView = new Uint8Array(c.data.length);
  for (let bi = 0; bi < batch; bi++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += a.data[a.at(bi, i, p)] * b.data[b.at(bi, p, j)];
        const at = c.at(bi, i, j);
        const ref = alpha * sum + (beta === 0 ? 0 : beta * before[at]);
        const got = c.data[at];
        if (Number.isNaN(got)) throw new Error(`C[${bi},${i},${j}] is NaN (seed ${seed})`);
        diff += (got - ref) ** 2;
        norm += ref ** 2;
        inView[at] = 1;
      }
  for (let e = 0; e < c.data.length; e++)
    if (!inView[e] && !Object.is(c.data[e], before[e]) && !(Number.isNaN(c.data[e]) && Number.isNaN(before[e])))
      throw new Error(`element ${e} outside C's view was written (seed ${seed})`);
  native.dispose(a.buf);
  native.dispose(b.buf);
  native.dispose(c.buf);
  return norm === 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
}

const CASES: Case[] = [
  { name: '1x1x1', m: 1, n: 1, k: 1 },
  { name: '5x7x3', m: 5, n: 7, k: 3 },
  { name: '37x41x53', m: 37, n: 41, k: 53 },
  { name: '100x3x257', m: 100, n: 3, k: 257 },
  { name: '130x260x70', m: 130, n: 260, k: 70 },
  { name: '130x260x70 with A transposed', m: 130, n: 260, k: 70, a: { transposed: true } },
  { name: '130x260x70 with B transposed', m: 130, n: 260, k: 70, b: { transposed: true } },
  { name: '37x41x53 with A and B transposed', m: 37, n: 41, k: 53, a: { transposed: true }, b: { transposed: true } },
  { name: '37x41x53 into a transposed C', m: 37, n: 41, k: 53, c: { transposed: true } },
  {
    name: '130x260x70 on sliced views (offsets, row stride > width)', m: 130, n: 260, k: 70,
    a: { offset: 7, pad: 9 }, b: { offset: 3, pad: 13 }, c: { offset: 11, pad: 6 },
  },
  { name: '61x75x300 with alpha 0.5, beta -1.5', m: 61, n: 75, k: 300, alpha: 0.5, beta: -1.5 },
  { name: '61x75x30 with beta 1 (accumulate)', m: 61, n: 75, k: 30, beta: 1 },
  { name: 'k = 0 with beta 0 gives zeros', m: 9, n: 13, k: 0 },
  { name: 'k = 0 with beta 2 scales C', m: 9, n: 13, k: 0, beta: 2 },
  { name: 'batch 3 of 37x41x53', m: 37, n: 41, k: 53, batch: 3 },
  { name: 'batch 4 of 37x41x53 with B broadcast', m: 37, n: 41, k: 53, batch: 4, b: { broadcast: true } },
  {
    name: 'batch 3 of 29x66x40 with A broadcast and transposed, alpha 2, beta 0.5', m: 29, n: 66, k: 40, batch: 3,
    a: { broadcast: true, transposed: true }, alpha: 2, beta: 0.5,
  },
  { name: 'batch 2 of 150x170x90 with B transposed and broadcast', m: 150, n: 170, k: 90, batch: 2,
    b: { broadcast: true, transposed: true } },
  { name: '200x300x150 (split across threads)', m: 200, n: 300, k: 150 },
  // The small path (gemm_small.h: A and B read in place, masked edge tiles): sizes below each ISA's
  // limit, with edge tiles of every kind (m not a multiple of 14 or 6, n of 32 or 16, n < 16, < 8).
  { name: 'small 64x128x64 (the MLP fc2 gradient shape)', m: 64, n: 128, k: 64 },
  { name: 'small 64x128x64 with A transposed', m: 64, n: 128, k: 64, a: { transposed: true } },
  { name: 'small 64x64x128 with B transposed (packed panels)', m: 64, n: 64, k: 128, b: { transposed: true } },
  { name: 'small 69x47x33 with A transposed and sliced', m: 69, n: 47, k: 33, a: { transposed: true, pad: 5, offset: 2 } },
  { name: 'small 13x70x1 (k = 1)', m: 13, n: 70, k: 1 },
  { name: 'small 70x1x70 (one column)', m: 70, n: 1, k: 70 },
  { name: 'small 1x70x19 (one row)', m: 1, n: 70, k: 19 },
  { name: 'small 15x7x9 with alpha 0.75', m: 15, n: 7, k: 9, alpha: 0.75 },
  { name: 'small 29x33x61 with beta 1', m: 29, n: 33, k: 61, beta: 1 },
  { name: 'small 41x17x27 with A and B transposed, alpha -2, beta 0.5', m: 41, n: 17, k: 27,
    a: { transposed: true }, b: { transposed: true }, alpha: -2, beta: 0.5 },
  { name: 'small 57x45x23 on sliced views with beta -1', m: 57, n: 45, k: 23,
    a: { offset: 3, pad: 4 }, b: { offset: 9, pad: 11 }, c: { offset: 1, pad: 7 }, beta: -1 },
  { name: 'small 33x31x300 (k blocked in two)', m: 33, n: 31, k: 300, beta: 1 },
  { name: 'small 31x9x260 with B rows 1024 floats apart (panels packed)', m: 31, n: 9, k: 260,
    b: { pad: 1024 - 9 } },
  { name: 'small 17x37x11 into a transposed C', m: 17, n: 37, k: 11, c: { transposed: true } },
  { name: 'small batch 5 of 11x19x7 with B broadcast', m: 11, n: 19, k: 7, batch: 5, b: { broadcast: true } },
  { name: 'small batch 3 of 23x21x25 with A broadcast and transposed, beta 2', m: 23, n: 21, k: 25, batch: 3,
    a: { broadcast: true, transposed: true }, beta: 2 },
  { name: 'small batch 4 of 13x35x9 with B transposed and broadcast', m: 13, n: 35, k: 9, batch: 4,
    b: { broadcast: true, transposed: true } },
];

const ISAS = ['avx512', 'avx2', 'scalar'] as const;
const originalIsa: string = native.cpuIsa();
const originalThreads: number = native.numThreads();
const available = new Set(ISAS.filter((isa) => native.setCpuIsa(isa)));
native.setCpuIsa(originalIsa);

afterAll(() => {
  native.setCpuIsa(originalIsa);
  native.setNumThreads(originalThreads);
});

describe('native gemm matches a float64 reference', () => {
  for (const isa of ISAS) {
    const reason = available.has(isa) ? '' : ` (skipped: this processor lacks ${isa}; detected ${native.cpuIsaDetected()})`;
    for (const threads of [1, 2]) {
      it.skipIf(!available.has(isa))(`${isa}, ${threads} thread(s): every case within ${TOLERANCE}${reason}`, () => {
        expect(native.setCpuIsa(isa)).toBe(true);
        native.setNumThreads(threads);
        try {
          CASES.forEach((cs, index) => {
            const seed = 1000 * (index + 1) + threads;
            const err = relativeError(cs, seed);
            expect(err, `${isa} ${threads}T ${cs.name} (seed ${seed})`).toBeLessThan(TOLERANCE);
          });
        } finally {
          native.setCpuIsa(originalIsa);
          native.setNumThreads(originalThreads);
        }
      });
    }
  }

  it('gemmRef agrees with gemm on a transposed, batched case', () => {
    const m = 23, n = 19, k = 31, batch = 2;
    const next = makeRng(7);
    const a = operand(batch, m, k, { transposed: true });
    const b = operand(batch, k, n, { broadcast: true });
    const c1 = operand(batch, m, n, {}), c2 = operand(batch, m, n, {});
    fill(a, batch, m, k, next);
    fill(b, batch, k, n, next);
    callGemm('gemm', m, n, k, batch, a, b, c1, 1.5, 0);
    callGemm('gemmRef', m, n, k, batch, a, b, c2, 1.5, 0);
    let diff = 0, norm = 0;
    for (let e = 0; e < c1.data.length; e++) {
      diff += (c1.data[e] - c2.data[e]) ** 2;
      norm += c2.data[e] ** 2;
    }
    expect(Math.sqrt(diff / norm)).toBeLessThan(TOLERANCE);
  });
});

describe('native gemm rejects bad arguments instead of touching memory', () => {
  const m = 4, n = 5, k = 6;
  const a = operand(1, m, k, {}), b = operand(1, k, n, {}), c = operand(1, m, n, {});
  const call = (over: Partial<Record<string, number>>) => () => {
    const v = {
      m, n, k, batch: 1, aOffset: 0, aRow: k, aCol: 1, aBatch: 0, bOffset: 0, bRow: n, bCol: 1, bBatch: 0,
      cOffset: 0, cRow: n, cCol: 1, cBatch: 0, ...over,
    };
    native.gemm(v.m, v.n, v.k, v.batch, a.buf, v.aOffset, v.aRow, v.aCol, v.aBatch,
      b.buf, v.bOffset, v.bRow, v.bCol, v.bBatch, c.buf, v.cOffset, v.cRow, v.cCol, v.cBatch, 1, 0);
  };

  it('accepts the in-bounds call', () => {
    expect(call({})).not.toThrow();
  });
  it("throws when C's row stride reaches past its end", () => {
    expect(call({ cRow: 100 })).toThrow(/gemm.*operand C.*outside its storage/);
  });
  it('throws when an offset pushes A past its end', () => {
    expect(call({ aOffset: 1000 })).toThrow(/gemm.*A.*outside/);
  });
  it('throws when a negative stride reaches before the start of B', () => {
    expect(call({ bRow: -n })).toThrow(/gemm.*B.*outside/);
  });
  it('throws when a batch stride walks past the end of C', () => {
    expect(call({ batch: 3, cBatch: 1000 })).toThrow(/gemm.*C.*outside/);
  });
  it('throws on negative or fractional sizes', () => {
    expect(call({ m: -1 })).toThrow(/gemm: m/);
    expect(call({ k: 2.5 })).toThrow(/gemm: k must be an integer/);
  });
  it('throws on a disposed storage', () => {
    const d = operand(1, m, n, {});
    native.dispose(d.buf);
    expect(() => native.gemm(m, n, k, 1, a.buf, 0, k, 1, 0, b.buf, 0, n, 1, 0, d.buf, 0, n, 1, 0, 1, 0))
      .toThrow(/gemm.*disposed/);
  });
});
