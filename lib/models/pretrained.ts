// Hugging Face checkpoint folders, as `save_pretrained(safe_serialization=True)` lays them out
// and the hub serves them: `config.json` beside either `model.safetensors` or a sharded
// `model.safetensors.index.json` (a weight_map from tensor name to shard file) and its shards.
// The model families (gpt2.ts, bert.ts) build on these: read the config, read the weights,
// load them into a module with the keys Hugging Face tolerates, and write a folder back.
import { mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';

import { ArgumentError, DataError, KindlingError } from '../errors.js';
import { checkPath, commitFiles, discardTempFiles, pathExists, readText, type PendingFile, withIOErrors, writeTempFile } from '../io/files.js';
import { encodeStateDict, readStateDictFile } from '../io/state_dict.js';
import type { LoadResult, Module } from '../nn/module.js';
import { Tensor } from '../tensor.js';

export const CONFIG_NAME = 'config.json';
export const WEIGHTS_NAME = 'model.safetensors';
export const WEIGHTS_INDEX_NAME = 'model.safetensors.index.json';

/** A config.json as parsed: Hugging Face's snake_case keys, untouched. */
export type PretrainedConfigJson = Record<string, unknown>;

/** The shard files Hugging Face names `model-00001-of-00003.safetensors`. */
const shardNamePattern = /^model-\d{5}-of-\d{5}\.safetensors$/;

function shardName(index: number, count: number): string {
  const five = (n: number) => String(n).padStart(5, '0');
  return `model-${five(index + 1)}-of-${five(count)}.safetensors`;
}

function readJsonFile(op: string, path: string): unknown {
  if (!pathExists(path)) throw new DataError(`${op}: ${path} is missing: a Hugging Face model folder has ${basename(path)}`);
  let text: string;
  try {
    text = readText(op, path);
  } catch (err) {
    throw new DataError(`${op}: ${path} cannot be read: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DataError(`${op}: ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** The folder's config.json as an object; a DataError naming the file when it is missing or not a JSON object. */
export function readPretrainedConfig(dir: string, op = 'fromPretrained'): PretrainedConfigJson {
  const path = join(checkPath(op, dir), CONFIG_NAME);
  const json = readJsonFile(op, path);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new DataError(`${op}: ${path} must hold a JSON object, got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}`);
  }
  return json as PretrainedConfigJson;
}

/** The weight_map of a sharded checkpoint's index: tensor name -> shard file name (checked to be a plain file name). */
function readWeightMap(op: string, indexPath: string): Map<string, string> {
  const index = readJsonFile(op, indexPath) as { weight_map?: unknown } | null;
  const map = index !== null && typeof index === 'object' ? index.weight_map : undefined;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) {
    throw new DataError(`${op}: ${indexPath} has no "weight_map" object (tensor name -> shard file)`);
  }
  const out = new Map<string, string>();
  for (const [key, file] of Object.entries(map as Record<string, unknown>)) {
    // A shard is a file in the same folder; a path elsewhere is refused rather than followed.
    if (typeof file !== 'string' || file === '' || basename(file) !== file || file === '.' || file === '..') {
      throw new DataError(`${op}: ${indexPath}: weight_map["${key}"] must be a file name in the folder, got ${JSON.stringify(file)}`);
    }
    out.set(key, file);
  }
  return out;
}

function disposeAll(tensors: Record<string, Tensor>): void {
  for (const t of Object.values(tensors)) t.dispose();
}

/**
 * Every tensor of the folder's weights: `model.safetensors` when present (Hugging Face prefers
 * it), else the shards named by `model.safetensors.index.json`, each tensor taken from the shard
 * the index names. Half and bfloat16 tensors come back as float32, int64 as int32. The caller
 * owns (and disposes) the tensors; on error nothing is left allocated.
 */
export function readPretrainedWeights(dir: string, op = 'fromPretrained'): Record<string, Tensor> {
  checkPath(op, dir);
  const single = join(dir, WEIGHTS_NAME);
  if (pathExists(single)) return readStateDictFile(single, op).tensors;
  const indexPath = join(dir, WEIGHTS_INDEX_NAME);
  if (!pathExists(indexPath)) {
    const what = pathExists(dir) ? `has neither ${WEIGHTS_NAME} nor ${WEIGHTS_INDEX_NAME}` : 'does not exist';
    throw new DataError(`${op}: ${dir} ${what} (only safetensors checkpoints are read; convert pytorch_model.bin with save_pretrained(safe_serialization=True))`);
  }
  const weightMap = readWeightMap(op, indexPath);
  const byShard = new Map<string, string[]>();
  for (const [key, file] of weightMap) byShard.set(file, [...(byShard.get(file) ?? []), key]);
  const out: Record<string, Tensor> = Object.create(null);
  try {
    for (const [file, keys] of byShard) {
      const shardPath = join(dir, file);
      if (!pathExists(shardPath)) throw new DataError(`${op}: ${indexPath} names the shard ${file}, which is missing from ${dir}`);
      const tensors = readStateDictFile(shardPath, op).tensors;
      const absent = keys.filter((k) => !(k in tensors));
      if (absent.length) {
        disposeAll(tensors);
        throw new DataError(`${op}: ${indexPath} puts ${absent.map((k) => `'${k}'`).join(', ')} in ${file}, which does not hold ${absent.length === 1 ? 'it' : 'them'}`);
      }
      for (const [key, t] of Object.entries(tensors)) {
        if (weightMap.get(key) === file) out[key] = t;
        else t.dispose(); // Not this shard's per the index: Hugging Face reads only what the index names.
      }
    }
  } catch (err) {
    disposeAll(out);
    throw err;
  }
  return out;
}

export interface LoadWeightsOptions {
  /**
   * The base model's prefix in task-head models (`transformer` for GPT-2, `bert` for BERT).
   * As in Hugging Face, a base model's checkpoint loads into a head model (the prefix is
   * added) and a head model's checkpoint into the base model (the prefix is dropped).
   */
  basePrefix?: string;
  /** Keys the module may lack in the checkpoint without being reported (tied weights). */
  ignoreMissing?: readonly RegExp[];
  /** Checkpoint keys the module has no place for that are dropped without being reported (old buffers). */
  ignoreUnexpected?: readonly RegExp[];
  /** Maps a checkpoint tensor (by its key as the module names it) to what the module holds, e.g. a transpose. */
  transform?: (key: string, t: Tensor) => Tensor;
}

function matchesAny(patterns: readonly RegExp[] | undefined, key: string): boolean {
  return patterns?.some((p) => p.test(key)) ?? false;
}

/** Checkpoint keys renamed to the module's: the base prefix added or dropped as the module needs. */
function alignPrefix(moduleKeys: ReadonlySet<string>, keys: string[], basePrefix: string | undefined): Map<string, string> {
  const rename = new Map(keys.map((k) => [k, k]));
  if (!basePrefix) return rename;
  const p = `${basePrefix}.`;
  const moduleHasPrefix = [...moduleKeys].some((k) => k.startsWith(p));
  const checkpointHasPrefix = keys.some((k) => k.startsWith(p));
  if (moduleHasPrefix && !checkpointHasPrefix) {
    for (const k of keys) if (moduleKeys.has(p + k)) rename.set(k, p + k);
  } else if (!moduleHasPrefix && checkpointHasPrefix) {
    for (const k of keys) if (k.startsWith(p)) rename.set(k, k.slice(p.length));
  }
  return rename;
}

/**
 * Loads checkpoint tensors into `module` the way Hugging Face's from_pretrained does: the base
 * prefix aligned, tolerated keys left out of the report, shapes checked (a ShapeError names the
 * key). Returns the keys still missing (left as initialised) and unexpected (not loaded).
 * The given tensors stay the caller's.
 */
export function loadWeightsInto(module: Module, weights: Record<string, Tensor>, options: LoadWeightsOptions = {}): LoadResult {
  const moduleKeys = new Set(Object.keys(module.stateDict()));
  const rename = alignPrefix(moduleKeys, Object.keys(weights), options.basePrefix);
  const state: Record<string, Tensor> = Object.create(null);
  const unexpectedKeys: string[] = [];
  const made: Tensor[] = [];
  try {
    for (const [key, t] of Object.entries(weights)) {
      const target = rename.get(key) ?? key;
      if (!moduleKeys.has(target)) {
        if (!matchesAny(options.ignoreUnexpected, key)) unexpectedKeys.push(key);
        continue;
      }
      const value = options.transform ? options.transform(target, t) : t;
      if (value !== t) made.push(value);
      state[target] = value;
    }
    const { missingKeys } = module.loadStateDict(state, { strict: false });
    return { missingKeys: missingKeys.filter((k) => !matchesAny(options.ignoreMissing, k)), unexpectedKeys };
  } finally {
    for (const t of made) t.dispose();
  }
}

/** Reads the folder's weights into `module` (see loadWeightsInto) and frees them. */
export function loadPretrainedWeights(module: Module, dir: string, options: LoadWeightsOptions = {}, op = 'fromPretrained'): LoadResult {
  const weights = readPretrainedWeights(dir, op);
  try {
    return loadWeightsInto(module, weights, options);
  } catch (err) {
    if (err instanceof KindlingError) err.message = `${op}: ${dir}: ${err.message}`;
    throw err;
  } finally {
    disposeAll(weights);
  }
}

/** A byte count as Hugging Face's max_shard_size takes it: a number, or "5GB" / "500MB" / "10KiB". */
export function parseShardSize(size: number | string, op = 'savePretrained'): number {
  if (typeof size === 'number') {
    if (Number.isSafeInteger(size) && size > 0) return size;
    throw new ArgumentError(`${op}: maxShardSize must be a positive whole number of bytes, got ${size}`);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)?\s*$/i.exec(String(size));
  if (!match) throw new ArgumentError(`${op}: maxShardSize ${JSON.stringify(size)} is not a size such as 5GB, 500MB or 1048576`);
  const unit = (match[2] ?? 'B').toUpperCase();
  const scale: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40 };
  const bytes = Math.floor(Number(match[1]) * scale[unit]!);
  if (bytes <= 0) throw new ArgumentError(`${op}: maxShardSize ${JSON.stringify(size)} is zero`);
  return bytes;
}

function tensorBytes(t: Tensor): number {
  return t.shape.reduce((a, b) => a * b, 1) * (t.dtype === 'bool' ? 1 : 4);
}

/**
 * Splits a state dict into shards of at most `maxBytes` each, in key order, as Hugging Face
 * does: a tensor that does not fit in the current shard starts the next one, and a tensor
 * larger than the limit gets a shard of its own.
 */
export function shardStateDict(stateDict: Record<string, Tensor>, maxBytes: number): Record<string, Tensor>[] {
  const shards: Record<string, Tensor>[] = [];
  let current: Record<string, Tensor> = {}, currentBytes = 0;
  for (const [key, t] of Object.entries(stateDict)) {
    const bytes = tensorBytes(t);
    if (currentBytes > 0 && currentBytes + bytes > maxBytes) {
      shards.push(current);
      current = {};
      currentBytes = 0;
    }
    current[key] = t;
    currentBytes += bytes;
  }
  if (Object.keys(current).length || shards.length === 0) shards.push(current);
  return shards;
}

export interface SavePretrainedOptions {
  /** Split the weights into shards of at most this size (bytes, or "5GB" / "500MB"); default one file. */
  maxShardSize?: number | string;
}

function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
}

