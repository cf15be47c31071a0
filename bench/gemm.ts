// GEMM throughput (GFLOP/s, best of repeats) of native.gemm for square and Linear-layer shapes at
// 1 and 2 threads, beside OpenBLAS's cblas_sgemm (bench/peers/openblas_gemm.c, compiled to a temp
// dir when libopenblas is installed) and PyTorch's torch.mm (bench/peers/torch_gemm.py), both
// measured in the same run. Each kindling figure is also given as a fraction of the FMA peak
// measured at start for its ISA and thread count (measurePeakGflops), not an assumed FLOP/cycle.
// A 'transformer' section times the products of the GPT bench (kd.models.gpt 4×256, 2048 tokens)
// and of GPT-2 small fine-tuning (1024 tokens, 768 wide, the 50257-word LM head) in the operand
// layouts the training step passes: forward x·Wᵀ (B transposed), input gradient g·W (plain),
// weight gradient gᵀ·x (A transposed). `npm run bench -- gemm transformer` runs only that section.
// A last section runs the MLP's small GEMMs (784-128-64: forward, weight and input gradients)
// with a busy-loop process taking one core, beside OpenBLAS and PyTorch under the same load.
// Installs nothing.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../lib/native.js';
import { findPeerPython, makeRow, packageRoot, printTable, Row, timeIt, writeResults } from './common.js';

// C = op(A)·op(B), m×k times k×n; ta / tb: A stored k×m / B stored n×k and used transposed.
interface Shape {
  name: string;
  m: number;
  n: number;
  k: number;
  ta?: boolean;
  tb?: boolean;
}

const SHAPES: Shape[] = [
  ...[128, 256, 512, 1024, 2048].map((s) => ({ name: `${s}x${s}x${s}`, m: s, n: s, k: s })),
  { name: 'linear 256x784 @ 784x128', m: 256, n: 128, k: 784 },
  { name: 'linear 512x768 @ 768x3072', m: 512, n: 3072, k: 768 },
];
// The MLP 784-128-64-10 at batch 64: each layer's x·W^T, g^T·x (weight gradient), g·W (input gradient).
const MLP_SHAPES: Shape[] = [
  { name: 'mlp fc1 x@W^T 64x784 @ 784x128', m: 64, n: 128, k: 784, tb: true },
  { name: 'mlp fc1 g^T@x 128x64 @ 64x784', m: 128, n: 784, k: 64, ta: true },
  { name: 'mlp fc1 g@W 64x128 @ 128x784', m: 64, n: 784, k: 128 },
  { name: 'mlp fc2 x@W^T 64x128 @ 128x64', m: 64, n: 64, k: 128, tb: true },
  { name: 'mlp fc2 g^T@x 64x64 @ 64x128', m: 64, n: 128, k: 64, ta: true },
  { name: 'mlp fc2 g@W 64x64 @ 64x128', m: 64, n: 128, k: 64 },
];
// The training step's products, named as native.gemm sees them (m×n×k) with their layouts.
const TRANSFORMER_SHAPES: Shape[] = [
  // kd.models.gpt, 4 layers × 256 wide, batch 16 × 128 tokens: forward, input and weight gradients.
  { name: 'gpt qkv x@W^T 2048x768x256', m: 2048, n: 768, k: 256, tb: true },
  { name: 'gpt proj x@W^T 2048x256x256', m: 2048, n: 256, k: 256, tb: true },
  { name: 'gpt fc x@W^T 2048x1024x256', m: 2048, n: 1024, k: 256, tb: true },
  { name: 'gpt fc2 x@W^T 2048x256x1024', m: 2048, n: 256, k: 1024, tb: true },
  { name: 'gpt qkv g@W 2048x256x768', m: 2048, n: 256, k: 768 },
  { name: 'gpt proj g@W 2048x256x256', m: 2048, n: 256, k: 256 },
  { name: 'gpt fc g@W 2048x256x1024', m: 2048, n: 256, k: 1024 },
  { name: 'gpt fc2 g@W 2048x1024x256', m: 2048, n: 1024, k: 256 },
  { name: 'gpt qkv g^T@x 768x256x2048', m: 768, n: 256, k: 2048, ta: true },
  { name: 'gpt proj g^T@x 256x256x2048', m: 256, n: 256, k: 2048, ta: true },
  { name: 'gpt fc g^T@x 1024x256x2048', m: 1024, n: 256, k: 2048, ta: true },
  { name: 'gpt fc2 g^T@x 256x1024x2048', m: 256, n: 1024, k: 2048, ta: true },
  // GPT-2 small fine-tuning, 4 × 256 tokens: attention and MLP products, then the tied LM head.
  { name: 'gpt2 qkv x@W^T 1024x2304x768', m: 1024, n: 2304, k: 768, tb: true },
  { name: 'gpt2 fc x@W^T 1024x3072x768', m: 1024, n: 3072, k: 768, tb: true },
  { name: 'gpt2 fc2 x@W^T 1024x768x3072', m: 1024, n: 768, k: 3072, tb: true },
  { name: 'gpt2 fc g@W 1024x768x3072', m: 1024, n: 768, k: 3072 },
  { name: 'gpt2 qkv g^T@x 2304x768x1024', m: 2304, n: 768, k: 1024, ta: true },
  { name: 'gpt2 fc g^T@x 3072x768x1024', m: 3072, n: 768, k: 1024, ta: true },
  { name: 'gpt2 fc2 g^T@x 768x3072x1024', m: 768, n: 3072, k: 1024, ta: true },
  { name: 'gpt2 lm head x@wte^T 1024x50257x768', m: 1024, n: 50257, k: 768, tb: true },
  { name: 'gpt2 lm head g@wte 1024x768x50257', m: 1024, n: 768, k: 50257 },
  { name: 'gpt2 lm head g^T@x 50257x768x1024', m: 50257, n: 768, k: 1024, ta: true },
];
const THREADS = [1, 2];
const ROUNDS = 2;
const AVX512_COMPARE = ['512x512x512', '1024x1024x1024', '2048x2048x2048', 'linear 512x768 @ 768x3072'];
const ISAS = ['avx512', 'avx2', 'scalar'];

