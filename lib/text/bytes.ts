// The byte level under the tokenizers: UTF-8 through TextEncoder/TextDecoder, GPT-2's reversible
// byte-to-unicode map (every byte a printable character, so merges and vocabularies read as text),
// GPT-2's pre-tokenization regex, and the JSON file helpers both tokenizers save and load with.
import { readFileSync, writeFileSync } from 'node:fs';

import { DataError, IOError } from '../errors.js';

export const utf8Encoder = new TextEncoder();
/** Non-fatal: invalid UTF-8 decodes to U+FFFD, as the tokenizers' string API defines it. */
export const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
/** Fatal: tells valid UTF-8 from invalid without hand-written validation. */
export const strictUtf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to
 * U+0100 onwards in byte order (space becomes 'Ġ', newline 'Ċ'). Index: byte; value: one character.
 */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) out.push(String.fromCharCode(printable(b) ? b : next++));
  return out;
})();

export const UNICODE_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_UNICODE.map((ch, b) => [ch, b]));

/**
 * GPT-2's pre-tokenizer: contractions, letters, numbers, other symbols (each with one leading space),
 * whitespace. `\s` is written as the Unicode White_Space property, as Oniguruma (Hugging Face's
 * tokenizers) and Python's `regex` read it: JS's own `\s` would take U+FEFF and miss U+0085.
 */
export const GPT2_PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

export function bytesToUnicode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_UNICODE[bytes[i]];
  return out;
}

export function unicodeToBytes(op: string, token: string): Uint8Array {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const b = UNICODE_TO_BYTE.get(token[i]);
    if (b === undefined) throw new DataError(`${op}: token '${token}' has the character U+${token.charCodeAt(i).toString(16).toUpperCase().padStart(4, '0')}, which is not in the byte-level alphabet`);
    out[i] = b;
  }
  return out;
}

export function writeJsonFile(op: string, path: string, value: unknown): void {
  try {
    writeFileSync(path, JSON.stringify(value));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new IOError(`${op}: ${path}: ${err.message}`, path, err.code);
  }
}

export function readJsonFile(op: string, path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new IOError(`${op}: ${path}: ${err.message}`, path, err.code);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DataError(`${op}: ${path}: not valid JSON (${(e as Error).message})`);
  }
}
