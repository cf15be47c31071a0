// Tokenizers read from a Hugging Face hub folder: GPT-2's byte-level BPE and BERT's WordPiece, from
// tokenizer.json or from the legacy files (vocab.json + merges.txt; vocab.txt with
// tokenizer_config.json / special_tokens_map.json). The pipeline is HF tokenizers': added tokens cut
// out of the raw text, normalizer, pre-tokenizer, model, truncation, post-processor (BERT's
// [CLS] ... [SEP]), padding; decoding maps ids to tokens and runs the folder's decoder.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ArgumentError, DataError, IOError, fmtShape } from '../errors.js';
import { fromTypedArray } from '../ops/creation.js';
import { type Tensor, isTensor } from '../tensor.js';
import { specialRegex, splitSpecial } from './bpe.js';
import { GPT2_PRETOKENIZE, readJsonFile, utf8Decoder, utf8Encoder } from './bytes.js';
import { ByteLevelBpeModel, byteLevelDecode } from './byte_level.js';
import { type BertNormalizerOptions, WordPieceModel, bertNormalize, bertPreTokenize, cleanUpTokenization, wordPieceDecode } from './wordpiece.js';

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
  /** Matched in the normalized text (true) or the raw text (false). */
  normalized: boolean;
}

type Normalizer = { type: 'bert'; options: BertNormalizerOptions } | { type: 'lowercase' } | { type: 'nfd' | 'nfc' | 'nfkd' | 'nfkc' } | { type: 'stripAccents' } | { type: 'sequence'; steps: Normalizer[] };
type PreTokenizer = { type: 'byteLevel'; addPrefixSpace: boolean; useRegex: boolean } | { type: 'bert' };
/** One piece of a template: a special token's ids or a sequence (0: first, 1: pair), with its token type. */
type TemplatePiece = { special: number[] } | { sequence: 0 | 1 };
type Template = { pieces: TemplatePiece[]; types: number[] };
type PostProcessor = { single: Template; pair: Template } | null;
type Decoder = { type: 'byteLevel' } | { type: 'wordPiece'; prefix: string; cleanup: boolean };
type Model = { type: 'BPE'; model: ByteLevelBpeModel } | { type: 'WordPiece'; model: WordPieceModel };

export interface PretrainedConfig {
  model: Model;
  addedTokens: AddedToken[];
  normalizer: Normalizer | null;
  preTokenizer: PreTokenizer;
  postProcessor: PostProcessor;
  decoder: Decoder;
  /** tokenizer_config.json's values (pad_token, clean_up_tokenization_spaces, model_max_length, padding_side...). */
  config: Record<string, unknown>;
}

export interface Encoding {
  inputIds: number[];
  tokenTypeIds: number[];
  attentionMask: number[];
}

export interface EncodeBatchOptions {
  /** true or 'longest': pad to the longest in the batch; 'max_length': to maxLength; false (default): no padding. */
  padding?: boolean | 'longest' | 'max_length';
  /** Cut sequences (pairs: the longer one first, HF's longest_first) so that each fits maxLength with its special tokens. */
  truncation?: boolean;
  /** Defaults to the folder's model_max_length. */
  maxLength?: number;
  /** Defaults to the tokenizer's paddingSide ('right' unless the folder says otherwise). */
  paddingSide?: 'right' | 'left';
  /** Add the post-processor's special tokens (BERT's [CLS] ... [SEP]); default true. */
  addSpecialTokens?: boolean;
  /** true: int32 tensors [batch, length] (every row must then have the same length). */
  returnTensors?: boolean;
}

