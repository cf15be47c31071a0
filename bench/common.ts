// Shared by every bench script: timing a closure, the one table format, and
// bench/results/<family>.json as an array of { case, threads, unit, kindling, peer, peerValue, ratio }
// (higher is better; peer and ratio null where no peer is installed).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { cpuBackend } from '../lib/backend/cpu.js';

export interface Row {
  case: string;
  threads: number;
  unit: string;
  kindling: number;
  peer: string | null;
  peerValue: number | null;
  ratio: number | null; // kindling / peerValue
  ofPeak?: number | null; // kindling / the measured FMA peak, where a bench measures one (gemm)
}

export interface Timing {
  bestSeconds: number;
  medianSeconds: number;
  runs: number;
}

export interface TimeOptions {
  warmupRuns?: number; // untimed calls first (page faults, packing buffers, thread start)
  minSeconds?: number; // keep repeating until this much time was measured
  minRuns?: number;
  maxRuns?: number;
}

// Times fn: warm-up calls, then repeats until at least minSeconds (default 0.3 s) and minRuns.
// Report bestSeconds on a shared or noisy machine; medianSeconds says how stable it was.
export function timeIt(fn: () => void, options: TimeOptions = {}): Timing {
  const { warmupRuns = 2, minSeconds = 0.3, minRuns = 3, maxRuns = 10_000 } = options;
  for (let i = 0; i < warmupRuns; i++) fn();
  const samples: number[] = [];
  let total = 0;
  while ((total < minSeconds || samples.length < minRuns) && samples.length < maxRuns) {
    const t0 = process.hrtime.bigint();
    fn();
    const seconds = Number(process.hrtime.bigint() - t0) * 1e-9;
    samples.push(seconds);
    total += seconds;
  }
  samples.sort((x, y) => x - y);
  return { bestSeconds: samples[0], medianSeconds: samples[samples.length >> 1], runs: samples.length };
}

export function makeRow(caseName: string, threads: number, unit: string, kindling: number,
  peer: string | null = null, peerValue: number | null = null): Row {
  const ratio = peer !== null && peerValue !== null && peerValue > 0 ? kindling / peerValue : null;
  return { case: caseName, threads, unit, kindling, peer: peerValue === null ? null : peer, peerValue, ratio };
}

function formatNumber(x: number | null, digits: number): string {
  return x === null ? '-' : x.toFixed(digits);
}

// A measured value with at least three significant digits (0.237 steps/s, not 0.2).
function formatValue(x: number | null): string {
  if (x === null) return '-';
  const size = Math.abs(x);
  return x.toFixed(size === 0 || size >= 100 ? 1 : size >= 10 ? 2 : size >= 1 ? 3 : Math.min(6, 2 - Math.floor(Math.log10(size))));
}

