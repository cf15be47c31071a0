// `npm run bench -- finetune [--tiny] [--layers N] [--steps N] [--threads T] [--mode full|lora] [--profile]`: fine-tuning a GPT-2-small-shaped
// language model (12 layers, 768 wide, 12 heads, vocab 50257, seq 256, batch 4, train mode with
// GPT-2's dropout) on the CPU: the time of one step (forward, cross-entropy, backward, AdamW) and
// the peak resident memory, for full fine-tuning and for LoRA (r 8, alpha 16, on c_attn: peft's
// default target for GPT-2, kd.nn.lora here), on 1 and 2 threads, beside transformers' GPT2LMHeadModel with
// PyTorch 2 (+ peft for LoRA) in the same run (bench/peers/torch_finetune.py).
// Each case runs in its own process, so the peak RSS (the high-water mark getrusage reports)
// is that case's alone; the peer's includes importing transformers and peft.
// --tiny: a 2-layer, 64-wide model (seq 32, batch 2, vocab 1000) that proves the script runs.
// --layers N: N blocks instead of 12 (quicker iteration); --threads / --mode: only those cells.
// --profile: kindling steps alone (--mode, default full; --threads, default 2), split by phase
// and by backend call.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as kd from '../lib/index.js';
import type { GPT2LMHeadModel } from '../lib/models/gpt2.js';
import { type Row, findPeerPython, makeRow, packageRoot, printBackendProfile, printTable, profileBackendCalls, writeResults } from './common.js';

interface Shape { nLayer: number; nEmbd: number; nHead: number; vocabSize: number; seq: number; batch: number }

const FULL: Shape = { nLayer: 12, nEmbd: 768, nHead: 12, vocabSize: 50257, seq: 256, batch: 4 };
const TINY: Shape = { nLayer: 2, nEmbd: 64, nHead: 4, vocabSize: 1000, seq: 32, batch: 2 };
const MODES = ['full', 'lora'] as const;
type Mode = (typeof MODES)[number];
const LORA = { r: 8, loraAlpha: 16, loraDropout: 0, targetModules: ['c_attn'] };

/** stepSeconds: the median wall time of a step; cpuSeconds: its CPU time, all threads (comparable on a busy machine). */
interface CaseResult { stepSeconds: number; cpuSeconds?: number; peakRssMB: number; trainable: number }

function argValue(name: string): string | null {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : null;
}

function buildModel(shape: Shape, mode: Mode): GPT2LMHeadModel {
  const model = kd.models.gpt2({
    vocabSize: shape.vocabSize, nPositions: Math.max(1024, shape.seq), nEmbd: shape.nEmbd, nLayer: shape.nLayer, nHead: shape.nHead,
  }) as GPT2LMHeadModel;
  if (mode === 'lora') kd.nn.lora.apply(model, LORA);
  return model.train();
}

/** One training step's closure over fixed random tokens (the next-token targets are the inputs shifted). */
function makeStep(model: GPT2LMHeadModel, shape: Shape): () => number {
  const trainable = model.parameters().filter((p) => p.requiresGrad);
  const optimizer = new kd.optim.AdamW(trainable, { lr: 1e-4 });
  const tokens = kd.randint(0, shape.vocabSize, [shape.batch, shape.seq + 1]);
  const x = kd.keep(tokens.slice(1, 0, shape.seq).contiguous());
  const y = kd.keep(tokens.slice(1, 1, shape.seq + 1).contiguous().reshape([shape.batch * shape.seq]));
  return () => kd.tidy(() => {
    optimizer.zeroGrad();
    const logits = model.forward(x);
    const loss = kd.nn.functional.crossEntropy(logits.reshape([shape.batch * shape.seq, shape.vocabSize]), y);
    loss.backward();
    optimizer.step();
    return loss.item() as number;
  });
}

/** Runs in a child process: one warm-up step, then `steps` timed ones; prints a CaseResult as JSON. */
function runCase(mode: Mode, threads: number, shape: Shape, steps: number): void {
  kd.setNumThreads(threads);
  kd.manualSeed(0);
  const model = buildModel(shape, mode);
  const step = makeStep(model, shape);
  step();
  const times: number[] = [], cpuTimes: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now(), c0 = process.cpuUsage();
    step();
    const cpu = process.cpuUsage(c0);
    times.push((performance.now() - t0) / 1000);
    cpuTimes.push((cpu.user + cpu.system) / 1e6);
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
  const trainable = model.parameters().filter((p) => p.requiresGrad).reduce((n, p) => n + p.numel, 0);
  const result: CaseResult = {
    stepSeconds: median(times), cpuSeconds: median(cpuTimes), peakRssMB: process.resourceUsage().maxRSS / 1024, trainable,
  };
  console.log(JSON.stringify(result));
}

function kindlingCase(mode: Mode, threads: number, shape: Shape, steps: number): CaseResult {
  const self = fileURLToPath(import.meta.url);
  const out = execFileSync(process.execPath, [...process.execArgv, self, '--finetune-child', mode, String(threads), JSON.stringify(shape), String(steps)], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as CaseResult;
}

function peerCase(python: string, mode: Mode, threads: number, shape: Shape, steps: number): CaseResult | null {
  try {
    const out = execFileSync(python, [join(packageRoot(), 'bench', 'peers', 'torch_finetune.py'), mode, String(threads), JSON.stringify(shape), String(steps)], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 20,
    });
    return JSON.parse(out.trim().split('\n').at(-1)!) as CaseResult;
  } catch (err) {
    console.log(`peer ${mode} on ${threads} thread(s) failed: ${String((err as { stderr?: string }).stderr ?? err).trim().split('\n').at(-1)}`);
    return null;
  }
}

