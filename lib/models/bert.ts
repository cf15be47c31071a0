// BERT (Devlin et al., 2018) as Hugging Face's transformers builds it: the same module tree,
// parameter names (`bert.encoder.layer.0.attention.self.query.weight`, `...LayerNorm.weight`),
// initialisation and numerics, so a folder that `save_pretrained` wrote loads here and
// `savePretrained` writes one that `from_pretrained` loads. Post-norm encoder layers; attention
// runs on the fused scaled-dot-product kernel with the padding mask as a boolean key mask.
import { existsSync } from 'node:fs';

import { noGrad } from '../autograd/grad_mode.js';
import { ArgumentError, DTypeError, DataError, ShapeError, fmtShape } from '../errors.js';
import { scaledDotProductAttention } from '../ops/attention.js';
import { arange, zeros } from '../ops/creation.js';
import { scoped } from '../scope.js';
import { Tensor } from '../tensor.js';
import { crossEntropy } from '../nn/functional/loss.js';
import { normal_, ones_, zeros_ } from '../nn/init.js';
import { GELU, ReLU, SiLU, Tanh } from '../nn/layers/activation.js';
import { ModuleList } from '../nn/layers/container.js';
import { Embedding, Linear } from '../nn/layers/linear.js';
import { Dropout, LayerNorm } from '../nn/layers/normalization.js';
import { type LoadResult, Module } from '../nn/module.js';
import {
  type PretrainedConfigJson, type SavePretrainedOptions,
  loadWeightsInto, readPretrainedConfig, readPretrainedWeights, writePretrainedFolder,
} from './pretrained.js';

/** Hugging Face's BertConfig in camelCase (config.json holds the snake_case names). */
export interface BertConfig {
  vocabSize: number;
  hiddenSize?: number;
  numHiddenLayers?: number;
  numAttentionHeads?: number;
  intermediateSize?: number;
  /** 'gelu' (erf), 'gelu_new' / 'gelu_pytorch_tanh' (tanh approximation), 'relu', 'silu'. */
  hiddenAct?: BertActivation;
  hiddenDropoutProb?: number;
  attentionProbsDropoutProb?: number;
  maxPositionEmbeddings?: number;
  typeVocabSize?: number;
  layerNormEps?: number;
  padTokenId?: number;
  initializerRange?: number;
  /** Outputs of the classification heads (default 2, as Hugging Face). */
  numLabels?: number;
  /** Dropout before the classification heads; null (default) uses hiddenDropoutProb. */
  classifierDropout?: number | null;
  /** Label names of the classification heads by id (default LABEL_0, LABEL_1, ...). */
  id2label?: Record<number, string>;
  /** Whether the masked-LM decoder shares the word embeddings (default true). */
  tieWordEmbeddings?: boolean;
}

export type BertActivation = 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'relu' | 'silu' | 'swish';

/** Every field filled in with Hugging Face's defaults. */
export type ResolvedBertConfig = Required<Omit<BertConfig, 'classifierDropout'>> & { classifierDropout: number | null };

export type BertHead = 'maskedLM' | 'base' | 'sequenceClassification' | 'tokenClassification';

const ARCHITECTURES: Record<BertHead, string> = {
  maskedLM: 'BertForMaskedLM',
  base: 'BertModel',
  sequenceClassification: 'BertForSequenceClassification',
  tokenClassification: 'BertForTokenClassification',
};

/** camelCase config key -> config.json key. */
const JSON_KEYS: Record<keyof BertConfig, string> = {
  vocabSize: 'vocab_size', hiddenSize: 'hidden_size', numHiddenLayers: 'num_hidden_layers',
  numAttentionHeads: 'num_attention_heads', intermediateSize: 'intermediate_size', hiddenAct: 'hidden_act',
  hiddenDropoutProb: 'hidden_dropout_prob', attentionProbsDropoutProb: 'attention_probs_dropout_prob',
  maxPositionEmbeddings: 'max_position_embeddings', typeVocabSize: 'type_vocab_size', layerNormEps: 'layer_norm_eps',
  padTokenId: 'pad_token_id', initializerRange: 'initializer_range', numLabels: 'num_labels',
  classifierDropout: 'classifier_dropout', id2label: 'id2label', tieWordEmbeddings: 'tie_word_embeddings',
};

function positiveInt(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ArgumentError(`${op}: ${name} must be a positive integer, got ${String(v)}`);
  return v;
}

function probability(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new ArgumentError(`${op}: ${name} must be a probability in [0, 1), got ${String(v)}`);
  return v;
}

