// `npm run bench -- norm`: BatchNorm2d beside ReLU on the same tensor [64, 16, 28, 28] (a Keras
// MNIST CNN activation), calls per second of forward + backward in training and of the forward
// in eval, on 1 and 2 threads, beside PyTorch on the CPU in the same run
// (bench/peers/torch_norm.py, interpreter from findPeerPython). Installs nothing. The target is
// a BatchNorm layer costing at most 2× a ReLU: the last line prints the measured ratio.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import * as kd from '../lib/index.js';
import { type Row, findPeerPython, makeRow, packageRoot, printTable, timeIt, writeResults } from './common.js';

const SHAPE = [64, 16, 28, 28];

function torchRates(python: string, threads: number): Record<string, number> {
  try {
    const out = execFileSync(python, [join(packageRoot(), 'bench', 'peers', 'torch_norm.py'), String(threads), JSON.stringify(SHAPE)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
    const result: Record<string, number> = {};
    for (const line of out.trim().split('\n')) {
      const [name, value] = line.split(' ');
      result[name] = Number(value);
    }
    return result;
  } catch (e) {
    console.log(`PyTorch peer failed on ${threads} thread(s): ${(e as Error).message.split('\n')[0]}`);
    return {};
  }
}

export async function main(): Promise<void> {
  kd.manualSeed(0);
  const rows: Row[] = [];
  const peerPython = findPeerPython();
  const peerName = peerPython ? `pytorch ${peerPython.torchVersion}` : 'pytorch';
  const x = kd.randn(SHAPE, { requiresGrad: true });
  const g = kd.randn(SHAPE);
  const bn = new kd.nn.BatchNorm2d(SHAPE[1]);
  const relu = new kd.nn.ReLU();
  // Gradients are disposed at once: left to the garbage collector, each call would take fresh
  // blocks from the system and time their page faults instead of the kernels.
  const dropGrad = (t: kd.Tensor) => {
    t.grad?.dispose();
    t.grad = null;
  };
  const fwdBwd = (m: kd.nn.Module) => () =>
    kd.tidy(() => {
      (m.forward(x) as kd.Tensor).backward(g);
      dropGrad(x);
      m.parameters().forEach(dropGrad);
    });
  const evalForward = () => kd.noGrad(() => kd.tidy(() => void bn.forward(x)));
  const label = `[${SHAPE.join(',')}]`;
  const ratios: string[] = [];
  for (const threads of [1, 2]) {
    kd.setNumThreads(threads);
    const peer = peerPython ? torchRates(peerPython.python, threads) : {};
    bn.train();
    const bnRate = 1 / timeIt(fwdBwd(bn)).bestSeconds;
    const reluRate = 1 / timeIt(fwdBwd(relu)).bestSeconds;
    bn.eval();
    const evalRate = 1 / timeIt(evalForward).bestSeconds;
    rows.push(makeRow(`batchnorm2d train fwd+bwd ${label}`, threads, 'calls/s', bnRate, peerName, peer.bn_train ?? null));
    rows.push(makeRow(`relu fwd+bwd ${label}`, threads, 'calls/s', reluRate, peerName, peer.relu_train ?? null));
    rows.push(makeRow(`batchnorm2d eval fwd ${label}`, threads, 'calls/s', evalRate, peerName, peer.bn_eval ?? null));
    ratios.push(`${threads} thread(s): ${(reluRate / bnRate).toFixed(2)}×`);
  }
  printTable(rows);
  console.log(`BatchNorm2d train fwd+bwd costs this many ReLU fwd+bwd (target <= 2): ${ratios.join(', ')}`);
  console.log(`wrote ${writeResults('norm', rows)}`);
}
