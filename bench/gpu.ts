// `npm run bench -- gpu`: kindling's CUDA kernels and training steps beside PyTorch (cuBLAS /
// cuDNN) on the same GPU, measured in one run: GEMM TFLOP/s in float32 (TF32 tensor cores, as
// PyTorch with allow_tf32) and BF16 at 1024/4096/8192 cubed and the GPT-2 small Linear shapes,
// conv2d forward / input-grad / weight-grad for the MNIST CNN layers and a ResNet 3x3 layer
// (batch 64), fused attention forward and forward+backward (batch 4, seq 1024 and 4096, headDim 64
// and 128, causal and not; FLOPs as PyTorch counts them: 4·b·h·L·S·D forward, 3.5× that with the
// backward, halved when causal) beside F.scaled_dot_product_attention, training steps/s for the MLP
// and the Keras MNIST CNN (batch 64), and training tokens/s of two GPTs with AdamW in float32: the
// CPU bench's (4 layers, width 256, seq 128, batch 16) and a GPT-2-small shape (12 layers, width
// 768, 12 heads, seq 1024, batch 4, vocab 50304). The peer is
// bench/gpu/peer_torch.py run with the interpreter findPeerPython picks ($KINDLING_PEER_PYTHON,
// .venv-peer, /usr/bin/python3), when its torch has CUDA; it says which one, or that there is none
// and why. Nothing is built or installed. Without a CUDA device it prints one line saying why and
// exits 0, or 1 under KINDLING_REQUIRE_CUDA=1 (also when a case measured nothing).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import * as kd from '../lib/index.js';
import { Tensor } from '../lib/index.js';
import { cudaBackend } from '../lib/backend/cuda.js';
import type { ConvGeometry } from '../lib/backend/backend.js';
import { kerasMnistCnn, mlp } from '../lib/models/index.js';
import { native } from '../lib/native.js';
import { type Row, findPeerPython, makeRow, packageRoot, printTable, timeIt, writeResults } from './common.js';

// 'pytorch <version>' once main has found the peer interpreter.
let peerName = 'pytorch';

interface PeerLine {
  case: string;
  tflops?: number;
  steps_per_s?: number;
  tokens_per_s?: number;
}