/** The config with defaults filled in and every value checked (ArgumentError naming the field). */
export function resolveBertConfig(config: BertConfig, op = 'bert'): ResolvedBertConfig {
  if (config === null || typeof config !== 'object') throw new ArgumentError(`${op}: expected a config object { vocabSize, ... }`);
  for (const key of Object.keys(config)) {
    if (!(key in JSON_KEYS)) throw new ArgumentError(`${op}: unknown config field '${key}' (known: ${Object.keys(JSON_KEYS).join(', ')})`);
  }
  const hiddenSize = positiveInt(op, 'hiddenSize', config.hiddenSize ?? 768);
  const numAttentionHeads = positiveInt(op, 'numAttentionHeads', config.numAttentionHeads ?? 12);
  if (hiddenSize % numAttentionHeads !== 0) {
    throw new ArgumentError(`${op}: hiddenSize ${hiddenSize} is not a multiple of numAttentionHeads ${numAttentionHeads}`);
  }
  const vocabSize = positiveInt(op, 'vocabSize', config.vocabSize);
  const hiddenAct = config.hiddenAct ?? 'gelu';
  if (!['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu', 'silu', 'swish'].includes(hiddenAct)) {
    throw new ArgumentError(`${op}: hiddenAct '${String(hiddenAct)}' is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu, silu, swish)`);
  }
  const padTokenId = config.padTokenId ?? 0;
  if (!Number.isInteger(padTokenId) || padTokenId < 0 || padTokenId >= vocabSize) {
    throw new ArgumentError(`${op}: padTokenId must be an id in [0, ${vocabSize}), got ${String(padTokenId)}`);
  }
  const layerNormEps = config.layerNormEps ?? 1e-12;
  if (typeof layerNormEps !== 'number' || !(layerNormEps > 0)) throw new ArgumentError(`${op}: layerNormEps must be positive, got ${String(layerNormEps)}`);
  const initializerRange = config.initializerRange ?? 0.02;
  if (typeof initializerRange !== 'number' || !(initializerRange >= 0)) throw new ArgumentError(`${op}: initializerRange must be >= 0, got ${String(initializerRange)}`);
  const numLabels = positiveInt(op, 'numLabels', config.numLabels ?? (config.id2label ? Object.keys(config.id2label).length : 2));
  const id2label: Record<number, string> = {};
  for (let i = 0; i < numLabels; i++) id2label[i] = config.id2label?.[i] ?? `LABEL_${i}`;
  const classifierDropout = config.classifierDropout ?? null;
  if (classifierDropout !== null) probability(op, 'classifierDropout', classifierDropout);
  return {
    vocabSize, hiddenSize, numAttentionHeads,
    numHiddenLayers: positiveInt(op, 'numHiddenLayers', config.numHiddenLayers ?? 12),
    intermediateSize: positiveInt(op, 'intermediateSize', config.intermediateSize ?? 3072),
    hiddenAct,
    hiddenDropoutProb: probability(op, 'hiddenDropoutProb', config.hiddenDropoutProb ?? 0.1),
    attentionProbsDropoutProb: probability(op, 'attentionProbsDropoutProb', config.attentionProbsDropoutProb ?? 0.1),
    maxPositionEmbeddings: positiveInt(op, 'maxPositionEmbeddings', config.maxPositionEmbeddings ?? 512),
    typeVocabSize: positiveInt(op, 'typeVocabSize', config.typeVocabSize ?? 2),
    layerNormEps, padTokenId, initializerRange, numLabels, classifierDropout, id2label,
    tieWordEmbeddings: config.tieWordEmbeddings ?? true,
  };
}

function activation(name: BertActivation): Module {
  switch (name) {
    case 'gelu': return new GELU();
    case 'gelu_new': case 'gelu_pytorch_tanh': return new GELU('tanh');
    case 'relu': return new ReLU();
    case 'silu': case 'swish': return new SiLU();
  }
}

/** A LayerNorm under Hugging Face's (TensorFlow-era) key `LayerNorm`, not snake_case `layer_norm`. */
function keepLayerNormKey(m: Module): void {
  (m as unknown as { setStateKey(field: string, key: string): void }).setStateKey('LayerNorm', 'LayerNorm');
}

export interface BertInputs {
  /** [batch, seq]: 1 (or true) where the token is attended to, 0 at padding; default all ones. */
  attentionMask?: Tensor | null;
  /** int32 [batch, seq] segment ids in [0, typeVocabSize); default all zeros. */
  tokenTypeIds?: Tensor | null;
  /** int32 [batch, seq] or [1, seq] positions; default 0 .. seq-1. */
  positionIds?: Tensor | null;
}

export class BertEmbeddings extends Module {
  wordEmbeddings: Embedding;
  positionEmbeddings: Embedding;
  tokenTypeEmbeddings: Embedding;
  LayerNorm: LayerNorm;
  dropout: Dropout;

