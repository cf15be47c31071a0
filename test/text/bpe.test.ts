import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as kd from '../../lib/index.js';

const { BpeTokenizer } = kd.text;
const dir = mkdtempSync(join(tmpdir(), 'kindling-bpe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SAMPLES = [
  'Hello, world! It\'s 2026; we\'ll see.',
  '汉字和中文文本，还有标点。',
  'emoji: 👩‍👩‍👧 🎉🎉 and flags 🇫🇷',
  'combining: é (e + U+0301), ñ, Å, z̷̢̛a̸l̴g̵o',
  'tabs\tand\nnewlines\r\n   trailing spaces   ',
  'replacement \uFFFD char',
  '',
];

// A corpus with some repetition, so that merges are learned across every script above.
const CORPUS = SAMPLES.join('\n').repeat(5) + ' the cat sat on the mat with the hat '.repeat(20);

describe('BpeTokenizer.train on a tiny corpus', () => {
  it('learns the merges worked out by hand, ties going to the smaller pair', () => {
    // Pre-tokens 'aaab', ' aab', ' ab'. Counts: (a,a)=3, (a,b)=3, (Ġ,a)=2 -> 'a a' (tie, smaller pair).
    // Then [aa,a,b], [Ġ,aa,b], [Ġ,a,b]: (a,b)=2 -> 'a b'; everything else occurs once.
    const tok = BpeTokenizer.train('aaab aab ab', { vocabSize: 300 });
    expect(tok.toJSON().merges).toEqual(['a a', 'a b']);
    expect(tok.vocabSize).toBe(258);
    expect(tok.encode('aaab')).toEqual([256, 257]);
    expect(tok.encode(' ab')).toEqual([32, 257]);
    // With minFrequency 1 the next merge is the smallest of the pairs that occur once: (Ġ, aa).
    const more = BpeTokenizer.train('aaab aab ab', { vocabSize: 259, minFrequency: 1 });
    expect(more.toJSON().merges).toEqual(['a a', 'a b', 'Ġ aa']);
    expect(more.encode(' aab')).toEqual([258, 98]);
  });

  it('stops at vocabSize', () => {
    const tok = BpeTokenizer.train(CORPUS, { vocabSize: 270 });
    expect(tok.vocabSize).toBe(270);
    expect(tok.merges.length).toBe(14);
  });

  it('pre-tokenizes like GPT-2: a merge never crosses a word boundary', () => {
    const tok = BpeTokenizer.train(CORPUS, { vocabSize: 400, minFrequency: 1 });
    for (const merge of tok.toJSON().merges) {
      const joined = merge.replace(' ', '');
      // 'Ġ' (space) may only lead a token, never follow a letter inside one.
      expect(/[A-Za-z]Ġ/.test(joined)).toBe(false);
    }
    expect(tok.encode(' the')).toHaveLength(1);
    expect(tok.idToToken(tok.encode(' the')[0])).toBe('Ġthe');
  });
});

describe('BpeTokenizer round-trips', () => {
  const tok = BpeTokenizer.train(CORPUS, { vocabSize: 500, specialTokens: ['<|endoftext|>', '[MASK]'] });

  it('decode(encode(s)) === s for Chinese, emoji, combining marks, whitespace and U+FFFD', () => {
    for (const s of SAMPLES) expect(tok.decode(tok.encode(s))).toBe(s);
    expect(tok.encode(CORPUS).length).toBeLessThan(new TextEncoder().encode(CORPUS).length / 2);
  });

  it('decodeBytes(encodeBytes(b)) === b for random byte strings, valid UTF-8 or not (seeded)', () => {
    const g = new kd.Generator(1234);
    for (let trial = 0; trial < 200; trial++) {
      const bytes = new Uint8Array(g.nextInt(64));
      for (let i = 0; i < bytes.length; i++) bytes[i] = trial % 2 ? g.nextInt(256) : ' abcthe\xe4'.charCodeAt(g.nextInt(9)) & 0xff;
      const back = tok.decodeBytes(tok.encodeBytes(bytes));
      expect(Array.from(back), `trial ${trial}: ${Array.from(bytes)}`).toEqual(Array.from(bytes));
    }
  });

  it('invalid UTF-8 bytes arrive as U+FFFD through decode, exactly as TextDecoder reads them', () => {
    const bytes = Uint8Array.of(0x61, 0xff, 0xe4, 0xb8, 0x20, 0x62, 0xc3);
    const ids = tok.encodeBytes(bytes);
    expect(Array.from(tok.decodeBytes(ids))).toEqual(Array.from(bytes));
    expect(tok.decode(ids)).toBe(new TextDecoder().decode(bytes));
    expect(tok.decode(ids)).toContain('\uFFFD');
  });

  it('encodeBytes of valid UTF-8 gives the same ids as encode of its text', () => {
    for (const s of SAMPLES) expect(tok.encodeBytes(new TextEncoder().encode(s))).toEqual(tok.encode(s));
  });

  it('keeps special tokens whole, with the first ids, and never learns them from the corpus', () => {
    expect(tok.tokenToId('<|endoftext|>')).toBe(0);
    expect(tok.tokenToId('[MASK]')).toBe(1);
    const ids = tok.encode('the cat<|endoftext|>[MASK] sat');
    expect(ids.filter((id) => id === 0)).toHaveLength(1);
    expect(ids.filter((id) => id === 1)).toHaveLength(1);
    expect(ids.indexOf(0) + 1).toBe(ids.indexOf(1));
    expect(tok.decode(ids)).toBe('the cat<|endoftext|>[MASK] sat');
    const trained = BpeTokenizer.train('x<|endoftext|>x<|endoftext|>x<|endoftext|>', { vocabSize: 300, specialTokens: ['<|endoftext|>'] });
    expect(trained.toJSON().merges.some((m) => m.includes('|'))).toBe(false);
  });

  it('save/load and toJSON/fromJSON give a tokenizer with the same ids', () => {
    const path = join(dir, 'bpe.json');
    tok.save(path);
    const loaded = BpeTokenizer.load(path);
    expect(loaded.vocabSize).toBe(tok.vocabSize);
    expect(loaded.specialTokens).toEqual(tok.specialTokens);
    for (const s of SAMPLES) expect(loaded.encode(s)).toEqual(tok.encode(s));
    expect(BpeTokenizer.fromJSON(JSON.parse(JSON.stringify(tok))).encode(CORPUS)).toEqual(tok.encode(CORPUS));
    expect(tok.toJSON().vocab['Ġthe']).toBe(tok.encode(' the')[0]);
  });
});

/** GPT-2's encoding loop as written in its encoder.py: merge the lowest-rank pair everywhere, repeat. */
function referenceEncodeWord(tok: kd.text.BpeTokenizer, word: string): number[] {
  const base = tok.specialTokens.length;
  const rank = new Map(tok.merges.map(([a, b], r) => [`${a},${b}`, r]));
  let ids = Array.from(new TextEncoder().encode(word), (b) => b + base);
  for (;;) {
    let best = Infinity;
    for (let i = 0; i + 1 < ids.length; i++) best = Math.min(best, rank.get(`${ids[i]},${ids[i + 1]}`) ?? Infinity);
    if (best === Infinity) return ids;
    const [a, b] = tok.merges[best];
    const next: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (i + 1 < ids.length && ids[i] === a && ids[i + 1] === b) {
        next.push(base + 256 + best);
        i++;
      } else {
        next.push(ids[i]);
      }
    }
    ids = next;
  }
}

