// kd.text.fromPretrained against Hugging Face: ids, decodes, batches and pairs that transformers
// 5 / tokenizers 0.23 gave for the folders in test/fixtures/tokenizers (make_tokenizer_fixtures.py).
import { mkdtempSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { ArgumentError, DataError, IOError } from '../../lib/errors.js';

const DIR = join(__dirname, '..', 'fixtures', 'tokenizers');

interface Case { text: string; ids: number[]; decode: string; decodeSkip: string }
interface Batch { inputIds: number[][]; attentionMask: number[][]; tokenTypeIds?: number[][] }
interface Folder { class: string; cases: Case[]; batchLongest: Batch; batchMax8: Batch; batchLeft10: Batch; pairs12?: Batch; pairsText?: [string, string][] }
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as {
  folders: Record<string, Folder>; batch: string[]; invalidBytes: number[][]; invalidDecoded: string[];
};

const FOLDERS = ['gpt2-bpe', 'gpt2-bpe-legacy', 'gpt2-bpe-prefix', 'bert-uncased', 'bert-uncased-legacy', 'bert-cased', 'bert-cased-legacy'];

describe('kd.text.fromPretrained matches Hugging Face', () => {
  it('covers every folder the fixture script wrote', () => {
    expect(Object.keys(expected.folders).sort()).toEqual([...FOLDERS].sort());
  });

  for (const name of FOLDERS) {
    describe(name, () => {
      const ref = expected.folders[name];
      const tok = kd.text.fromPretrained(join(DIR, name));

      it('reads the model type the folder holds', () => {
        expect(tok.modelType).toBe(name.startsWith('gpt2') ? 'BPE' : 'WordPiece');
      });

      it('gives HF ids for every corpus string (CJK, emoji, accents, controls, invalid UTF-8)', () => {
        expect(ref.cases.length).toBeGreaterThan(25);
        for (const c of ref.cases) expect({ text: c.text, ids: tok.encode(c.text) }).toEqual({ text: c.text, ids: c.ids });
      });

      it('decodes as HF does, with and without special tokens', () => {
        for (const c of ref.cases) {
          expect({ ids: c.ids, decode: tok.decode(c.ids) }).toEqual({ ids: c.ids, decode: c.decode });
          expect({ ids: c.ids, decode: tok.decode(c.ids, { skipSpecialTokens: true }) }).toEqual({ ids: c.ids, decode: c.decodeSkip });
        }
      });

      it('encodes raw bytes (invalid UTF-8 replaced by U+FFFD) like HF encodes their decoded string', () => {
        expected.invalidBytes.forEach((bytes, i) => {
          const c = ref.cases.find((x) => x.text === expected.invalidDecoded[i])!;
          expect(tok.encode(Uint8Array.from(bytes))).toEqual(c.ids);
        });
      });

      it('pads and truncates batches as HF does', () => {
        if (tok.padToken === null) tok.padToken = '<|endoftext|>';
        const strip = (b: Batch): Batch => ({ inputIds: b.inputIds, attentionMask: b.attentionMask });
        expect(strip(tok.encodeBatch(expected.batch, { padding: true }))).toEqual(ref.batchLongest);
        expect(strip(tok.encodeBatch(expected.batch, { padding: 'max_length', truncation: true, maxLength: 8 }))).toEqual(ref.batchMax8);
        expect(strip(tok.encodeBatch(expected.batch, { padding: true, truncation: true, maxLength: 10, paddingSide: 'left' }))).toEqual(ref.batchLeft10);
      });

      if (name.startsWith('bert')) {
        it('encodes sentence pairs with token type ids and longest-first truncation', () => {
          const out = tok.encodeBatch(ref.pairsText!, { padding: true, truncation: true, maxLength: 12 });
          expect(out).toEqual(ref.pairs12);
          const [a, b] = ref.pairsText![0];
          expect(tok.encode(a, b)).toEqual(ref.pairs12!.inputIds[0].filter((_, i) => ref.pairs12!.attentionMask[0][i] === 1));
        });
      }
    });
  }

  it('TextDecoder replaces invalid UTF-8 as Python does (errors="replace")', () => {
    const dec = new TextDecoder('utf-8', { fatal: false });
    expected.invalidBytes.forEach((b, i) => expect(dec.decode(Uint8Array.from(b))).toBe(expected.invalidDecoded[i]));
  });

  it('returns int32 tensors [batch, length] when asked', () => {
    const tok = kd.text.fromPretrained(join(DIR, 'bert-uncased'));
    const out = tok.encodeBatch(expected.batch, { padding: true, returnTensors: true });
    const ref = expected.folders['bert-uncased'].batchLongest;
    expect(out.inputIds.dtype).toBe('int32');
    expect(out.inputIds.shape).toEqual([ref.inputIds.length, ref.inputIds[0].length]);
    expect(Array.from(out.inputIds.data())).toEqual(ref.inputIds.flat());
    expect(Array.from(out.attentionMask.data())).toEqual(ref.attentionMask.flat());
    expect(out.tokenTypeIds!.shape).toEqual(out.inputIds.shape);
    expect(() => tok.encodeBatch(expected.batch, { returnTensors: true })).toThrow(/row 0 has .* pass padding/);
    const decoded = tok.decodeBatch(out.inputIds, { skipSpecialTokens: true });
    expect(decoded).toEqual(ref.inputIds.map((r) => tok.decode(r, { skipSpecialTokens: true })));
    expect(decoded[0]).toBe('in the beginning');
    expect(tok.decode(out.inputIds.narrow(0, 0, 1).reshape([-1]))).toBe(tok.decode(ref.inputIds[0]));
    expect(() => tok.decode(out.inputIds)).toThrow(/1-d tensor/);
  });

  it('GPT-2 folders add no special tokens and need a pad token to pad', () => {
    const tok = kd.text.fromPretrained(join(DIR, 'gpt2-bpe'));
    expect(tok.encode('<|endoftext|>')).toEqual([tok.tokenToId('<|endoftext|>')]);
    expect(tok.encodeBatch(['a b', 'a'])).toEqual({ inputIds: [tok.encode('a b'), tok.encode('a')], attentionMask: [tok.encode('a b').map(() => 1), [1]] });
    expect(() => tok.encodeBatch(['a b', 'a'], { padding: true })).toThrow(ArgumentError);
    expect(() => tok.encodeBatch(['a b', 'a'], { padding: true })).toThrow(/padToken/);
  });

  it('tokenize gives the tokens without special tokens', () => {
    const tok = kd.text.fromPretrained(join(DIR, 'bert-uncased'));
    const toks = tok.tokenize('Hello, 中文!');
    expect(toks).toEqual(tok.encode('Hello, 中文!').slice(1, -1).map((id) => tok.idToToken(id)));
    expect(toks).toContain(',');
    expect(toks).toContain('中');
  });

  it('rejects bad folders and input with KindlingErrors', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'kd-hftok-'));
    try {
      expect(() => kd.text.fromPretrained(join(tmp, 'missing'))).toThrow(IOError);
      expect(() => kd.text.fromPretrained(tmp)).toThrow(/holds no tokenizer/);
      cpSync(join(DIR, 'bert-uncased'), join(tmp, 'b'), { recursive: true });
      const j = JSON.parse(readFileSync(join(tmp, 'b', 'tokenizer.json'), 'utf8'));
      j.model.type = 'Unigram';
      writeFileSync(join(tmp, 'b', 'tokenizer.json'), JSON.stringify(j));
      expect(() => kd.text.fromPretrained(join(tmp, 'b'))).toThrow(DataError);
      expect(() => kd.text.fromPretrained(join(tmp, 'b'))).toThrow(/Unigram/);
      const tok = kd.text.fromPretrained(join(DIR, 'gpt2-bpe'));
      expect(() => tok.encode(42 as unknown as string)).toThrow(ArgumentError);
      expect(() => tok.decode([1e9])).toThrow(/not in the vocabulary/);
      expect(() => tok.encodeBatch(['a'], { padding: 'max_length' } as never)).toThrow(/maxLength/);
      expect(() => tok.encodeBatch(['a'], { pading: true } as never)).toThrow(/unknown option 'pading'/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