// Prints rows as an aligned text table with the fixed column order (and 'of peak' when a row has it).
export function printTable(rows: Row[]): void {
  const withPeak = rows.some((r) => r.ofPeak !== undefined);
  const header = ['case', 'threads', 'unit', 'kindling', ...(withPeak ? ['of peak'] : []), 'peer', 'peerValue', 'ratio'];
  const cells = rows.map((r) => [
    r.case, String(r.threads), r.unit, formatValue(r.kindling),
    ...(withPeak ? [r.ofPeak == null ? '-' : `${(100 * r.ofPeak).toFixed(0)}%`] : []),
    r.peer ?? '-', formatValue(r.peerValue), formatNumber(r.ratio, 2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

// The package root (where bench/results/ lives), from either bench/ or dist/bench/.
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  if (dir.endsWith(join('dist', 'bench'))) dir = dirname(dirname(dir));
  else if (dir.endsWith('bench')) dir = dirname(dir);
  return dir;
}

// Writes bench/results/<family>.json and returns its path.
export function writeResults(family: string, rows: Row[]): string {
  const path = join(packageRoot(), 'bench', 'results', `${family}.json`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(rows, null, 2) + '\n');
  return path;
}

export interface PeerPython {
  python: string; // the interpreter to run bench/peers/*.py with
  torchVersion: string; // torch.__version__ there
}

let peerPythonMemo: PeerPython | null | undefined;

// The PyTorch peer's interpreter: the first of $KINDLING_PEER_PYTHON, <repo>/.venv-peer/bin/python
// and /usr/bin/python3 that imports torch (found once, then remembered). Prints which one and its
// torch version, or that there is no peer and what was tried; returns null then.
export function findPeerPython(): PeerPython | null {
  if (peerPythonMemo !== undefined) return peerPythonMemo;
  const candidates: [string, string][] = [];
  if (process.env.KINDLING_PEER_PYTHON) candidates.push([process.env.KINDLING_PEER_PYTHON, 'KINDLING_PEER_PYTHON']);
  candidates.push([join(packageRoot(), '.venv-peer', 'bin', 'python'), '.venv-peer'], ['/usr/bin/python3', 'system python']);
  const tried: string[] = [];
  peerPythonMemo = null;
  for (const [python, source] of candidates) {
    if (!existsSync(python)) {
      tried.push(`${python} (${source}): not found`);
      continue;
    }
    try {
      const torchVersion = execFileSync(python, ['-c', 'import torch; print(torch.__version__)'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
      peerPythonMemo = { python, torchVersion };
      console.log(`peer: PyTorch ${torchVersion} from ${python} (${source})`);
      break;
    } catch {
      tried.push(`${python} (${source}): no torch`);
    }
  }
  if (!peerPythonMemo) {
    console.log('peer: NO PyTorch found, rows have no peer. Tried ' + tried.join('; ') +
      '. Set KINDLING_PEER_PYTHON or create .venv-peer (see README).');
  }
  return peerPythonMemo;
}

/** What profileBackendCalls measured: per-step milliseconds of the whole step and inside backend calls. */
export interface BackendProfile {
  stepMs: number;
  inCallsMs: number;
  rows: { key: string; calls: number; ms: number }[]; // per step, slowest first
}

// The key a backend call is counted under: GEMMs by m×n×k (and batch), unary / binary / reduce by
// their op and the output's size, the rest by name.
function callKey(name: string, args: unknown[]): string {
  if (name === 'gemm') {
    const g = args[0] as { m: number; n: number; k: number; batch: number };
    return `gemm ${g.m}x${g.n}x${g.k}${g.batch > 1 ? ` b${g.batch}` : ''}`;
  }
  const numel = (o: unknown) => ((o as { shape?: number[] }).shape ?? []).reduce((a, d) => a * d, 1);
  if (name === 'unary' || name === 'binary' || name === 'reduce') {
    const out = name === 'unary' ? args[3] : args[1];
    return `${name} ${String(args[0])} ${numel(out)}`;
  }
  if (name === 'fill' || name === 'cast' || name === 'indexAdd' || name === 'indexSelect') return `${name} ${numel(args[0])}`;
  return name;
}

/**
 * Times every CPU backend method while `step` runs n times (after one untimed run) and returns
 * the milliseconds per step in each kind of call (see callKey); printBackendProfile prints it.
 */
export function profileBackendCalls(step: () => void, n: number): BackendProfile {
  const backend = cpuBackend as unknown as Record<string, unknown>;
  const saved = new Map<string, (...args: unknown[]) => unknown>();
  const stats = new Map<string, { calls: number; ms: number }>();
  step();
  for (const [name, value] of Object.entries(backend)) {
    if (typeof value !== 'function') continue;
    const fn = value as (...args: unknown[]) => unknown;
    saved.set(name, fn);
    backend[name] = function (this: unknown, ...args: unknown[]) {
      const t0 = performance.now();
      const out = fn.apply(this, args);
      const key = callKey(name, args);
      const s = stats.get(key) ?? { calls: 0, ms: 0 };
      s.calls++;
      s.ms += performance.now() - t0;
      stats.set(key, s);
      return out;
    };
  }
  let stepMs = 0;
  try {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) step();
    stepMs = (performance.now() - t0) / n;
  } finally {
    for (const [name, fn] of saved) backend[name] = fn;
  }
  const rows = [...stats].map(([key, s]) => ({ key, calls: s.calls / n, ms: s.ms / n })).sort((a, b) => b.ms - a.ms);
  return { stepMs, inCallsMs: rows.reduce((a, r) => a + r.ms, 0), rows };
}

export function printBackendProfile(p: BackendProfile, top = 25): void {
  console.log(`backend calls per step (${p.stepMs.toFixed(1)} ms timed, ${p.inCallsMs.toFixed(1)} ms in backend calls, the rest JavaScript):`);
  for (const r of p.rows.slice(0, top)) {
    console.log(`  ${r.key.padEnd(32)} ${r.calls.toFixed(0).padStart(5)} calls ${r.ms.toFixed(1).padStart(8)} ms ${((100 * r.ms) / p.stepMs).toFixed(1).padStart(5)}%`);
  }
}