  constructor(readonly config: ResolvedBertConfig) {
    super();
    this.wordEmbeddings = new Embedding(config.vocabSize, config.hiddenSize, { paddingIdx: config.padTokenId });
    this.positionEmbeddings = new Embedding(config.maxPositionEmbeddings, config.hiddenSize);
    this.tokenTypeEmbeddings = new Embedding(config.typeVocabSize, config.hiddenSize);
    this.LayerNorm = new LayerNorm(config.hiddenSize, { eps: config.layerNormEps });
    this.dropout = new Dropout(config.hiddenDropoutProb);
    keepLayerNormKey(this);
  }

  forward(inputIds: Tensor, tokenTypeIds: Tensor | null, positionIds: Tensor | null): Tensor {
    const [batch, seq] = inputIds.shape;
    const positions = positionIds ?? arange(seq, { dtype: 'int32', device: inputIds.device }).reshape([1, seq]);
    const types = tokenTypeIds ?? zeros([batch, seq], { dtype: 'int32', device: inputIds.device });
    const x = this.wordEmbeddings.forward(inputIds).add(this.tokenTypeEmbeddings.forward(types)).add(this.positionEmbeddings.forward(positions));
    return this.dropout.forward(this.LayerNorm.forward(x));
  }
}

export class BertSelfAttention extends Module {
  readonly numAttentionHeads: number;
  readonly attentionHeadSize: number;
  readonly dropoutP: number;
  query: Linear;
  key: Linear;
  value: Linear;

  constructor(config: ResolvedBertConfig) {
    super();
    this.numAttentionHeads = config.numAttentionHeads;
    this.attentionHeadSize = config.hiddenSize / config.numAttentionHeads;
    this.dropoutP = config.attentionProbsDropoutProb;
    this.query = new Linear(config.hiddenSize, config.hiddenSize);
    this.key = new Linear(config.hiddenSize, config.hiddenSize);
    this.value = new Linear(config.hiddenSize, config.hiddenSize);
  }

  /** hidden [B, T, hidden], keyMask bool [B, 1, 1, T] (true = attend) or null → [B, T, hidden]. */
  forward(hidden: Tensor, keyMask: Tensor | null): Tensor {
    const [batch, seq, width] = hidden.shape;
    const heads = (t: Tensor) => t.reshape([batch, seq, this.numAttentionHeads, this.attentionHeadSize]).transpose(1, 2);
    const q = heads(this.query.forward(hidden)), k = heads(this.key.forward(hidden)), v = heads(this.value.forward(hidden));
    const out = scaledDotProductAttention(q, k, v, { attnMask: keyMask, dropoutP: this.training ? this.dropoutP : 0 });
    return out.transpose(1, 2).reshape([batch, seq, width]);
  }
}

/** dense, dropout, then LayerNorm over the residual sum: BertSelfOutput and BertOutput alike. */
export class BertResidualOutput extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;
  dropout: Dropout;

  constructor(inFeatures: number, config: ResolvedBertConfig) {
    super();
    this.dense = new Linear(inFeatures, config.hiddenSize);
    this.LayerNorm = new LayerNorm(config.hiddenSize, { eps: config.layerNormEps });
    this.dropout = new Dropout(config.hiddenDropoutProb);
    keepLayerNormKey(this);
  }

  forward(hidden: Tensor, residual: Tensor): Tensor {
    return this.LayerNorm.forward(this.dropout.forward(this.dense.forward(hidden)).add(residual));
  }
}

export class BertAttention extends Module {
  self: BertSelfAttention;
  output: BertResidualOutput;

  constructor(config: ResolvedBertConfig) {
    super();
    this.self = new BertSelfAttention(config);
    this.output = new BertResidualOutput(config.hiddenSize, config);
  }

  forward(hidden: Tensor, keyMask: Tensor | null): Tensor {
    return this.output.forward(this.self.forward(hidden, keyMask), hidden);
  }
}

export class BertIntermediate extends Module {
  dense: Linear;
  intermediateActFn: Module;

  constructor(config: ResolvedBertConfig) {
    super();
    this.dense = new Linear(config.hiddenSize, config.intermediateSize);
    this.intermediateActFn = activation(config.hiddenAct);
  }

  forward(hidden: Tensor): Tensor {
    return this.intermediateActFn.forward(this.dense.forward(hidden)) as Tensor;
  }
}

export class BertLayer extends Module {
  attention: BertAttention;
  intermediate: BertIntermediate;
  output: BertResidualOutput;

