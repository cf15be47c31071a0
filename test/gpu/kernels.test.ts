// Every CUDA kernel against the CPU backend (itself checked against float64 elsewhere) and, for
// the numerically delicate ones, against float64 directly: fresh seeded inputs, odd sizes,
// broadcast and non-contiguous views built the same way on both devices, outputs NaN-poisoned
// (test/setup.ts poisons CUDA blocks too). Runs only where a CUDA device is present.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { Tensor } from '../../lib/index.js';
import { cpuBackend } from '../../lib/backend/cpu.js';
import { cudaBackend } from '../../lib/backend/cuda.js';
import { BinaryOp, UnaryOp } from '../../lib/backend/opcodes.js';
import { expectClose, forEachIndex, freshSeed, makeRng, numel } from '../helpers.js';
import { describeCuda, useTf32 } from './require_cuda.js';

const seed = freshSeed();
const rng = makeRng(seed);

function random(shape: number[], lo = -3, hi = 3): Tensor {
  const v = new Float32Array(numel(shape));
  for (let i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * rng();
  return kd.tensor(v).reshape(shape);
}
function randomInts(shape: number[], lo: number, hi: number): Tensor {
  const v = new Int32Array(numel(shape));
  for (let i = 0; i < v.length; i++) v[i] = lo + Math.floor((hi - lo) * rng());
  return kd.tensor(v).reshape(shape);
}
// The opcode names in code order (lib/backend/opcodes.ts; a name's position is its code).
const UNARY_NAMES = Object.keys(UnaryOp);
const BINARY_NAMES = Object.keys(BinaryOp);
const castTo = (t: Tensor, dtype: 'float32' | 'int32' | 'bool'): Tensor => (dtype === 'float32' ? t.float() : dtype === 'int32' ? t.int() : t.bool());
const values = (t: Tensor): Float64Array => Float64Array.from((t.device === 'cuda' ? t.to('cpu') : t).data() as ArrayLike<number>);

/** The same views of one base on both devices: base [a, b] -> each layout's view. */
type View = (t: Tensor) => Tensor;
const VIEWS: Record<string, View> = {
  contiguous: (t) => t,
  transposed: (t) => t.transpose(0, t.shape.length - 1),
  sliced: (t) => t.slice(t.shape.length - 1, 1, null, 2),
  expanded: (t) => t.slice(0, 0, 1).expand([5, ...t.shape.slice(1)]),
};

function onBoth<T>(bases: Tensor[], f: (...xs: Tensor[]) => T): { cpu: T; gpu: T } {
  const gpuBases = bases.map((b) => b.to('cuda'));
  return { cpu: f(...bases), gpu: f(...gpuBases) };
}

/** Runs a backend kernel on both devices into fresh (poisoned) outputs; returns both outputs' values. */
function kernelOnBoth(outShape: number[], outDtype: 'float32' | 'int32' | 'bool', inputs: Tensor[],
  call: (b: typeof cpuBackend, out: Tensor, xs: Tensor[]) => void): { cpu: Float64Array; gpu: Float64Array } {
  const r = onBoth(inputs, (...xs) => {
    const out = Tensor._empty(outShape, outDtype, xs[0].device);
    call(xs[0].device === 'cuda' ? cudaBackend : cpuBackend, out, xs);
    return values(out);
  });
  return r;
}

describeCuda(`CUDA kernels vs the CPU (needs a CUDA device; seed ${seed})`, () => {
  // The tolerances below assume TF32 matmuls (the setting the suite found is restored after it).
  useTf32(true);

  it('every float32 unary op, in every layout', () => {
    expect(UNARY_NAMES[UnaryOp.Softplus]).toBe('Softplus');
    for (const [op, name] of UNARY_NAMES.entries() as Iterable<[UnaryOp, string]>) {
      if (op === UnaryOp.LogicalNot) continue;
      for (const [layout, view] of Object.entries(VIEWS)) {
        const base = random([7, 13]);
        const p0 = op === UnaryOp.Clamp ? -0.5 : op === UnaryOp.PowScalar ? 1.7 : op === UnaryOp.Softplus ? 2 : 0.3;
        const p1 = op === UnaryOp.Clamp ? 0.75 : 0;
        const r = onBoth([base], (b) => {
          const x = view(b);
          const out = Tensor._empty(x.shape, 'float32', x.device);
          (x.device === 'cuda' ? cudaBackend : cpuBackend).unary(op, p0, p1, out, x);
          return values(out);
        });
        expectClose(r.gpu, r.cpu, 1e-5, `unary ${name} ${layout}`);
      }
    }
  });

  it('int32 unary ops and logical not', () => {
    for (const op of [UnaryOp.Neg, UnaryOp.Abs, UnaryOp.Sign, UnaryOp.Square, UnaryOp.AddScalar, UnaryOp.MulScalar,
      UnaryOp.RSubScalar, UnaryOp.Clamp, UnaryOp.Relu]) {
      const x = VIEWS.transposed(randomInts([9, 4], -50, 50));
      const r = kernelOnBoth(x.shape, 'int32', [x.contiguous()], (b, out, [xx]) => b.unary(op, -7, 9, out, xx));
      expect(r.gpu, `int unary ${op}`).toEqual(r.cpu);
    }
    const mask = random([6, 5]).gt(0);
    const r = kernelOnBoth(mask.shape, 'bool', [mask], (b, out, [m]) => b.unary(UnaryOp.LogicalNot, 0, 0, out, m));
    expect(r.gpu).toEqual(r.cpu);
  });

  it('every float32 binary op with broadcasting over strided views', () => {
    expect(BINARY_NAMES[BinaryOp.SiluBackward]).toBe('SiluBackward');
    for (const [op, name] of BINARY_NAMES.entries() as Iterable<[BinaryOp, string]>) {
      if (op >= BinaryOp.Eq && op < BinaryOp.ReluBackward) continue;
      const a = random([5, 1, 7]), b = random([7, 3]);
      const r = onBoth([a, b], (x, y) => {
        const yv = y.transpose(0, 1); // [3, 7], non-contiguous
        const shape = [5, 3, 7];
        const out = Tensor._empty(shape, 'float32', x.device);
        const xb = x.expand(shape), yb = yv.expand(shape);
        (x.device === 'cuda' ? cudaBackend : cpuBackend).binary(op, out, xb, yb);
        return values(out);
      });
      expectClose(r.gpu, r.cpu, 1e-5, `binary ${name}`);
    }
  });

  it('int32 arithmetic, comparisons on every dtype, logical ops on bool', () => {
    for (const op of [BinaryOp.Add, BinaryOp.Sub, BinaryOp.Mul, BinaryOp.Div, BinaryOp.Maximum, BinaryOp.Minimum, BinaryOp.Remainder]) {
      const a = randomInts([4, 9], -40, 40), b = randomInts([4, 9], -6, 7);
      const r = kernelOnBoth([4, 9], 'int32', [a, b], (bk, out, [x, y]) => bk.binary(op, out, x, y));
      expect(r.gpu, `int binary ${op}`).toEqual(r.cpu);
    }
    for (const op of [BinaryOp.Eq, BinaryOp.Ne, BinaryOp.Lt, BinaryOp.Le, BinaryOp.Gt, BinaryOp.Ge]) {
      const a = random([6, 7]).round(), b = random([6, 7]).round();
      const rf = kernelOnBoth([6, 7], 'bool', [a, b], (bk, out, [x, y]) => bk.binary(op, out, x, y));
      expect(rf.gpu, `float compare ${op}`).toEqual(rf.cpu);
      const ai = randomInts([6, 7], -2, 2), bi = randomInts([6, 7], -2, 2);
      const ri = kernelOnBoth([6, 7], 'bool', [ai, bi], (bk, out, [x, y]) => bk.binary(op, out, x, y));
      expect(ri.gpu, `int compare ${op}`).toEqual(ri.cpu);
    }
    for (const op of [BinaryOp.LogicalAnd, BinaryOp.LogicalOr, BinaryOp.LogicalXor]) {
      const a = random([8, 3]).gt(0), b = random([8, 3]).gt(0);
      const r = kernelOnBoth([8, 3], 'bool', [a, b], (bk, out, [x, y]) => bk.binary(op, out, x, y));
      expect(r.gpu, `logical ${op}`).toEqual(r.cpu);
    }
  });

  it('where, cast between every dtype pair, and fill', () => {
    const { cpu, gpu } = onBoth([random([4, 1, 6]), random([5, 6]), random([4, 5, 6])], (c, a, b) =>
      values(kd.where(c.gt(0), a, b.transpose(0, 2).transpose(0, 2))));
    expect(gpu).toEqual(cpu);
    for (const from of ['float32', 'int32', 'bool'] as const)
      for (const to of ['float32', 'int32', 'bool'] as const) {
        const base = random([6, 5], -1e10, 1e10);
        const r = onBoth([base], (x) => {
          const src = from === 'bool' ? x.gt(0) : castTo(x, from);
          return values(castTo(src.transpose(0, 1), to));
        });
        expect(r.gpu, `cast ${from} -> ${to}`).toEqual(r.cpu);
      }
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const r = onBoth([kd.zeros([1])], (z) => values(kd.full([3, 5], 2.5, { dtype, device: z.device })));
      expect(r.gpu, `fill ${dtype}`).toEqual(r.cpu);
    }
  });

  it('reductions over any set of dims match the CPU and float64 sums', () => {
    const base = random([6, 1, 35, 9]);
    const dimSets: number[][] = [[0], [2], [3], [0, 2], [1, 3], [0, 2, 3], [0, 1, 2, 3]];
    for (const dims of dimSets) {
      for (const [label, f] of [
        ['sum', (t: Tensor) => t.sum(dims)],
        ['mean', (t: Tensor) => t.mean(dims)],
        ['amax', (t: Tensor) => t.amax(dims)],
        ['amin', (t: Tensor) => t.amin(dims)],
      ] as const) {
        const r = onBoth([base], (x) => values(f(x.transpose(0, 3)))); // [9, 1, 35, 6], strided
        expectClose(r.gpu, r.cpu, 1e-6, `${label} over ${dims}`);
      }
    }
    for (const d of [0, 2, 3]) {
      const r = onBoth([base], (x) => [values(x.argmax(d)), values(x.argmin(d)), values(x.prod(d))]);
      expect(r.gpu[0], `argmax ${d}`).toEqual(r.cpu[0]);
      expect(r.gpu[1], `argmin ${d}`).toEqual(r.cpu[1]);
      expectClose(r.gpu[2], r.cpu[2], 1e-5, `prod ${d}`);
    }
    // A long reduction (the block-per-output path) against a float64 sum.
    const long = random([3, 70001]);
    const ref = new Float64Array(3);
    const lv = long.data() as Float32Array;
    for (let i = 0; i < lv.length; i++) ref[Math.floor(i / 70001)] += lv[i];
    expectClose(values(long.to('cuda').sum(1)), ref, 1e-6, 'long sum vs float64');
    const rl = onBoth([long], (x) => [values(x.argmax(1)), values(x.amin(1)), values(x.mean(1)), values(x.argmin())]);
    expect(rl.gpu[0], 'argmax of long rows (chunked)').toEqual(rl.cpu[0]);
    expect(rl.gpu[1], 'amin of long rows (chunked)').toEqual(rl.cpu[1]);
    expectClose(rl.gpu[2], rl.cpu[2], 1e-6, 'mean of long rows (chunked)');
    expect(rl.gpu[3], 'argmin of everything (chunked)').toEqual(rl.cpu[3]);
    const ints = randomInts([5, 3000], -1000, 1000);
    const ri = onBoth([ints], (x) => [values(x.sum(1)), values(x.amax(1)), values(x.argmax(1))]);
    expect(ri.gpu).toEqual(ri.cpu);
  });

  it('max/argmax: ties keep the first, NaN wins', () => {
    const t = kd.tensor([[1, 3, 3, 2], [Number.NaN, 5, Number.NaN, 9], [-1, -1, -1, -1]]);
    const r = onBoth([t], (x) => [values(x.argmax(1)), values(x.amax(1)), values(x.argmin(1))]);
    expect(r.gpu[0]).toEqual(r.cpu[0]);
    expect(r.gpu[2]).toEqual(r.cpu[2]);
    expect(Array.from(r.gpu[1]).map(String)).toEqual(Array.from(r.cpu[1]).map(String));
  });

  it('softmax and logSoftmax forward and backward along every dim of a strided view', () => {
    const base = random([5, 33, 4], -8, 8);
    const w = random([4, 33, 5]);
    for (const log of [false, true])
      for (const dim of [0, 1, 2]) {
        const r = onBoth([base, w], (b, ww) => {
          const x = b.permute([2, 1, 0]).detach();
          x.requiresGrad = true;
          const y = log ? x.logSoftmax(dim) : x.softmax(dim);
          y.mul(ww).sum().backward();
          return [values(y), values(x.grad!)];
        });
        expectClose(r.gpu[0], r.cpu[0], 1e-5, `${log ? 'logSoftmax' : 'softmax'} dim ${dim}`);
        expectClose(r.gpu[1], r.cpu[1], 1e-5, `${log ? 'logSoftmax' : 'softmax'} backward dim ${dim}`);
      }
    // A long row (many elements per lane) against float64.
    const row = random([2, 5000], -20, 20);
    const rv = row.data() as Float32Array, ref = new Float64Array(rv.length);
    for (let r = 0; r < 2; r++) {
      let m = -Infinity, s = 0;
      for (let j = 0; j < 5000; j++) m = Math.max(m, rv[r * 5000 + j]);
      for (let j = 0; j < 5000; j++) s += Math.exp(rv[r * 5000 + j] - m);
      for (let j = 0; j < 5000; j++) ref[r * 5000 + j] = Math.exp(rv[r * 5000 + j] - m) / s;
    }
    expectClose(values(row.to('cuda').softmax(1)), ref, 1e-5, 'softmax long rows vs float64');
  });

  it('gather, indexSelect, scatterAdd and indexAdd (embedding backward) match, and bad indices are reported alike', () => {
    const x = random([6, 9, 4]);
    const idx = randomInts([6, 5, 4], 0, 9);
    const g = onBoth([x, idx], (xx, ii) => values(xx.gather(1, ii)));
    expect(g.gpu).toEqual(g.cpu);
    const sel = randomInts([7], 0, 9);
    const s = onBoth([x, sel], (xx, ii) => values(xx.transpose(0, 2).indexSelect(1, ii)));
    expect(s.gpu).toEqual(s.cpu);
    const src = random([6, 5, 4]);
    const sa = onBoth([x, idx, src], (xx, ii, ss) => values(xx.scatterAdd(1, ii, ss)));
    expectClose(sa.gpu, sa.cpu, 1e-6, 'scatterAdd');
    // indexAdd through the embedding backward.
    const weight = random([11, 6]);
    const tokens = randomInts([4, 7], 0, 11);
    const emb = onBoth([weight, tokens], (w, t) => {
      const wv = w.detach();
      wv.requiresGrad = true;
      kd.nn.functional.embedding(t, wv).mul(2).sum().backward();
      return values(wv.grad!);
    });
    expectClose(emb.gpu, emb.cpu, 1e-6, 'indexAdd (embedding backward)');
    // The CPU throws at the call; CUDA records the bad index on the device and throws at the next
    // read (no host stall per call), with the CPU's message and error class.
    const bad = kd.tensor(new Int32Array([1, 2, 9, 12, -1])).reshape([1, 5, 1]);
    const errors = onBoth([x, bad], (xx, bb) => {
      try {
        values(xx.slice(0, 0, 1).slice(2, 0, 1).gather(1, bb));
        return null;
      } catch (e) {
        return e as Error;
      }
    });
    expect(errors.cpu).toBeInstanceOf(kd.ArgumentError);
    expect(errors.gpu).toBeInstanceOf(kd.ArgumentError);
    expect(errors.cpu!.message).toBe('gather: index 9 is out of bounds for dim 1 with size 9');
    expect(errors.gpu!.message).toContain(errors.cpu!.message);
  });

  it('a bad index on CUDA is reported once, at the next read, naming the op that met it; the ops between run', () => {
    const table = random([10, 3]).to('cuda');
    const good = kd.tensor(new Int32Array([0, 9, 4])).to('cuda');
    const bad = kd.tensor(new Int32Array([3, 10, 1])).to('cuda');
    const before = table.indexSelect(0, good); // no read yet: nothing pending fails
    const faulty = table.indexSelect(0, bad);
    const after = table.mul(2);
    let caught: unknown;
    try {
      kd.cuda.synchronize();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(kd.ArgumentError);
    expect((caught as Error).message).toMatch(/indexSelect: index 10 is out of bounds for dim 0 with size 10/);
    kd.cuda.synchronize(); // reported once
    const host = values(table);
    expect(Array.from(values(before))).toEqual([0, 9, 4].flatMap((r) => Array.from(host.slice(3 * r, 3 * r + 3))));
    expect(Array.from(values(after))).toEqual(Array.from(host, (v) => Math.fround(2 * v)));
    expect(values(faulty.slice(0, 0, 1))).toEqual(host.slice(9, 12)); // the good rows were written
    // Many calls between reads (more than the device keeps slots for, 256): the fault is still
    // reported, at the read or at the call that finds every slot taken.
    expect(() => {
      for (let i = 0; i < 300; i++) table.indexSelect(0, i === 150 ? bad : good);
      values(table);
    }).toThrow(/indexSelect: index 10 is out of bounds/);
    expect(values(table.indexSelect(0, good)).length).toBe(9);
  });

  it('zero-size tensors and k = 0 matmuls on CUDA', () => {
    const empty = kd.zeros([0, 5]).to('cuda');
    expect(empty.add(1).shape).toEqual([0, 5]);
    expect(empty.sum().item()).toBe(0);
    expect(empty.sum(0).toArray()).toEqual([0, 0, 0, 0, 0]);
    expect(empty.softmax(1).shape).toEqual([0, 5]);
    expect(empty.to('cpu').shape).toEqual([0, 5]);
    const a = random([3, 0]).to('cuda'), b = random([0, 4]).to('cuda');
    for (const tf32 of [true, false]) {
      kd.cuda.setAllowTF32(tf32);
      expect(a.matmul(b).toArray()).toEqual([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]);
      expect(kd.zeros([2, 3, 0]).to('cuda').matmul(kd.zeros([2, 0, 1]).to('cuda')).toArray()).toEqual([[[0], [0], [0]], [[0], [0], [0]]]);
    }
    kd.cuda.setAllowTF32(true);
    expect(random([4, 0]).to('cuda').matmul(random([0, 0]).to('cuda')).shape).toEqual([4, 0]);
  });

  it('GEMMs above 300 (m = 1100: more than 8 rows of tiles and a partial last group), TF32 and exact, vs float64', () => {
    const cases: [number[], number[]][] = [[[1100, 70], [70, 300]], [[301, 517], [517, 333]], [[2, 513, 129], [129, 257]]];
    try {
      for (const tf32 of [true, false]) {
        kd.cuda.setAllowTF32(tf32);
        for (const [sa, sb] of cases) {
          const a = random(sa, -1, 1), b = random(sb, -1, 1);
          expectClose(values(a.to('cuda').matmul(b.to('cuda'))), matmulRef(a, b), tf32 ? 5e-3 : 1e-5, `matmul ${sa} @ ${sb} tf32=${tf32}`);
        }
      }
    } finally {
      kd.cuda.setAllowTF32(true);
    }
  });

  it('misaligned row slices (offsets not a multiple of 16 bytes) in matmul, elementwise and softmax', () => {
    const base = random([40, 67], -1, 1);
    const view = (t: Tensor) => t.slice(1, 1, 66).slice(0, 3); // offset 3*67 + 1 elements, rows of 65
    const other = random([65, 33], -1, 1);
    try {
      for (const tf32 of [true, false]) {
        kd.cuda.setAllowTF32(tf32);
        const out = view(base.to('cuda')).matmul(other.to('cuda').slice(1, 1)); // b offset by one column too
        expectClose(values(out), matmulRef(view(base), other.slice(1, 1)), tf32 ? 5e-3 : 1e-5, `sliced matmul tf32=${tf32}`);
      }
    } finally {
      kd.cuda.setAllowTF32(true);
    }
    const r = onBoth([base], (b) => [values(view(b).exp().add(view(b))), values(view(b).softmax(1)), values(view(b).sum(1))]);
    expectClose(r.gpu[0], r.cpu[0], 1e-6, 'elementwise on a misaligned slice');
    expectClose(r.gpu[1], r.cpu[1], 1e-6, 'softmax on a misaligned slice');
    expectClose(r.gpu[2], r.cpu[2], 1e-6, 'sum on a misaligned slice');
  });

  it('softmax and logSoftmax of rows with -inf and NaN match the CPU (all -inf: NaN, any NaN: NaN)', () => {
    const rows = [
      [-Infinity, 1, 2, 3, -Infinity],
      [-Infinity, -Infinity, -Infinity, -Infinity, -Infinity],
      [0.5, NaN, 1, 2, 3],
      [Infinity, 1, 2, 3, 4],
      [1e30, -1e30, 0, 88, -88],
    ];
    const x = kd.tensor(rows.flat()).reshape([5, 5]);
    const show = (v: Float64Array) => Array.from(v, (e) => (Number.isNaN(e) ? 'NaN' : e));
    for (const log of [false, true]) {
      for (const dim of [0, 1]) {
        const r = onBoth([x], (t) => values(log ? t.logSoftmax(dim) : t.softmax(dim)));
        const gpu = show(r.gpu), cpu = show(r.cpu);
        gpu.forEach((g, i) => {
          const c = cpu[i];
          if (typeof c === 'string' || typeof g === 'string' || !Number.isFinite(c)) expect(g, `log=${log} dim=${dim} [${i}]`).toBe(c);
          else expect(Math.abs(g - c), `log=${log} dim=${dim} [${i}]`).toBeLessThan(1e-6 * Math.max(1, Math.abs(c)));
        });
      }
    }
  });

  it('fused Adam over more than 32 tensors (several launches) matches the CPU', () => {
    const shapes = Array.from({ length: 45 }, (_, i) => (i % 3 === 0 ? [i + 1, 7] : [((i * 37) % 101) + 1]));
    const bases = shapes.map((sh) => random(sh, -1, 1));
    const r = onBoth(bases, (...xs) => {
      const params = xs.map((x) => {
        const p = x.detach();
        p.requiresGrad = true;
        return p;
      });
      const opt = new kd.optim.AdamW(params, { lr: 1e-2, weightDecay: 0.1 });
      for (let step = 0; step < 3; step++) {
        opt.zeroGrad();
        params.reduce((acc: Tensor | null, p, i) => {
          const term = p.mul(p).mul(i + 1).sum();
          return acc ? acc.add(term) : term;
        }, null)!.backward();
        opt.step();
      }
      return params.map(values);
    });
    r.gpu.forEach((g, i) => expectClose(g, r.cpu[i], 1e-5, `AdamW tensor ${i} of ${shapes.length}`));
  });

  it('a transfer over 64 MiB (the staging buffer size) round-trips exactly, both ways', () => {
    const n = 16 * 2 ** 20 + 12345; // 64 MiB + 48 KiB of float32: one full chunk and a partial one
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = (i % 1021) - 510.5;
    const g = kd.tensor(v).to('cuda');
    const back = g.to('cpu').data() as Float32Array;
    expect(back.length).toBe(n);
    let mismatches = 0;
    for (let i = 0; i < n; i++) if (back[i] !== v[i]) mismatches++;
    expect(mismatches).toBe(0);
    expect(g.slice(0, n - 3).toArray()).toEqual(Array.from(v.subarray(n - 3)));
    g.dispose();
  });

  it('matmul with TF32 and exact float32, transposed, sliced and batch-broadcast operands, vs float64', () => {
    const cases: [number[], number[], (a: Tensor) => Tensor, (b: Tensor) => Tensor][] = [
      [[37, 53], [53, 29], (a) => a, (b) => b],
      [[53, 37], [29, 53], (a) => a.transpose(0, 1), (b) => b.transpose(0, 1)],
      [[37, 105], [53, 29], (a) => a.slice(1, 0, null, 2), (b) => b],
      [[3, 17, 33], [33, 5], (a) => a, (b) => b],
      [[1, 17, 33], [4, 33, 130], (a) => a.expand([4, 17, 33]), (b) => b],
      [[200, 300], [300, 1], (a) => a, (b) => b],
    ];
    const tf32Before = kd.cuda.getAllowTF32();
    try {
      for (const tf32 of [true, false]) {
        kd.cuda.setAllowTF32(tf32);
        for (const [sa, sb, va, vb] of cases) {
          const a = random(sa, -1, 1), b = random(sb, -1, 1);
          const av = va(a), bv = vb(b);
          const out = va(a.to('cuda')).matmul(vb(b.to('cuda')));
          const ref = matmulRef(av, bv);
          expectClose(values(out), ref, tf32 ? 5e-3 : 1e-5, `matmul ${sa} @ ${sb} tf32=${tf32}`);
        }
      }
    } finally {
      kd.cuda.setAllowTF32(tf32Before);
    }
  });

  it('conv2d forward and both gradients (stride, padding, dilation, groups, same padding) follow the CPU within TF32', () => {
    const cases = [
      { x: [2, 3, 11, 13], w: [5, 3, 3, 3], o: { padding: 1 } },
      { x: [3, 4, 17, 15], w: [6, 2, 3, 3], o: { stride: 2, padding: 1, dilation: 2, groups: 2 } },
      { x: [2, 6, 9, 10], w: [4, 6, 2, 3], o: { padding: 'same' as const } },
      { x: [4, 1, 28, 28], w: [32, 1, 3, 3], o: {} },
    ];
    for (const c of cases) {
      const x = random(c.x, -1, 1), w = random(c.w, -1, 1), bias = random([c.w[0]], -1, 1);
      const r = onBoth([x, w, bias], (xx, ww, bb) => {
        const xs = xx.transpose(2, 3).contiguous().transpose(2, 3).detach(); // strided input
        xs.requiresGrad = true;
        ww.requiresGrad = true;
        bb.requiresGrad = true;
        const y = kd.nn.functional.conv2d(xs, ww, bb, c.o);
        y.mul(y).sum().backward();
        return [values(y), values(xs.grad!), values(ww.grad!), values(bb.grad!)];
      });
      ['output', 'input grad', 'weight grad', 'bias grad'].forEach((what, i) =>
        expectClose(r.gpu[i], r.cpu[i], 5e-3, `conv2d ${JSON.stringify(c)} ${what}`));
    }
  });

  it('conv2d with TF32 off (setAllowTF32(false)) matches float64 to float32 accuracy, forward and both gradients', () => {
    const cases = [
      { x: [2, 3, 11, 13], w: [5, 3, 3, 3], o: { padding: 1 } },
      { x: [3, 4, 17, 15], w: [6, 2, 3, 3], o: { stride: 2, padding: 1, dilation: 2, groups: 2 } },
      { x: [2, 70, 9, 9], w: [72, 70, 3, 3], o: { padding: 1 } },
    ];
    kd.cuda.setAllowTF32(false);
    try {
      for (const c of cases) {
        const x = random(c.x, -1, 1), w = random(c.w, -1, 1), bias = random([c.w[0]], -1, 1);
        const r = onBoth([x, w, bias], (xx, ww, bb) => {
          xx.requiresGrad = true;
          ww.requiresGrad = true;
          const y = kd.nn.functional.conv2d(xx, ww, bb, c.o);
          y.mul(y).sum().backward();
          return [values(y), values(xx.grad!), values(ww.grad!)];
        });
        // TF32 would be off by ~1e-3 here; the CPU is float32 in another summation order.
        ['output', 'input grad', 'weight grad'].forEach((what, i) =>
          expectClose(r.gpu[i], r.cpu[i], 2e-5, `exact conv2d ${JSON.stringify(c)} ${what}`));
      }
    } finally {
      kd.cuda.setAllowTF32(true);
    }
  });

  it('max / avg / adaptive pooling forward and backward on strided inputs', () => {
    const x = random([2, 3, 14, 11]);
    const cases: [string, (t: Tensor) => Tensor][] = [
      ['max 2', (t) => kd.nn.functional.maxPool2d(t, 2)],
      ['max 3 s2 p1 d2 ceil', (t) => kd.nn.functional.maxPool2d(t, 3, { stride: 2, padding: 1, dilation: 2, ceilMode: true })],
      ['avg 3 s2 p1', (t) => kd.nn.functional.avgPool2d(t, 3, { stride: 2, padding: 1 })],
      ['avg 3 s2 p1 exclude pad ceil', (t) => kd.nn.functional.avgPool2d(t, 3, { stride: 2, padding: 1, countIncludePad: false, ceilMode: true })],
      ['adaptive 5x3', (t) => kd.nn.functional.adaptiveAvgPool2d(t, [5, 3])],
    ];
    for (const [name, f] of cases) {
      const r = onBoth([x], (xx) => {
        const xs = xx.permute([0, 1, 3, 2]).contiguous().permute([0, 1, 3, 2]).detach();
        xs.requiresGrad = true;
        const y = f(xs);
        y.mul(y).sum().backward();
        return [values(y), values(xs.grad!)];
      });
      expectClose(r.gpu[0], r.cpu[0], 1e-6, `${name} forward`);
      expectClose(r.gpu[1], r.cpu[1], 1e-6, `${name} backward`);
    }
  });

  it('fused Adam, AdamW and AMSGrad steps match the CPU', () => {
    for (const [Opt, opts] of [
      [kd.optim.Adam, { lr: 1e-2, weightDecay: 0.1 }],
      [kd.optim.AdamW, { lr: 1e-2 }],
      [kd.optim.Adam, { lr: 1e-2, amsgrad: true, maximize: true }],
    ] as const) {
      const p0 = random([33, 7]), p1 = random([1000]);
      const r = onBoth([p0, p1], (a, b) => {
        const params = [a.detach(), b.detach()];
        params.forEach((p) => (p.requiresGrad = true));
        const opt = new Opt(params, opts);
        for (let step = 0; step < 3; step++) {
          opt.zeroGrad();
          params[0].mul(params[0]).sum().add(params[1].sin().sum()).backward();
          opt.step();
        }
        return params.map(values);
      });
      expectClose(r.gpu[0], r.cpu[0], 1e-5, `${Opt.name} param 0`);
      expectClose(r.gpu[1], r.cpu[1], 1e-5, `${Opt.name} param 1`);
    }
  });

  it('item(), toArray() and data() copy back; views of GPU tensors read correctly', () => {
    const t = random([4, 6]);
    const g = t.to('cuda');
    expect(g.device).toBe('cuda');
    expect(g.slice(0, 1, 2).slice(1, 2, 3).item()).toBe(t.slice(0, 1, 2).slice(1, 2, 3).item());
    expect(g.transpose(0, 1).toArray()).toEqual(t.transpose(0, 1).toArray());
    expect(Array.from(g.data() as Float32Array)).toEqual(Array.from(t.data() as Float32Array));
  });
});

function matmulRef(a: Tensor, b: Tensor): Float64Array {
  const av = Float64Array.from(a.contiguous().data() as Float32Array), bv = Float64Array.from(b.contiguous().data() as Float32Array);
  const batch = a.shape.length === 3 ? a.shape[0] : 1;
  const [m, k] = a.shape.slice(-2), n = b.shape[b.shape.length - 1];
  const bBatch = b.shape.length === 3 ? b.shape[0] : 1;
  const nb = Math.max(batch, bBatch);
  const out = new Float64Array(nb * m * n);
  forEachIndex([nb, m, n], ([z, i, j], flat) => {
    const za = batch === 1 ? 0 : z, zb = bBatch === 1 ? 0 : z;
    let s = 0;
    for (let p = 0; p < k; p++) s += av[za * m * k + i * k + p] * bv[zb * k * n + p * n + j];
    out[flat] = s;
  });
  return out;
}
