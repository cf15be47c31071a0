// kd.models: ready-made architectures. Each family lives in its own file.
export { kerasMnistCnn, mlp } from './vision.js';
export { gpt, GPT, KVCache, CausalSelfAttention, MLP, Block, sampleToken } from './gpt.js';
export type { GPTConfig, GPTOutput, GenerateOptions } from './gpt.js';
export { gpt2, GPT2Model, GPT2LMHeadModel, GPT2ForSequenceClassification, GPT2ForTokenClassification } from './gpt2.js';
export type { GPT2Config, GPT2Architecture, GPT2ForwardOptions, GPT2FromPretrainedOptions, GPT2ModelOutput, GPT2PretrainedModel } from './gpt2.js';
export {
  bert, BertModel, BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification,
  type BertConfig, type BertHead, type BertInputs, type BertModelOutput, type BertOptions, type BertFromPretrainedOptions,
} from './bert.js';