  constructor(config: ResolvedBertConfig) {
    super();
    this.attention = new BertAttention(config);
    this.intermediate = new BertIntermediate(config);
    this.output = new BertResidualOutput(config.intermediateSize, config);
  }

  forward(hidden: Tensor, keyMask: Tensor | null): Tensor {
    const attended = this.attention.forward(hidden, keyMask);
    return this.output.forward(this.intermediate.forward(attended), attended);
  }
}

export class BertEncoder extends Module {
  layer: ModuleList<BertLayer>;

  constructor(config: ResolvedBertConfig) {
    super();
    this.layer = new ModuleList(Array.from({ length: config.numHiddenLayers }, () => new BertLayer(config)));
  }

  forward(hidden: Tensor, keyMask: Tensor | null): Tensor {
    let h = hidden;
    for (const layer of this.layer) h = layer.forward(h, keyMask);
    return h;
  }
}

/** tanh(dense(hidden state of the first token)). */
export class BertPooler extends Module {
  dense: Linear;
  activation: Tanh;

  constructor(config: ResolvedBertConfig) {
    super();
    this.dense = new Linear(config.hiddenSize, config.hiddenSize);
    this.activation = new Tanh();
  }

  forward(hidden: Tensor): Tensor {
    return this.activation.forward(this.dense.forward(hidden.select(1, 0)));
  }
}

/** Hugging Face's _init_weights: N(0, initializerRange) for Linear and Embedding weights (padding row zero), zero biases, LayerNorm ones and zeros. */
function initBertWeights(root: Module, range: number): void {
  noGrad(() => scoped(() => {
    for (const m of root.modules()) {
      if (m instanceof Linear) {
        normal_(m.weight, 0, range);
        if (m.bias) zeros_(m.bias);
      } else if (m instanceof Embedding) {
        normal_(m.weight, 0, range);
        if (m.paddingIdx !== null) m.weight.select(0, m.paddingIdx).zero_();
      } else if (m instanceof LayerNorm) {
        if (m.weight) ones_(m.weight);
        if (m.bias) zeros_(m.bias);
      } else if (m instanceof BertLMPredictionHead) {
        zeros_(m.bias);
      }
    }
  }));
}

const OP = 'bert';

function checkInputs(model: string, inputIds: Tensor, inputs: BertInputs, config: ResolvedBertConfig): void {
  const op = `${model}.forward`;
  if (!(inputIds instanceof Tensor)) throw new ArgumentError(`${op}: inputIds must be an int32 Tensor [batch, seq]`);
  if (inputIds.dtype !== 'int32') throw new DTypeError(`${op}: inputIds must be int32, got ${inputIds.dtype} ${fmtShape(inputIds.shape)}`);
  if (inputIds.ndim !== 2) throw new ShapeError(`${op}: inputIds must be [batch, seq], got ${fmtShape(inputIds.shape)}`);
  const [batch, seq] = inputIds.shape;
  if (seq < 1) throw new ShapeError(`${op}: inputIds ${fmtShape(inputIds.shape)} has no tokens`);
  if (seq > config.maxPositionEmbeddings && !inputs.positionIds) {
    throw new ShapeError(`${op}: inputIds ${fmtShape(inputIds.shape)}: sequence length ${seq} exceeds maxPositionEmbeddings ${config.maxPositionEmbeddings}`);
  }
  if (inputs === null || typeof inputs !== 'object') throw new ArgumentError(`${op}: options must be an object { attentionMask, tokenTypeIds, positionIds }`);
  for (const key of Object.keys(inputs)) {
    if (!['attentionMask', 'tokenTypeIds', 'positionIds'].includes(key)) {
      throw new ArgumentError(`${op}: unknown option '${key}' (known: attentionMask, tokenTypeIds, positionIds)`);
    }
  }
  const { attentionMask, tokenTypeIds, positionIds } = inputs;
  if (attentionMask != null) {
    if (!(attentionMask instanceof Tensor)) throw new ArgumentError(`${op}: attentionMask must be a Tensor [batch, seq]`);
    if (attentionMask.ndim !== 2 || attentionMask.shape[0] !== batch || attentionMask.shape[1] !== seq) {
      throw new ShapeError(`${op}: attentionMask ${fmtShape(attentionMask.shape)} must match inputIds ${fmtShape(inputIds.shape)}`);
    }
  }
  if (tokenTypeIds != null) {
    if (!(tokenTypeIds instanceof Tensor) || tokenTypeIds.dtype !== 'int32') throw new DTypeError(`${op}: tokenTypeIds must be an int32 Tensor [batch, seq]`);
    if (tokenTypeIds.ndim !== 2 || tokenTypeIds.shape[0] !== batch || tokenTypeIds.shape[1] !== seq) {
      throw new ShapeError(`${op}: tokenTypeIds ${fmtShape(tokenTypeIds.shape)} must match inputIds ${fmtShape(inputIds.shape)}`);
    }
  }
  if (positionIds != null) {
    if (!(positionIds instanceof Tensor) || positionIds.dtype !== 'int32') throw new DTypeError(`${op}: positionIds must be an int32 Tensor [batch or 1, seq]`);
    if (positionIds.ndim !== 2 || (positionIds.shape[0] !== batch && positionIds.shape[0] !== 1) || positionIds.shape[1] !== seq) {
      throw new ShapeError(`${op}: positionIds ${fmtShape(positionIds.shape)} must be [${batch} or 1, ${seq}] for inputIds ${fmtShape(inputIds.shape)}`);
    }
  }
}