describe('BpeTokenizer.encode matches the plain GPT-2 merge loop', () => {
  it('on random words over a small alphabet and on a long run of Chinese (one pre-token)', () => {
    const alphabet = ['a', 'b', 'c', '汉', '字', 'é'];
    const g = new kd.Generator(99);
    const word = (n: number): string => Array.from({ length: n }, () => alphabet[g.nextInt(alphabet.length)]).join('');
    const corpus = Array.from({ length: 400 }, () => word(1 + g.nextInt(12))).join(' ');
    const tok = BpeTokenizer.train(corpus, { vocabSize: 400, specialTokens: ['<s>'], minFrequency: 1 });
    expect(tok.merges.length).toBeGreaterThan(50);
    for (let trial = 0; trial < 300; trial++) {
      const w = word(1 + g.nextInt(30));
      expect(tok.encode(w), w).toEqual(referenceEncodeWord(tok, w));
    }
    const long = word(5000).replace(/[^汉字]/g, '');
    expect(tok.encode(long)).toEqual(referenceEncodeWord(tok, long));
  });
});

describe('BpeTokenizer bad input', () => {
  const tok = BpeTokenizer.train('ab ab ab', { vocabSize: 257 });

  it('rejects bad training options', () => {
    expect(() => BpeTokenizer.train('ab', { vocabSize: 100 })).toThrow(/BpeTokenizer.train: vocabSize must be an integer in \[256/);
    expect(() => BpeTokenizer.train('ab', { vocabSize: 256, specialTokens: ['x'] })).toThrow(kd.ArgumentError);
    expect(() => BpeTokenizer.train('ab', { vocabSize: 300, specialTokens: ['x', 'x'] })).toThrow(/duplicates/);
    expect(() => BpeTokenizer.train('ab', { vocabSize: 300, minFrequency: 0 })).toThrow(/minFrequency/);
    expect(() => BpeTokenizer.train('ab', { vocabSize: 300, vocab: 3 } as never)).toThrow(/unknown option 'vocab'/);
    expect(() => BpeTokenizer.train(42 as never, { vocabSize: 300 })).toThrow(kd.ArgumentError);
  });

  it('rejects out-of-range ids and non-strings', () => {
    expect(() => tok.decode([0, 257])).toThrow(/BpeTokenizer.decode: id 257 at position 1 is out of range for a vocabulary of 257/);
    expect(() => tok.decode([1.5])).toThrow(kd.ArgumentError);
    expect(() => tok.encode(7 as never)).toThrow(kd.ArgumentError);
    expect(() => tok.encodeBytes('ab' as never)).toThrow(/expected a Uint8Array/);
  });

  it('rejects malformed files', () => {
    expect(() => BpeTokenizer.fromJSON({ type: 'char', chars: [] })).toThrow(kd.DataError);
    expect(() => BpeTokenizer.fromJSON({ type: 'bpe', specialTokens: [], merges: ['a'] })).toThrow(/merge 0 "a" is not two known tokens/);
    expect(() => BpeTokenizer.fromJSON({ type: 'bpe', specialTokens: [], merges: ['a b'], vocab: { ab: 3 } })).toThrow(/vocab gives 'ab' the id 3 but the merges give it 256/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{not json');
    expect(() => BpeTokenizer.load(bad)).toThrow(kd.DataError);
    expect(() => BpeTokenizer.load(join(dir, 'missing.json'))).toThrow(kd.IOError);
  });
});