// The ISAs this processor runs, best first.
function availableIsas(): string[] {
  return ISAS.slice(ISAS.indexOf(native.cpuIsaDetected() as string));
}

// Measured FMA peak, GFLOP/s, by `${isa}/${threads}`.
function measurePeaks(): Map<string, number> {
  const peaks = new Map<string, number>();
  for (const isa of availableIsas()) {
    const line = THREADS.map((t) => {
      const value: number = native.measurePeakGflops(isa, t);
      peaks.set(`${isa}/${t}`, value);
      return `${value.toFixed(1)} on ${t} thread${t > 1 ? 's' : ''}`;
    });
    console.log(`measured ${isa} FMA peak: ${line.join(', ')} GFLOP/s`);
  }
  return peaks;
}

// Compiles the OpenBLAS peer when its header and library are present; null otherwise.
function buildOpenBlasPeer(): { exe: string; cleanup: () => void } | null {
  const headerDirs = ['/usr/include/x86_64-linux-gnu', '/usr/include/openblas', '/usr/include', '/usr/local/include',
    '/opt/OpenBLAS/include'];
  const libDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib', '/opt/OpenBLAS/lib'];
  const headerDir = headerDirs.find((d) => existsSync(join(d, 'cblas.h')));
  const libDir = libDirs.find((d) => existsSync(join(d, 'libopenblas.so')));
  if (!headerDir || !libDir) return null;
  const dir = mkdtempSync(join(tmpdir(), 'kindling-openblas-'));
  const exe = join(dir, 'openblas_gemm');
  try {
    execFileSync('cc', ['-O2', `-I${headerDir}`, join(packageRoot(), 'bench', 'peers', 'openblas_gemm.c'), '-o', exe,
      `-L${libDir}`, '-lopenblas'], { stdio: 'pipe' });
  } catch (e) {
    console.log(`OpenBLAS peer: compile failed, reporting no peer (${(e as Error).message.split('\n')[0]})`);
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  return { exe, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function openBlasGflops(exe: string, s: Shape, threads: number): number | null {
  try {
    const out = execFileSync(exe, [String(s.m), String(s.n), String(s.k), s.ta ? '1' : '0', s.tb ? '1' : '0'], {
      env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
      encoding: 'utf8',
    });
    const value = Number(out.trim());
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}

// torch.mm GFLOP/s by shape name on `threads` threads; empty when there is no peer or it failed.
function torchGflops(python: string | null, shapes: Shape[], threads: number): Map<string, number> {
  const result = new Map<string, number>();
  if (!python) return result;
  try {
    const out = execFileSync(python, [join(packageRoot(), 'bench', 'peers', 'torch_gemm.py'), String(threads),
      JSON.stringify(shapes)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
    for (const r of JSON.parse(out) as { name: string; gflops: number }[]) result.set(r.name, r.gflops);
  } catch (e) {
    console.log(`PyTorch peer failed on ${threads} thread(s): ${(e as Error).message.split('\n')[0]}`);
  }
  return result;
}

// Row-major storages for A, B, C filled with values in [-1, 1).
function kindlingGflops(s: Shape): number {
  const a = native.alloc(s.m * s.k * 4), b = native.alloc(s.k * s.n * 4), c = native.alloc(s.m * s.n * 4);
  const fa = new Float32Array(native.hostView(a)), fb = new Float32Array(native.hostView(b));
  for (let i = 0; i < fa.length; i++) fa[i] = ((i * 7919) % 1000) / 500 - 1;
  for (let i = 0; i < fb.length; i++) fb[i] = ((i * 104729) % 1000) / 500 - 1;
  const [aRow, aCol] = s.ta ? [1, s.m] : [s.k, 1];
  const [bRow, bCol] = s.tb ? [1, s.k] : [s.n, 1];
  const run = () =>
    native.gemm(s.m, s.n, s.k, 1, a, 0, aRow, aCol, 0, b, 0, bRow, bCol, 0, c, 0, s.n, 1, 0, 1, 0);
  const t = timeIt(run, { minSeconds: 0.3 });
  native.dispose(a);
  native.dispose(b);
  native.dispose(c);
  return (2 * s.m * s.n * s.k) / t.bestSeconds / 1e9;
}

// Rows for `shapes` on each thread count: kindling beside OpenBLAS (best of alternating rounds, so
// a burst of load from other processes hits both alike), then beside PyTorch.
function measureShapes(shapes: Shape[], label: string, peaks: Map<string, number>, blas: string | null,
  python: string | null, torchName: string): Row[] {
  const rows: Row[] = [];
  for (const threads of THREADS) {
    native.setNumThreads(threads);
    const peak = peaks.get(`${native.cpuIsa()}/${threads}`) ?? null;
    const torch = torchGflops(python, shapes, threads);
    for (const s of shapes) {
      let ours = 0;
      let theirs: number | null = null;
      for (let round = 0; round < ROUNDS; round++) {
        ours = Math.max(ours, kindlingGflops(s));
        const value = blas ? openBlasGflops(blas, s, threads) : null;
        if (value !== null) theirs = Math.max(theirs ?? 0, value);
      }
      const ofPeak = peak ? ours / peak : null;
      rows.push({ ...makeRow(`${label}${s.name}`, threads, 'GFLOP/s', ours, 'openblas', theirs), ofPeak });
      if (python) rows.push({ ...makeRow(`${label}${s.name}`, threads, 'GFLOP/s', ours, torchName, torch.get(s.name) ?? null), ofPeak });
    }
  }
  return rows;
}

// A child process spinning on one core for as long as it lives.
function startBusyLoop(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
}

export async function main(): Promise<void> {
  const originalThreads: number = native.numThreads();
  const isa: string = native.cpuIsa();
  const cores = availableParallelism();
  console.log(`kindling gemm: ISA ${isa} (detected ${native.cpuIsaDetected()}), ${cores} cores`);
  const peaks = measurePeaks();
  const blas = buildOpenBlasPeer();
  console.log(blas ? 'peer: OpenBLAS cblas_sgemm, measured in this run' : 'peer: OpenBLAS not installed, no OpenBLAS rows');
  const python = findPeerPython();
  const torchName = python ? `pytorch ${python.torchVersion}` : 'pytorch';
  console.log('timings: best of repeats (>= 0.3 s each), best of ' + `${ROUNDS} alternating rounds; ` +
    "'of peak' is kindling over the measured peak of its ISA and thread count; on a shared machine re-run\n");

  const rows: Row[] = [];
  let busy: ChildProcess | null = null;
  const onlyTransformer = process.argv.includes('transformer');
  try {
    if (onlyTransformer) {
      rows.push(...measureShapes(TRANSFORMER_SHAPES, 'transformer: ', peaks, blas?.exe ?? null, python?.python ?? null, torchName));
      printTable(rows);
      console.log(`\nwrote ${writeResults('gemm_transformer', rows)}`);
      return;
    }
    rows.push(...measureShapes(SHAPES, '', peaks, blas?.exe ?? null, python?.python ?? null, torchName));
    rows.push(...measureShapes(TRANSFORMER_SHAPES, 'transformer: ', peaks, blas?.exe ?? null, python?.python ?? null, torchName));
    if (native.cpuIsaDetected() === 'avx512') {
      // AVX-512 against this library's own AVX2 path on the same shapes, each as a share of its peak.
      for (const threads of THREADS) {
        native.setNumThreads(threads);
        for (const s of SHAPES.filter((x) => AVX512_COMPARE.includes(x.name))) {
          native.setCpuIsa('avx2');
          const avx2 = kindlingGflops(s);
          native.setCpuIsa('avx512');
          const avx512 = kindlingGflops(s);
          const peak = peaks.get(`avx512/${threads}`);
          rows.push({ ...makeRow(`avx512 vs avx2 ${s.name}`, threads, 'GFLOP/s', avx512, 'kindling avx2', avx2),
            ofPeak: peak ? avx512 / peak : null });
        }
      }
      native.setCpuIsa(isa);
    }
    busy = startBusyLoop();
    await new Promise((resolve) => setTimeout(resolve, 200));  // let it get going on its core
    rows.push(...measureShapes(MLP_SHAPES, 'busy core: ', peaks, blas?.exe ?? null, python?.python ?? null, torchName));
  } finally {
    busy?.kill();
    native.setCpuIsa(isa);
    native.setNumThreads(originalThreads);
    blas?.cleanup();
  }
  printTable(rows);
  console.log(`\nwrote ${writeResults('gemm', rows)}`);
}
