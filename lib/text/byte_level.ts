// Hugging Face's BPE model over GPT-2's byte level: a pre-token's UTF-8 bytes become byte-to-unicode
// characters, each looked up in the folder's vocabulary, and the folder's merges (rank = line order)
// join them through the same merge routine as kindling's own BpeTokenizer (applyMerges).
import { DataError } from '../errors.js';
import { applyMerges, pairKey, PAIR_SHIFT } from './bpe.js';
import { UNICODE_TO_BYTE, bytesToUnicode, utf8Decoder, utf8Encoder } from './bytes.js';

export class ByteLevelBpeModel {
  private readonly rankOf = new Map<number, number>();
  private readonly mergedIds: number[] = [];
  private readonly cache = new Map<string, number[]>();
  readonly unkId: number | undefined;

  /**
   * `merges` in rank order as [left, right] token pairs. A later duplicate of a pair takes its rank,
   * as HF's map does. `unkToken` (none for GPT-2): characters missing from the vocabulary become it,
   * consecutive ones fused into one when `fuseUnk`; without it they are dropped, as HF drops them.
   */
  constructor(readonly vocab: ReadonlyMap<string, number>, merges: readonly (readonly [string, string])[], unkToken: string | null = null, readonly fuseUnk = false) {
    const op = 'ByteLevelBpeModel';
    for (const [token, id] of vocab) {
      if (!Number.isInteger(id) || id < 0 || id >= PAIR_SHIFT) throw new DataError(`${op}: token ${JSON.stringify(token)} has the id ${id}, outside [0, ${PAIR_SHIFT})`);
    }
    merges.forEach(([a, b], rank) => {
      const ia = vocab.get(a), ib = vocab.get(b), merged = vocab.get(a + b);
      if (ia === undefined || ib === undefined || merged === undefined) {
        const missing = ia === undefined ? a : ib === undefined ? b : a + b;
        throw new DataError(`${op}: merge ${rank} (${JSON.stringify(a)} ${JSON.stringify(b)}) needs ${JSON.stringify(missing)}, which is not in the vocabulary`);
      }
      this.rankOf.set(pairKey(ia, ib), rank);
      this.mergedIds.push(merged);
    });
    if (unkToken !== null && !vocab.has(unkToken)) throw new DataError(`${op}: the unknown token ${JSON.stringify(unkToken)} is not in the vocabulary`);
    this.unkId = unkToken === null ? undefined : vocab.get(unkToken);
  }

  /** The ids of one pre-token (text, encoded as UTF-8 and mapped to the byte-level alphabet). */
  tokenize(piece: string): number[] {
    const cached = this.cache.get(piece);
    if (cached) return cached;
    const chars = bytesToUnicode(utf8Encoder.encode(piece));
    const start: number[] = [];
    for (const ch of chars) {
      const id = this.vocab.get(ch);
      if (id !== undefined) start.push(id);
      else if (this.unkId !== undefined && !(this.fuseUnk && start.at(-1) === this.unkId)) start.push(this.unkId);
    }
    const ids = applyMerges(Int32Array.from(start), this.rankOf, (rank) => this.mergedIds[rank]);
    if (this.cache.size < 100_000) this.cache.set(piece, ids);
    return ids;
  }
}

/** GPT-2's ByteLevel decoder: tokens spelled in the byte-level alphabet back to bytes (other tokens as their UTF-8), then UTF-8 with U+FFFD for invalid bytes. */
export function byteLevelDecode(tokens: readonly string[]): string {
  const parts: Uint8Array[] = [];
  let n = 0;
  for (const token of tokens) {
    let bytes: Uint8Array | null = new Uint8Array(token.length);
    for (let i = 0; i < token.length; i++) {
      const b = UNICODE_TO_BYTE.get(token[i]);
      if (b === undefined) {
        bytes = null;
        break;
      }
      bytes[i] = b;
    }
    bytes ??= utf8Encoder.encode(token);
    parts.push(bytes);
    n += bytes.length;
  }
  const all = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return utf8Decoder.decode(all);
}