/**
 * One kindling step of `mode` on `threads` threads: the mean time of each phase over a few steps,
 * then the time per step in each backend call (bench/common.ts).
 */
function profileStep(shape: Shape, mode: Mode, threads: number): void {
  kd.setNumThreads(threads);
  kd.manualSeed(0);
  const model = buildModel(shape, mode);
  const optimizer = new kd.optim.AdamW(model.parameters().filter((p) => p.requiresGrad), { lr: 1e-4 });
  const tokens = kd.randint(0, shape.vocabSize, [shape.batch, shape.seq + 1]);
  const x = tokens.slice(1, 0, shape.seq).contiguous();
  const y = tokens.slice(1, 1, shape.seq + 1).contiguous().reshape([shape.batch * shape.seq]);
  const n = 3;
  const phases = new Map<string, number>();
  const timed = <T>(name: string, fn: () => T, count: boolean): T => {
    const t0 = performance.now();
    const out = fn();
    if (count) phases.set(name, (phases.get(name) ?? 0) + (performance.now() - t0) / n);
    return out;
  };
  const step = (count: boolean) => kd.tidy(() => {
    timed('zeroGrad', () => optimizer.zeroGrad(), count);
    const logits = timed('forward (model)', () => model.forward(x), count);
    timed('cross-entropy forward', () => kd.nn.functional.crossEntropy(logits.reshape([shape.batch * shape.seq, shape.vocabSize]), y).item(), count);
    const loss = kd.nn.functional.crossEntropy(logits.reshape([shape.batch * shape.seq, shape.vocabSize]), y);
    timed('backward', () => loss.backward(), count);
    timed('AdamW step', () => optimizer.step(), count);
  });
  for (let i = 0; i <= n; i++) step(i > 0);
  const total = [...phases.values()].reduce((a, b) => a + b, 0);
  console.log(`one kindling ${mode} step, ${shape.nLayer} layers × ${shape.nEmbd}, seq ${shape.seq}, batch ${shape.batch}, ${threads} thread(s): ` +
    `${(total / 1000).toFixed(3)} s (mean of ${n}; the cross-entropy forward is run twice, once timed alone)`);
  for (const [name, ms] of phases) console.log(`  ${name.padEnd(32)} ${(ms / 1000).toFixed(3)} s  ${((100 * ms) / total).toFixed(1)}%`);
  printBackendProfile(profileBackendCalls(() => step(false), n), 45);
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
}

export async function main(): Promise<void> {
  const tiny = process.argv.includes('--tiny');
  const layers = argValue('--layers');
  const shape: Shape = { ...(tiny ? TINY : FULL), ...(layers === null ? {} : { nLayer: Number(layers) }) };
  if (process.argv.includes('--profile')) {
    const modeArg = argValue('--mode') ?? 'full';
    if (!(MODES as readonly string[]).includes(modeArg)) throw new Error(`finetune: --mode must be full or lora, got ${modeArg}`);
    profileStep(shape, modeArg as Mode, Number(argValue('--threads') ?? 2));
    return;
  }
  const steps = Number(argValue('--steps') ?? (tiny ? 3 : 5));
  const peer = findPeerPython();
  const peerName = peer ? `pytorch ${peer.torchVersion}` : 'pytorch';
  const label = `gpt2 ${shape.nLayer}x${shape.nEmbd} seq${shape.seq} b${shape.batch}`;
  const rows: Row[] = [];
  const onlyThreads = argValue('--threads'), onlyMode = argValue('--mode');
  for (const threads of [1, 2].filter((t) => onlyThreads === null || t === Number(onlyThreads))) {
    for (const mode of MODES.filter((m) => onlyMode === null || m === onlyMode)) {
      const ours = kindlingCase(mode, threads, shape, steps);
      const theirs = peer ? peerCase(peer.python, mode, threads, shape, steps) : null;
      const name = mode === 'full' ? `${label} full AdamW` : `${label} LoRA r${LORA.r} c_attn AdamW`;
      if (theirs && theirs.trainable !== ours.trainable) {
        console.log(`note: ${name}: ${ours.trainable} trainable parameters here, ${theirs.trainable} in the peer`);
      }
      rows.push(makeRow(name, threads, 'steps/s', 1 / ours.stepSeconds, peerName, theirs ? 1 / theirs.stepSeconds : null));
      // Per CPU-second (all threads): on a busy machine this stays comparable when wall-clock rates do not.
      rows.push(makeRow(name, threads, 'steps/cpu-s', 1 / ours.cpuSeconds!, peerName, theirs?.cpuSeconds ? 1 / theirs.cpuSeconds : null));
      // Lower is better for memory; the ratio is still kindling / peer.
      rows.push(makeRow(`${name} peak RSS`, threads, 'MB (lower is better)', ours.peakRssMB, peerName, theirs?.peakRssMB ?? null));
    }
  }
  printTable(rows);
  console.log(`wrote ${writeResults('finetune', rows)}`);
}

const child = process.argv.indexOf('--finetune-child');
if (child >= 0) {
  const [mode, threads, shape, steps] = process.argv.slice(child + 1);
  runCase(mode as Mode, Number(threads), JSON.parse(shape!) as Shape, Number(steps));
}