/** The [B, T] padding mask as the boolean key mask [B, 1, 1, T] attention takes (true = attend); null when nothing is masked. */
function keyMaskOf(attentionMask: Tensor | null | undefined): Tensor | null {
  if (attentionMask == null) return null;
  const [batch, seq] = attentionMask.shape;
  return attentionMask.ne(0).reshape([batch, 1, 1, seq]);
}

export interface BertModelOutput {
  /** [batch, seq, hiddenSize]. */
  lastHiddenState: Tensor;
  /** [batch, hiddenSize]: tanh(dense(first token)); null when the model has no pooler. */
  poolerOutput: Tensor | null;
}

/** Shared by every BERT model class: the config, savePretrained, and what config.json says. */
abstract class BertPretrained extends Module {
  abstract readonly config: ResolvedBertConfig;
  abstract readonly architecture: string;

  /** config.json as transformers writes it (snake_case, architectures, model_type). */
  configJson(): PretrainedConfigJson {
    const c = this.config;
    const json: PretrainedConfigJson = { architectures: [this.architecture], model_type: 'bert' };
    for (const [key, jsonKey] of Object.entries(JSON_KEYS) as [keyof BertConfig, string][]) {
      if (key === 'id2label' || key === 'numLabels') continue;
      json[jsonKey] = c[key];
    }
    if (this instanceof BertForSequenceClassification || this instanceof BertForTokenClassification) {
      json.id2label = Object.fromEntries(Object.entries(c.id2label).map(([i, l]) => [String(i), l]));
      json.label2id = Object.fromEntries(Object.entries(c.id2label).map(([i, l]) => [l, Number(i)]));
    }
    json.dtype = 'float32';
    return json;
  }

  /** The weights savePretrained writes: the state dict without the decoder's tied copies (as save_pretrained). */
  protected savedStateDict(): Record<string, Tensor> {
    return this.stateDict();
  }

  /**
   * Writes `config.json` and `model.safetensors` (or shards with maxShardSize) into `dir`, a
   * folder transformers' from_pretrained loads; each file is replaced atomically.
   */
  savePretrained(dir: string, options: SavePretrainedOptions = {}): void {
    writePretrainedFolder(dir, this.configJson(), this.savedStateDict(), options, 'savePretrained');
  }
}

export class BertModel extends BertPretrained {
  readonly config: ResolvedBertConfig;
  readonly architecture = 'BertModel';
  embeddings: BertEmbeddings;
  encoder: BertEncoder;
  pooler: BertPooler | null;

  constructor(config: BertConfig, options: { addPoolingLayer?: boolean } = {}) {
    super();
    this.config = resolveBertConfig(config, 'BertModel');
    this.embeddings = new BertEmbeddings(this.config);
    this.encoder = new BertEncoder(this.config);
    this.pooler = options.addPoolingLayer === false ? null : new BertPooler(this.config);
    initBertWeights(this, this.config.initializerRange);
  }

  /** inputIds int32 [batch, seq] → { lastHiddenState [batch, seq, hidden], poolerOutput [batch, hidden] }. */
  forward(inputIds: Tensor, inputs: BertInputs = {}): BertModelOutput {
    checkInputs('BertModel', inputIds, inputs, this.config);
    const hidden = this.embeddings.forward(inputIds, inputs.tokenTypeIds ?? null, inputs.positionIds ?? null);
    const lastHiddenState = this.encoder.forward(hidden, keyMaskOf(inputs.attentionMask));
    return { lastHiddenState, poolerOutput: this.pooler ? this.pooler.forward(lastHiddenState) : null };
  }
}

export class BertPredictionHeadTransform extends Module {
  dense: Linear;
  transformActFn: Module;
  LayerNorm: LayerNorm;

