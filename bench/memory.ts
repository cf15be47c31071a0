// `npm run bench -- memory [--steps N] [--model mlp|cnn]`: resident memory of five ways to write
// a training loop (issue 10's table): the whole step in kd.tidy; every tensor disposed by hand;
// a Sequential with only its output and the loss disposed; nothing disposed in a synchronous
// loop; nothing disposed with an await every 100 steps. MLP 784-128-64-10 or the Keras MNIST CNN,
// batch 32, SGD, a fresh batch each step; each loop runs in its own process so that one's heap
// does not colour the next. Default 2,000 steps; the figures are for --steps 20000.
// Lower is better here: the table's value is the RSS at the end (MB), the unit names the start.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import * as kd from '../lib/index.js';
import { kerasMnistCnn, mlp } from '../lib/models/index.js';
import { type Row, makeRow, printTable, writeResults } from './common.js';

const LOOPS = ['tidy', 'hand-disposed', 'output+loss disposed', 'forgot (sync)', 'forgot (async)'] as const;
type Loop = (typeof LOOPS)[number];

function rssMB(): number {
  return process.memoryUsage().rss / 1e6;
}

function argValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** One loop in this process; prints "start peak end" (MB). */
async function runLoop(loop: Loop, steps: number, modelName: string): Promise<void> {
  kd.manualSeed(1);
  const batch = 32;
  const inputShape = modelName === 'cnn' ? [batch, 1, 28, 28] : [batch, 784];
  const model = modelName === 'cnn' ? kerasMnistCnn() : mlp();
  const opt = new kd.optim.SGD(model.parameters(), { lr: 0.01 });
  const lossFn = new kd.nn.CrossEntropyLoss();
  // The hand-disposed loop writes the MLP out as ops, so that every tensor is in reach.
  const [w1, b1, w2, b2, w3, b3] = model.parameters();
  const handStep = (x: kd.Tensor, y: kd.Tensor) => {
    const made: kd.Tensor[] = [];
    const k = (t: kd.Tensor) => { made.push(t); return t; };
    const h1 = k(k(k(k(x.matmul(k(w1.t()))).add(b1)).relu()));
    const h2 = k(k(k(h1.matmul(k(w2.t()))).add(b2)).relu());
    const out = k(k(h2.matmul(k(w3.t()))).add(b3));
    const loss = k(lossFn.forward(out, y));
    loss.backward();
    opt.step();
    for (const t of made) t.dispose();
    opt.zeroGrad();
  };
  const start = rssMB();
  let peak = start;
  for (let step = 0; step < steps; step++) {
    const x = kd.randn(inputShape);
    const y = kd.randint(0, 10, [batch]);
    if (loop === 'tidy') {
      kd.tidy(() => {
        opt.zeroGrad();
        lossFn.forward(model.forward(x) as kd.Tensor, y).backward();
        opt.step();
      });
    } else if (loop === 'hand-disposed' && modelName === 'mlp') {
      handStep(x, y);
    } else {
      opt.zeroGrad();
      const out = model.forward(x) as kd.Tensor;
      const loss = lossFn.forward(out, y);
      loss.backward();
      opt.step();
      if (loop === 'output+loss disposed' || loop === 'hand-disposed') {
        out.dispose();
        loss.dispose();
      }
      if (loop === 'forgot (async)' && step % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }
    if (loop !== 'forgot (sync)' && loop !== 'forgot (async)') {
      x.dispose();
      y.dispose();
    }
    if (step % 100 === 0) peak = Math.max(peak, rssMB());
  }
  const end = rssMB();
  console.log(`${start.toFixed(0)} ${Math.max(peak, end).toFixed(0)} ${end.toFixed(0)}`);
}

export async function main(): Promise<void> {
  const steps = Number(argValue('--steps', '2000'));
  const modelName = argValue('--model', 'mlp');
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`bench memory: --steps must be a positive integer, got ${steps}`);
  if (modelName !== 'mlp' && modelName !== 'cnn') throw new Error(`bench memory: --model must be mlp or cnn, got ${modelName}`);
  const self = fileURLToPath(import.meta.url);
  const rows: Row[] = [];
  const threads = kd.getNumThreads();
  console.log(`RSS (MB) over ${steps} ${modelName} steps, batch 32; each loop in its own process`);
  for (const loop of LOOPS) {
    const out = execFileSync(process.execPath, [self, '--memory-child', loop, String(steps), modelName], { encoding: 'utf8' });
    const [start, peak, end] = out.trim().split('\n').pop()!.split(' ').map(Number);
    console.log(`  ${loop.padEnd(22)} ${start} -> ${end} MB (peak ${peak})`);
    rows.push(makeRow(`${modelName} ${steps} steps: ${loop}`, threads, `MB RSS at end (from ${start})`, end));
  }
  printTable(rows);
  console.log(`wrote ${writeResults('memory', rows)}`);
}

const child = process.argv.indexOf('--memory-child');
if (child >= 0) {
  const [loop, steps, modelName] = process.argv.slice(child + 1);
  await runLoop(loop as Loop, Number(steps), modelName);
}
