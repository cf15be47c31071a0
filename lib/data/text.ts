// Text data: TokenWindows (a token stream cut into next-token (input, target) windows), the
// masked-LM collator maskTokens (BERT's 15% / 80-10-10 rule), and the shipped English text.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { ArgumentError, DTypeError, IOError, ShapeError, fmtShape } from '../errors.js';
import { fromTypedArray } from '../ops/creation.js';
import { packageRoot } from '../native.js';
import { Generator, defaultGenerator } from '../random.js';
import { Tensor } from '../tensor.js';
import { Dataset } from './dataset.js';

export interface TokenWindowsOptions {
  /** Tokens between the starts of consecutive windows (default blockSize: windows do not overlap). */
  stride?: number;
}

/**
 * Windows of a token stream for next-token prediction: window i starts at i * stride and is
 * (input = ids[s .. s + blockSize), target = ids[s + 1 .. s + blockSize + 1)), both int32 [blockSize].
 * A stream of n tokens gives floor((n - blockSize - 1) / stride) + 1 windows (0 if n <= blockSize).
 */
export class TokenWindows extends Dataset<Tensor[]> {
  readonly ids: Int32Array;
  readonly blockSize: number;
  readonly stride: number;

  constructor(ids: Int32Array | number[], blockSize: number, options: TokenWindowsOptions = {}) {
    super();
    if (!(ids instanceof Int32Array) && !Array.isArray(ids)) throw new ArgumentError(`TokenWindows: ids must be an Int32Array or a number[], got ${ids === null ? 'null' : typeof ids}`);
    for (const key of Object.keys(options)) if (key !== 'stride') throw new ArgumentError(`TokenWindows: unknown option '${key}' (known: stride)`);
    const stride = options.stride ?? blockSize;
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new ArgumentError(`TokenWindows: blockSize must be a positive integer, got ${blockSize}`);
    if (!Number.isInteger(stride) || stride < 1) throw new ArgumentError(`TokenWindows: stride must be a positive integer, got ${stride}`);
    if (Array.isArray(ids)) {
      ids.forEach((id, i) => {
        if (!Number.isInteger(id) || id < -(2 ** 31) || id >= 2 ** 31) throw new ArgumentError(`TokenWindows: ids[${i}] = ${id} is not an int32`);
      });
    }
    this.ids = ids instanceof Int32Array ? ids : Int32Array.from(ids);
    this.blockSize = blockSize;
    this.stride = stride;
  }

  get length(): number {
    const n = this.ids.length;
    return n <= this.blockSize ? 0 : Math.floor((n - this.blockSize - 1) / this.stride) + 1;
  }

  /** [input, target], int32 [blockSize] each. */
  get(index: number): Tensor[] {
    this.checkIndex(index);
    const start = index * this.stride;
    return [
      fromTypedArray(this.ids.slice(start, start + this.blockSize), [this.blockSize], 'int32', 'cpu'),
      fromTypedArray(this.ids.slice(start + 1, start + this.blockSize + 1), [this.blockSize], 'int32', 'cpu'),
    ];
  }

  /** Windows `indices` as [input, target], int32 [indices.length, blockSize] each (what DataLoader uses). */
  getBatch(indices: Int32Array): Tensor[] {
    const n = indices.length, t = this.blockSize;
    const input = new Int32Array(n * t), target = new Int32Array(n * t);
    for (let r = 0; r < n; r++) {
      this.checkIndex(indices[r]);
      const start = indices[r] * this.stride;
      input.set(this.ids.subarray(start, start + t), r * t);
      target.set(this.ids.subarray(start + 1, start + t + 1), r * t);
    }
    return [fromTypedArray(input, [n, t], 'int32', 'cpu'), fromTypedArray(target, [n, t], 'int32', 'cpu')];
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new ArgumentError(`TokenWindows: index ${index} is out of range for ${this.length} windows (${this.ids.length} tokens, blockSize ${this.blockSize}, stride ${this.stride})`);
    }
  }
}

export interface MaskTokensOptions {
  /** The id that replaces 80% of the chosen tokens ([MASK]). */
  maskTokenId: number;
  /** Random replacements are drawn uniformly from [0, vocabSize). */
  vocabSize: number;
  /** Chance that each non-special token is chosen for prediction (default 0.15). */
  probability?: number;
  /** Ids never chosen ([CLS], [SEP], [PAD], ...). */
  specialTokenIds?: number[];
  /** Where the random numbers come from (default: the one kd.manualSeed seeds). */
  generator?: Generator;
}

export interface MaskedTokens {
  /** The ids with the chosen tokens masked, replaced or kept; int32, the input's shape. */
  inputIds: Tensor;
  /** The original id where a token was chosen, -100 (cross-entropy's ignoreIndex) elsewhere. */
  labels: Tensor;
}