  constructor(config: ResolvedBertConfig) {
    super();
    this.dense = new Linear(config.hiddenSize, config.hiddenSize);
    this.transformActFn = activation(config.hiddenAct);
    this.LayerNorm = new LayerNorm(config.hiddenSize, { eps: config.layerNormEps });
    keepLayerNormKey(this);
  }

  forward(hidden: Tensor): Tensor {
    return this.LayerNorm.forward(this.transformActFn.forward(this.dense.forward(hidden)) as Tensor);
  }
}

/** transform, then the decoder whose bias is this head's `bias` (one tensor under both keys, as Hugging Face ties them). */
export class BertLMPredictionHead extends Module {
  bias: Tensor;
  transform: BertPredictionHeadTransform;
  decoder: Linear;

  constructor(config: ResolvedBertConfig) {
    super();
    this.transform = new BertPredictionHeadTransform(config);
    this.decoder = new Linear(config.hiddenSize, config.vocabSize);
    this.bias = this.decoder.bias!;
  }

  forward(hidden: Tensor): Tensor {
    return this.decoder.forward(this.transform.forward(hidden));
  }
}

export class BertOnlyMLMHead extends Module {
  predictions: BertLMPredictionHead;

  constructor(config: ResolvedBertConfig) {
    super();
    this.predictions = new BertLMPredictionHead(config);
  }

  forward(hidden: Tensor): Tensor {
    return this.predictions.forward(hidden);
  }
}

/** BERT with the masked-LM head: `bert.*` (no pooler) and `cls.predictions.*`, the decoder tied to the word embeddings. */
export class BertForMaskedLM extends BertPretrained {
  readonly config: ResolvedBertConfig;
  readonly architecture = 'BertForMaskedLM';
  bert: BertModel;
  cls: BertOnlyMLMHead;

  constructor(config: BertConfig) {
    super();
    this.config = resolveBertConfig(config, 'BertForMaskedLM');
    this.bert = new BertModel(this.config, { addPoolingLayer: false });
    this.cls = new BertOnlyMLMHead(this.config);
    initBertWeights(this.cls, this.config.initializerRange);
    if (this.config.tieWordEmbeddings) {
      const decoder = this.cls.predictions.decoder;
      decoder.weight.dispose();
      decoder.weight = this.bert.embeddings.wordEmbeddings.weight;
    }
  }

  /** inputIds int32 [batch, seq] → logits [batch, seq, vocabSize]. */
  forward(inputIds: Tensor, inputs: BertInputs = {}): Tensor {
    return this.cls.forward(this.bert.forward(inputIds, inputs).lastHiddenState);
  }

  /**
   * The masked-LM loss: mean cross-entropy of logits [batch, seq, vocab] against labels int32
   * [batch, seq] over the positions whose label is not -100 (what kd.data.maskTokens writes).
   */
  maskedLmLoss(logits: Tensor, labels: Tensor): Tensor {
    if (!(labels instanceof Tensor) || labels.dtype !== 'int32') throw new DTypeError('BertForMaskedLM.maskedLmLoss: labels must be an int32 Tensor');
    if (labels.numel * this.config.vocabSize !== logits.numel) {
      throw new ShapeError(`BertForMaskedLM.maskedLmLoss: logits ${fmtShape(logits.shape)} and labels ${fmtShape(labels.shape)} do not match`);
    }
    return crossEntropy(logits.reshape([-1, this.config.vocabSize]), labels.reshape([-1]), { ignoreIndex: -100 });
  }

  protected override savedStateDict(): Record<string, Tensor> {
    const state = this.stateDict();
    delete state['cls.predictions.decoder.bias'];
    if (this.config.tieWordEmbeddings) delete state['cls.predictions.decoder.weight'];
    return state;
  }
}

/** BERT with dropout and a linear classifier on the pooled first token: logits [batch, numLabels]. */
export class BertForSequenceClassification extends BertPretrained {
  readonly config: ResolvedBertConfig;
  readonly architecture = 'BertForSequenceClassification';
  bert: BertModel;
  dropout: Dropout;
  classifier: Linear;

  constructor(config: BertConfig) {
    super();
    this.config = resolveBertConfig(config, 'BertForSequenceClassification');
    this.bert = new BertModel(this.config);
    this.dropout = new Dropout(this.config.classifierDropout ?? this.config.hiddenDropoutProb);
    this.classifier = new Linear(this.config.hiddenSize, this.config.numLabels);
    initBertWeights(this.classifier, this.config.initializerRange);
  }

  forward(inputIds: Tensor, inputs: BertInputs = {}): Tensor {
    return this.classifier.forward(this.dropout.forward(this.bert.forward(inputIds, inputs).poolerOutput!));
  }
}

