// Byte-level BPE (GPT-2 style): text -> UTF-8 bytes -> pre-tokens by GPT-2's regex -> merges by rank.
// Ids: the special tokens first, then the 256 bytes in byte order, then one id per merge in the
// order learned. Training counts pairs over the word-frequency table and keeps an incremental
// index (pair -> count, pair -> words holding it, a max-heap with lazy deletion), so a merge
// touches only the words that contain its pair.
import { ArgumentError, DataError } from '../errors.js';
import {
  BYTE_TO_UNICODE, GPT2_PRETOKENIZE, bytesToUnicode, readJsonFile, strictUtf8Decoder, unicodeToBytes,
  utf8Decoder, utf8Encoder, writeJsonFile,
} from './bytes.js';

export interface BpeTrainOptions {
  /** Total vocabulary: special tokens + 256 bytes + merges. */
  vocabSize: number;
  /** Tokens kept whole (never split, never merged across), e.g. ['<|endoftext|>', '[MASK]']. */
  specialTokens?: string[];
  /** Stop when the most frequent pair occurs fewer times than this (default 2). */
  minFrequency?: number;
}

export interface BpeJson {
  type: 'bpe';
  specialTokens: string[];
  /** Merges in rank order, as GPT-2's merges.txt writes them: 'Ġ t' (byte-to-unicode characters). */
  merges: string[];
  /** token (byte-to-unicode characters, or the special token itself) -> id; derived from the above. */
  vocab: Record<string, number>;
}

// Pair keys pack two ids below 2^21 into one exact double.
export const PAIR_SHIFT = 2 ** 21;
export const pairKey = (a: number, b: number): number => a * PAIR_SHIFT + b;

function checkSpecialTokens(op: string, specialTokens: unknown): string[] {
  if (!Array.isArray(specialTokens) || specialTokens.some((t) => typeof t !== 'string' || t.length === 0)) {
    throw new ArgumentError(`${op}: specialTokens must be an array of non-empty strings`);
  }
  if (new Set(specialTokens).size !== specialTokens.length) throw new ArgumentError(`${op}: specialTokens has duplicates: ${JSON.stringify(specialTokens)}`);
  return specialTokens as string[];
}

