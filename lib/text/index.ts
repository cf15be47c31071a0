// kd.text: tokenizers (characters, byte-level BPE, Hugging Face folders) that turn text into token ids and back.
export { CharTokenizer } from './char.js';
export type { CharJson } from './char.js';
export { BpeTokenizer } from './bpe.js';
export type { BpeJson, BpeTrainOptions } from './bpe.js';
export { PretrainedTokenizer, fromPretrained } from './pretrained.js';
export type { AddedToken, BatchEncoding, EncodeBatchOptions, Encoding } from './pretrained.js';
