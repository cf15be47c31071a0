#!/usr/bin/env node
// The `kindling` command. `kindling train` trains one of the example models (lib/models.ts) on
// Fashion-MNIST: 90% of the training images train it, the other 10% (a seeded split) validate
// each epoch, and the test set is used once, at the end, for the reported accuracy.
import { mkdirSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';

import { fashionMnist } from './data/datasets.js';
import { TensorDataset, permutation } from './data/dataset.js';
import { Compose, RandomCrop, RandomHorizontalFlip } from './data/transforms.js';
import { isAvailable as cudaIsAvailable } from './cuda.js';
import type { Device } from './device.js';
import { DeviceError } from './errors.js';
import { assertReplaceable, discardTempFiles, withIOErrors, writeFileAtomic, writeTempFile } from './io/files.js';
import { save } from './io/index.js';
import { kerasMnistCnn, mlp } from './models/index.js';
import { CrossEntropyLoss } from './nn/loss.js';
import { Adam } from './optim/adam.js';
import { manualSeed } from './random.js';
import { type LmArgs, addLmCommand } from './cli_lm.js';
import { cpuIsa, getNumThreads, setNumThreads } from './runtime.js';
import { type FinetuneArgs, registerFinetune } from './cli_finetune.js';
import { historyCurveSvg, historyToJson } from './train/checkpoint.js';
import { evaluate, fit } from './train/fit.js';

export interface TrainArgs {
  model: 'cnn' | 'mlp';
  epochs: number;
  batchSize: number;
  lr: number;
  /** A folder with the four Fashion-MNIST IDX files, 'debian', or undefined for the shipped subset. */
  data?: string;
  device: Device;
  threads?: number;
  /** Default runs/<timestamp>. */
  out?: string;
  seed: number;
  /** Fraction of the training images held out for validation. */
  valSplit: number;
  /** Augment the training images (trainAugmentation()). */
  augment?: boolean;
}

// 12 epochs of the CNN in batches of 32 (Keras's fit default): 88.1-88.7% test accuracy over seeds
// 1-3, about 40 s on 2 Zen 3 cores (measured, see README). Batches of 64 averaged ~0.4% lower.
export const DEFAULT_EPOCHS = 12;
export const DEFAULT_BATCH_SIZE = 32;

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer.');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected an integer >= 0.');
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0.');
  return n;
}

export function fraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n < 1)) throw new InvalidArgumentError('expected a number in [0, 1).');
  return n;
}

export interface ProgramIO {
  writeOut?: (s: string) => void;
  writeErr?: (s: string) => void;
  /** Throw a CommanderError instead of exiting (for tests). */
  exitOverride?: boolean;
  /** What `train` does with its parsed options. Default runTrain. */
  onTrain?: (args: TrainArgs) => Promise<void> | void;
  /** What `lm` does with its parsed options. Default runLm (lib/cli_lm.ts). */
  onLm?: (args: LmArgs) => Promise<unknown> | unknown;
  /** What `finetune` does with its parsed options. Default runFinetune (lib/cli_finetune.ts). */
  onFinetune?: (args: FinetuneArgs) => Promise<unknown> | unknown;
}

/** The `kindling` command line: one subcommand, train. */
export function createProgram(io: ProgramIO = {}): Command {
  const program = new Command('kindling')
    .description('kindling: deep learning for Node.js. Train the example models from the command line.')
    .showHelpAfterError('(run with --help for usage)');
  const train = program
    .command('train')
    .description('Train an example model on Fashion-MNIST (default: the CNN on the 20,000/10,000-image subset shipped in data/).')
    .addOption(new Option('--model <name>', 'architecture: cnn (Keras MNIST convnet) or mlp (784-128-64-10)').choices(['cnn', 'mlp']).default('cnn'))
    .option('--epochs <n>', 'epochs to train', positiveInt, DEFAULT_EPOCHS)
    .option('--batch-size <n>', 'batch size', positiveInt, DEFAULT_BATCH_SIZE)
    .option('--lr <x>', 'Adam learning rate', positiveNumber, 1e-3)
    .option('--data <dir>', "folder with the four Fashion-MNIST IDX files, or 'debian' for /usr/share/... (default: the shipped subset)")
    .option('--val-split <f>', 'fraction of the training images held out for validation', fraction, 0.1)
    .addOption(new Option('--device <device>', 'where to train').choices(['cpu', 'cuda']).default('cpu'))
    .option('--threads <n>', 'CPU threads (default: KINDLING_NUM_THREADS or the core count)', positiveInt)
    .option('--out <dir>', 'folder for model.safetensors, curve.svg and history.json (default: runs/<timestamp>)')
    .option('--seed <n>', 'seed for initialisation, the validation split and shuffling', nonNegativeInt, 1)
    .option('--augment', 'augment the training images: random crop with 2 pixels of padding and horizontal flip')
    .action(async (opts: TrainArgs) => {
      await (io.onTrain ?? runTrain)(opts);
    });
  const lm = addLmCommand(program, io.onLm);
  const finetune = registerFinetune(program, io.onFinetune);
  for (const cmd of [program, train, lm, finetune]) {
    if (io.writeOut || io.writeErr) {
      cmd.configureOutput({
        writeOut: io.writeOut ?? ((s) => process.stdout.write(s)),
        writeErr: io.writeErr ?? ((s) => process.stderr.write(s)),
      });
    }
    if (io.exitOverride) cmd.exitOverride();
  }
  return program;
}

