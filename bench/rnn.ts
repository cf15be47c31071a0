// `npm run bench -- rnn`: training steps per second of a 2-layer nn.LSTM (input 128, hidden 256,
// seq 64, batch 32, Adam, mean squared error of the last step's output) and the same nn.GRU, on
// 1 and 2 threads, beside PyTorch on the CPU in the same run (bench/peers/torch_rnn.py,
// interpreter from findPeerPython); also per CPU-second of the process (steps over the CPU time
// they took), which a shared machine's load disturbs less than the wall clock. `npm run bench -- rnn --quick` runs tiny sizes briefly, to
// check that the script works.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import * as kd from '../lib/index.js';
import { native } from '../lib/native.js';
import { type Row, findPeerPython, makeRow, packageRoot, printTable, writeResults } from './common.js';

interface Sizes { input: number; hidden: number; seq: number; batch: number; seconds: number }

const FULL: Sizes = { input: 128, hidden: 256, seq: 64, batch: 32, seconds: 3 };
const QUICK: Sizes = { input: 16, hidden: 32, seq: 8, batch: 4, seconds: 0.3 };

/** Dense multiply-adds of one training step, counted as 2 FLOPs each: the forward's input and
 * recurrent projections of every layer and step, and twice that for the backward. */
function stepFlops(s: Sizes, gates: number): number {
  const forward = [s.input, s.hidden].reduce((sum, inputSize) => sum + 2 * s.batch * (inputSize + s.hidden) * gates * s.hidden * s.seq, 0);
  return 3 * forward;
}

interface Rate { wall: number; cpu: number }

/** PyTorch's rates by model name: steps per wall-clock second and per CPU-second. */
function torchStepsPerSecond(threads: number, s: Sizes): Record<string, Rate> {
  const peer = findPeerPython();
  if (!peer) return {};
  try {
    const args = [threads, s.input, s.hidden, s.seq, s.batch, s.seconds].map(String);
    const out = execFileSync(peer.python, [join(packageRoot(), 'bench', 'peers', 'torch_rnn.py'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const result: Record<string, Rate> = {};
    for (const line of out.trim().split('\n')) {
      const [name, wall, cpu] = line.split(' ');
      result[name] = { wall: Number(wall), cpu: Number(cpu) };
    }
    return result;
  } catch {
    return {};
  }
}

/** Steps per wall-clock second of the best of three timed thirds, and per CPU-second in that third. */
function stepsPerSecond(model: kd.nn.LSTM | kd.nn.GRU, x: kd.Tensor, target: kd.Tensor, seconds: number): Rate {
  const optimizer = new kd.optim.Adam(model.parameters(), { lr: 1e-3 });
  const step = () =>
    kd.tidy(() => {
      optimizer.zeroGrad();
      const [out] = model.forward(x);
      const loss = out.select(0, x.shape[0] - 1).sub(target).square().mean();
      loss.backward();
      optimizer.step();
    });
  for (let i = 0; i < 3; i++) step();
  let best: Rate = { wall: 0, cpu: 0 };
  for (let r = 0; r < 3; r++) {
    let n = 0;
    const t0 = performance.now(), c0 = process.cpuUsage();
    while (performance.now() - t0 < (seconds * 1000) / 3 || n === 0) {
      step();
      n++;
    }
    const wall = n / ((performance.now() - t0) / 1000);
    const used = process.cpuUsage(c0);
    if (wall > best.wall) best = { wall, cpu: n / Math.max((used.user + used.system) / 1e6, 1e-9) };
  }
  return best;
}

export async function main(): Promise<void> {
  const s = process.argv.includes('--quick') ? QUICK : FULL;
  kd.manualSeed(0);
  const rows: Row[] = [];
  const peerPython = findPeerPython();
  const peerName = peerPython ? `pytorch ${peerPython.torchVersion}` : 'pytorch';
  const x = kd.randn([s.seq, s.batch, s.input]);
  const target = kd.randn([s.batch, s.hidden]);
  const shape = `in ${s.input} h ${s.hidden} seq ${s.seq} b${s.batch}`;
  for (const threads of [1, 2]) {
    kd.setNumThreads(threads);
    const peer = torchStepsPerSecond(threads, s);
    for (const [name, Make] of [['lstm', kd.nn.LSTM], ['gru', kd.nn.GRU]] as const) {
      const rate = stepsPerSecond(new Make(s.input, s.hidden, { numLayers: 2 }), x, target, s.seconds);
      rows.push(makeRow(`${name} 2 layers ${shape} Adam`, threads, 'steps/s', rate.wall, peerName, peer[name]?.wall ?? null));
      rows.push(makeRow(`${name} 2 layers ${shape} Adam`, threads, 'steps/cpu-s', rate.cpu, peerName, peer[name]?.cpu ?? null));
    }
  }
  printTable(rows);
  // The physical limit beside the table: the FMA peak measured now, for the ISA in use.
  const peak: number = native.measurePeakGflops(kd.cpuIsa(), 1);
  for (const [name, gates] of [['LSTM', 4], ['GRU', 3]] as const) {
    const gflop = stepFlops(s, gates) / 1e9;
    console.log(`${name} step: ${gflop.toPrecision(3)} GFLOP forward+backward counted densely; one core's measured ${kd.cpuIsa()} FMA peak is ` +
      `${peak.toFixed(0)} GFLOP/s, which bounds it near ${(peak / gflop).toFixed(1)} steps/s per core.`);
  }
  console.log(`wrote ${writeResults(s === QUICK ? 'rnn_quick' : 'rnn', rows)}`);
}
