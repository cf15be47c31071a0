// `npm run bench -- gpt`: training tokens per second of kd.models.gpt (vocab 256, 4 layers, width
// 256, 4 heads, sequences of 128, batch 16, AdamW) on 1 and 2 threads, beside the same model in
// PyTorch in the same run (bench/peers/torch_gpt.py, same initial weights and the same batch,
// handed over in a safetensors file), the two sides' timed rounds alternating (best round of each
// reported). KINDLING_BENCH_SECONDS sets the timing (default 20 s per side, in 10 rounds of 2 s); the ratio of each back-to-back pair of rounds, and their median, is printed too (ten pairs rather than six: on this VM single pairs range over ±8%, and the median of six moved by ±3% between runs); `npm run bench -- gpt profile` also prints where a kindling step spends its time.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import * as kd from '../lib/index.js';
import { native } from '../lib/native.js';
import { type Row, findPeerPython, makeRow, packageRoot, printBackendProfile, printTable, profileBackendCalls, writeResults } from './common.js';

const CONFIG = { vocabSize: 256, blockSize: 128, nLayer: 4, nHead: 4, nEmbd: 256 };
const BATCH = 16;

/** Forward + backward FLOPs of one step (matmuls and attention; elementwise work left out). */
function stepFlops(): number {
  const { vocabSize: V, blockSize: T, nLayer: L, nEmbd: C } = CONFIG;
  const tokens = BATCH * T;
  const perTokenMatmul = 2 * (L * (3 * C * C + C * C + 8 * C * C) + C * V);
  const attention = 2 * L * BATCH * 2 * T * T * C / 2; // causal: half the scores, q·k and p·v
  return 3 * (tokens * perTokenMatmul + attention);
}

/** Tokens per second of wall time, and per CPU-second (all threads) in the same round. */
interface Rate {
  wall: number;
  cpu: number;
}

/**
 * The PyTorch peer (bench/peers/torch_gpt.py) as a process that runs timed rounds on request, so
 * that its rounds alternate with kindling's in one run and both see the same machine: on this
 * VM the throughput of either side drifts by 10-15% over tens of seconds, and rounds measured
 * one side after the other carry that drift into the ratio.
 */
class PeerRounds {
  private readonly lines: AsyncIterator<string>;

  private constructor(private readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }

