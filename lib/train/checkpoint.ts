// Checkpoints for resuming training. A checkpoint at <dir>/<name>.safetensors is the model's state
// dict alone (so it loads into a fresh module with strict keys, here or in PyTorch), with the
// epoch in its metadata; beside it:
//   <name>.optim.safetensors  the optimizer's buffers as state.<param index>.<name>; its numbers
//                             (step counts, param_groups) as JSON in the metadata key 'optimizer'
//   <name>.history.json       the History so far (NaN written as null)
//   <name>.svg                the training curve
// A checkpoint is written whole or not at all: every part is written to a fsynced temp file
// first, and only then are they renamed into place, the model file last; if a rename fails the
// parts already replaced get their old contents back. Each part carries the checkpoint's id and
// the model file lists the parts that belong to it, so a process killed between two renames
// leaves a checkpoint that loadCheckpoint refuses rather than mixes. loadCheckpoint reads and
// checks every part before it changes the model or the optimizer.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import { ArgumentError, DataError, ShapeError, fmtShape } from '../errors.js';
import { encodeStateDict, readStateDictFile } from '../io/state_dict.js';
import { type PendingFile, checkPath, commitFiles, discardTempFiles, pathExists, readText, withIOErrors, writeTempFile } from '../io/files.js';
import type { Module } from '../nn/module.js';
import type { OptimizerStateDict, StateValue } from '../optim/optimizer.js';
import { tidy } from '../scope.js';
import { Tensor } from '../tensor.js';
import type { AnyOptimizer, History } from './fit.js';
import { trainingCurveSvg } from './plot.js';

/** The files that make up the checkpoint at `path` (a .safetensors file). */
export function checkpointFiles(path: string): { model: string; optimizer: string; history: string; svg: string } {
  checkPath('checkpoint', path);
  const stem = path.endsWith('.safetensors') ? path.slice(0, -'.safetensors'.length) : path;
  return { model: stem === path ? `${path}.safetensors` : path, optimizer: `${stem}.optim.safetensors`, history: `${stem}.history.json`, svg: `${stem}.svg` };
}

/** The History as the SVG chart of lib/train/plot.ts draws it. */
export function historyCurveSvg(history: History, title = 'Training curves'): string {
  return trainingCurveSvg({ epoch: history.epoch, series: history.history }, { title });
}

export function historyToJson(history: History, checkpointId?: string): string {
  const body = checkpointId === undefined ? { epoch: history.epoch, history: history.history } : { checkpointId, epoch: history.epoch, history: history.history };
  return JSON.stringify(body, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1);
}

function parseHistory(text: string, source: string): { history: History; checkpointId: unknown } {
  let raw: { epoch?: unknown; history?: unknown; checkpointId?: unknown };
  try {
    raw = JSON.parse(text) as typeof raw;
  } catch (err) {
    throw new DataError(`history: ${source}: not valid JSON (${(err as Error).message})`);
  }
  if (!raw || typeof raw !== 'object' || !Array.isArray(raw.epoch) || !raw.history || typeof raw.history !== 'object' || Array.isArray(raw.history)) {
    throw new DataError(`history: ${source}: expected JSON { epoch: [...], history: {...} }`);
  }
  const history: Record<string, number[]> = Object.create(null);
  for (const [k, v] of Object.entries(raw.history as Record<string, unknown>)) {
    if (!Array.isArray(v)) throw new DataError(`history: ${source}: series '${k}' is not an array`);
    history[k] = v.map((x) => (typeof x === 'number' ? x : NaN));
  }
  return { history: { epoch: raw.epoch.map(Number), history }, checkpointId: raw.checkpointId };
}

export function historyFromJson(text: string): History {
  return parseHistory(text, '<string>').history;
}

function optimizerToFile(optimizer: AnyOptimizer): { tensors: Record<string, Tensor>; json: string } {
  const dict = optimizer.stateDict();
  const tensors: Record<string, Tensor> = Object.create(null);
  const numbers: Record<string, Record<string, number>> = {};
  for (const [index, entry] of Object.entries(dict.state)) {
    for (const [name, value] of Object.entries(entry)) {
      if (value instanceof Tensor) tensors[`state.${index}.${name}`] = value;
      else (numbers[index] ??= {})[name] = value;
    }
  }
  return { tensors, json: JSON.stringify({ param_groups: dict.param_groups, numbers }) };
}

/** Reads the optimizer part; the tensors are the caller's to dispose. */
function optimizerFromFile(path: string): { dict: OptimizerStateDict; tensors: Tensor[]; checkpointId: string | undefined } {
  const { tensors: loaded, metadata: meta } = readStateDictFile(path, 'loadCheckpoint');
  const tensors = Object.values(loaded);
  try {
    return optimizerStateOf(path, loaded, meta);
  } catch (err) {
    for (const t of tensors) t.dispose();
    throw err;
  }
}

