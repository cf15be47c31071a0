// kd.text: tokenizers (characters, byte-level BPE) that turn text into token ids and back.
export { CharTokenizer } from './char.js';
export type { CharJson } from './char.js';
export { BpeTokenizer } from './bpe.js';
export type { BpeJson, BpeTrainOptions } from './bpe.js';
