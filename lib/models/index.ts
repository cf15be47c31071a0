// kd.models: ready-made architectures. Each family lives in its own file.
export { kerasMnistCnn, mlp } from './vision.js';
export { gpt, GPT, KVCache, CausalSelfAttention, MLP, Block, sampleToken } from './gpt.js';
export type { GPTConfig, GPTOutput, GenerateOptions } from './gpt.js';