function optimizerStateOf(path: string, loaded: Record<string, Tensor>, meta: Record<string, string>): { dict: OptimizerStateDict; tensors: Tensor[]; checkpointId: string | undefined } {
  if (typeof meta.optimizer !== 'string') throw new DataError(`loadCheckpoint: ${path} has no 'optimizer' metadata; it was not written by saveCheckpoint`);
  let parsed: { param_groups?: unknown; numbers?: unknown };
  try {
    parsed = JSON.parse(meta.optimizer) as typeof parsed;
  } catch (err) {
    throw new DataError(`loadCheckpoint: ${path}: the 'optimizer' metadata is not valid JSON (${(err as Error).message})`);
  }
  if (!parsed || typeof parsed !== 'object' || !Array.isArray(parsed.param_groups) || (parsed.numbers !== undefined && (typeof parsed.numbers !== 'object' || parsed.numbers === null))) {
    throw new DataError(`loadCheckpoint: ${path}: the 'optimizer' metadata is not { param_groups: [...], numbers: {...} }`);
  }
  const state: Record<number, Record<string, StateValue>> = {};
  for (const [index, entry] of Object.entries((parsed.numbers ?? {}) as Record<string, unknown>)) {
    if (!entry || typeof entry !== 'object' || Object.values(entry).some((v) => typeof v !== 'number')) {
      throw new DataError(`loadCheckpoint: ${path}: the optimizer numbers of parameter ${index} are not numbers`);
    }
    state[Number(index)] = { ...(entry as Record<string, number>) };
  }
  for (const [key, t] of Object.entries(loaded)) {
    const match = /^state\.(\d+)\.(.+)$/.exec(key);
    if (!match) throw new DataError(`loadCheckpoint: unexpected tensor '${key}' in ${path}`);
    (state[Number(match[1])] ??= {})[match[2]!] = t;
  }
  return { dict: { state, param_groups: parsed.param_groups as OptimizerStateDict['param_groups'] }, tensors: Object.values(loaded), checkpointId: meta.checkpoint_id };
}

export interface SaveCheckpointOptions {
  model: Module;
  optimizer?: AnyOptimizer;
  /** Epochs completed (what fit's initialEpoch takes to resume). */
  epoch: number;
  history?: History;
  metadata?: Record<string, string>;
  /**
   * Where training stands, for an exact resume (fit writes it: step, data position, random
   * generator, scheduler); stored as JSON in the model file's 'training_state' metadata.
   */
  trainingState?: Record<string, unknown>;
}

/**
 * Writes the checkpoint files for `path` (see the top of this file), whole or not at all: on any
 * error the previous checkpoint at `path` is left as it was.
 */
export function saveCheckpoint(path: string, options: SaveCheckpointOptions): void {
  const op = 'saveCheckpoint';
  const files = checkpointFiles(path);
  if (!options || typeof options !== 'object' || !options.model) throw new ArgumentError(`${op}: options.model is required`);
  if (!Number.isInteger(options.epoch) || options.epoch < 0) throw new ArgumentError(`${op}: epoch must be an integer >= 0, got ${String(options.epoch)}`);
  withIOErrors(op, dirname(files.model), () => mkdirSync(dirname(files.model), { recursive: true }));
  const id = randomBytes(8).toString('hex');
  const parts: string[] = [];
  const pending: PendingFile[] = [];
  const prepare = (dest: string, bytes: Uint8Array | Uint8Array[]) => pending.push({ temp: writeTempFile(dest, bytes, op), path: dest });
  try {
    if (options.history) {
      prepare(files.history, Buffer.from(historyToJson(options.history, id)));
      prepare(files.svg, Buffer.from(historyCurveSvg(options.history)));
      parts.push('history');
    }
    if (options.optimizer) {
      const { tensors, json } = optimizerToFile(options.optimizer);
      prepare(files.optimizer, encodeStateDict(tensors, { optimizer: json, checkpoint_id: id }, op));
      parts.push('optimizer');
    }
    const metadata: Record<string, string> = { ...options.metadata, epoch: String(options.epoch), checkpoint_id: id, checkpoint_parts: parts.join(',') };
    if (options.trainingState !== undefined) metadata.training_state = JSON.stringify(options.trainingState);
    prepare(files.model, tidy(() => encodeStateDict(options.model.stateDict(), metadata, op)));
  } catch (err) {
    discardTempFiles(pending);
    throw err;
  }
  commitFiles(pending, op);
}

export interface LoadedCheckpoint {
  /** Epochs completed when it was saved: pass as fit's initialEpoch. */
  epoch: number;
  /** The history saved with it, or null. Pass as fit's history to continue the curve. */
  history: History | null;
  metadata: Record<string, string>;
  /** The trainingState saved with it (fit's resume point), or null. */
  trainingState: Record<string, unknown> | null;
}