function timestamp(): string {
  return new Date().toISOString().replace(/:/g, '-').replace(/\..*$/, '');
}

/** Rows of `ds` in a seeded order, as two TensorDatasets (so batches stay one gather each). */
function splitRows(ds: TensorDataset, heldOutFraction: number, seed: number): [TensorDataset, TensorDataset | null] {
  const n = ds.length;
  const heldOut = Math.round(n * heldOutFraction);
  if (heldOut === 0) return [ds, null];
  const order = permutation(n, seed);
  const take = (rows: number[]) => new TensorDataset(...ds.getBatch(Int32Array.from(rows)));
  return [take(order.slice(heldOut)), take(order.slice(0, heldOut))];
}

const runFiles = ['model.safetensors', 'history.json', 'curve.svg'];

/**
 * Creates the run folder and proves it takes files (a probe file is written and removed), and
 * that none of the files a run writes exists there read-only: an IOError naming --out otherwise.
 */
export function checkOutDirWritable(outDir: string, op = 'kindling train --out', files = runFiles): void {
  withIOErrors(op, outDir, () => mkdirSync(outDir, { recursive: true }));
  for (const name of files) assertReplaceable(op, join(outDir, name));
  const probe = join(outDir, '.write-check');
  discardTempFiles([{ temp: writeTempFile(probe, new Uint8Array(0), op), path: probe }]);
}

/** What --augment does to each training image: shift by up to 2 pixels, mirror half of them. */
export function trainAugmentation(): Compose {
  return new Compose([new RandomCrop(28, { padding: 2 }), new RandomHorizontalFlip()]);
}

/** `kindling train`: trains, evaluates on the test set and writes the run folder. */
export async function runTrain(args: TrainArgs): Promise<{ testAccuracy: number; testLoss: number; outDir: string; seconds: number }> {
  const started = performance.now();
  if (args.device === 'cuda' && !cudaIsAvailable()) throw new DeviceError('--device cuda: no CUDA device is available (or this build of the addon has no CUDA); use --device cpu');
  if (args.threads !== undefined) setNumThreads(args.threads);
  // Found out now, not after the training it would throw away.
  const outDir = resolve(args.out ?? join('runs', timestamp()));
  checkOutDirWritable(outDir);
  manualSeed(args.seed);

  const data = fashionMnist({ dir: args.data });
  const [heldIn, valSet] = splitRows(data.train, args.valSplit, args.seed);
  const trainSet = args.augment ? new TensorDataset(...heldIn.tensors, { transform: trainAugmentation() }) : heldIn;
  const model = args.model === 'cnn' ? kerasMnistCnn(data.classes.length) : mlp(data.classes.length);
  console.log(`kindling train: ${args.model} on Fashion-MNIST from ${data.source}`);
  console.log(`  ${trainSet.length.toLocaleString('en-US')} training, ${(valSet?.length ?? 0).toLocaleString('en-US')} validation (held out of train), ${data.test.length.toLocaleString('en-US')} test images`);
  console.log(`  ${args.epochs} epochs, batch ${args.batchSize}, Adam lr ${args.lr}, seed ${args.seed}, device ${args.device}, ${getNumThreads()} threads (${cpuIsa()})`);
  console.log(`  augmentation: ${args.augment ? 'RandomCrop(28, padding 2), RandomHorizontalFlip(0.5)' : 'none'}\n`);
  console.log(model.summary({ inputShape: [1, 28, 28] }));
  console.log();

  const optimizer = new Adam(model.parameters(), { lr: args.lr });
  const loss = new CrossEntropyLoss();
  const history = await fit(model, {
    optimizer, loss, trainData: trainSet, valData: valSet ?? undefined, epochs: args.epochs, batchSize: args.batchSize,
    metrics: ['accuracy'], seed: args.seed, device: args.device,
  });
  const test = evaluate(model, { data: data.test, loss, metrics: ['accuracy'], device: args.device });

  save(model.stateDict(), join(outDir, 'model.safetensors'), {
    model: args.model, epochs: String(args.epochs), test_accuracy: String(test.accuracy), test_loss: String(test.loss),
  });
  writeFileAtomic(join(outDir, 'history.json'), Buffer.from(historyToJson(history)), 'kindling train');
  writeFileAtomic(join(outDir, 'curve.svg'), Buffer.from(historyCurveSvg(history, `${args.model} on Fashion-MNIST`)), 'kindling train');
  const seconds = (performance.now() - started) / 1000;
  console.log(`\nTest accuracy: ${(100 * test.accuracy).toFixed(2)}% on ${data.test.length.toLocaleString('en-US')} images (test loss ${test.loss.toFixed(4)})`);
  console.log(`Wrote ${outDir}/ (model.safetensors, curve.svg, history.json) in ${seconds.toFixed(1)}s total`);
  optimizer.dispose();
  return { testAccuracy: test.accuracy, testLoss: test.loss, outDir, seconds };
}

function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  createProgram().parseAsync(process.argv).catch((err: unknown) => {
    process.stderr.write(`kindling: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