/** BERT with dropout and a linear classifier on every token: logits [batch, seq, numLabels]. */
export class BertForTokenClassification extends BertPretrained {
  readonly config: ResolvedBertConfig;
  readonly architecture = 'BertForTokenClassification';
  bert: BertModel;
  dropout: Dropout;
  classifier: Linear;

  constructor(config: BertConfig) {
    super();
    this.config = resolveBertConfig(config, 'BertForTokenClassification');
    this.bert = new BertModel(this.config, { addPoolingLayer: false });
    this.dropout = new Dropout(this.config.classifierDropout ?? this.config.hiddenDropoutProb);
    this.classifier = new Linear(this.config.hiddenSize, this.config.numLabels);
    initBertWeights(this.classifier, this.config.initializerRange);
  }

  forward(inputIds: Tensor, inputs: BertInputs = {}): Tensor {
    return this.classifier.forward(this.dropout.forward(this.bert.forward(inputIds, inputs).lastHiddenState));
  }
}

export type AnyBert = BertModel | BertForMaskedLM | BertForSequenceClassification | BertForTokenClassification;

function build(head: BertHead, config: BertConfig): AnyBert {
  switch (head) {
    case 'maskedLM': return new BertForMaskedLM(config);
    case 'base': return new BertModel(config);
    case 'sequenceClassification': return new BertForSequenceClassification(config);
    case 'tokenClassification': return new BertForTokenClassification(config);
  }
}

/** config.json's snake_case fields as a BertConfig (unknown keys, which transformers also writes, are ignored). */
export function bertConfigFromJson(json: PretrainedConfigJson, source = 'config.json'): BertConfig {
  const op = 'bert.fromPretrained';
  if (json.model_type !== undefined && json.model_type !== 'bert') {
    throw new DataError(`${op}: ${source} has model_type '${String(json.model_type)}', not 'bert'`);
  }
  // Variants transformers' BertModel also builds, which kindling's does not.
  if (json.position_embedding_type !== undefined && json.position_embedding_type !== 'absolute') {
    throw new DataError(`${op}: ${source} has position_embedding_type '${String(json.position_embedding_type)}'; kindling's BERT has absolute position embeddings only`);
  }
  if (json.is_decoder === true || json.add_cross_attention === true) {
    throw new DataError(`${op}: ${source} configures a decoder (is_decoder / add_cross_attention); kindling's BERT is the bidirectional encoder`);
  }
  const config: Record<string, unknown> = {};
  for (const [key, jsonKey] of Object.entries(JSON_KEYS)) {
    const v = json[jsonKey];
    if (v === undefined || (v === null && key !== 'classifierDropout')) continue;
    config[key] = v;
  }
  if (json.id2label && typeof json.id2label === 'object') {
    const labels: Record<number, string> = {};
    for (const [i, l] of Object.entries(json.id2label as Record<string, unknown>)) labels[Number(i)] = String(l);
    config.id2label = labels;
    if (config.numLabels === undefined) config.numLabels = Object.keys(labels).length;
  }
  if (typeof config.vocabSize !== 'number') throw new DataError(`${op}: ${source} has no vocab_size`);
  return config as unknown as BertConfig;
}

/** Old checkpoints (bert-base-uncased's) name LayerNorm parameters gamma and beta; transformers renames them on load. */
function modernKey(key: string): string {
  return key.replace(/\.LayerNorm\.gamma$/, '.LayerNorm.weight').replace(/\.LayerNorm\.beta$/, '.LayerNorm.bias');
}

export interface BertFromPretrainedOptions {
  /** Build this head instead of the one config.json's `architectures` names (missing head weights are initialised). */
  head?: BertHead;
  /** Config fields that replace config.json's (as from_pretrained's keyword arguments), e.g. { numLabels, id2label } for a new head. */
  config?: Partial<BertConfig>;
  /** Fail when the folder lacks weights the model has or holds weights it has no place for (default false: reported on `loadResult`). */
  strict?: boolean;
}

export type LoadedBert = AnyBert & { loadResult: LoadResult };

/**
 * A BERT model from a Hugging Face folder (config.json + model.safetensors, or sharded): the
 * class config.json's `architectures` names (BertForMaskedLM, BertModel,
 * BertForSequenceClassification, BertForTokenClassification; BertForPreTraining loads as
 * BertForMaskedLM), in eval mode. The keys the folder lacks and the ones it has no place for are
 * on `loadResult`, as from_pretrained logs them.
 */