/**
 * BERT's masked-LM collation (as Hugging Face's DataCollatorForLanguageModeling): each non-special
 * token is chosen with `probability`; a chosen token becomes maskTokenId with chance 0.8, a uniformly
 * random id with chance 0.1, and stays itself with chance 0.1. `batchIds`: an int32 tensor (any
 * shape, e.g. [batch, seq]) or rows of ids.
 */
export function maskTokens(batchIds: Tensor | number[][] | number[], options: MaskTokensOptions): MaskedTokens {
  const op = 'maskTokens';
  if (options === null || typeof options !== 'object') throw new ArgumentError(`${op}: options { maskTokenId, vocabSize } are required`);
  for (const key of Object.keys(options)) {
    if (!['maskTokenId', 'vocabSize', 'probability', 'specialTokenIds', 'generator'].includes(key)) {
      throw new ArgumentError(`${op}: unknown option '${key}' (known: maskTokenId, vocabSize, probability, specialTokenIds, generator)`);
    }
  }
  const { maskTokenId, vocabSize } = options;
  const probability = options.probability ?? 0.15;
  const generator = options.generator ?? defaultGenerator;
  if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new ArgumentError(`${op}: vocabSize must be a positive integer, got ${vocabSize}`);
  if (!Number.isInteger(maskTokenId) || maskTokenId < 0 || maskTokenId >= vocabSize) throw new ArgumentError(`${op}: maskTokenId must be an integer in [0, ${vocabSize}), got ${maskTokenId}`);
  if (typeof probability !== 'number' || !(probability >= 0 && probability <= 1)) throw new ArgumentError(`${op}: probability must be in [0, 1], got ${probability}`);
  if (!(generator instanceof Generator)) throw new ArgumentError(`${op}: generator must be a kd.Generator`);
  const special = new Set(options.specialTokenIds ?? []);

  let ids: Int32Array, shape: number[];
  if (batchIds instanceof Tensor) {
    if (batchIds.dtype !== 'int32') throw new DTypeError(`${op}: batchIds must be int32, got ${batchIds.dtype} ${fmtShape(batchIds.shape)}`);
    ids = Int32Array.from(batchIds.data() as Int32Array);
    shape = [...batchIds.shape];
  } else if (Array.isArray(batchIds)) {
    const rows = batchIds.length > 0 && Array.isArray(batchIds[0]) ? (batchIds as number[][]) : null;
    if (rows) {
      const width = rows[0].length;
      rows.forEach((row, r) => {
        if (!Array.isArray(row) || row.length !== width) throw new ShapeError(`${op}: row ${r} has ${Array.isArray(row) ? row.length : 'no'} ids but row 0 has ${width}; pad the rows to one length`);
      });
      ids = Int32Array.from(rows.flat());
      shape = [rows.length, width];
    } else {
      ids = Int32Array.from(batchIds as number[]);
      shape = [ids.length];
    }
    const flat = rows ? rows.flat() : (batchIds as number[]);
    flat.forEach((id, i) => {
      if (!Number.isInteger(id)) throw new ArgumentError(`${op}: id ${id} at flat position ${i} is not an integer`);
    });
  } else {
    throw new ArgumentError(`${op}: batchIds must be an int32 tensor or an array of ids, got ${batchIds === null ? 'null' : typeof batchIds}`);
  }

  const labels = new Int32Array(ids.length).fill(-100);
  for (let i = 0; i < ids.length; i++) {
    if (special.has(ids[i]) || generator.nextUniform() >= probability) continue;
    labels[i] = ids[i];
    const u = generator.nextUniform();
    if (u < 0.8) ids[i] = maskTokenId;
    else if (u < 0.9) ids[i] = generator.nextInt(vocabSize);
  }
  return { inputIds: fromTypedArray(ids, shape, 'int32', 'cpu'), labels: fromTypedArray(labels, shape, 'int32', 'cpu') };
}

/** The shipped texts: name -> file in data/ (gzip) and what it is. */
const SHIPPED_TEXTS: Record<string, string> = {
  kjv: 'kjv.txt.gz',
};

/** Path of a shipped text's file (gzip-compressed UTF-8); names: 'kjv' (the King James Bible, the default). */
export function textPath(name = 'kjv'): string {
  const file = SHIPPED_TEXTS[name];
  if (file === undefined) throw new ArgumentError(`textPath: no shipped text '${name}' (known: ${Object.keys(SHIPPED_TEXTS).join(', ')})`);
  return join(packageRoot(), 'data', file);
}

/** A shipped public-domain English text as a string; 'kjv': the King James Bible (4.3 MB, see data/README.md). */
export function text(name = 'kjv'): string {
  const path = textPath(name);
  let bytes: Buffer;
  try {
    bytes = gunzipSync(readFileSync(path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new IOError(`text: ${path}: ${err.message}`, path, err.code);
  }
  return new TextDecoder('utf-8').decode(bytes);
}
