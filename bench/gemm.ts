// GEMM throughput (GFLOP/s, best of repeats) of native.gemm for square and Linear-layer shapes at
// 1 and 2 threads, beside OpenBLAS's cblas_sgemm measured in the same run when libopenblas is
// installed (bench/peers/openblas_gemm.c, compiled to a temp dir). Installs nothing.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../lib/native.js';
import { makeRow, packageRoot, printTable, Row, timeIt, writeResults } from './common.js';

interface Shape {
  name: string;
  m: number;
  n: number;
  k: number;
}

const SHAPES: Shape[] = [
  ...[128, 256, 512, 1024, 2048].map((s) => ({ name: `${s}x${s}x${s}`, m: s, n: s, k: s })),
  { name: 'linear 256x784 @ 784x128', m: 256, n: 128, k: 784 },
  { name: 'linear 512x768 @ 768x3072', m: 512, n: 3072, k: 768 },
];
const THREADS = [1, 2];
const ROUNDS = 2;
const AVX512_COMPARE = ['512x512x512', '1024x1024x1024', '2048x2048x2048', 'linear 512x768 @ 768x3072'];

// Clock from /proc/cpuinfo (the nominal clock; boost may run above it).
function cpuGHz(): number | null {
  try {
    const match = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return match ? Number(match[1]) / 1000 : null;
  } catch {
    return null;
  }
}

// FMA units × lanes × 2: two 256-bit FMA pipes give 32 FLOP/cycle, two 512-bit ones 64.
function flopsPerCycle(isa: string): number {
  return isa === 'avx512' ? 64 : isa === 'avx2' ? 32 : 8;
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
    const out = execFileSync(exe, [String(s.m), String(s.n), String(s.k)], {
      env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
      encoding: 'utf8',
    });
    const value = Number(out.trim());
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}

// Row-major A (m×k), B (k×n), C (m×n) in native storages, A and B filled with values in [-1, 1).
function kindlingGflops(s: Shape): number {
  const a = native.alloc(s.m * s.k * 4), b = native.alloc(s.k * s.n * 4), c = native.alloc(s.m * s.n * 4);
  const fa = new Float32Array(native.hostView(a)), fb = new Float32Array(native.hostView(b));
  for (let i = 0; i < fa.length; i++) fa[i] = ((i * 7919) % 1000) / 500 - 1;
  for (let i = 0; i < fb.length; i++) fb[i] = ((i * 104729) % 1000) / 500 - 1;
  const run = () =>
    native.gemm(s.m, s.n, s.k, 1, a, 0, s.k, 1, 0, b, 0, s.n, 1, 0, c, 0, s.n, 1, 0, 1, 0);
  const t = timeIt(run, { minSeconds: 0.3 });
  native.dispose(a);
  native.dispose(b);
  native.dispose(c);
  return (2 * s.m * s.n * s.k) / t.bestSeconds / 1e9;
}

export async function main(): Promise<void> {
  const originalThreads: number = native.numThreads();
  const isa: string = native.cpuIsa();
  const cores = availableParallelism();
  const ghz = cpuGHz();
  console.log(`kindling gemm: ISA ${isa} (detected ${native.cpuIsaDetected()}), ${cores} cores`);
  if (ghz !== null) {
    const perCore = ghz * flopsPerCycle(isa);
    console.log(`theoretical peak at the nominal ${ghz.toFixed(2)} GHz: ${perCore.toFixed(1)} GFLOP/s per core ` +
      `(${flopsPerCycle(isa)} FLOP/cycle), ${(perCore * cores).toFixed(1)} GFLOP/s on ${cores} cores`);
  }
  const peer = buildOpenBlasPeer();
  console.log(peer ? 'peer: OpenBLAS cblas_sgemm, measured in this run' : 'peer: OpenBLAS not installed, no peer');
  console.log(`timings: best of repeats (>= 0.3 s each), best of ${ROUNDS} alternating rounds; on a shared machine re-run\n`);

  const rows: Row[] = [];
  try {
    for (const threads of THREADS) {
      native.setNumThreads(threads);
      for (const s of SHAPES) {
        // Alternate the two so a burst of load from other processes hits both alike; keep each best.
        let ours = 0;
        let theirs: number | null = null;
        for (let round = 0; round < ROUNDS; round++) {
          ours = Math.max(ours, kindlingGflops(s));
          const value = peer ? openBlasGflops(peer.exe, s, threads) : null;
          if (value !== null) theirs = Math.max(theirs ?? 0, value);
        }
        rows.push(makeRow(s.name, threads, 'GFLOP/s', ours, 'openblas', theirs));
      }
    }
    if (native.cpuIsaDetected() === 'avx512') {
      // AVX-512 against this library's own AVX2 path on the same shapes.
      for (const threads of THREADS) {
        native.setNumThreads(threads);
        for (const s of SHAPES.filter((x) => AVX512_COMPARE.includes(x.name))) {
          native.setCpuIsa('avx2');
          const avx2 = kindlingGflops(s);
          native.setCpuIsa('avx512');
          const avx512 = kindlingGflops(s);
          rows.push(makeRow(`avx512 vs avx2 ${s.name}`, threads, 'GFLOP/s', avx512, 'kindling avx2', avx2));
        }
      }
    }
  } finally {
    native.setCpuIsa(isa);
    native.setNumThreads(originalThreads);
    peer?.cleanup();
  }
  printTable(rows);
  console.log(`\nwrote ${writeResults('gemm', rows)}`);
}