export interface BatchEncoding<T> {
  inputIds: T;
  attentionMask: T;
  /** Only for tokenizers whose models take them (BERT). */
  tokenTypeIds?: T;
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function applyNormalizer(n: Normalizer | null, text: string): string {
  if (n === null) return text;
  switch (n.type) {
    case 'bert': return bertNormalize(text, n.options);
    case 'lowercase': {
      let out = '';
      for (const ch of text) out += ch.toLowerCase();
      return out;
    }
    case 'stripAccents': return text.replace(/\p{Mn}/gu, '');
    case 'sequence': return n.steps.reduce((t, s) => applyNormalizer(s, t), text);
    default: return text.normalize(n.type.toUpperCase() as 'NFD');
  }
}

export class PretrainedTokenizer {
  readonly addedTokens: readonly AddedToken[];
  /** The token used to pad batches (GPT-2 folders have none: set one, e.g. tokenizer.padToken = '<|endoftext|>'). */
  padToken: string | null;
  paddingSide: 'right' | 'left';
  readonly modelMaxLength: number;
  private readonly modelSpec: Model;
  private readonly normalizer: Normalizer | null;
  private readonly preTokenizer: PreTokenizer;
  private readonly postProcessor: PostProcessor;
  private readonly decoder: Decoder;
  private readonly cleanUpSpaces: boolean;
  private readonly rawPattern: RegExp | null;
  private readonly normalizedPattern: RegExp | null;
  private readonly addedByContent = new Map<string, AddedToken>();
  private readonly addedById = new Map<number, AddedToken>();
  private readonly idToTokenMap = new Map<number, string>();
  private readonly vocab: ReadonlyMap<string, number>;

  constructor(spec: PretrainedConfig) {
    this.modelSpec = spec.model;
    this.vocab = spec.model.model.vocab;
    this.addedTokens = spec.addedTokens;
    this.normalizer = spec.normalizer;
    this.preTokenizer = spec.preTokenizer;
    this.postProcessor = spec.postProcessor;
    this.decoder = spec.decoder;
    for (const [token, id] of this.vocab) this.idToTokenMap.set(id, token);
    for (const t of spec.addedTokens) {
      this.addedByContent.set(t.content, t);
      this.addedById.set(t.id, t);
    }
    const pattern = (tokens: AddedToken[]): RegExp | null => {
      if (tokens.length === 0) return null;
      const sorted = [...tokens].sort((a, b) => b.content.length - a.content.length);
      // lstrip/rstrip take the whitespace beside the token into the match; single_word needs word boundaries.
      const alt = sorted.map((t) => {
        let p = escapeRegex(t.content);
        if (t.singleWord) p = `(?<![\\p{L}\\p{N}_])${p}(?![\\p{L}\\p{N}_])`;
        if (t.lstrip) p = `\\p{White_Space}*${p}`;
        if (t.rstrip) p = `${p}\\p{White_Space}*`;
        return p;
      });
      return new RegExp(alt.join('|'), 'gu');
    };
    this.rawPattern = pattern(spec.addedTokens.filter((t) => !t.normalized));
    this.normalizedPattern = pattern(spec.addedTokens.filter((t) => t.normalized));
    const config = spec.config;
    const str = (key: string): string | null => {
      const v = config[key];
      if (typeof v === 'string') return v;
      if (v !== null && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
      return null;
    };
    this.padToken = str('pad_token');
    this.paddingSide = config.padding_side === 'left' ? 'left' : 'right';
    const maxLen = config.model_max_length;
    this.modelMaxLength = typeof maxLen === 'number' && maxLen < 1e12 ? maxLen : Infinity;
    this.cleanUpSpaces = config.clean_up_tokenization_spaces === true && spec.model.type !== 'BPE';
  }

  /** 'BPE' (GPT-2's byte level) or 'WordPiece' (BERT). */
  get modelType(): 'BPE' | 'WordPiece' {
    return this.modelSpec.type;
  }

  /** Number of ids: the vocabulary plus added tokens outside it. */
  get vocabSize(): number {
    let n = this.vocab.size;
    for (const t of this.addedTokens) if (!this.idToTokenMap.has(t.id)) n++;
    return n;
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.idToTokenMap.get(id);
  }

  get padTokenId(): number | undefined {
    return this.padToken === null ? undefined : this.tokenToId(this.padToken);
  }

  private static toText(op: string, input: unknown): string {
    if (input instanceof Uint8Array) return utf8Decoder.decode(input);
    if (typeof input !== 'string') throw new ArgumentError(`${op}: expected a string or a Uint8Array of UTF-8 bytes, got ${input === null ? 'null' : typeof input}`);
    // Lone surrogates become U+FFFD, as TextEncoder writes them.
    return /[\uD800-\uDFFF]/.test(input) ? utf8Decoder.decode(utf8Encoder.encode(input)) : input;
  }

  private preTokenize(text: string): string[] {
    if (this.preTokenizer.type === 'bert') return bertPreTokenize(text);
    let t = text;
    if (this.preTokenizer.addPrefixSpace && !t.startsWith(' ')) t = ` ${t}`;
    if (!this.preTokenizer.useRegex) return t ? [t] : [];
    return Array.from(t.matchAll(GPT2_PRETOKENIZE), (m) => m[0]);
  }

  /** Added tokens found in `text` become their ids; the rest is normalized, pre-tokenized and tokenized. */
  private tokenizeIds(text: string): number[] {
    const out: number[] = [];
    for (const [piece, isAdded] of splitSpecial(text, this.rawPattern)) {
      if (isAdded) {
        out.push(this.addedOf(piece).id);
        continue;
      }
      const normalized = applyNormalizer(this.normalizer, piece);
      for (const [sub, isAdded2] of splitSpecial(normalized, this.normalizedPattern)) {
        if (isAdded2) {
          out.push(this.addedOf(sub).id);
          continue;
        }
        for (const word of this.preTokenize(sub)) {
          for (const id of this.modelSpec.model.tokenize(word)) out.push(id);
        }
      }
    }
    return out;
  }

  private addedOf(match: string): AddedToken {
    const exact = this.addedByContent.get(match);
    if (exact) return exact;
    const trimmed = this.addedByContent.get(match.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, ''));
    if (!trimmed) throw new DataError(`PretrainedTokenizer: matched ${JSON.stringify(match)}, which is no added token`);
    return trimmed;
  }