/** Weight files of an earlier save that the new one does not replace (they would shadow or confuse it). */
function staleWeightFiles(dir: string, written: ReadonlySet<string>): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const isWeightFile = (n: string) => n === WEIGHTS_NAME || n === WEIGHTS_INDEX_NAME || shardNamePattern.test(n);
  return names.filter((n) => isWeightFile(n) && !written.has(n));
}

/**
 * Writes a Hugging Face folder: `config.json` and the weights (`model.safetensors`, or shards
 * and `model.safetensors.index.json` when maxShardSize is given and the weights exceed it).
 * Every file is written to a temp file first and then renamed into place, so an error leaves
 * the folder as it was; weight files of an earlier save that the new one does not replace are
 * removed afterwards. The folder is created when missing.
 */
export function writePretrainedFolder(
  dir: string,
  config: PretrainedConfigJson,
  stateDict: Record<string, Tensor>,
  options: SavePretrainedOptions = {},
  op = 'savePretrained',
): void {
  checkPath(op, dir);
  for (const [key, t] of Object.entries(stateDict)) {
    if (!(t instanceof Tensor)) throw new ArgumentError(`${op}: value for '${key}' is not a Tensor`);
  }
  withIOErrors(op, dir, () => mkdirSync(dir, { recursive: true }));
  const maxBytes = options.maxShardSize === undefined ? Infinity : parseShardSize(options.maxShardSize, op);
  const shards = shardStateDict(stateDict, maxBytes);
  const pending: PendingFile[] = [];
  try {
    const prepare = (name: string, bytes: Uint8Array | Iterable<Uint8Array>) => {
      const path = join(dir, name);
      pending.push({ temp: writeTempFile(path, bytes, op), path });
    };
    if (shards.length === 1) {
      prepare(WEIGHTS_NAME, encodeStateDict(shards[0]!, {}, op));
    } else {
      const weightMap: Record<string, string> = {};
      let totalSize = 0, totalParameters = 0;
      shards.forEach((shard, i) => {
        const name = shardName(i, shards.length);
        for (const [key, t] of Object.entries(shard)) {
          weightMap[key] = name;
          totalSize += tensorBytes(t);
          totalParameters += t.shape.reduce((a, b) => a * b, 1);
        }
        prepare(name, encodeStateDict(shard, {}, op));
      });
      prepare(WEIGHTS_INDEX_NAME, jsonBytes({ metadata: { total_parameters: totalParameters, total_size: totalSize }, weight_map: weightMap }));
    }
    prepare(CONFIG_NAME, jsonBytes(config));
  } catch (err) {
    discardTempFiles(pending);
    throw err;
  }
  commitFiles(pending, op);
  const written = new Set(pending.map(({ path }) => basename(path)));
  for (const name of staleWeightFiles(dir, written)) withIOErrors(op, join(dir, name), () => unlinkSync(join(dir, name)));
}