function torchPeer(python: string): Map<string, PeerLine> {
  const result = new Map<string, PeerLine>();
  const script = join(packageRoot(), 'bench', 'gpu', 'peer_torch.py');
  try {
    const out = execFileSync(python, [script, '--train'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
    for (const line of out.split('\n')) {
      if (!line.startsWith('{')) continue;
      const parsed = JSON.parse(line) as PeerLine;
      result.set(parsed.case, parsed);
    }
  } catch (e) {
    // torch without CUDA, or the peer script failed: rows get no peer, and the reason is printed.
    const err = e as { stderr?: string; message?: string };
    const detail = (err.stderr || err.message || String(e)).trim().split('\n').slice(-5).join('\n  ');
    console.log(`peer: ${python} ${script} failed, rows have no peer:\n  ${detail}`);
  }
  return result;
}

/** Seconds per call of fn on the GPU: calls repeated `reps` times between synchronizations. */
function gpuSeconds(fn: () => void, reps: number): number {
  const t = timeIt(() => {
    for (let i = 0; i < reps; i++) fn();
    kd.cuda.synchronize();
  }, { warmupRuns: 1, minSeconds: 0.5, minRuns: 3 });
  return t.bestSeconds / reps;
}

function gemmRows(peer: Map<string, PeerLine>): Row[] {
  const rows: Row[] = [];
  const shapes: [number, number, number, boolean][] = [
    [1024, 1024, 1024, false], [4096, 4096, 4096, false], [8192, 8192, 8192, false],
    // GPT-2 small Linear layers at 8192 tokens: y = x W^T with W stored [out, in].
    [8192, 2304, 768, true], [8192, 768, 768, true], [8192, 3072, 768, true], [8192, 768, 3072, true],
  ];
  for (const [tag, type] of [['tf32', 0], ['bf16', 1]] as const) {
    for (const [m, n, k, tb] of shapes) {
      const elemBytes = type === 0 ? 4 : 2;
      // Operands as raw device buffers (float32 tensors of the right byte size; the bf16 rows read
      // their bits as arbitrary bf16 values, which changes nothing for timing).
      const a = kd.rand([Math.ceil((m * k * elemBytes) / 4)], { device: 'cuda' });
      const b = kd.rand([Math.ceil((k * n * elemBytes) / 4)], { device: 'cuda' });
      const c = kd.empty([m * n], { device: 'cuda' });
      const seconds = gpuSeconds(() => native.cuda.gemmRaw(m, n, k, type, a.handle, b.handle, c.handle, true, tb), m >= 8192 ? 3 : 10);
      const name = `gemm_${tag}_${m}x${n}x${k}${tb ? '_nt' : ''}`;
      rows.push(makeRow(name, 1, 'TFLOP/s', (2 * m * n * k) / seconds / 1e12, peerName, peer.get(name)?.tflops ?? null));
      for (const t of [a, b, c]) t.dispose();
    }
  }
  return rows;
}

function convRows(peer: Map<string, PeerLine>): Row[] {
  const rows: Row[] = [];
  const cases: [string, number, number, number, number, number][] = [
    ['mnist1_64x1x28x28_32', 64, 1, 28, 32, 0],
    ['mnist2_64x32x13x13_64', 64, 32, 13, 64, 0],
    ['mnist3_64x64x5x5_64', 64, 64, 5, 64, 0],
    ['resnet_64x64x56x56_64', 64, 64, 56, 64, 1],
  ];
  for (const [tag, n, c, hw, k, pad] of cases) {
    const o = hw + 2 * pad - 2;
    const g: ConvGeometry = { n, c, h: hw, w: hw, k, kh: 3, kw: 3, oh: o, ow: o, strideH: 1, strideW: 1, padH: pad, padW: pad,
      dilationH: 1, dilationW: 1, groups: 1 };
    const x = kd.rand([n, c, hw, hw], { device: 'cuda' }), w = kd.rand([k, c, 3, 3], { device: 'cuda' });
    const y = Tensor._empty([n, k, o, o], 'float32', 'cuda'), dy = kd.rand([n, k, o, o], { device: 'cuda' });
    const dx = Tensor._empty(x.shape, 'float32', 'cuda'), dw = Tensor._empty(w.shape, 'float32', 'cuda');
    const flops = 2 * n * k * o * o * c * 9;
    const passes: [string, () => void][] = [
      ['fwd', () => cudaBackend.conv2d(g, y, x, w, null)],
      ['dgrad', () => cudaBackend.conv2dInputGrad(g, dx, dy, w)],
      ['wgrad', () => cudaBackend.conv2dWeightGrad(g, dw, x, dy)],
    ];
    for (const [pass, fn] of passes) {
      const name = `conv_${pass}_${tag}`;
      rows.push(makeRow(name, 1, 'TFLOP/s', flops / gpuSeconds(fn, 20) / 1e12, peerName, peer.get(name)?.tflops ?? null));
    }
    for (const t of [x, w, y, dy, dx, dw]) t.dispose();
  }
  return rows;
}

function trainRows(peer: Map<string, PeerLine>): Row[] {
  kd.manualSeed(0);
  const x = kd.rand([64, 1, 28, 28], { device: 'cuda' }), y = kd.randint(0, 10, [64]).to('cuda');
  const rows: Row[] = [];
  const models: [string, kd.nn.Module, (m: kd.nn.Module) => kd.optim.Optimizer][] = [
    ['train_mlp_b64_sgd', mlp(), (m) => new kd.optim.SGD(m.parameters(), { lr: 0.01, momentum: 0.9 })],
    ['train_cnn_b64_adam', kerasMnistCnn(), (m) => new kd.optim.Adam(m.parameters())],
  ];
  for (const [name, model, makeOpt] of models) {
    model.to('cuda');
    const opt = makeOpt(model);
    const step = () => kd.tidy(() => {
      opt.zeroGrad();
      kd.nn.functional.crossEntropy(model.forward(x) as Tensor, y).backward();
      opt.step();
    });
    const seconds = gpuSeconds(step, 20);
    rows.push(makeRow(name, 1, 'steps/s', 1 / seconds, peerName, peer.get(name)?.steps_per_s ?? null));
  }
  x.dispose();
  y.dispose();
  return rows;
}

const ATTENTION_CASES: [number, number, number][] = [[1024, 12, 64], [4096, 12, 64], [1024, 8, 128], [4096, 8, 128]];

function attentionRows(peer: Map<string, PeerLine>): Row[] {
  const rows: Row[] = [];
  const B = 4;
  for (const [seq, heads, hd] of ATTENTION_CASES) {
    kd.manualSeed(0);
    const [q, k, v] = [0, 1, 2].map(() => kd.randn([B, heads, seq, hd], { device: 'cuda' }).requiresGrad_(true));
    const g = kd.randn([B, heads, seq, hd], { device: 'cuda' });
    for (const causal of [false, true]) {
      const base = 4 * B * heads * seq * seq * hd * (causal ? 0.5 : 1);
      const passes: [string, number, () => void][] = [
        ['fwd', base, () => kd.tidy(() => { kd.noGrad(() => kd.nn.functional.scaledDotProductAttention(q, k, v, { isCausal: causal })); })],
        ['fwdbwd', 3.5 * base, () => kd.tidy(() => {
          kd.nn.functional.scaledDotProductAttention(q, k, v, { isCausal: causal }).backward(g);
          for (const t of [q, k, v]) { t.grad?.dispose(); t.grad = null; }
        })],
      ];
      for (const [pass, flops, fn] of passes) {
        const name = `attn_${pass}_b${B}h${heads}_s${seq}_d${hd}${causal ? '_causal' : ''}`;
        rows.push(makeRow(name, 1, 'TFLOP/s', flops / gpuSeconds(fn, 5) / 1e12, peerName, peer.get(name)?.tflops ?? null));
      }
    }
    for (const t of [q, k, v, g]) t.dispose();
  }
  return rows;
}

const GPT_CASES: [string, { vocabSize: number; blockSize: number; nLayer: number; nHead: number; nEmbd: number }, number][] = [
  ['train_gpt_4x256_T128_b16_adamw', { vocabSize: 256, blockSize: 128, nLayer: 4, nHead: 4, nEmbd: 256 }, 16],
  ['train_gpt_12x768_T1024_b4_adamw', { vocabSize: 50304, blockSize: 1024, nLayer: 12, nHead: 12, nEmbd: 768 }, 4],
];

function gptRows(peer: Map<string, PeerLine>): Row[] {
  const rows: Row[] = [];
  for (const [name, config, batch] of GPT_CASES) {
    kd.manualSeed(0);
    const model = kd.models.gpt(config).to('cuda');
    const idx = kd.randint(0, config.vocabSize, [batch, config.blockSize]).to('cuda');
    const targets = kd.randint(0, config.vocabSize, [batch, config.blockSize]).to('cuda');
    const opt = new kd.optim.AdamW(model.parameters(), { lr: 3e-4, weightDecay: 0.1 });
    const step = () => kd.tidy(() => {
      opt.zeroGrad();
      model.forward(idx, targets).loss.backward();
      opt.step();
    });
    const seconds = gpuSeconds(step, config.nLayer > 4 ? 3 : 10);
    rows.push(makeRow(name, 1, 'tokens/s', (batch * config.blockSize) / seconds, peerName, peer.get(name)?.tokens_per_s ?? null));
    opt.dispose();
    for (const p of model.parameters()) p.dispose();
    idx.dispose();
    targets.dispose();
  }
  return rows;
}

/** Under KINDLING_REQUIRE_CUDA=1 (a GPU run) a bench that measures nothing is a failure, not a skip. */
function cudaRequired(): boolean {
  return process.env.KINDLING_REQUIRE_CUDA === '1';
}

export async function main(): Promise<void> {
  if (!kd.cuda.isAvailable()) {
    const reason = kd.cuda.unavailableReason() ?? 'no CUDA device';
    if (cudaRequired()) {
      console.error(`gpu bench: KINDLING_REQUIRE_CUDA=1 but CUDA is not usable: ${reason}`);
      process.exitCode = 1;
    } else {
      console.log(`gpu bench skipped: ${reason}`);
    }
    return;
  }
  console.log(`device: ${kd.cuda.getDeviceName(0)}`);
  const peerPython = findPeerPython();
  if (peerPython) peerName = `pytorch ${peerPython.torchVersion}`;
  const peer = peerPython ? torchPeer(peerPython.python) : new Map<string, PeerLine>();
  if (peerPython && peer.size === 0) console.log(`peer: none (PyTorch ${peerPython.torchVersion} at ${peerPython.python} has no CUDA, or its script failed)`);
  const rows: Row[] = [];
  // Each group runs on its own: a kernel failing in one still leaves the others' rows.
  for (const group of [gemmRows, convRows, attentionRows, trainRows, gptRows]) {
    try {
      rows.push(...group(peer));
    } catch (e) {
      console.error(`gpu bench: ${group.name} failed: ${(e as Error).message}`);
      process.exitCode = 1;
    }
  }
  printTable(rows);
  console.log(`wrote ${writeResults('gpu', rows)}`);
  const measured = rows.filter((r) => Number.isFinite(r.kindling) && r.kindling > 0).length;
  if (cudaRequired() && measured < rows.length) {
    console.error(`gpu bench: KINDLING_REQUIRE_CUDA=1 and only ${measured} of ${rows.length} cases measured anything`);
    process.exitCode = 1;
  }
}