  /** The tokens of `text` without special tokens added (HF's tokenize). */
  tokenize(text: string | Uint8Array): string[] {
    return this.tokenizeIds(PretrainedTokenizer.toText('PretrainedTokenizer.tokenize', text)).map((id) => this.idToToken(id)!);
  }

  private numSpecial(pair: boolean): number {
    if (!this.postProcessor) return 0;
    const t = pair ? this.postProcessor.pair : this.postProcessor.single;
    return t.pieces.reduce((n, p) => n + ('special' in p ? p.special.length : 0), 0);
  }

  private assemble(a: number[], b: number[] | null, addSpecial: boolean): Encoding {
    if (!addSpecial || !this.postProcessor) {
      const ids = b ? [...a, ...b] : [...a];
      return { inputIds: ids, tokenTypeIds: b ? [...a.map(() => 0), ...b.map(() => 1)] : a.map(() => 0), attentionMask: ids.map(() => 1) };
    }
    const t = b ? this.postProcessor.pair : this.postProcessor.single;
    const ids: number[] = [], types: number[] = [];
    t.pieces.forEach((p, i) => {
      const part = 'special' in p ? p.special : p.sequence === 0 ? a : b!;
      for (const id of part) {
        ids.push(id);
        types.push(t.types[i]);
      }
    });
    return { inputIds: ids, tokenTypeIds: types, attentionMask: ids.map(() => 1) };
  }

  /**
   * One sequence (or a pair) with special tokens as the folder's post-processor adds them, its
   * token types and attention mask; truncated to maxLength when given (pairs: HF's longest_first).
   */
  encodePlus(text: string | Uint8Array, pair?: string | Uint8Array | null, options: { maxLength?: number; addSpecialTokens?: boolean } = {}): Encoding {
    const op = 'PretrainedTokenizer.encode';
    let a = this.tokenizeIds(PretrainedTokenizer.toText(op, text));
    let b = pair === undefined || pair === null ? null : this.tokenizeIds(PretrainedTokenizer.toText(op, pair));
    const addSpecial = options.addSpecialTokens ?? true;
    if (options.maxLength !== undefined) {
      const { maxLength } = options;
      const room = maxLength - (addSpecial ? this.numSpecial(b !== null) : 0);
      if (!Number.isInteger(maxLength) || room < 0) throw new ArgumentError(`${op}: maxLength must be an integer >= ${maxLength - room} (the special tokens), got ${maxLength}`);
      if (b === null) {
        a = a.slice(0, room);
      } else if (a.length + b.length > room) {
        // HF's longest_first: the shorter keeps what it can up to half, the longer takes the rest.
        const swap = a.length > b.length;
        let n1 = Math.min(a.length, b.length), n2 = Math.max(a.length, b.length);
        n2 = n1 > room ? n1 : Math.max(n1, room - n1);
        if (n1 + n2 > room) {
          n1 = Math.floor(room / 2);
          n2 = n1 + (room % 2);
        }
        const [na, nb] = swap ? [n2, n1] : [n1, n2];
        a = a.slice(0, na);
        b = b.slice(0, nb);
      }
    }
    return this.assemble(a, b, addSpecial);
  }

