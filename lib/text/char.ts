// A character-level tokenizer: one id per Unicode code point seen in the corpus it was built from,
// in code-point order (so the same corpus always gives the same ids).
import { ArgumentError, DataError } from '../errors.js';
import { readJsonFile, writeJsonFile } from './bytes.js';

export interface CharJson {
  type: 'char';
  /** The vocabulary: chars[id] is the code point (as a string) of that id. */
  chars: string[];
}

export class CharTokenizer {
  readonly chars: readonly string[];
  private readonly idOf: Map<string, number>;

  constructor(chars: string[]) {
    if (!Array.isArray(chars) || chars.some((c) => typeof c !== 'string' || [...c].length !== 1)) {
      throw new ArgumentError('CharTokenizer: chars must be an array of single code points');
    }
    this.chars = [...chars];
    this.idOf = new Map(chars.map((c, i) => [c, i]));
    if (this.idOf.size !== chars.length) throw new ArgumentError(`CharTokenizer: chars has duplicates (${chars.length} entries, ${this.idOf.size} distinct)`);
  }

  /** The code points of `text`, deduplicated and sorted by code point. */
  static fromText(text: string): CharTokenizer {
    if (typeof text !== 'string') throw new ArgumentError(`CharTokenizer.fromText: expected a string, got ${text === null ? 'null' : typeof text}`);
    const chars = [...new Set(text)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return new CharTokenizer(chars);
  }

  get vocabSize(): number {
    return this.chars.length;
  }

  /** One id per code point; a code point missing from the vocabulary is an ArgumentError naming it and where. */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw new ArgumentError(`CharTokenizer.encode: expected a string, got ${text === null ? 'null' : typeof text}`);
    const out: number[] = [];
    let at = 0;
    for (const ch of text) {
      const id = this.idOf.get(ch);
      if (id === undefined) throw new ArgumentError(`CharTokenizer.encode: ${JSON.stringify(ch)} (U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) at UTF-16 offset ${at} is not in the vocabulary of ${this.vocabSize} characters`);
      out.push(id);
      at += ch.length;
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number') throw new ArgumentError('CharTokenizer.decode: expected an array of token ids');
    let out = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new ArgumentError(`CharTokenizer.decode: id ${id} at position ${i} is out of range for a vocabulary of ${this.vocabSize}`);
      out += this.chars[id];
    }
    return out;
  }

  toJSON(): CharJson {
    return { type: 'char', chars: [...this.chars] };
  }

  static fromJSON(json: unknown): CharTokenizer {
    const j = json as Partial<CharJson> | null;
    if (j === null || typeof j !== 'object' || j.type !== 'char' || !Array.isArray(j.chars)) {
      throw new DataError(`CharTokenizer.fromJSON: expected { type: 'char', chars: [...] }, got ${j === null ? 'null' : typeof j === 'object' ? `an object with type ${JSON.stringify(j.type)}` : typeof j}`);
    }
    return new CharTokenizer(j.chars);
  }

  save(path: string): void {
    writeJsonFile('CharTokenizer.save', path, this.toJSON());
  }

  static load(path: string): CharTokenizer {
    return CharTokenizer.fromJSON(readJsonFile('CharTokenizer.load', path));
  }
}