  static async start(python: string, file: string, threads: number): Promise<PeerRounds | null> {
    const child = spawn(python, [join(packageRoot(), 'bench', 'peers', 'torch_gpt.py'), String(threads), file,
      String(CONFIG.nLayer), String(CONFIG.nHead), '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const peer = new PeerRounds(child);
    const first = await peer.lines.next();
    if (first.done || first.value.trim() !== 'ready') {
      console.log(`peer failed: ${(stderr.trim().split('\n').pop() ?? '') || 'no answer'}`);
      child.kill();
      return null;
    }
    return peer;
  }

  async round(seconds: number): Promise<Rate | null> {
    this.child.stdin!.write(`${seconds}\n`);
    const line = await this.lines.next();
    if (line.done) return null;
    const fields = line.value.trim().split(' ');
    return { wall: Number(fields[0]), cpu: Number(fields[2]) };
  }

  close(): void {
    this.child.stdin!.end();
  }
}

function trainingStep(model: kd.models.GPT, optimizer: kd.optim.Optimizer, idx: kd.Tensor, targets: kd.Tensor): () => number {
  return () => kd.tidy(() => {
    optimizer.zeroGrad();
    const { loss } = model.forward(idx, targets);
    loss.backward();
    optimizer.step();
    return loss.item();
  });
}

/** Tokens per second of wall time and per CPU-second in one round of `seconds`. */
function kindlingRound(step: () => number, seconds: number): Rate {
  let n = 0;
  const t0 = performance.now(), c0 = process.cpuUsage();
  while (performance.now() - t0 < seconds * 1000) {
    step();
    n++;
  }
  const tokens = n * BATCH * CONFIG.blockSize, cpu = process.cpuUsage(c0);
  return { wall: tokens / ((performance.now() - t0) / 1000), cpu: tokens / Math.max((cpu.user + cpu.system) / 1e6, 1e-9) };
}

const ROUNDS = 10;

/**
 * The best round of each side, rounds alternating kindling, peer, peer, kindling, ... (each side
 * first in half the pairs), `seconds` per side in all; and the median over the pairs of the
 * ratio of the two rounds in a pair (measured back to back, so under the same load).
 */
async function interleavedRates(step: () => number, peer: PeerRounds | null, seconds: number):
  Promise<{ ours: Rate; theirs: Rate | null; pairRatios: number[] }> {
  for (let i = 0; i < 3; i++) step();
  let ours: Rate = { wall: 0, cpu: 0 };
  let theirs: Rate | null = null;
  const pairRatios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let mine: Rate | null = null, peers: Rate | null = null;
    for (const side of r % 2 === 0 ? ['kindling', 'peer'] : ['peer', 'kindling']) {
      if (side === 'kindling') mine = kindlingRound(step, seconds / ROUNDS);
      else if (peer) peers = await peer.round(seconds / ROUNDS);
    }
    if (mine && mine.wall > ours.wall) ours = mine;
    if (peers && (!theirs || peers.wall > theirs.wall)) theirs = peers;
    if (mine && peers && peers.wall > 0) pairRatios.push(mine.wall / peers.wall);
  }
  return { ours, theirs, pairRatios };
}

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

/** Milliseconds of one step by phase: forward, backward, optimizer (the mean of a few steps). */
function profile(model: kd.models.GPT, optimizer: kd.optim.Optimizer, idx: kd.Tensor, targets: kd.Tensor): void {
  const n = 5, total = { forward: 0, backward: 0, optimizer: 0 };
  for (let i = 0; i < n + 1; i++) {
    kd.tidy(() => {
      optimizer.zeroGrad();
      const t0 = performance.now();
      const { loss } = model.forward(idx, targets);
      const t1 = performance.now();
      loss.backward();
      const t2 = performance.now();
      optimizer.step();
      const t3 = performance.now();
      if (i > 0) {
        total.forward += t1 - t0;
        total.backward += t2 - t1;
        total.optimizer += t3 - t2;
      }
    });
  }
  console.log(`step phases (ms, mean of ${n}): ` + Object.entries(total).map(([k, v]) => `${k} ${(v / n).toFixed(1)}`).join(', '));
  printBackendProfile(profileBackendCalls(() => kd.tidy(() => {
    optimizer.zeroGrad();
    model.forward(idx, targets).loss.backward();
    optimizer.step();
  }), n));
}

export async function main(): Promise<void> {
  const seconds = Number(process.env.KINDLING_BENCH_SECONDS ?? 20);
  const rows: Row[] = [];
  const peerPython = findPeerPython();
  const peerName = peerPython ? `pytorch ${peerPython.torchVersion}` : 'pytorch';
  kd.manualSeed(0);
  const model = kd.models.gpt(CONFIG);
  const idx = kd.randint(0, CONFIG.vocabSize, [BATCH, CONFIG.blockSize]);
  const targets = kd.randint(0, CONFIG.vocabSize, [BATCH, CONFIG.blockSize]);
  const dir = mkdtempSync(join(tmpdir(), 'kindling-bench-gpt-'));
  const file = join(dir, 'gpt.safetensors');
  const { 'lm_head.weight': _tied, ...weights } = model.stateDict();
  kd.io.save({ ...weights, idx: idx.float(), targets: targets.float() }, file);
  const initial = kd.tidy(() => Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, t.clone()])));
  try {
    for (const threads of [1, 2]) {
      kd.setNumThreads(threads);
      model.loadStateDict(initial);
      const optimizer = new kd.optim.AdamW(model.parameters(), { lr: 3e-4, weightDecay: 0.1 });
      const step = trainingStep(model, optimizer, idx, targets);
      const peerProcess = peerPython ? await PeerRounds.start(peerPython.python, file, threads) : null;
      const { ours: rate, theirs: peer, pairRatios } = await interleavedRates(step, peerProcess, seconds);
      peerProcess?.close();
      if (pairRatios.length > 0) {
        console.log(`${threads} thread(s): kindling / PyTorch in each back-to-back pair of rounds: ` +
          `${pairRatios.map((r) => r.toFixed(2)).join(' ')} (median ${median(pairRatios).toFixed(2)})`);
      }
      if (process.argv.includes('profile')) profile(model, optimizer, idx, targets);
      optimizer.dispose();
      rows.push(makeRow(`gpt 4x256 h4 T128 b16 AdamW`, threads, 'tokens/s', rate.wall, peerName, peer?.wall ?? null));
      // Per CPU-second (all threads, the best wall-clock round): on a loaded machine this stays
      // comparable when wall-clock rates do not.
      rows.push(makeRow(`gpt 4x256 h4 T128 b16 AdamW`, threads, 'tokens/cpu-s', rate.cpu, peerName, peer?.cpu ?? null));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  printTable(rows);
  const peak: number = native.measurePeakGflops(kd.cpuIsa(), 1);
  const gflop = stepFlops() / 1e9, tokens = BATCH * CONFIG.blockSize;
  console.log(`GPT step: ${gflop.toFixed(2)} GFLOP forward+backward (matmuls and attention) for ${tokens} tokens; one core's measured ` +
    `${kd.cpuIsa()} FMA peak is ${peak.toFixed(0)} GFLOP/s, which bounds it near ${((peak / gflop) * tokens).toFixed(0)} tokens/s per core.`);
  console.log(`wrote ${writeResults('gpt', rows)}`);
}