  /** Token ids of `text` (and `pair`), special tokens as the folder's config says: BERT adds [CLS] ... [SEP], GPT-2 none. */
  encode(text: string | Uint8Array, pair?: string | Uint8Array | null): number[] {
    return this.encodePlus(text, pair).inputIds;
  }

  /**
   * A batch of texts, or of [text, pair] pairs, with HF's padding and truncation:
   * { inputIds, attentionMask, tokenTypeIds (BERT) } as arrays or, with returnTensors, int32 tensors.
   */
  encodeBatch(texts: readonly (string | Uint8Array | readonly [string | Uint8Array, string | Uint8Array])[], options: EncodeBatchOptions & { returnTensors: true }): BatchEncoding<Tensor>;
  encodeBatch(texts: readonly (string | Uint8Array | readonly [string | Uint8Array, string | Uint8Array])[], options?: EncodeBatchOptions & { returnTensors?: false }): BatchEncoding<number[][]>;
  encodeBatch(texts: readonly (string | Uint8Array | readonly [string | Uint8Array, string | Uint8Array])[], options: EncodeBatchOptions = {}): BatchEncoding<number[][]> | BatchEncoding<Tensor> {
    const op = 'PretrainedTokenizer.encodeBatch';
    if (!Array.isArray(texts)) throw new ArgumentError(`${op}: expected an array of texts or [text, pair] pairs`);
    const known = ['padding', 'truncation', 'maxLength', 'paddingSide', 'addSpecialTokens', 'returnTensors'];
    for (const key of Object.keys(options)) if (!known.includes(key)) throw new ArgumentError(`${op}: unknown option '${key}' (known: ${known.join(', ')})`);
    const padding = options.padding === true ? 'longest' : options.padding === false || options.padding === undefined ? null : options.padding;
    if (padding !== null && padding !== 'longest' && padding !== 'max_length') throw new ArgumentError(`${op}: padding must be true, false, 'longest' or 'max_length', got ${JSON.stringify(options.padding)}`);
    const maxLength = options.maxLength ?? (Number.isFinite(this.modelMaxLength) ? this.modelMaxLength : undefined);
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 1)) throw new ArgumentError(`${op}: maxLength must be a positive integer, got ${maxLength}`);
    if (padding === 'max_length' && maxLength === undefined) throw new ArgumentError(`${op}: padding 'max_length' needs maxLength (the folder gives no model_max_length)`);
    const side = options.paddingSide ?? this.paddingSide;
    if (side !== 'left' && side !== 'right') throw new ArgumentError(`${op}: paddingSide must be 'left' or 'right', got ${JSON.stringify(side)}`);
    const encodings = texts.map((t) => {
      const [a, b] = Array.isArray(t) ? t : [t, null];
      return this.encodePlus(a as string, b as string | null, { maxLength: options.truncation ? maxLength : undefined, addSpecialTokens: options.addSpecialTokens });
    });
    if (padding !== null) {
      const padId = this.padTokenId;
      if (padId === undefined) throw new ArgumentError(`${op}: padding needs a pad token and this tokenizer has ${this.padToken === null ? 'none' : `'${this.padToken}', which is not in its vocabulary`}; set tokenizer.padToken (e.g. to the end-of-text token)`);
      const target = padding === 'max_length' ? maxLength! : Math.max(0, ...encodings.map((e) => e.inputIds.length));
      for (const e of encodings) {
        const n = target - e.inputIds.length;
        if (n <= 0) continue;
        const fill = (v: number): number[] => new Array<number>(n).fill(v);
        if (side === 'right') {
          e.inputIds.push(...fill(padId));
          e.attentionMask.push(...fill(0));
          e.tokenTypeIds.push(...fill(0));
        } else {
          e.inputIds.unshift(...fill(padId));
          e.attentionMask.unshift(...fill(0));
          e.tokenTypeIds.unshift(...fill(0));
        }
      }
    }
    const withTypes = this.modelSpec.type === 'WordPiece';
    const rows = {
      inputIds: encodings.map((e) => e.inputIds),
      attentionMask: encodings.map((e) => e.attentionMask),
      tokenTypeIds: encodings.map((e) => e.tokenTypeIds),
    };
    if (!options.returnTensors) return withTypes ? rows : { inputIds: rows.inputIds, attentionMask: rows.attentionMask };
    const len = rows.inputIds[0]?.length ?? 0;
    const bad = rows.inputIds.findIndex((r) => r.length !== len);
    if (bad >= 0) throw new ArgumentError(`${op}: returnTensors needs rows of one length, but row 0 has ${len} tokens and row ${bad} ${rows.inputIds[bad].length}; pass padding: true`);
    const tensor = (r: number[][]): Tensor => fromTypedArray(Int32Array.from(r.flat()), [r.length, len], 'int32', 'cpu');
    const out: BatchEncoding<Tensor> = { inputIds: tensor(rows.inputIds), attentionMask: tensor(rows.attentionMask) };
    if (withTypes) out.tokenTypeIds = tensor(rows.tokenTypeIds);
    return out;
  }

  /**
   * The text of `ids` as HF's decode gives it: special tokens kept unless skipSpecialTokens, the
   * folder's decoder (byte level, or WordPiece's '##' gluing and spacing), then the folder's
   * clean_up_tokenization_spaces (WordPiece only, as transformers does).
   */
  decode(input: ArrayLike<number> | Tensor, options: { skipSpecialTokens?: boolean } = {}): string {
    const op = 'PretrainedTokenizer.decode';
    if (isTensor(input) && input.ndim !== 1) throw new ArgumentError(`${op}: expected a 1-d tensor of ids, got shape ${fmtShape(input.shape)} (decodeBatch takes 2-d)`);
    const ids = isTensor(input) ? Array.from(input.data() as ArrayLike<number>) : input;
    if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number') throw new ArgumentError(`${op}: expected an array of token ids`);
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const token = Number.isInteger(id) ? this.idToToken(id) : undefined;
      if (token === undefined) throw new ArgumentError(`${op}: id ${id} at position ${i} is not in the vocabulary of ${this.vocabSize} tokens`);
      if (options.skipSpecialTokens && this.addedById.get(id)?.special) continue;
      tokens.push(token);
    }
    const text = this.decoder.type === 'byteLevel' ? byteLevelDecode(tokens) : wordPieceDecode(tokens, this.decoder.prefix, this.decoder.cleanup);
    return this.cleanUpSpaces ? cleanUpTokenization(text) : text;
  }

  /** decode of each row: an array of id arrays, or a 2-d tensor [batch, length] (padding included unless skipSpecialTokens). */
  decodeBatch(rows: readonly ArrayLike<number>[] | Tensor, options: { skipSpecialTokens?: boolean } = {}): string[] {
    if (isTensor(rows)) {
      if (rows.ndim !== 2) throw new ArgumentError(`PretrainedTokenizer.decodeBatch: expected a 2-d tensor [batch, length], got shape ${fmtShape(rows.shape)}`);
      const flat = Array.from(rows.data() as ArrayLike<number>), [n, len] = rows.shape;
      return Array.from({ length: n }, (_, r) => this.decode(flat.slice(r * len, (r + 1) * len), options));
    }
    if (!Array.isArray(rows)) throw new ArgumentError('PretrainedTokenizer.decodeBatch: expected an array of id arrays or a 2-d tensor');
    return rows.map((r) => this.decode(r, options));
  }
}

