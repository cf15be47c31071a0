// `npm run bench -- norm`: BatchNorm2d beside ReLU on the same tensor [64, 16, 28, 28] (a Keras
// MNIST CNN activation), calls per second of forward + backward in training and of the forward
// in eval, on 1 and 2 threads, beside PyTorch on the CPU in the same run
// (bench/peers/torch_norm.py, interpreter from findPeerPython). Installs nothing. The target is
// a BatchNorm layer costing at most 2× a ReLU: the last line prints the measured ratio.
// Then the row-wise fused ops (lib/ops/fused_rows.ts), forward + backward calls per second:
// LayerNorm and RMSNorm at [8·128, 256] and [4096, 768], GELU (erf and tanh forms) and bias + GELU
// at [1024, 3072] (a GPT-2 MLP over 1024 tokens), cross-entropy at [2048, 256] and [1024, 50257].
// `npm run bench -- norm --small` runs every case at a tiny size, to check that the bench works.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import * as kd from '../lib/index.js';
import { type Row, findPeerPython, makeRow, packageRoot, printTable, timeIt, writeResults } from './common.js';

const SMALL = process.argv.includes('--small');
const SHAPE = SMALL ? [4, 3, 5, 5] : [64, 16, 28, 28];

/** A row-op case: its name (shared with the peer), what it runs and on which [rows, cols]. */
interface RowCase { name: string; kind: 'layernorm' | 'rmsnorm' | 'gelu' | 'gelutanh' | 'biasgelu' | 'ce'; shape: [number, number] }
const ROW_CASES: RowCase[] = ([
  ['layernorm', [8 * 128, 256]], ['layernorm', [4096, 768]], ['rmsnorm', [8 * 128, 256]], ['rmsnorm', [4096, 768]],
  ['gelu', [1024, 3072]], ['gelutanh', [1024, 3072]], ['biasgelu', [1024, 3072]], ['ce', [2048, 256]], ['ce', [1024, 50257]],
] as const).map(([kind, shape]) => {
  const size: [number, number] = SMALL ? [Math.min(shape[0], 16), Math.min(shape[1], 300)] : [shape[0], shape[1]];
  return { name: `${kind}_${size.join('x')}`, kind, shape: size };
});

function torchRates(python: string, threads: number): Record<string, number> {
  try {
    const cases = JSON.stringify(ROW_CASES.map(({ name, kind, shape }) => ({ name, kind, shape })));
    const out = execFileSync(python, [join(packageRoot(), 'bench', 'peers', 'torch_norm.py'), String(threads), JSON.stringify(SHAPE), cases],
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

const ROW_LABELS: Record<RowCase['kind'], string> = {
  layernorm: 'layerNorm', rmsnorm: 'rmsNorm', gelu: 'gelu', gelutanh: "gelu('tanh')", biasgelu: 'biasGelu', ce: 'crossEntropy',
};

/** One forward + backward of a row-op case on fresh inputs made once; the gradients are dropped at once. */
function rowCase(c: RowCase): () => void {
  const [rows, cols] = c.shape;
  const x = kd.randn(c.shape, { requiresGrad: true });
  const g = kd.randn(c.shape);
  const w = kd.randn([cols], { requiresGrad: true });
  const b = kd.randn([cols], { requiresGrad: true });
  const target = kd.randint(0, cols, [rows]);
  const F = kd.nn.functional;
  const forward: Record<RowCase['kind'], () => kd.Tensor> = {
    layernorm: () => F.layerNorm(x, [cols], w, b),
    rmsnorm: () => F.rmsNorm(x, [cols], w),
    gelu: () => F.gelu(x),
    gelutanh: () => F.gelu(x, 'tanh'),
    biasgelu: () => F.biasGelu(x, b),
    ce: () => F.crossEntropy(x, target),
  };
  return () => kd.tidy(() => {
    const y = forward[c.kind]();
    if (c.kind === 'ce') y.backward(); else y.backward(g);
    for (const t of [x, w, b]) {
      t.grad?.dispose();
      t.grad = null;
    }
  });
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
  const rowRuns = ROW_CASES.map((c) => ({ ...c, run: rowCase(c) }));
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
    for (const c of rowRuns) {
      const rate = 1 / timeIt(c.run, SMALL ? { warmupRuns: 1, minSeconds: 0.01, minRuns: 1 } : {}).bestSeconds;
      rows.push(makeRow(`${ROW_LABELS[c.kind]} fwd+bwd [${c.shape.join(',')}]`, threads, 'calls/s', rate, peerName, peer[c.name] ?? null));
    }
  }
  printTable(rows);
  console.log(`BatchNorm2d train fwd+bwd costs this many ReLU fwd+bwd (target <= 2): ${ratios.join(', ')}`);
  console.log(`wrote ${writeResults('norm', rows)}`);
}