export function fromPretrained(dir: string, options: BertFromPretrainedOptions = {}): LoadedBert {
  const op = 'bert.fromPretrained';
  if (typeof dir !== 'string' || dir === '') throw new ArgumentError(`${op}: expected a folder path, got ${String(dir)}`);
  if (!existsSync(dir)) throw new DataError(`${op}: ${dir} does not exist`);
  const json = readPretrainedConfig(dir, op);
  let head = options.head;
  if (head === undefined) {
    const names = Array.isArray(json.architectures) ? (json.architectures as unknown[]) : [];
    const known = Object.entries(ARCHITECTURES).find(([, name]) => names.includes(name));
    if (known) head = known[0] as BertHead;
    else if (names.includes('BertForPreTraining')) head = 'maskedLM';
    else if (names.length === 0) head = 'base';
    else throw new DataError(`${op}: ${dir}/config.json names architectures ${JSON.stringify(names)}; kindling builds ${Object.values(ARCHITECTURES).join(', ')}`);
  } else if (!(head in ARCHITECTURES)) {
    throw new ArgumentError(`${op}: head must be one of ${Object.keys(ARCHITECTURES).join(', ')}, got ${String(head)}`);
  }
  const overrides = options.config ?? {};
  if (overrides === null || typeof overrides !== 'object') throw new ArgumentError(`${op}: config must be an object of BertConfig fields`);
  const fromJson = bertConfigFromJson(json, `${dir}/config.json`);
  // New labels replace the folder's: its id2label would otherwise fix numLabels.
  if (overrides.numLabels !== undefined && overrides.id2label === undefined) delete fromJson.id2label;
  if (overrides.id2label !== undefined && overrides.numLabels === undefined) delete fromJson.numLabels;
  const model = build(head, { ...fromJson, ...overrides });
  const raw = readPretrainedWeights(dir, op);
  let loadResult: LoadResult;
  try {
    const renamed: Record<string, Tensor> = Object.create(null);
    for (const [k, t] of Object.entries(raw)) renamed[modernKey(k)] = t;
    loadResult = loadWeightsInto(model, renamed, {
      basePrefix: 'bert',
      // Tied to the word embeddings and to cls.predictions.bias: save_pretrained leaves them out.
      ignoreMissing: model.config.tieWordEmbeddings ? [/^cls\.predictions\.decoder\.(weight|bias)$/] : [/^cls\.predictions\.decoder\.bias$/],
      // Buffers older transformers saved.
      ignoreUnexpected: [/(^|\.)embeddings\.position_ids$/, /(^|\.)embeddings\.token_type_ids$/],
    });
  } catch (err) {
    if (err instanceof Error) err.message = `${op}: ${dir}: ${err.message}`;
    throw err;
  } finally {
    for (const t of Object.values(raw)) t.dispose();
  }
  if (options.strict && (loadResult.missingKeys.length || loadResult.unexpectedKeys.length)) {
    throw new DataError(`${op}: ${dir}: ${loadResult.missingKeys.length ? `missing keys: ${loadResult.missingKeys.join(', ')}` : ''}` +
      `${loadResult.missingKeys.length && loadResult.unexpectedKeys.length ? '; ' : ''}` +
      `${loadResult.unexpectedKeys.length ? `unexpected keys: ${loadResult.unexpectedKeys.join(', ')}` : ''}`);
  }
  model.eval();
  return Object.assign(model, { loadResult });
}

export interface BertOptions extends BertConfig {
  /** Which model to build (default 'maskedLM': the masked-LM pretraining model). */
  head?: BertHead;
}

/**
 * A BERT built from scratch with Hugging Face's initialisation: by default BertForMaskedLM
 * (encoder + masked-LM head, the model BERT pretraining trains); `head` picks BertModel or a
 * classification head. `bert.fromPretrained(dir)` loads a Hugging Face folder.
 */
function bertFactory(options: BertConfig & { head?: 'maskedLM' }): BertForMaskedLM;
function bertFactory(options: BertConfig & { head: 'base' }): BertModel;
function bertFactory(options: BertConfig & { head: 'sequenceClassification' }): BertForSequenceClassification;
function bertFactory(options: BertConfig & { head: 'tokenClassification' }): BertForTokenClassification;
function bertFactory(options: BertOptions): AnyBert;
function bertFactory(options: BertOptions): AnyBert {
  if (options === null || typeof options !== 'object') throw new ArgumentError(`${OP}: expected a config object { vocabSize, ... }`);
  const { head = 'maskedLM', ...config } = options;
  if (!(head in ARCHITECTURES)) throw new ArgumentError(`${OP}: head must be one of ${Object.keys(ARCHITECTURES).join(', ')}, got ${String(head)}`);
  return build(head, config);
}

/** kd.models.bert(config) and kd.models.bert.fromPretrained(dir). */
export const bert = Object.assign(bertFactory, { fromPretrained });