// ---- reading folders ----

const OP = 'kd.text.fromPretrained';

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new IOError(`${OP}: ${path}: ${err.message}`, path, err.code);
  }
}

function readConfig(dir: string): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const name of ['special_tokens_map.json', 'tokenizer_config.json']) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const j = readJsonFile(OP, path);
    if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new DataError(`${OP}: ${path} is not a JSON object`);
    Object.assign(config, j);
  }
  return config;
}

const contentOf = (v: unknown): string | null => (typeof v === 'string' ? v : v !== null && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string' ? (v as { content: string }).content : null);

function parseAddedToken(path: string, raw: unknown, id?: number): AddedToken {
  const t = raw as Record<string, unknown> | null;
  const tokenId = id ?? t?.id;
  if (t === null || typeof t !== 'object' || typeof t.content !== 'string' || !Number.isInteger(tokenId)) throw new DataError(`${OP}: ${path}: an added token needs a string content and an integer id, got ${JSON.stringify(raw)}`);
  return { id: tokenId as number, content: t.content, special: t.special === true, lstrip: t.lstrip === true, rstrip: t.rstrip === true, singleWord: t.single_word === true, normalized: t.normalized === true };
}

function parseNormalizer(path: string, n: unknown): Normalizer | null {
  if (n === null || n === undefined) return null;
  const j = n as Record<string, unknown>;
  switch (j.type) {
    case 'BertNormalizer':
      return { type: 'bert', options: { cleanText: j.clean_text !== false, handleChineseChars: j.handle_chinese_chars !== false, stripAccents: typeof j.strip_accents === 'boolean' ? j.strip_accents : null, lowercase: j.lowercase !== false } };
    case 'Lowercase': return { type: 'lowercase' };
    case 'StripAccents': return { type: 'stripAccents' };
    case 'NFD': case 'NFC': case 'NFKD': case 'NFKC': return { type: (j.type as string).toLowerCase() as 'nfd' };
    case 'Sequence': return { type: 'sequence', steps: ((j.normalizers as unknown[]) ?? []).map((s) => parseNormalizer(path, s)!).filter((s) => s !== null) };
    default: throw new DataError(`${OP}: ${path}: normalizer ${JSON.stringify(j.type)} is not supported (supported: BertNormalizer, Lowercase, StripAccents, NFD, NFC, NFKD, NFKC, Sequence)`);
  }
}

function parsePreTokenizer(path: string, p: unknown): PreTokenizer {
  const j = p as Record<string, unknown> | null;
  if (j?.type === 'ByteLevel') return { type: 'byteLevel', addPrefixSpace: j.add_prefix_space === true, useRegex: j.use_regex !== false };
  if (j?.type === 'BertPreTokenizer') return { type: 'bert' };
  throw new DataError(`${OP}: ${path}: pre_tokenizer ${JSON.stringify(j?.type ?? null)} is not supported (supported: ByteLevel, BertPreTokenizer)`);
}

function parsePostProcessor(path: string, p: unknown, idOf: (t: string) => number | undefined): PostProcessor {
  const j = p as Record<string, unknown> | null;
  if (j === null || j === undefined || j.type === 'ByteLevel') return null;
  const specialIds = (token: string): number[] => {
    const st = (j.special_tokens as Record<string, { ids?: number[] }> | undefined)?.[token];
    const ids = st?.ids ?? (idOf(token) === undefined ? undefined : [idOf(token)!]);
    if (!ids) throw new DataError(`${OP}: ${path}: the post-processor's special token ${JSON.stringify(token)} has no id`);
    return ids;
  };
  if (j.type === 'TemplateProcessing') {
    const parse = (items: unknown): Template => {
      const pieces: TemplatePiece[] = [], types: number[] = [];
      for (const item of items as Record<string, { id: string; type_id: number }>[]) {
        if (item.SpecialToken) {
          pieces.push({ special: specialIds(item.SpecialToken.id) });
          types.push(item.SpecialToken.type_id);
        } else if (item.Sequence) {
          pieces.push({ sequence: item.Sequence.id === 'B' ? 1 : 0 });
          types.push(item.Sequence.type_id);
        } else {
          throw new DataError(`${OP}: ${path}: template item ${JSON.stringify(item)} is neither SpecialToken nor Sequence`);
        }
      }
      return { pieces, types };
    };
    return { single: parse(j.single), pair: parse(j.pair) };
  }
  if (j.type === 'BertProcessing') {
    const sepId = (j.sep as [string, number])[1], clsId = (j.cls as [string, number])[1];
    return bertTemplate(clsId, sepId);
  }
  throw new DataError(`${OP}: ${path}: post_processor ${JSON.stringify(j.type)} is not supported (supported: TemplateProcessing, BertProcessing, ByteLevel)`);
}

function bertTemplate(clsId: number, sepId: number): NonNullable<PostProcessor> {
  return {
    single: { pieces: [{ special: [clsId] }, { sequence: 0 }, { special: [sepId] }], types: [0, 0, 0] },
    pair: { pieces: [{ special: [clsId] }, { sequence: 0 }, { special: [sepId] }, { sequence: 1 }, { special: [sepId] }], types: [0, 0, 0, 1, 1] },
  };
}

function vocabMap(path: string, v: unknown): Map<string, number> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DataError(`${OP}: ${path}: the vocabulary must be an object of token -> id`);
  const map = new Map<string, number>();
  for (const [token, id] of Object.entries(v as Record<string, unknown>)) {
    if (!Number.isInteger(id)) throw new DataError(`${OP}: ${path}: token ${JSON.stringify(token)} has the id ${JSON.stringify(id)}, not an integer`);
    map.set(token, id as number);
  }
  return map;
}