/** Splits text into [piece, isSpecial] runs, matching the longest special token first. */
export function splitSpecial(text: string, specialPattern: RegExp | null): [string, boolean][] {
  if (!specialPattern) return text.length ? [[text, false]] : [];
  const out: [string, boolean][] = [];
  let last = 0;
  for (const m of text.matchAll(specialPattern)) {
    if (m.index > last) out.push([text.slice(last, m.index), false]);
    out.push([m[0], true]);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push([text.slice(last), false]);
  return out;
}

export function specialRegex(specialTokens: string[]): RegExp | null {
  if (specialTokens.length === 0) return null;
  const sorted = [...specialTokens].sort((a, b) => b.length - a.length);
  return new RegExp(sorted.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
}

/** Max-heap of (count, pair) ordered by count, then the smaller first id, then the smaller second id. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  private above(i: number, j: number): boolean {
    return this.counts[i] > this.counts[j] || (this.counts[i] === this.counts[j] && this.keys[i] < this.keys[j]);
  }

  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j], this.counts[i]];
    [this.keys[i], this.keys[j]] = [this.keys[j], this.keys[i]];
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastCount = this.counts.pop()!, lastKey = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let best = i;
        if (l < this.counts.length && this.above(l, best)) best = l;
        if (r < this.counts.length && this.above(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}

/**
 * Byte-pair merging of one pre-token: `ids` are its starting symbols; `rankOf` maps a pair key
 * (pairKey(left, right)) to the merge's rank; `mergedId(rank)` is the id the merge makes. Merges
 * apply lowest rank first, each rank's occurrences left to right (GPT-2's order, and the order of
 * Hugging Face's BPE model). The symbols form a linked list and the candidate pairs a heap of
 * (rank, position) checked when popped, so a long pre-token (a paragraph of Chinese is one) costs
 * O(n log n), not O(n^2). `ids` is overwritten.
 */
export function applyMerges(ids: Int32Array, rankOf: ReadonlyMap<number, number>, mergedId: (rank: number) => number): number[] {
  const n = ids.length;
  const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
  const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
  const alive = new Uint8Array(n).fill(1);
  const heap = new PairHeap();
  const rankAt = (i: number): number | undefined => (next[i] < 0 ? undefined : rankOf.get(pairKey(ids[i], ids[next[i]])));
  // PairHeap pops the largest count first, ties to the smaller key: count -rank, key position.
  const offer = (i: number): void => {
    const r = rankAt(i);
    if (r !== undefined) heap.push(-r, i);
  };
  for (let i = 0; i + 1 < n; i++) offer(i);
  while (heap.size > 0) {
    const [negRank, i] = heap.pop();
    if (!alive[i] || rankAt(i) !== -negRank) continue; // stale: a neighbour merged since the push
    const j = next[i];
    ids[i] = mergedId(-negRank);
    alive[j] = 0;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    if (prev[i] >= 0) offer(prev[i]);
    offer(i);
  }
  const out: number[] = [];
  for (let i = n > 0 ? 0 : -1; i >= 0; i = next[i]) out.push(ids[i]);
  return out;
}

export class BpeTokenizer {
  readonly specialTokens: readonly string[];
  /** Merges in rank order as [left id, right id]; merge r makes id specialTokens.length + 256 + r. */
  readonly merges: readonly (readonly [number, number])[];
  private readonly tokenBytes: Uint8Array[];
  private readonly specialIds: Map<string, number>;
  private readonly specialPattern: RegExp | null;
  private readonly rankOf = new Map<number, number>();
  private readonly cache = new Map<string, number[]>();

  private constructor(specialTokens: string[], merges: [number, number][]) {
    this.specialTokens = specialTokens;
    this.merges = merges;
    this.specialIds = new Map(specialTokens.map((t, i) => [t, i]));
    this.specialPattern = specialRegex(specialTokens);
    this.tokenBytes = specialTokens.map((t) => utf8Encoder.encode(t));
    for (let b = 0; b < 256; b++) this.tokenBytes.push(Uint8Array.of(b));
    const byteBase = specialTokens.length;
    merges.forEach(([a, b], r) => {
      const id = byteBase + 256 + r;
      if (a < byteBase || b < byteBase || a >= id || b >= id) throw new DataError(`BpeTokenizer: merge ${r} (${a}, ${b}) refers to an id that is special or not yet defined (ids ${byteBase}..${id - 1} exist)`);
      const key = pairKey(a, b);
      if (this.rankOf.has(key)) throw new DataError(`BpeTokenizer: merge ${r} (${a}, ${b}) repeats merge ${this.rankOf.get(key)}`);
      this.rankOf.set(key, r);
      const bytes = new Uint8Array(this.tokenBytes[a].length + this.tokenBytes[b].length);
      bytes.set(this.tokenBytes[a]);
      bytes.set(this.tokenBytes[b], this.tokenBytes[a].length);
      this.tokenBytes.push(bytes);
    });
  }

  get vocabSize(): number {
    return this.tokenBytes.length;
  }

  /** The id of a special token, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.specialIds.get(token);
  }

  /**
   * Learns merges from `corpus` until the vocabulary has `vocabSize` tokens or no pair occurs
   * `minFrequency` times. Ties between equally frequent pairs go to the smaller (left id, right id).
   */
  static train(corpus: string | string[], options: BpeTrainOptions): BpeTokenizer {
    const op = 'BpeTokenizer.train';
    if (options === null || typeof options !== 'object') throw new ArgumentError(`${op}: options { vocabSize } are required`);
    for (const key of Object.keys(options)) {
      if (!['vocabSize', 'specialTokens', 'minFrequency'].includes(key)) throw new ArgumentError(`${op}: unknown option '${key}' (known: vocabSize, specialTokens, minFrequency)`);
    }
    const texts = typeof corpus === 'string' ? [corpus] : corpus;
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) throw new ArgumentError(`${op}: corpus must be a string or an array of strings`);
    const specialTokens = checkSpecialTokens(op, options.specialTokens ?? []);
    const { vocabSize } = options;
    const minFrequency = options.minFrequency ?? 2;
    const base = specialTokens.length + 256;
    if (!Number.isInteger(vocabSize) || vocabSize < base || vocabSize >= PAIR_SHIFT) {
      throw new ArgumentError(`${op}: vocabSize must be an integer in [${base}, ${PAIR_SHIFT}) (${specialTokens.length} special tokens + 256 bytes), got ${vocabSize}`);
    }
    if (!Number.isInteger(minFrequency) || minFrequency < 1) throw new ArgumentError(`${op}: minFrequency must be an integer >= 1, got ${minFrequency}`);

    // Word-frequency table over pre-tokens, specials cut out.
    const pattern = specialRegex(specialTokens);
    const wordFreq = new Map<string, number>();
    for (const text of texts) {
      for (const [piece, isSpecial] of splitSpecial(text, pattern)) {
        if (isSpecial) continue;
        for (const m of piece.matchAll(GPT2_PRETOKENIZE)) wordFreq.set(m[0], (wordFreq.get(m[0]) ?? 0) + 1);
      }
    }
    const words: number[][] = [];
    const freqs: number[] = [];
    for (const [word, freq] of wordFreq) {
      words.push(Array.from(utf8Encoder.encode(word), (b) => b + specialTokens.length));
      freqs.push(freq);
    }

    const pairCount = new Map<number, number>();
    const pairWords = new Map<number, Set<number>>();
    words.forEach((w, wi) => {
      for (let i = 0; i + 1 < w.length; i++) {
        const key = pairKey(w[i], w[i + 1]);
        pairCount.set(key, (pairCount.get(key) ?? 0) + freqs[wi]);
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(wi);
      }
    });
    const heap = new PairHeap();
    for (const [key, count] of pairCount) heap.push(count, key);

    const merges: [number, number][] = [];
    while (base + merges.length < vocabSize && heap.size > 0) {
      const [count, key] = heap.pop();
      if (pairCount.get(key) !== count) continue; // stale entry: the count changed since it was pushed
      if (count < minFrequency) break;
      const a = Math.floor(key / PAIR_SHIFT), b = key % PAIR_SHIFT;
      const merged = base + merges.length;
      merges.push([a, b]);
      const changed = new Map<number, number>();
      const addPair = (x: number, y: number, delta: number, wi: number): void => {
        const k = pairKey(x, y);
        changed.set(k, (changed.get(k) ?? 0) + delta);
        if (delta > 0) {
          let set = pairWords.get(k);
          if (!set) pairWords.set(k, (set = new Set()));
          set.add(wi);
        }
      };
      for (const wi of pairWords.get(key) ?? []) {
        const w = words[wi], f = freqs[wi];
        let hit = false;
        for (let i = 0; i + 1 < w.length; i++) if (w[i] === a && w[i + 1] === b) { hit = true; break; }
        if (!hit) continue; // lazily kept in the set after an earlier merge removed the pair
        for (let i = 0; i + 1 < w.length; i++) addPair(w[i], w[i + 1], -f, wi);
        const next: number[] = [];
        for (let i = 0; i < w.length; i++) {
          if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
            next.push(merged);
            i++;
          } else {
            next.push(w[i]);
          }
        }
        for (let i = 0; i + 1 < next.length; i++) addPair(next[i], next[i + 1], f, wi);
        words[wi] = next;
      }
      pairWords.delete(key);
      for (const [k, delta] of changed) {
        if (delta === 0) continue;
        const c = (pairCount.get(k) ?? 0) + delta;
        if (c <= 0) {
          pairCount.delete(k);
        } else {
          pairCount.set(k, c);
          heap.push(c, k);
        }
      }
      pairCount.delete(key);
    }
    return new BpeTokenizer(specialTokens, merges);
  }

  /** Ids of a pre-token's bytes after applying the merges (see applyMerges). */
  private encodeWord(bytes: Uint8Array): number[] {
    const base = this.specialTokens.length;
    return applyMerges(Int32Array.from(bytes, (b) => b + base), this.rankOf, (rank) => base + 256 + rank);
  }

  private encodeCached(piece: string, bytes: () => Uint8Array, out: number[]): void {
    let ids = this.cache.get(piece);
    if (!ids) {
      ids = this.encodeWord(bytes());
      if (this.cache.size < 100_000) this.cache.set(piece, ids);
    }
    for (const id of ids) out.push(id);
  }

  /**
   * Token ids of `text`. Special tokens in the text become their ids; everything else goes through
   * UTF-8 (a lone surrogate becomes U+FFFD, as TextEncoder writes it), so decode(encode(s)) === s
   * for every well-formed string.
   */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw new ArgumentError(`BpeTokenizer.encode: expected a string, got ${text === null ? 'null' : typeof text}`);
    const out: number[] = [];
    for (const [piece, isSpecial] of splitSpecial(text, this.specialPattern)) {
      if (isSpecial) {
        out.push(this.specialIds.get(piece)!);
        continue;
      }
      for (const m of piece.matchAll(GPT2_PRETOKENIZE)) this.encodeCached(m[0], () => utf8Encoder.encode(m[0]), out);
    }
    return out;
  }

  /**
   * Token ids of raw bytes, valid UTF-8 or not: decodeBytes(encodeBytes(b)) equals b for every b.
   * Valid UTF-8 gives the same ids as encode() of its text; invalid UTF-8 is pre-tokenized at
   * ASCII whitespace only (special tokens are not recognised in it).
   */
  encodeBytes(bytes: Uint8Array): number[] {
    if (!(bytes instanceof Uint8Array)) throw new ArgumentError(`BpeTokenizer.encodeBytes: expected a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
    let text: string | null = null;
    try {
      text = strictUtf8Decoder.decode(bytes);
    } catch {
      text = null;
    }
    if (text !== null) return this.encode(text);
    const out: number[] = [];
    const isSpace = (b: number): boolean => b === 0x20 || (b >= 0x09 && b <= 0x0d);
    let start = 0;
    while (start < bytes.length) {
      // A piece: a run of whitespace, then a run of non-whitespace (like ' word').
      let end = start;
      while (end < bytes.length && isSpace(bytes[end])) end++;
      while (end < bytes.length && !isSpace(bytes[end])) end++;
      const piece = bytes.subarray(start, end);
      this.encodeCached(bytesToUnicode(piece), () => piece, out);
      start = end;
    }
    return out;
  }

  private checkIds(op: string, ids: ArrayLike<number>): void {
    if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number') throw new ArgumentError(`${op}: expected an array of token ids`);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new ArgumentError(`${op}: id ${id} at position ${i} is out of range for a vocabulary of ${this.vocabSize}`);
    }
  }

  /** The bytes the ids stand for (special tokens as their UTF-8). */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    this.checkIds('BpeTokenizer.decodeBytes', ids);
    let n = 0;
    for (let i = 0; i < ids.length; i++) n += this.tokenBytes[ids[i]].length;
    const out = new Uint8Array(n);
    let at = 0;
    for (let i = 0; i < ids.length; i++) {
      out.set(this.tokenBytes[ids[i]], at);
      at += this.tokenBytes[ids[i]].length;
    }
    return out;
  }

  /** The text of the ids; bytes that are not valid UTF-8 (a sequence cut mid-character) become U+FFFD. */
  decode(ids: ArrayLike<number>): string {
    this.checkIds('BpeTokenizer.decode', ids);
    return utf8Decoder.decode(this.decodeBytes(ids));
  }

  /** A token as text: a special token itself, or its bytes through the byte-to-unicode map ('Ġthe'). */
  idToToken(id: number): string {
    this.checkIds('BpeTokenizer.idToToken', [id]);
    return id < this.specialTokens.length ? this.specialTokens[id] : bytesToUnicode(this.tokenBytes[id]);
  }

  toJSON(): BpeJson {
    const vocab: Record<string, number> = {};
    for (let id = 0; id < this.vocabSize; id++) {
      const token = this.idToToken(id);
      if (!(token in vocab)) vocab[token] = id; // two merges can spell the same bytes; the first id answers
    }
    return {
      type: 'bpe',
      specialTokens: [...this.specialTokens],
      merges: this.merges.map(([a, b]) => `${this.idToToken(a)} ${this.idToToken(b)}`),
      vocab,
    };
  }

  static fromJSON(json: unknown): BpeTokenizer {
    const op = 'BpeTokenizer.fromJSON';
    const j = json as Partial<BpeJson> | null;
    if (j === null || typeof j !== 'object' || j.type !== 'bpe' || !Array.isArray(j.merges)) {
      throw new DataError(`${op}: expected { type: 'bpe', specialTokens, merges, vocab }, got ${j === null ? 'null' : typeof j === 'object' ? `an object with type ${JSON.stringify(j.type)}` : typeof j}`);
    }
    const specialTokens = checkSpecialTokens(op, j.specialTokens ?? []);
    const idOf = new Map<string, number>();
    specialTokens.forEach((t, i) => idOf.set(t, i));
    BYTE_TO_UNICODE.forEach((ch, b) => idOf.set(ch, specialTokens.length + b));
    const merges: [number, number][] = [];
    j.merges.forEach((m, r) => {
      const parts = typeof m === 'string' ? m.split(' ') : [];
      const a = idOf.get(parts[0]), b = idOf.get(parts[1]);
      if (parts.length !== 2 || a === undefined || b === undefined) throw new DataError(`${op}: merge ${r} ${JSON.stringify(m)} is not two known tokens separated by one space`);
      unicodeToBytes(op, parts[0] + parts[1]);
      merges.push([a, b]);
      if (!idOf.has(parts[0] + parts[1])) idOf.set(parts[0] + parts[1], specialTokens.length + 256 + r);
    });
    const tokenizer = new BpeTokenizer(specialTokens, merges);
    if (j.vocab !== undefined) {
      for (const [token, id] of Object.entries(j.vocab)) {
        if (idOf.get(token) !== id) throw new DataError(`${op}: vocab gives '${token}' the id ${id} but the merges give it ${idOf.get(token) ?? 'none'}`);
      }
    }
    return tokenizer;
  }

  save(path: string): void {
    writeJsonFile('BpeTokenizer.save', path, this.toJSON());
  }

  static load(path: string): BpeTokenizer {
    return BpeTokenizer.fromJSON(readJsonFile('BpeTokenizer.load', path));
  }
}
