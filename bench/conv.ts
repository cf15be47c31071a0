// conv2d throughput (GFLOP/s, best of repeats) of the native forward, input-gradient and
// weight-gradient kernels at the Keras MNIST CNN's layers (batch 64) and a ResNet 3×3 layer, on
// 1 and 2 threads, beside PyTorch's CPU convolution measured in the same run when a peer
// interpreter has torch (bench/peers/torch_conv.py, interpreter from findPeerPython). Installs nothing.
// Every pass counts 2·N·K·OH·OW·C·kh·kw flops. The two MNIST layers that a 2×2 max pool follows
// are also timed as the conv-pool node Sequential builds (conv + pool forward; the input, weight
// and bias gradients from a pooled gradient that is half zeros, as after a ReLU), credited with
// the dense flops (1× forward, 2× backward) beside PyTorch's conv2d + max_pool2d and their
// backward passes.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { native } from '../lib/native.js';
import { findPeerPython, makeRow, packageRoot, printTable, Row, timeIt, writeResults } from './common.js';

interface ConvCase {
  name: string;
  n: number; c: number; h: number; w: number; k: number; kh: number; kw: number;
  stride: number; padding: number;
}

const CASES: ConvCase[] = [
  { name: 'mnist conv1 64x1x28x28 -> 32 3x3', n: 64, c: 1, h: 28, w: 28, k: 32, kh: 3, kw: 3, stride: 1, padding: 0 },
  { name: 'mnist conv2 64x32x13x13 -> 64 3x3', n: 64, c: 32, h: 13, w: 13, k: 64, kh: 3, kw: 3, stride: 1, padding: 0 },
  { name: 'mnist conv3 64x64x5x5 -> 64 3x3', n: 64, c: 64, h: 5, w: 5, k: 64, kh: 3, kw: 3, stride: 1, padding: 0 },
  { name: 'resnet 8x64x56x56 -> 64 3x3 pad 1', n: 8, c: 64, h: 56, w: 56, k: 64, kh: 3, kw: 3, stride: 1, padding: 1 },
];
const PASSES = ['forward', 'input grad', 'weight grad'] as const;
type Pass = (typeof PASSES)[number];
const POOLED_CASES = CASES.slice(0, 2);
const POOLED_PASSES = ['+ pool forward', '+ pool backward'] as const;
type PooledPass = (typeof POOLED_PASSES)[number];
const THREADS = [1, 2];

function outSize(s: ConvCase): [number, number] {
  return [Math.floor((s.h + 2 * s.padding - s.kh) / s.stride) + 1, Math.floor((s.w + 2 * s.padding - s.kw) / s.stride) + 1];
}

function flops(s: ConvCase): number {
  const [oh, ow] = outSize(s);
  return 2 * s.n * s.k * oh * ow * s.c * s.kh * s.kw;
}