function parseMerges(path: string, merges: unknown[]): [string, string][] {
  return merges.map((m, r) => {
    const parts = typeof m === 'string' ? m.split(' ') : Array.isArray(m) ? m : [];
    if (parts.length !== 2 || typeof parts[0] !== 'string' || typeof parts[1] !== 'string') throw new DataError(`${OP}: ${path}: merge ${r} ${JSON.stringify(m)} is not two tokens`);
    return [parts[0], parts[1]];
  });
}

/** Added tokens named by a legacy folder's config: added_tokens_decoder, then the special tokens (already in the vocabulary). */
function legacyAddedTokens(path: string, config: Record<string, unknown>, vocab: Map<string, number>): AddedToken[] {
  const out = new Map<string, AddedToken>();
  const decoder = config.added_tokens_decoder as Record<string, unknown> | undefined;
  if (decoder) for (const [id, t] of Object.entries(decoder)) {
    const a = parseAddedToken(path, t, Number(id));
    out.set(a.content, a);
  }
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token']) {
    const content = contentOf(config[key]);
    if (content === null || out.has(content)) continue;
    const id = vocab.get(content);
    if (id === undefined) continue;
    out.set(content, { id, content, special: true, lstrip: false, rstrip: false, singleWord: false, normalized: false });
  }
  for (const extra of (config.additional_special_tokens as unknown[] | undefined) ?? []) {
    const content = contentOf(extra);
    const id = content === null ? undefined : vocab.get(content);
    if (content !== null && id !== undefined && !out.has(content)) out.set(content, { id, content, special: true, lstrip: false, rstrip: false, singleWord: false, normalized: false });
  }
  return [...out.values()];
}

