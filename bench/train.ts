// `npm run bench -- train`: training steps per second for the MLP 784-128-64-10 (batch 64, SGD
// with momentum), the Keras MNIST CNN (batch 64, Adam) and the same CNN with a BatchNorm2d after
// each convolution, on 1 and 2 threads, beside PyTorch on the CPU in the same run
// (bench/peers/torch_train.py, interpreter from findPeerPython).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import * as kd from '../lib/index.js';
import { native } from '../lib/native.js';
import { kerasMnistCnn, mlp } from '../lib/models/index.js';
import { type Row, findPeerPython, makeRow, packageRoot, printTable, writeResults } from './common.js';

/** The Keras MNIST CNN with BatchNorm2d between each convolution and its ReLU. */
function kerasMnistCnnBatchNorm(): kd.nn.Sequential {
  const { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } = kd.nn;
  return new Sequential(
    new Conv2d(1, 32, 3), new BatchNorm2d(32), new ReLU(), new MaxPool2d(2),
    new Conv2d(32, 64, 3), new BatchNorm2d(64), new ReLU(), new MaxPool2d(2),
    new Conv2d(64, 64, 3), new BatchNorm2d(64), new ReLU(),
    new Flatten(),
    new Linear(64 * 3 * 3, 64), new ReLU(),
    new Linear(64, 10),
  );
}

function torchStepsPerSecond(threads: number): Record<string, number> {
  const peer = findPeerPython();
  if (!peer) return {};
  try {
    const out = execFileSync(peer.python, [join(packageRoot(), 'bench', 'peers', 'torch_train.py'), String(threads)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const result: Record<string, number> = {};
    for (const line of out.trim().split('\n')) {
      const [name, value] = line.split(' ');
      result[name] = Number(value);
    }
    return result;
  } catch {
    return {};
  }
}

function stepsPerSecond(model: kd.nn.Module, optimizer: kd.optim.Optimizer, x: kd.Tensor, y: kd.Tensor, minSeconds = 1.5): number {
  const lossFn = new kd.nn.CrossEntropyLoss();
  const step = () =>
    kd.tidy(() => {
      optimizer.zeroGrad();
      const loss = lossFn.forward(model.forward(x) as kd.Tensor, y) as kd.Tensor;
      loss.backward();
      optimizer.step();
    });
  for (let i = 0; i < 5; i++) step();
  let best = 0;
  for (let r = 0; r < 3; r++) {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < (minSeconds * 1000) / 3) {
      step();
      n++;
    }
    best = Math.max(best, n / ((performance.now() - t0) / 1000));
  }
  return best;
}

export async function main(): Promise<void> {
  kd.manualSeed(0);
  const rows: Row[] = [];
  const peerPython = findPeerPython();
  const peerName = peerPython ? `pytorch ${peerPython.torchVersion}` : 'pytorch';
  const y = kd.randint(0, 10, [64]);
  for (const threads of [1, 2]) {
    kd.setNumThreads(threads);
    const peer = torchStepsPerSecond(threads);
    const m = mlp();
    const mlpRate = stepsPerSecond(m, new kd.optim.SGD(m.parameters(), { lr: 0.01, momentum: 0.9 }), kd.rand([64, 784]), y);
    rows.push(makeRow('mlp 784-128-64-10 b64 SGD', threads, 'steps/s', mlpRate, peerName, peer.mlp ?? null));
    const c = kerasMnistCnn();
    const cnnRate = stepsPerSecond(c, new kd.optim.Adam(c.parameters()), kd.rand([64, 1, 28, 28]), y);
    rows.push(makeRow('keras mnist cnn b64 Adam', threads, 'steps/s', cnnRate, peerName, peer.cnn ?? null));
    const cb = kerasMnistCnnBatchNorm();
    const cnnBnRate = stepsPerSecond(cb, new kd.optim.Adam(cb.parameters()), kd.rand([64, 1, 28, 28]), y);
    rows.push(makeRow('keras mnist cnn + batchnorm b64 Adam', threads, 'steps/s', cnnBnRate, peerName, peer.cnn_bn ?? null));
  }
  printTable(rows);
  // The physical limit beside the table: the FMA peak measured now, for the ISA in use.
  const peak: number = native.measurePeakGflops(kd.cpuIsa(), 1);
  console.log(`CNN step: 1.06 GFLOP forward+backward; one core's measured ${kd.cpuIsa()} FMA peak is ${peak.toFixed(0)} GFLOP/s, ` +
    `which bounds it near ${(peak / 1.06).toFixed(0)} steps/s per core.`);
  console.log(`wrote ${writeResults('train', rows)}`);
}
