import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it, vi } from 'vitest';

import { CommanderError } from 'commander';
import { DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, createProgram, runTrain, type TrainArgs } from '../lib/cli.js';
import { LM_DEFAULTS, type LmArgs, lrAt } from '../lib/cli_lm.js';
import { encodeIdx } from '../lib/data/idx.js';
import * as kd from '../lib/index.js';
import { makeRng } from './helpers.js';

/** Parses argv as `kindling ...` would, capturing output instead of exiting. */
async function parse(...argv: string[]): Promise<{ out: string; err: string; error: CommanderError | null; args: TrainArgs | null }> {
  let out = '', err = '';
  let args: TrainArgs | null = null;
  const program = createProgram({
    writeOut: (s) => { out += s; },
    writeErr: (s) => { err += s; },
    exitOverride: true,
    onTrain: (a) => { args = a; },
  });
  try {
    await program.parseAsync(['node', 'kindling', ...argv]);
    return { out, err, error: null, args };
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return { out, err, error: e, args };
  }
}

describe('kindling CLI', () => {
  it('the bin file starts with a node shebang', () => {
    const source = readFileSync(fileURLToPath(new URL('../lib/cli.ts', import.meta.url)), 'utf8');
    expect(source.split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  it('train --help lists every option', async () => {
    const { out, error } = await parse('train', '--help');
    expect(error?.code).toBe('commander.helpDisplayed');
    expect(error?.exitCode).toBe(0);
    for (const flag of ['--model <name>', '--epochs <n>', '--batch-size <n>', '--lr <x>', '--data <dir>', '--device <device>', '--threads <n>', '--out <dir>', '--seed <n>']) {
      expect(out).toContain(flag);
    }
    expect(out).toMatch(/"cnn", "mlp"/);
  });

  it('the top-level --help names the train command', async () => {
    const { out, error } = await parse('--help');
    expect(error?.exitCode).toBe(0);
    expect(out).toMatch(/train \[options\]/);
  });

  it('defaults: cnn, Adam lr 1e-3, batch 64, cpu, seed 1', async () => {
    const { args, error } = await parse('train');
    expect(error).toBeNull();
    expect(args).toEqual({ model: 'cnn', epochs: DEFAULT_EPOCHS, batchSize: DEFAULT_BATCH_SIZE, lr: 1e-3, device: 'cpu', seed: 1, valSplit: 0.1 });
  });

  it('parses every option', async () => {
    const { args } = await parse('train', '--model', 'mlp', '--epochs', '3', '--batch-size', '128', '--lr', '0.01', '--data', 'debian',
      '--device', 'cuda', '--threads', '2', '--out', '/tmp/x', '--seed', '0', '--val-split', '0');
    expect(args).toEqual({ model: 'mlp', epochs: 3, batchSize: 128, lr: 0.01, data: 'debian', device: 'cuda', threads: 2, out: '/tmp/x', seed: 0, valSplit: 0 });
  });

  it.each([
    [['train', '--bogus'], 'commander.unknownOption', /unknown option '--bogus'/],
    [['train', '--epochs', 'ten'], 'commander.invalidArgument', /'--epochs <n>' argument 'ten' is invalid\. expected a positive integer/],
    [['train', '--epochs', '0'], 'commander.invalidArgument', /positive integer/],
    [['train', '--batch-size', '2.5'], 'commander.invalidArgument', /positive integer/],
    [['train', '--lr', '-1'], 'commander.invalidArgument', /'--lr <x>' argument '-1' is invalid/],
    [['train', '--model', 'resnet'], 'commander.invalidArgument', /Allowed choices are cnn, mlp/],
    [['train', '--device', 'tpu'], 'commander.invalidArgument', /Allowed choices are cpu, cuda/],
    [['train', '--val-split', '1'], 'commander.invalidArgument', /\[0, 1\)/],
    [['fly'], 'commander.unknownCommand', /unknown command 'fly'/],
  ])('%j exits non-zero with a clear message', async (argv, code, message) => {
    const { err, error, args } = await parse(...argv);
    expect(error?.code).toBe(code);
    expect(error?.exitCode).toBe(1);
    expect(err).toMatch(message);
    expect(args).toBeNull();
  });
});

describe('kindling train end to end (tiny data)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kindling-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Fashion-MNIST-shaped IDX files: class c images are bright in row band c, so an MLP learns them. */
  function writeTinyFashionMnist(folder: string, trainCount: number, testCount: number): void {
    const rng = makeRng(5);
    const make = (n: number, prefix: string) => {
      const images = new Uint8Array(n * 784), labels = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const c = i % 10;
        labels[i] = c;
        for (let p = 0; p < 784; p++) images[i * 784 + p] = Math.floor(p / 78.4) === c ? 200 + Math.floor(rng() * 55) : Math.floor(rng() * 40);
      }
      writeFileSync(join(folder, `${prefix}-images-idx3-ubyte.gz`), gzipSync(encodeIdx({ dtype: 'uint8', shape: [n, 28, 28], data: images })));
      writeFileSync(join(folder, `${prefix}-labels-idx1-ubyte.gz`), gzipSync(encodeIdx({ dtype: 'uint8', shape: [n], data: labels })));
    };
    make(trainCount, 'train');
    make(testCount, 't10k');
  }

  it('trains the MLP, reports the test accuracy and writes model.safetensors, curve.svg and history.json', async () => {
    writeTinyFashionMnist(dir, 300, 100);
    const out = join(dir, 'run');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    let result, printed;
    try {
      result = await runTrain({ model: 'mlp', epochs: 2, batchSize: 32, lr: 1e-3, data: dir, device: 'cpu', out, seed: 3, valSplit: 0.1 });
    } finally {
      printed = log.mock.calls.map((c) => c.join(' ')).join('\n');
      log.mockRestore();
    }
    expect(printed).toMatch(/270 training, 30 validation .*100 test images/);
    expect(printed).toMatch(/Total params: 109,386/);
    expect(printed).toMatch(/Test accuracy: \d+\.\d\d% on 100 images/);
    expect(result.testAccuracy).toBeGreaterThan(0.9);
    for (const f of ['model.safetensors', 'curve.svg', 'history.json']) expect(existsSync(join(out, f)), f).toBe(true);
    const weights = kd.io.load(join(out, 'model.safetensors'));
    expect(weights['1.weight'].shape).toEqual([128, 784]);
    expect(kd.io.loadMetadata(join(out, 'model.safetensors')).test_accuracy).toBe(String(result.testAccuracy));
    const history = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8'));
    expect(history.epoch).toEqual([1, 2]);
    expect(Object.keys(history.history).sort()).toEqual(['accuracy', 'loss', 'lr', 'val_accuracy', 'val_loss']);
  });

  it('--device cuda without a GPU is a clear error', async () => {
    if (kd.cuda.isAvailable()) return;
    await expect(runTrain({ model: 'mlp', epochs: 1, batchSize: 32, lr: 1e-3, data: dir, device: 'cuda', seed: 1, valSplit: 0.1 })).rejects.toThrow(/no CUDA device/);
  });

  it('an --out that cannot be written is an IOError before any training', async () => {
    writeTinyFashionMnist(dir, 300, 100);
    writeFileSync(join(dir, 'plain-file'), 'x');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const started = performance.now();
    try {
      const run = runTrain({ model: 'mlp', epochs: 50, batchSize: 32, lr: 1e-3, data: dir, device: 'cpu', out: join(dir, 'plain-file', 'run'), seed: 3, valSplit: 0.1 });
      await expect(run).rejects.toThrow(kd.IOError);
      await expect(runTrain({ model: 'mlp', epochs: 50, batchSize: 32, lr: 1e-3, data: dir, device: 'cpu', out: join(dir, 'plain-file', 'run'), seed: 3, valSplit: 0.1 })).rejects.toThrow(/--out: .*plain-file.*ENOTDIR/);
      expect(log).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
    }
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it('a read-only model.safetensors in --out is an IOError before any training', async () => {
    writeTinyFashionMnist(dir, 300, 100);
    const out = join(dir, 'run-ro');
    mkdirSync(out);
    writeFileSync(join(out, 'model.safetensors'), 'keep me');
    chmodSync(join(out, 'model.safetensors'), 0o444);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await expect(runTrain({ model: 'mlp', epochs: 50, batchSize: 32, lr: 1e-3, data: dir, device: 'cpu', out, seed: 3, valSplit: 0.1 })).rejects.toThrow(/model\.safetensors.*EACCES/);
      expect(log).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
    }
    expect(readFileSync(join(out, 'model.safetensors'), 'utf8')).toBe('keep me');
  });

  it('lm parses its options; defaults are LM_DEFAULTS', async () => {
    let got: LmArgs | null = null;
    const program = createProgram({ writeOut: () => {}, writeErr: () => {}, exitOverride: true, onLm: (a) => { got = a; } });
    await program.parseAsync(['node', 'kindling', 'lm']);
    expect(got).toMatchObject({ minutes: 5, layers: LM_DEFAULTS.layers, embd: LM_DEFAULTS.embd, blockSize: LM_DEFAULTS.blockSize, lr: LM_DEFAULTS.lr, seed: 1 });
    await program.parseAsync(['node', 'kindling', 'lm', '--minutes', '0.5', '--steps', '7', '--layers', '2', '--embd', '64', '--heads', '2', '--block-size', '32',
      '--batch-size', '4', '--lr', '3e-3', '--top-k', '5', '--out', 'x']);
    expect(got).toMatchObject({ minutes: 0.5, steps: 7, layers: 2, embd: 64, heads: 2, blockSize: 32, batchSize: 4, lr: 3e-3, topK: 5, out: 'x' });
    const bad = createProgram({ writeOut: () => {}, writeErr: () => {}, exitOverride: true, onLm: () => {} });
    await expect(bad.parseAsync(['node', 'kindling', 'lm', '--steps', '0'])).rejects.toThrow(/positive integer/);
  });

  it('lm\'s learning rate warms up linearly, then decays along a cosine to a tenth', () => {
    expect(lrAt(0, 0, 1e-3, 10)).toBeCloseTo(1e-4, 12);
    expect(lrAt(9, 0.01, 1e-3, 10)).toBeCloseTo(1e-3, 12);
    expect(lrAt(10, 0, 1e-3, 10)).toBeCloseTo(1e-3, 12);
    expect(lrAt(50, 0.5, 1e-3, 10)).toBeCloseTo(0.55e-3, 12);
    expect(lrAt(99, 1, 1e-3, 10)).toBeCloseTo(1e-4, 12);
  });

  it('lm --steps 6 trains a tiny char GPT through the command line, writes the run folder and prints a sample', async () => {
    const out = join(dir, 'lm-run');
    let printed = '';
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { printed += String(s); return true; });
    try {
      await createProgram({ exitOverride: true }).parseAsync(['node', 'kindling', 'lm', '--steps', '6', '--eval-interval', '3', '--eval-batches', '1',
        '--layers', '1', '--heads', '2', '--embd', '32', '--block-size', '16', '--batch-size', '4', '--warmup', '2', '--threads', '1',
        '--sample-length', '40', '--prompt', 'In the beginning', '--out', out]);
    } finally {
      write.mockRestore();
    }
    for (const f of ['model.safetensors', 'tokenizer.json', 'history.json', 'curve.svg']) expect(existsSync(join(out, f)), f).toBe(true);
    const { history, config } = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8')) as { history: Record<string, number[]>; config: Record<string, number> };
    expect(history.step).toEqual([3, 6]);
    expect(history.val_loss.every((v) => Number.isFinite(v) && v > 0 && v < 6)).toBe(true);
    expect(config).toMatchObject({ nLayer: 1, nEmbd: 32, blockSize: 16 });
    const state = kd.io.load(join(out, 'model.safetensors'));
    expect(state['transformer.wte.weight'].shape).toEqual([config.vocabSize, 32]);
    expect(readFileSync(join(out, 'curve.svg'), 'utf8')).toMatch(/^<svg/);
    const sample = /Sample \(temperature 0\.8\):\n(.*)\n/s.exec(printed);
    expect(sample, printed).not.toBeNull();
    expect(sample![1].startsWith('In the beginning')).toBe(true);
    expect([...sample![1]].length).toBeGreaterThanOrEqual('In the beginning'.length + 40);
    expect(printed).toMatch(/6 steps, 384 tokens/);
  });

  it('lm: an --out that cannot be written is an IOError before the corpus is even read', async () => {
    writeFileSync(join(dir, 'not-a-dir'), 'x');
    const started = performance.now();
    await expect(createProgram({ exitOverride: true }).parseAsync(['node', 'kindling', 'lm', '--steps', '1', '--out', join(dir, 'not-a-dir', 'run')]))
      .rejects.toThrow(/kindling lm --out: .*not-a-dir.*ENOTDIR/);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