function fromTokenizerJson(dir: string, config: Record<string, unknown>): PretrainedTokenizer {
  const path = join(dir, 'tokenizer.json');
  const j = readJsonFile(OP, path) as Record<string, unknown> | null;
  if (j === null || typeof j !== 'object') throw new DataError(`${OP}: ${path} is not a JSON object`);
  const m = j.model as Record<string, unknown> | null;
  const addedTokens = ((j.added_tokens as unknown[]) ?? []).map((t) => parseAddedToken(path, t));
  let model: Model;
  if (m?.type === 'BPE') {
    if (m.continuing_subword_prefix || m.end_of_word_suffix || m.byte_fallback) throw new DataError(`${OP}: ${path}: BPE with continuing_subword_prefix, end_of_word_suffix or byte_fallback is not supported (GPT-2's byte-level BPE uses none)`);
    if (typeof m.dropout === 'number' && m.dropout > 0) throw new DataError(`${OP}: ${path}: BPE dropout ${m.dropout} is not supported (encoding would be random)`);
    model = { type: 'BPE', model: new ByteLevelBpeModel(vocabMap(path, m.vocab), parseMerges(path, (m.merges as unknown[]) ?? []), typeof m.unk_token === 'string' ? m.unk_token : null, m.fuse_unk === true) };
  } else if (m?.type === 'WordPiece') {
    model = { type: 'WordPiece', model: new WordPieceModel(vocabMap(path, m.vocab), String(m.unk_token ?? '[UNK]'), String(m.continuing_subword_prefix ?? '##'), Number(m.max_input_chars_per_word ?? 100)) };
  } else {
    throw new DataError(`${OP}: ${path}: model type ${JSON.stringify(m?.type ?? null)} is not supported (supported: BPE, WordPiece)`);
  }
  const idOf = (t: string): number | undefined => addedTokens.find((a) => a.content === t)?.id ?? model.model.vocab.get(t);
  const d = j.decoder as Record<string, unknown> | null;
  let decoder: Decoder;
  if (d?.type === 'ByteLevel') decoder = { type: 'byteLevel' };
  else if (d?.type === 'WordPiece') decoder = { type: 'wordPiece', prefix: String(d.prefix ?? '##'), cleanup: d.cleanup !== false };
  else throw new DataError(`${OP}: ${path}: decoder ${JSON.stringify(d?.type ?? null)} is not supported (supported: ByteLevel, WordPiece)`);
  return new PretrainedTokenizer({
    model,
    addedTokens,
    normalizer: parseNormalizer(path, j.normalizer),
    preTokenizer: parsePreTokenizer(path, j.pre_tokenizer),
    postProcessor: parsePostProcessor(path, j.post_processor, idOf),
    decoder,
    config,
  });
}