/**
 * Loads a checkpoint's weights into `model` (strict keys) and, when given, its state into
 * `optimizer` (which must be built over the same parameters, in the same groups). Every part is
 * read and checked first (present, parseable, of the same checkpoint, keys and shapes matching
 * the model), so an error leaves the model and the optimizer as they were.
 */
export function loadCheckpoint(path: string, options: { model: Module; optimizer?: AnyOptimizer }): LoadedCheckpoint {
  const op = 'loadCheckpoint';
  const files = checkpointFiles(path);
  if (!options || typeof options !== 'object' || !options.model) throw new ArgumentError(`${op}: options.model is required`);
  const { tensors: weights, metadata } = readStateDictFile(files.model, op);
  try {
    return loadParts(files, weights, metadata, options);
  } finally {
    disposeAll(Object.values(weights));
  }
}

function loadParts(
  files: ReturnType<typeof checkpointFiles>, weights: Record<string, Tensor>, metadata: Record<string, string>, options: { model: Module; optimizer?: AnyOptimizer },
): LoadedCheckpoint {
  const op = 'loadCheckpoint';
  const epoch = metadata.epoch === undefined ? 0 : Number(metadata.epoch);
  if (!Number.isInteger(epoch) || epoch < 0) throw new DataError(`${op}: ${files.model}: metadata epoch '${metadata.epoch}' is not an integer >= 0`);
  const trainingState = metadata.training_state === undefined ? null : parseTrainingState(metadata.training_state, files.model);
  // Checkpoints from before ids were written have neither key; then each part is taken as found.
  const id = metadata.checkpoint_id;
  const parts = id === undefined ? null : new Set((metadata.checkpoint_parts ?? '').split(',').filter(Boolean));
  const checkId = (file: string, partId: unknown) => {
    if (id !== undefined && partId !== id) {
      throw new DataError(`${op}: ${file} belongs to another checkpoint than ${files.model} (id ${String(partId)} vs ${id}): a save was interrupted; use an earlier checkpoint`);
    }
  };

  let history: History | null = null;
  if (parts === null ? pathExists(files.history) : parts.has('history')) {
    const parsed = parseHistory(readText(op, files.history), files.history);
    checkId(files.history, parsed.checkpointId);
    history = parsed.history;
  }
  if (options.optimizer && parts !== null && !parts.has('optimizer')) {
    throw new DataError(`${op}: ${files.model} was saved without optimizer state; load it without { optimizer }`);
  }

  const optimizerPart = options.optimizer ? optimizerFromFile(files.optimizer) : null;
  try {
    if (optimizerPart) checkId(files.optimizer, optimizerPart.checkpointId);
    checkWeightsFit(options.model, weights, files.model);
    // The optimizer validates everything before it changes anything; the model's keys and
    // shapes were checked above, so once the optimizer has its state the weights load too.
    if (optimizerPart && options.optimizer) options.optimizer.loadStateDict(optimizerPart.dict);
    options.model.loadStateDict(weights);
  } finally {
    if (optimizerPart) disposeAll(optimizerPart.tensors);
  }
  const { checkpoint_id: _id, checkpoint_parts: _parts, training_state: _training, ...userMetadata } = metadata;
  return { epoch, history, metadata: userMetadata, trainingState };
}

function parseTrainingState(text: string, file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new DataError(`loadCheckpoint: ${file}: the 'training_state' metadata is not valid JSON (${(err as Error).message})`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new DataError(`loadCheckpoint: ${file}: the 'training_state' metadata is not a JSON object`);
  return parsed as Record<string, unknown>;
}

function disposeAll(tensors: Tensor[]): void {
  for (const t of tensors) t.dispose();
}

/** The checkpoint's keys must be exactly the model's, with the same shapes (loadStateDict casts dtypes). */
function checkWeightsFit(model: Module, weights: Record<string, Tensor>, file: string): void {
  tidy(() => {
    const own = model.stateDict();
    const missing = Object.keys(own).filter((k) => !Object.hasOwn(weights, k));
    const unexpected = Object.keys(weights).filter((k) => !Object.hasOwn(own, k));
    if (missing.length || unexpected.length) {
      const said = [missing.length ? `missing keys: ${missing.join(', ')}` : '', unexpected.length ? `unexpected keys: ${unexpected.join(', ')}` : ''];
      throw new ArgumentError(`loadCheckpoint: ${file} does not fit the model: ${said.filter(Boolean).join('; ')}`);
    }
    for (const [key, target] of Object.entries(own)) {
      const src = weights[key]!;
      if (src.shape.join(',') !== target.shape.join(',')) {
        throw new ShapeError(`loadCheckpoint: ${file}: size mismatch for ${key}: checkpoint has ${fmtShape(src.shape)}, the module has ${fmtShape(target.shape)}`);
      }
    }
  });
}
