// Scaled-dot-product attention throughput (GFLOP/s, best of repeats) at batch 8, heads 12,
// headDim 64, seq 256 and 1024, causal and not, on 1 and 2 threads: the fused kernels through
// kd.nn.functional.scaledDotProductAttention (forward under noGrad; forward+backward through
// autograd), the unfused composition through kindling ops (q kᵀ·scale [+ causal -inf mask] →
// softmax → ·v, which stores the seq×seq matrix), and PyTorch's F.scaled_dot_product_attention
// measured in the same run (bench/peers/torch_attention.py, interpreter from findPeerPython).
// FLOPs as PyTorch counts them: 4·b·h·L·S·D forward, 3.5× that forward+backward, halved when
// causal. Beside each row, the share of the FMA peak measured at start for the ISA and threads.
import { execFileSync } from 'node:child_process';
import { freemem } from 'node:os';
import { join } from 'node:path';

import * as kd from '../lib/index.js';
import type { Tensor } from '../lib/index.js';
import { native } from '../lib/native.js';
import { findPeerPython, makeRow, packageRoot, printTable, type Row, timeIt, writeResults } from './common.js';

const B = 8, H = 12, D = 64;
const SEQS = [256, 1024];
const THREADS = [1, 2];
const PASSES = ['forward', 'forward+backward'] as const;
type Pass = (typeof PASSES)[number];

function flops(seq: number, causal: boolean, pass: Pass): number {
  return 4 * B * H * seq * seq * D * (causal ? 0.5 : 1) * (pass === 'forward' ? 1 : 3.5);
}

// GFLOP/s per "seq|causal|pass" from the PyTorch peer on `threads` threads; empty on failure.
function torchGflops(python: string, threads: number): Map<string, number> {
  const result = new Map<string, number>();
  try {
    const out = execFileSync(python, [join(packageRoot(), 'bench', 'peers', 'torch_attention.py'), String(threads),
      ...SEQS.map(String)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
    for (const r of JSON.parse(out) as { seq: number; causal: boolean; pass: string; gflops: number }[]) {
      result.set(`${r.seq}|${r.causal}|${r.pass}`, r.gflops);
    }
  } catch (e) {
    console.log(`PyTorch peer failed on ${threads} thread(s): ${(e as Error).message.split('\n')[0]}`);
  }
  return result;
}

function unfused(q: Tensor, k: Tensor, v: Tensor, causalMask: Tensor | null): Tensor {
  const scores = q.matmul(k.transpose(-2, -1)).mul(1 / Math.sqrt(D));
  return (causalMask ? scores.add(causalMask) : scores).softmax(-1).matmul(v);
}

// Best GFLOP/s of each pass, fused and unfused, with the current thread count.
function kindlingGflops(seq: number, causal: boolean): Map<string, number> {
  const result = new Map<string, number>();
  kd.manualSeed(0);
  const [q, k, v] = [0, 1, 2].map(() => kd.randn([B, H, seq, D]).requiresGrad_(true));
  const g = kd.randn([B, H, seq, D]);
  const mask = causal ? causalMaskOf(seq) : null;
  const big = seq >= 1024;
  const opts = { minSeconds: big ? 0.5 : 0.3, warmupRuns: 1, minRuns: big ? 2 : 3 };
  const runs: Record<string, () => void> = {
    'fused|forward': () => kd.tidy(() => { kd.noGrad(() => kd.nn.functional.scaledDotProductAttention(q, k, v, { isCausal: causal })); }),
    'fused|forward+backward': () => kd.tidy(() => {
      kd.nn.functional.scaledDotProductAttention(q, k, v, { isCausal: causal }).backward(g);
      for (const t of [q, k, v]) { t.grad?.dispose(); t.grad = null; }
    }),
    'unfused|forward': () => kd.tidy(() => { kd.noGrad(() => unfused(q, k, v, mask)); }),
    'unfused|forward+backward': () => kd.tidy(() => {
      unfused(q, k, v, mask).backward(g);
      for (const t of [q, k, v]) { t.grad?.dispose(); t.grad = null; }
    }),
  };
  // The unfused backward holds about five seq×seq float32 matrices per (batch, head).
  const unfusedBytes = 5 * B * H * seq * seq * 4;
  for (const kind of ['fused', 'unfused']) {
    for (const pass of PASSES) {
      if (kind === 'unfused' && unfusedBytes > freemem() * 0.6) {
        console.log(`seq ${seq} unfused ${pass}: skipped, needs ~${(unfusedBytes / 2 ** 30).toFixed(1)} GiB`);
        continue;
      }
      result.set(`${kind}|${pass}`, flops(seq, causal, pass) / timeIt(runs[`${kind}|${pass}`], opts).bestSeconds / 1e9);
    }
  }
  for (const t of [q, k, v, g, ...(mask ? [mask] : [])]) t.dispose();
  return result;
}

// -inf above the diagonal, 0 elsewhere.
function causalMaskOf(seq: number): Tensor {
  const data = new Float32Array(seq * seq);
  for (let i = 0; i < seq; i++) for (let j = i + 1; j < seq; j++) data[i * seq + j] = -Infinity;
  return kd.tensor(data).reshape([seq, seq]);
}

export async function main(): Promise<void> {
  const originalThreads: number = native.numThreads();
  const isa: string = native.cpuIsa();
  console.log(`kindling attention: ISA ${isa}, batch ${B}, heads ${H}, headDim ${D}`);
  const peaks = new Map<number, number>();
  for (const t of THREADS) peaks.set(t, native.measurePeakGflops(isa, t));
  console.log(`measured ${isa} FMA peak: ${THREADS.map((t) => `${peaks.get(t)!.toFixed(1)} on ${t} thread${t > 1 ? 's' : ''}`).join(', ')} GFLOP/s`);
  const peerPython = findPeerPython();
  const peerName = peerPython ? `pytorch ${peerPython.torchVersion}` : 'pytorch';
  console.log('timings: best of repeats; on a shared machine re-run\n');
  const rows: Row[] = [];
  try {
    for (const threads of THREADS) {
      native.setNumThreads(threads);
      const peer = peerPython ? torchGflops(peerPython.python, threads) : new Map<string, number>();
      for (const seq of SEQS) {
        for (const causal of [false, true]) {
          const ours = kindlingGflops(seq, causal);
          for (const kind of ['fused', 'unfused']) {
            for (const pass of PASSES) {
              const value = ours.get(`${kind}|${pass}`);
              if (value === undefined) continue;
              const row = makeRow(`seq ${seq}${causal ? ' causal' : ''} ${pass} ${kind}`, threads, 'GFLOP/s', value, peerName,
                peer.get(`${seq}|${causal}|${pass}`) ?? null);
              row.ofPeak = value / peaks.get(threads)!;
              rows.push(row);
            }
          }
        }
      }
    }
  } finally {
    native.setNumThreads(originalThreads);
  }
  printTable(rows);
  console.log(`\nwrote ${writeResults('attention', rows)}`);
}