function fromGpt2Files(dir: string, config: Record<string, unknown>): PretrainedTokenizer {
  const vocabPath = join(dir, 'vocab.json'), mergesPath = join(dir, 'merges.txt');
  const vocab = vocabMap(vocabPath, readJsonFile(OP, vocabPath));
  const lines = readText(mergesPath).split('\n').map((l) => l.replace(/\r$/, ''));
  const merges = parseMerges(mergesPath, lines.filter((l, i) => l.length > 0 && !(i === 0 && l.startsWith('#version'))));
  return new PretrainedTokenizer({
    model: { type: 'BPE', model: new ByteLevelBpeModel(vocab, merges) },
    addedTokens: legacyAddedTokens(vocabPath, config, vocab),
    normalizer: null,
    preTokenizer: { type: 'byteLevel', addPrefixSpace: config.add_prefix_space === true, useRegex: true },
    postProcessor: null,
    decoder: { type: 'byteLevel' },
    config,
  });
}

function fromBertFiles(dir: string, config: Record<string, unknown>): PretrainedTokenizer {
  const vocabPath = join(dir, 'vocab.txt');
  const lines = readText(vocabPath).split('\n');
  if (lines.at(-1) === '') lines.pop();
  const vocab = new Map<string, number>();
  lines.forEach((token, i) => vocab.set(token, i));
  const defaults: Record<string, string> = { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' };
  const merged: Record<string, unknown> = { ...config };
  for (const [k, v] of Object.entries(defaults)) if (contentOf(merged[k]) === null) merged[k] = v;
  const tok = (key: string): string => contentOf(merged[key])!;
  const need = (key: string): number => {
    const id = vocab.get(tok(key));
    if (id === undefined) throw new DataError(`${OP}: ${vocabPath}: the ${key} ${JSON.stringify(tok(key))} is not in the vocabulary`);
    return id;
  };
  const lowercase = merged.do_lower_case !== false;
  return new PretrainedTokenizer({
    model: { type: 'WordPiece', model: new WordPieceModel(vocab, tok('unk_token')) },
    addedTokens: legacyAddedTokens(vocabPath, merged, vocab),
    normalizer: { type: 'bert', options: { cleanText: true, handleChineseChars: merged.tokenize_chinese_chars !== false, stripAccents: typeof merged.strip_accents === 'boolean' ? merged.strip_accents : null, lowercase } },
    preTokenizer: { type: 'bert' },
    postProcessor: bertTemplate(need('cls_token'), need('sep_token')),
    decoder: { type: 'wordPiece', prefix: '##', cleanup: true },
    config: merged,
  });
}

/**
 * The tokenizer of a Hugging Face folder: tokenizer.json when present, else GPT-2's vocab.json +
 * merges.txt, else BERT's vocab.txt; tokenizer_config.json and special_tokens_map.json supply the
 * special tokens, lower-casing and padding settings. Nothing is downloaded.
 */
export function fromPretrained(dir: string): PretrainedTokenizer {
  if (typeof dir !== 'string') throw new ArgumentError(`${OP}: expected a folder path, got ${dir === null ? 'null' : typeof dir}`);
  if (!existsSync(dir)) throw new IOError(`${OP}: ${dir}: no such folder`, dir, 'ENOENT');
  const config = readConfig(dir);
  if (existsSync(join(dir, 'tokenizer.json'))) return fromTokenizerJson(dir, config);
  if (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'))) return fromGpt2Files(dir, config);
  if (existsSync(join(dir, 'vocab.txt'))) return fromBertFiles(dir, config);
  throw new IOError(`${OP}: ${dir} holds no tokenizer (looked for tokenizer.json, vocab.json + merges.txt, vocab.txt)`, dir, 'ENOENT');
}
