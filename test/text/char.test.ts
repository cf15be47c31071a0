import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as kd from '../../lib/index.js';

const { CharTokenizer } = kd.text;
const dir = mkdtempSync(join(tmpdir(), 'kindling-char-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CharTokenizer', () => {
  const text = 'hello wörld 汉字 👍🏽 é\n';
  const tok = CharTokenizer.fromText(text);

  it('has one id per distinct code point, in code-point order', () => {
    expect(tok.vocabSize).toBe(new Set(text).size);
    expect(tok.chars[0]).toBe('\n');
    expect(tok.chars[tok.vocabSize - 1]).toBe('👍'); // U+1F44D, above the skin-tone modifier U+1F3FD
    expect(tok.encode('ll')).toEqual([tok.chars.indexOf('l'), tok.chars.indexOf('l')]);
  });

  it('round-trips text made of its characters, astral code points and combining marks included', () => {
    const s = '👍🏽 汉字 é hello';
    expect(tok.encode(s)).toHaveLength([...s].length);
    expect(tok.decode(tok.encode(s))).toBe(s);
    expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it('save/load and toJSON/fromJSON keep the ids', () => {
    const path = join(dir, 'char.json');
    tok.save(path);
    const loaded = CharTokenizer.load(path);
    expect(loaded.chars).toEqual(tok.chars);
    expect(CharTokenizer.fromJSON(JSON.parse(JSON.stringify(tok))).encode(text)).toEqual(tok.encode(text));
  });

  it('names the unknown character, the bad id and the malformed file', () => {
    expect(() => tok.encode('hellz')).toThrow(/CharTokenizer.encode: "z" \(U\+007A\) at UTF-16 offset 4 is not in the vocabulary/);
    expect(() => tok.decode([tok.vocabSize])).toThrow(new RegExp(`id ${tok.vocabSize} at position 0 is out of range`));
    expect(() => tok.decode([-1])).toThrow(kd.ArgumentError);
    expect(() => CharTokenizer.fromText(3 as never)).toThrow(kd.ArgumentError);
    expect(() => CharTokenizer.fromJSON({ type: 'bpe' })).toThrow(kd.DataError);
    expect(() => new CharTokenizer(['a', 'a'])).toThrow(/duplicates/);
    expect(() => new CharTokenizer(['ab'])).toThrow(/single code points/);
    expect(() => CharTokenizer.load(join(dir, 'missing.json'))).toThrow(kd.IOError);
  });
});
