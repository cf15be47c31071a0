// kd.models: ready-made architectures. Each family lives in its own file.
export { kerasMnistCnn, mlp } from './vision.js';
export {
  bert, BertModel, BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification,
  type BertConfig, type BertHead, type BertInputs, type BertModelOutput, type BertOptions, type BertFromPretrainedOptions,
} from './bert.js';