// GFLOP/s per "case|pass" from the PyTorch peer on `threads` threads; empty on failure.
function torchGflops(python: string, threads: number): Map<string, number> {
  const result = new Map<string, number>();
  try {
    const out = execFileSync(python, [join(packageRoot(), 'bench', 'peers', 'torch_conv.py'), String(threads),
      JSON.stringify(CASES)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
    for (const r of JSON.parse(out) as { name: string; pass: string; gflops: number }[]) result.set(`${r.name}|${r.pass}`, r.gflops);
  } catch (e) {
    console.log(`PyTorch peer failed on ${threads} thread(s): ${(e as Error).message.split('\n')[0]}`);
  }
  return result;
}

function filled(elems: number, seed: number): unknown {
  const handle = native.alloc(elems * 4);
  const data = new Float32Array(native.hostView(handle), 0, elems);
  for (let i = 0; i < elems; i++) data[i] = (((i + seed) * 7919) % 1000) / 500 - 1;
  return handle;
}

// Best GFLOP/s of each pass on the native kernels, with the current thread count.
function kindlingGflops(s: ConvCase): Map<Pass, number> {
  const [oh, ow] = outSize(s);
  const geom = [s.n, s.c, s.h, s.w, s.k, s.kh, s.kw, oh, ow, s.stride, s.stride, s.padding, s.padding, 1, 1, 1];
  const xElems = s.n * s.c * s.h * s.w, wElems = s.k * s.c * s.kh * s.kw, outElems = s.n * s.k * oh * ow;
  const x = filled(xElems, 1), w = filled(wElems, 2), b = filled(s.k, 3), g = filled(outElems, 4);
  const out = native.alloc(outElems * 4), dx = native.alloc(xElems * 4), dw = native.alloc(wElems * 4);
  const xStrides = [s.c * s.h * s.w, s.h * s.w, s.w, 1];
  const runs: Record<Pass, () => void> = {
    forward: () => native.conv2d(geom, x, 0, xStrides, w, 0, b, 0, out, 0),
    'input grad': () => native.conv2dInputGrad(geom, g, 0, w, 0, dx, 0),
    'weight grad': () => native.conv2dWeightGrad(geom, x, 0, xStrides, g, 0, dw, 0),
  };
  const result = new Map<Pass, number>();
  for (const pass of PASSES) result.set(pass, flops(s) / timeIt(runs[pass], { minSeconds: 0.3 }).bestSeconds / 1e9);
  for (const h of [x, w, b, g, out, dx, dw]) native.dispose(h);
  return result;
}

// Best GFLOP/s (dense-equivalent) of the conv-pool node's forward and backward (2×2 pool).
function kindlingPooledGflops(s: ConvCase): Map<PooledPass, number> {
  const [oh, ow] = outSize(s);
  const ph = Math.floor(oh / 2), pw = Math.floor(ow / 2);
  const geom = [s.n, s.c, s.h, s.w, s.k, s.kh, s.kw, oh, ow, s.stride, s.stride, s.padding, s.padding, 1, 1, 1];
  const poolGeom = [s.n, s.k, oh, ow, ph, pw, 2, 2, 2, 2, 0, 0, 1, 1];
  const xElems = s.n * s.c * s.h * s.w, wElems = s.k * s.c * s.kh * s.kw, pooledElems = s.n * s.k * ph * pw;
  const x = filled(xElems, 1), w = filled(wElems, 2), b = filled(s.k, 3), gp = filled(pooledElems, 4);
  const gpData = new Float32Array(native.hostView(gp), 0, pooledElems);
  for (let i = 0; i < pooledElems; i += 2) gpData[i] = 0;
  const out = native.alloc(pooledElems * 4), idx = native.alloc(pooledElems * 4);
  const dx = native.alloc(xElems * 4), dw = native.alloc(wElems * 4), db = native.alloc(s.k * 4);
  const xStrides = [s.c * s.h * s.w, s.h * s.w, s.w, 1];
  const forward = () => native.conv2dMaxPool2d(geom, poolGeom, x, 0, xStrides, w, 0, b, 0, out, 0, idx, 0);
  const backward = () => native.conv2dPooledBackward(geom, poolGeom, x, 0, xStrides, w, 0, gp, 0, idx, 0, dx, 0, dw, 0, db, 0);
  const result = new Map<PooledPass, number>();
  result.set('+ pool forward', flops(s) / timeIt(forward, { minSeconds: 0.3 }).bestSeconds / 1e9);
  result.set('+ pool backward', (2 * flops(s)) / timeIt(backward, { minSeconds: 0.3 }).bestSeconds / 1e9);
  for (const h of [x, w, b, gp, out, idx, dx, dw, db]) native.dispose(h);
  return result;
}

export async function main(): Promise<void> {
  const originalThreads: number = native.numThreads();
  console.log(`kindling conv2d: ISA ${native.cpuIsa()}`);
  const peerPython = findPeerPython();
  const peerName = peerPython ? `pytorch ${peerPython.torchVersion}` : 'pytorch';
  console.log('timings: best of repeats (>= 0.3 s each); on a shared machine re-run\n');
  const rows: Row[] = [];
  try {
    for (const threads of THREADS) {
      native.setNumThreads(threads);
      const peer = peerPython ? torchGflops(peerPython.python, threads) : new Map<string, number>();
      for (const s of CASES) {
        const ours = kindlingGflops(s);
        for (const pass of PASSES) {
          rows.push(makeRow(`${s.name} ${pass}`, threads, 'GFLOP/s', ours.get(pass)!, peerName, peer.get(`${s.name}|${pass}`) ?? null));
        }
      }
      for (const s of POOLED_CASES) {
        const ours = kindlingPooledGflops(s);
        for (const pass of POOLED_PASSES) {
          rows.push(makeRow(`${s.name} ${pass}`, threads, 'GFLOP/s', ours.get(pass)!, peerName, peer.get(`${s.name}|${pass}`) ?? null));
        }
      }
    }
  } finally {
    native.setNumThreads(originalThreads);
  }
  printTable(rows);
  console.log(`\nwrote ${writeResults('conv', rows)}`);
}
