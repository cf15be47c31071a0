// BERT's text pipeline as Hugging Face's tokenizers run it: the BertNormalizer (control characters
// out, whitespace to spaces, CJK ideographs padded with spaces, accents stripped and lower-cased when
// configured), the BertPreTokenizer (split on whitespace, every punctuation character its own
// word), the WordPiece model (greedy longest match first, '##' continuations, [UNK] for a word
// that cannot be spelled or is longer than maxInputCharsPerWord) and the WordPiece decoder.
import { DataError } from '../errors.js';

export interface BertNormalizerOptions {
  /** Remove NUL, U+FFFD and control/format characters (not \t \n \r); other whitespace becomes ' '. */
  cleanText: boolean;
  /** Put a space on each side of a CJK ideograph. */
  handleChineseChars: boolean;
  /** NFD and drop non-spacing marks; null follows lowercase (HF's default). */
  stripAccents: boolean | null;
  lowercase: boolean;
}

const CONTROL = /\p{C}/u;
const WHITE_SPACE = /\p{White_Space}/u;
const NONSPACING_MARK = /\p{Mn}/gu;
const PUNCTUATION = /[!-/:-@[-`{-~]|\p{P}/u;

/** HF's is_chinese_char: the CJK Unified Ideographs blocks and the compatibility ideographs. */
export function isCjkIdeograph(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df)
    || (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf)
    || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

const isTabOrNewline = (ch: string): boolean => ch === '\t' || ch === '\n' || ch === '\r';

/** The BertNormalizer, in its order: clean, pad CJK, strip accents, lower-case (code point by code point). */
export function bertNormalize(text: string, o: BertNormalizerOptions): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (o.cleanText) {
      if (cp === 0 || cp === 0xfffd || (!isTabOrNewline(ch) && CONTROL.test(ch))) continue;
      if (isTabOrNewline(ch) || WHITE_SPACE.test(ch)) {
        out += ' ';
        continue;
      }
    }
    out += o.handleChineseChars && isCjkIdeograph(cp) ? ` ${ch} ` : ch;
  }
  if (o.stripAccents ?? o.lowercase) out = out.normalize('NFD').replace(NONSPACING_MARK, '');
  if (o.lowercase) {
    // Per code point (Rust's char::to_lowercase): no final-sigma context as String.toLowerCase has.
    let lower = '';
    for (const ch of out) lower += ch.toLowerCase();
    out = lower;
  }
  return out;
}

/** The BertPreTokenizer: words split at whitespace, each punctuation character (ASCII symbols included) a word of its own. */
export function bertPreTokenize(text: string): string[] {
  const words: string[] = [];
  let word = '';
  for (const ch of text) {
    if (isTabOrNewline(ch) || WHITE_SPACE.test(ch)) {
      if (word) words.push(word);
      word = '';
    } else if (PUNCTUATION.test(ch)) {
      if (word) words.push(word);
      words.push(ch);
      word = '';
    } else {
      word += ch;
    }
  }
  if (word) words.push(word);
  return words;
}

export class WordPieceModel {
  readonly unkId: number;
  private readonly cache = new Map<string, number[]>();

  constructor(
    readonly vocab: ReadonlyMap<string, number>,
    readonly unkToken: string,
    readonly prefix = '##',
    readonly maxInputCharsPerWord = 100,
  ) {
    const unk = vocab.get(unkToken);
    if (unk === undefined) throw new DataError(`WordPiece: the unknown token ${JSON.stringify(unkToken)} is not in the vocabulary of ${vocab.size} tokens`);
    this.unkId = unk;
  }

  /** The ids of one pre-tokenized word: longest vocabulary prefix first, then '##' pieces; [UNK] for the whole word when a piece is missing. */
  tokenize(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const chars = [...word];
    let ids: number[] = [];
    if (chars.length > this.maxInputCharsPerWord) {
      ids = [this.unkId];
    } else {
      let start = 0;
      while (start < chars.length) {
        let end = chars.length, found: number | undefined;
        for (; end > start; end--) {
          const piece = (start > 0 ? this.prefix : '') + chars.slice(start, end).join('');
          found = this.vocab.get(piece);
          if (found !== undefined) break;
        }
        if (found === undefined) {
          ids = [this.unkId];
          break;
        }
        ids.push(found);
        start = end;
      }
    }
    if (this.cache.size < 100_000) this.cache.set(word, ids);
    return ids;
  }
}

/** The WordPiece decoder: tokens joined by spaces, '##' pieces glued on; cleanup (per token, as HF does) glues . ? ! , to the word before. */
export function wordPieceDecode(tokens: readonly string[], prefix: string, cleanup: boolean): string {
  let out = '';
  tokens.forEach((token, i) => {
    let t = token;
    if (i > 0) t = t.startsWith(prefix) ? t.slice(prefix.length) : ` ${t}`;
    out += cleanup ? cleanUpTokenization(t).replaceAll(' do not', " don't") : t;
  });
  return out;
}

/** transformers' clean_up_tokenization, applied to a whole decoded string when a folder's config asks for it. */
export const cleanUpTokenization = (text: string): string => text.replaceAll(' .', '.').replaceAll(' ?', '?').replaceAll(' !', '!')
  .replaceAll(' ,', ',').replaceAll(" ' ", "'").replaceAll(" n't", "n't").replaceAll(" 'm", "'m").replaceAll(" 's", "'s")
  .replaceAll(" 've", "'ve").replaceAll(" 're", "'re");
