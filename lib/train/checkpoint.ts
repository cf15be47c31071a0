// Checkpoints for resuming training. A checkpoint at <dir>/<name>.safetensors is the model's state
// dict alone (so it loads into a fresh module with strict keys, here or in PyTorch), with the
// epoch in its metadata; beside it:
//   <name>.optim.safetensors  the optimizer's buffers as state.<param index>.<name>; its numbers
//                             (step counts, param_groups) as JSON in the metadata key 'optimizer'
//   <name>.history.json       the History so far (NaN written as null)
//   <name>.svg                the training curve
// Every file is written atomically; the model file is written last, so a complete model file
// never sits beside optimizer state from an older epoch.
import { existsSync, readFileSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import { ArgumentError } from '../errors.js';
import { load, loadMetadata, save, writeFileAtomic } from '../io/index.js';
import type { Module } from '../nn/module.js';
import type { OptimizerStateDict, StateValue } from '../optim/optimizer.js';
import { Tensor } from '../tensor.js';
import type { AnyOptimizer, History } from './fit.js';
import { trainingCurveSvg } from './plot.js';

/** The files that make up the checkpoint at `path` (a .safetensors file). */
export function checkpointFiles(path: string): { model: string; optimizer: string; history: string; svg: string } {
  if (typeof path !== 'string' || path === '') throw new ArgumentError('checkpoint: path must be a non-empty string');
  const stem = path.endsWith('.safetensors') ? path.slice(0, -'.safetensors'.length) : path;
  return { model: stem === path ? `${path}.safetensors` : path, optimizer: `${stem}.optim.safetensors`, history: `${stem}.history.json`, svg: `${stem}.svg` };
}

/** The History as the SVG chart of lib/train/plot.ts draws it. */
export function historyCurveSvg(history: History, title = 'Training curves'): string {
  return trainingCurveSvg({ epoch: history.epoch, series: history.history }, { title });
}

export function historyToJson(history: History): string {
  return JSON.stringify({ epoch: history.epoch, history: history.history }, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1);
}

export function historyFromJson(text: string): History {
  const raw = JSON.parse(text) as { epoch?: unknown; history?: unknown };
  if (!Array.isArray(raw.epoch) || !raw.history || typeof raw.history !== 'object') throw new ArgumentError('history: expected JSON { epoch: [...], history: {...} }');
  const history: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(raw.history as Record<string, unknown>)) {
    if (!Array.isArray(v)) throw new ArgumentError(`history: series '${k}' is not an array`);
    history[k] = v.map((x) => (typeof x === 'number' ? x : NaN));
  }
  return { epoch: raw.epoch.map(Number), history };
}

function optimizerToFile(optimizer: AnyOptimizer): { tensors: Record<string, Tensor>; json: string } {
  const dict = optimizer.stateDict();
  const tensors: Record<string, Tensor> = {};
  const numbers: Record<string, Record<string, number>> = {};
  for (const [index, entry] of Object.entries(dict.state)) {
    for (const [name, value] of Object.entries(entry)) {
      if (value instanceof Tensor) tensors[`state.${index}.${name}`] = value;
      else (numbers[index] ??= {})[name] = value;
    }
  }
  return { tensors, json: JSON.stringify({ param_groups: dict.param_groups, numbers }) };
}

function optimizerFromFile(path: string): { dict: OptimizerStateDict; tensors: Tensor[] } {
  const meta = loadMetadata(path);
  if (typeof meta.optimizer !== 'string') throw new ArgumentError(`loadCheckpoint: ${path} has no 'optimizer' metadata; it was not written by saveCheckpoint`);
  const parsed = JSON.parse(meta.optimizer) as { param_groups: Record<string, unknown>[]; numbers: Record<string, Record<string, number>> };
  const state: Record<number, Record<string, StateValue>> = {};
  for (const [index, entry] of Object.entries(parsed.numbers ?? {})) state[Number(index)] = { ...entry };
  const loaded = load(path);
  for (const [key, t] of Object.entries(loaded)) {
    const match = /^state\.(\d+)\.(.+)$/.exec(key);
    if (!match) throw new ArgumentError(`loadCheckpoint: unexpected tensor '${key}' in ${path}`);
    (state[Number(match[1])] ??= {})[match[2]] = t;
  }
  return { dict: { state, param_groups: parsed.param_groups }, tensors: Object.values(loaded) };
}

export interface SaveCheckpointOptions {
  model: Module;
  optimizer?: AnyOptimizer;
  /** Epochs completed (what fit's initialEpoch takes to resume). */
  epoch: number;
  history?: History;
  metadata?: Record<string, string>;
}

/** Writes the checkpoint files for `path` (see the top of this file). */
export function saveCheckpoint(path: string, options: SaveCheckpointOptions): void {
  const files = checkpointFiles(path);
  mkdirSync(dirname(files.model), { recursive: true });
  if (options.history) {
    writeFileAtomic(files.history, Buffer.from(historyToJson(options.history)));
    writeFileAtomic(files.svg, Buffer.from(historyCurveSvg(options.history)));
  }
  if (options.optimizer) {
    const { tensors, json } = optimizerToFile(options.optimizer);
    save(tensors, files.optimizer, { optimizer: json });
  }
  save(options.model.stateDict(), files.model, { ...options.metadata, epoch: String(options.epoch) });
}

export interface LoadedCheckpoint {
  /** Epochs completed when it was saved: pass as fit's initialEpoch. */
  epoch: number;
  /** The history saved with it, or null. Pass as fit's history to continue the curve. */
  history: History | null;
  metadata: Record<string, string>;
}

/**
 * Loads a checkpoint's weights into `model` (strict keys) and, when given, its state into
 * `optimizer` (which must be built over the same parameters, in the same groups).
 */
export function loadCheckpoint(path: string, options: { model: Module; optimizer?: AnyOptimizer }): LoadedCheckpoint {
  const files = checkpointFiles(path);
  const metadata = loadMetadata(files.model);
  const weights = load(files.model);
  try {
    options.model.loadStateDict(weights);
  } finally {
    for (const t of Object.values(weights)) t.dispose();
  }
  if (options.optimizer) {
    if (!existsSync(files.optimizer)) throw new ArgumentError(`loadCheckpoint: no optimizer state beside ${files.model} (expected ${files.optimizer})`);
    const { dict, tensors } = optimizerFromFile(files.optimizer);
    try {
      options.optimizer.loadStateDict(dict);
    } finally {
      for (const t of tensors) t.dispose();
    }
  }
  const history = existsSync(files.history) ? historyFromJson(readFileSync(files.history, 'utf8')) : null;
  const epoch = Number(metadata.epoch ?? 0);
  return { epoch: Number.isInteger(epoch) ? epoch : 0, history, metadata };
}
