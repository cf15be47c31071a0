// GPT-2 with Hugging Face's architecture, configuration and parameter names, so a folder the hub
// serves (config.json + model.safetensors) loads here and a folder saved here loads in
// transformers. Hugging Face keeps GPT-2's projections as Conv1D (weight [in, out], y = x W + b);
// here they are nn.Linear (weight [out, in]), so stateDict() has Hugging Face's names with
// Linear's layout, and the weights are transposed when a folder is read or written.
import { ArgumentError, DTypeError, DataError, ShapeError, fmtShape } from '../errors.js';
import { scaledDotProductAttention } from '../ops/attention.js';
import { biasGelu } from '../ops/fused_rows.js';
import { fromTypedArray } from '../ops/creation.js';
import { indexSelect } from '../ops/indexing.js';
import { Module, type LoadResult } from '../nn/module.js';
import { ModuleList } from '../nn/layers/container.js';
import { Embedding, Linear } from '../nn/layers/linear.js';
import { Dropout, LayerNorm } from '../nn/layers/normalization.js';
import { GELU, ReLU, SiLU, Sigmoid, Tanh } from '../nn/layers/activation.js';
import { normal_, ones_, zeros_ } from '../nn/init.js';
import { noGrad } from '../autograd/grad_mode.js';
import { linear } from '../nn/functional/basic.js';
import { scoped } from '../scope.js';
import { Tensor } from '../tensor.js';
import {
  type PretrainedConfigJson, type SavePretrainedOptions, loadPretrainedWeights, readPretrainedConfig, writePretrainedFolder,
} from './pretrained.js';

/** GPT2Config's fields, camelCase; defaults are Hugging Face's (GPT-2 small). */
export interface GPT2Config {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** The MLP's width; null means 4 · nEmbd. */
  nInner: number | null;
  /** gelu_new (tanh GELU, GPT-2's), gelu_pytorch_tanh, gelu_fast, gelu (exact), relu, silu / swish, tanh, sigmoid. */
  activationFunction: string;
  residPdrop: number;
  embdPdrop: number;
  attnPdrop: number;
  layerNormEpsilon: number;
  initializerRange: number;
  scaleAttnWeights: boolean;
  scaleAttnByInverseLayerIdx: boolean;
  /** Changes only mixed-precision numerics in transformers; float32 results are the same either way. */
  reorderAndUpcastAttn: boolean;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenId: number | null;
  /** The padding token: GPT2ForSequenceClassification pools at the last token that is not this one. */
  padTokenId: number | null;
  /** Labels of the classification heads (config.json's id2label; its size is num_labels, default 2). */
  id2label: Record<string, string>;
  /** Dropout before GPT2ForTokenClassification's classifier; null means hidden_dropout, else 0.1 (as transformers). */
  classifierDropout: number | null;
}

export type GPT2Architecture = 'GPT2Model' | 'GPT2LMHeadModel' | 'GPT2ForSequenceClassification' | 'GPT2ForTokenClassification';

const ARCHITECTURES: readonly GPT2Architecture[] = ['GPT2Model', 'GPT2LMHeadModel', 'GPT2ForSequenceClassification', 'GPT2ForTokenClassification'];

const DEFAULT_CONFIG: GPT2Config = {
  vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, nInner: null,
  activationFunction: 'gelu_new', residPdrop: 0.1, embdPdrop: 0.1, attnPdrop: 0.1, layerNormEpsilon: 1e-5,
  initializerRange: 0.02, scaleAttnWeights: true, scaleAttnByInverseLayerIdx: false, reorderAndUpcastAttn: false,
  tieWordEmbeddings: true, bosTokenId: 50256, eosTokenId: 50256, padTokenId: null,
  id2label: { 0: 'LABEL_0', 1: 'LABEL_1' }, classifierDropout: null,
};

/** config.json key -> GPT2Config field (the snake_case names transformers writes). */
const JSON_KEYS: Readonly<Record<string, keyof GPT2Config>> = {
  vocab_size: 'vocabSize', n_positions: 'nPositions', n_embd: 'nEmbd', n_layer: 'nLayer', n_head: 'nHead', n_inner: 'nInner',
  activation_function: 'activationFunction', resid_pdrop: 'residPdrop', embd_pdrop: 'embdPdrop', attn_pdrop: 'attnPdrop',
  layer_norm_epsilon: 'layerNormEpsilon', initializer_range: 'initializerRange', scale_attn_weights: 'scaleAttnWeights',
  scale_attn_by_inverse_layer_idx: 'scaleAttnByInverseLayerIdx', reorder_and_upcast_attn: 'reorderAndUpcastAttn',
  tie_word_embeddings: 'tieWordEmbeddings', bos_token_id: 'bosTokenId', eos_token_id: 'eosTokenId', pad_token_id: 'padTokenId',
  id2label: 'id2label', classifier_dropout: 'classifierDropout',
};
/** transformers' attribute_map: the generic names GPT-2's config.json may use instead. */
const JSON_ALIASES: Readonly<Record<string, string>> = {
  hidden_size: 'n_embd', max_position_embeddings: 'n_positions', num_attention_heads: 'n_head', num_hidden_layers: 'n_layer',
};

/** Keys gpt2ConfigToJson derives itself, so they are not carried over from a folder that was read. */
const WRITTEN_ON_SAVE = new Set(['architectures', 'model_type', 'num_labels', 'label2id', 'dtype', 'torch_dtype', 'transformers_version']);

type Activation = GELU | ReLU | SiLU | Sigmoid | Tanh;

function activationModule(name: string): Activation {
  switch (name) {
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast': return new GELU('tanh');
    case 'gelu': return new GELU();
    case 'relu': return new ReLU();
    case 'silu':
    case 'swish': return new SiLU();
    case 'sigmoid': return new Sigmoid();
    case 'tanh': return new Tanh();
    default:
      throw new ArgumentError(`gpt2: activation_function '${name}' is not supported (gelu_new, gelu_pytorch_tanh, gelu_fast, gelu, relu, silu, swish, sigmoid, tanh)`);
  }
}

function checkConfig(c: GPT2Config): GPT2Config {
  const positive = (name: string, v: unknown) => {
    if (!Number.isSafeInteger(v) || (v as number) <= 0) throw new ArgumentError(`gpt2: ${name} must be a positive integer, got ${String(v)}`);
  };
  positive('vocab_size', c.vocabSize);
  positive('n_positions', c.nPositions);
  positive('n_embd', c.nEmbd);
  positive('n_layer', c.nLayer);
  positive('n_head', c.nHead);
  if (c.nInner !== null) positive('n_inner', c.nInner);
  if (c.nEmbd % c.nHead !== 0) throw new ArgumentError(`gpt2: n_embd ${c.nEmbd} is not divisible by n_head ${c.nHead}`);
  for (const [name, p] of [['resid_pdrop', c.residPdrop], ['embd_pdrop', c.embdPdrop], ['attn_pdrop', c.attnPdrop]] as const) {
    if (!(typeof p === 'number' && p >= 0 && p < 1)) throw new ArgumentError(`gpt2: ${name} must be in [0, 1), got ${String(p)}`);
  }
  if (!(c.layerNormEpsilon > 0)) throw new ArgumentError(`gpt2: layer_norm_epsilon must be positive, got ${c.layerNormEpsilon}`);
  if (c.padTokenId !== null && !Number.isInteger(c.padTokenId)) throw new ArgumentError(`gpt2: pad_token_id must be an integer or null, got ${c.padTokenId}`);
  if (Object.keys(c.id2label).length === 0) throw new ArgumentError('gpt2: id2label (num_labels) must name at least one label');
  activationModule(c.activationFunction);
  return c;
}

/** A GPT2Config from camelCase overrides of Hugging Face's defaults; `numLabels` makes LABEL_0.. names. */
export function gpt2Config(options: Partial<GPT2Config> & { numLabels?: number } = {}): GPT2Config {
  const { numLabels, ...rest } = options;
  const config: GPT2Config = { ...DEFAULT_CONFIG, ...rest };
  if (numLabels !== undefined) {
    if (!Number.isSafeInteger(numLabels) || numLabels <= 0) throw new ArgumentError(`gpt2: numLabels must be a positive integer, got ${numLabels}`);
    config.id2label = Object.fromEntries(Array.from({ length: numLabels }, (_, i) => [String(i), `LABEL_${i}`]));
  }
  return checkConfig(config);
}

/** The number of labels of the classification heads (the size of id2label). */
export function numLabelsOf(config: GPT2Config): number {
  return Object.keys(config.id2label).length;
}

/** A config.json object as a GPT2Config, plus the keys it holds that GPT2Config has no field for (kept for saving). */
export function gpt2ConfigFromJson(json: PretrainedConfigJson, source = 'config.json'): { config: GPT2Config; extra: PretrainedConfigJson } {
  const config: GPT2Config = { ...DEFAULT_CONFIG };
  const extra: PretrainedConfigJson = {};
  const fields = config as unknown as Record<string, unknown>;
  for (const [rawKey, value] of Object.entries(json)) {
    const key = JSON_ALIASES[rawKey] ?? rawKey;
    const field = JSON_KEYS[key];
    if (field === undefined) {
      if (!WRITTEN_ON_SAVE.has(key)) extra[rawKey] = value;
      continue;
    }
    const eosList = key === 'eos_token_id' && Array.isArray(value);
    fields[field] = eosList ? (value as unknown[])[0] ?? null : value;
    if (eosList) extra[rawKey] = value;
  }
  if (json.id2label === undefined && typeof json.num_labels === 'number') {
    config.id2label = Object.fromEntries(Array.from({ length: json.num_labels }, (_, i) => [String(i), `LABEL_${i}`]));
  }
  try {
    return { config: checkConfig(config), extra };
  } catch (err) {
    throw new DataError(`${source}: ${(err as Error).message}`);
  }
}

/** The config.json transformers reads: snake_case keys, architectures and model_type. */
export function gpt2ConfigToJson(config: GPT2Config, architecture: GPT2Architecture, extra: PretrainedConfigJson = {}): PretrainedConfigJson {
  const json: PretrainedConfigJson = { ...extra, architectures: [architecture], model_type: 'gpt2' };
  const fields = config as unknown as Record<string, unknown>;
  for (const [key, field] of Object.entries(JSON_KEYS)) {
    if (key === 'classifier_dropout' && config.classifierDropout === null) continue;
    if (key === 'eos_token_id' && Array.isArray(extra.eos_token_id)) continue;
    json[key] = fields[field];
  }
  // transformers leaves the default two labels out of config.json.
  if (JSON.stringify(config.id2label) === JSON.stringify(DEFAULT_CONFIG.id2label)) delete json.id2label;
  else json.label2id = Object.fromEntries(Object.entries(config.id2label).map(([id, label]) => [label, Number(id)]));
  json.dtype = 'float32';
  // Sorted keys, as transformers writes them.
  return Object.fromEntries(Object.entries(json).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Options of a GPT-2 forward pass. */
export interface GPT2ForwardOptions {
  /** [batch, seq]: 1 (or true) for tokens to attend to, 0 for padding; int32, float32 or bool. */
  attentionMask?: Tensor | null;
  /** [batch, seq] or [1, seq] int32 positions; default 0..seq-1 for every row (as transformers). */
  positionIds?: Tensor | null;
  /** [batch, seq] int32: GPT-2 has no segment table, so these are looked up in wte and added. */
  tokenTypeIds?: Tensor | null;
}

function checkIds(op: string, name: string, t: unknown, shape?: readonly number[]): Tensor {
  if (!(t instanceof Tensor)) throw new ArgumentError(`${op}: ${name} must be a Tensor`);
  if (t.dtype !== 'int32') throw new DTypeError(`${op}: ${name} must be int32, got ${t.dtype} ${fmtShape(t.shape)}`);
  if (t.ndim !== 2) throw new ShapeError(`${op}: ${name} must be [batch, seq], got ${fmtShape(t.shape)}`);
  if (shape && !(t.shape[1] === shape[1] && (t.shape[0] === shape[0] || t.shape[0] === 1))) {
    throw new ShapeError(`${op}: ${name} ${fmtShape(t.shape)} does not match input_ids ${fmtShape(shape)}`);
  }
  return t;
}

/**
 * The boolean attention mask [batch, 1, seq, seq] of causal attention over the tokens the
 * padding mask keeps (true = attend), as transformers' create_causal_mask builds it; null when
 * nothing is padded, so attention runs with isCausal. A query row whose keys are all padding
 * attends to nothing and gets a zero output, as torch's scaled_dot_product_attention gives.
 */
function causalPaddingMask(op: string, attentionMask: Tensor, batch: number, seq: number): Tensor | null {
  if (!(attentionMask instanceof Tensor)) throw new ArgumentError(`${op}: attentionMask must be a Tensor`);
  if (attentionMask.ndim !== 2 || attentionMask.shape[0] !== batch || attentionMask.shape[1] !== seq) {
    throw new ShapeError(`${op}: attentionMask ${fmtShape(attentionMask.shape)} must be [batch, seq] = ${fmtShape([batch, seq])}`);
  }
  const keep = (attentionMask.contiguous().toArray() as (number | boolean)[][]).flat();
  if (keep.every((v) => Number(v) !== 0)) return null;
  const mask = new Uint8Array(batch * seq * seq);
  for (let b = 0; b < batch; b++) {
    for (let q = 0; q < seq; q++) {
      const row = (b * seq + q) * seq;
      for (let k = 0; k <= q; k++) mask[row + k] = Number(keep[b * seq + k]) !== 0 ? 1 : 0;
    }
  }
  return fromTypedArray(mask, [batch, 1, seq, seq], 'bool', attentionMask.device);
}

/** GPT-2's self-attention: c_attn makes q, k, v in one product; c_proj mixes the heads. */
export class GPT2Attention extends Module {
  cAttn: Linear;
  cProj: Linear;
  attnDropout: Dropout;
  residDropout: Dropout;
  readonly numHeads: number;
  readonly headDim: number;
  /** The factor on q·k: 1/√headDim when scale_attn_weights, further divided by layer+1 when scale_attn_by_inverse_layer_idx. */
  readonly scaling: number;

  constructor(config: GPT2Config, readonly layerIdx: number) {
    super();
    const embed = config.nEmbd;
    this.numHeads = config.nHead;
    this.headDim = embed / config.nHead;
    let scaling = config.scaleAttnWeights ? 1 / Math.sqrt(this.headDim) : 1;
    if (config.scaleAttnByInverseLayerIdx) scaling /= layerIdx + 1;
    this.scaling = scaling;
    this.cAttn = new Linear(embed, 3 * embed);
    this.cProj = new Linear(embed, embed);
    this.attnDropout = new Dropout(config.attnPdrop);
    this.residDropout = new Dropout(config.residPdrop);
  }

  /** x [batch, seq, embed]; mask [batch, 1, seq, seq] bool, or null for plain causal attention. */
  override forward(x: Tensor, mask: Tensor | null = null): Tensor {
    const [batch, seq, embed] = x.shape;
    const heads = (t: Tensor) => t.reshape([batch, seq, this.numHeads, this.headDim]).transpose(1, 2);
    // split, not three slices: its backward writes the three gradients into one [.., 3 · embed]
    // buffer instead of scattering each into zeros of that shape and adding them.
    const [q, k, v] = this.cAttn.forward(x).split(embed, -1).map(heads);
    const attended = scaledDotProductAttention(q, k, v, {
      attnMask: mask, isCausal: mask === null, scale: this.scaling, dropoutP: this.training ? this.attnDropout.p : 0,
    });
    const merged = attended.transpose(1, 2).reshape([batch, seq, embed]);
    return this.residDropout.forward(this.cProj.forward(merged));
  }
}

/** The feed-forward block: c_fc, the activation, c_proj, dropout. */
export class GPT2MLP extends Module {
  cFc: Linear;
  act: Activation;
  cProj: Linear;
  dropout: Dropout;

  constructor(innerDim: number, config: GPT2Config) {
    super();
    this.cFc = new Linear(config.nEmbd, innerDim);
    this.act = activationModule(config.activationFunction);
    this.cProj = new Linear(innerDim, config.nEmbd);
    this.dropout = new Dropout(config.residPdrop);
  }

  override forward(x: Tensor): Tensor {
    // A plain Linear with a bias before a GELU is one product and the fused bias + GELU node: the
    // bias is added as GELU reads the product, and the backward gives dx and the bias gradient in
    // one pass. A wrapped c_fc (LoRA) or another activation runs module by module.
    const fc = this.cFc, act = this.act;
    const h = Object.getPrototypeOf(fc) === Linear.prototype && fc.bias && act instanceof GELU
      ? biasGelu(linear(x, fc.weight), fc.bias, act.approximate)
      : act.forward(fc.forward(x));
    return this.dropout.forward(this.cProj.forward(h));
  }
}

/** A pre-norm block: x + attn(ln_1(x)), then + mlp(ln_2(·)). */
export class GPT2Block extends Module {
  ln1: LayerNorm;
  attn: GPT2Attention;
  ln2: LayerNorm;
  mlp: GPT2MLP;

  constructor(config: GPT2Config, layerIdx: number) {
    super();
    this.ln1 = new LayerNorm(config.nEmbd, { eps: config.layerNormEpsilon });
    this.attn = new GPT2Attention(config, layerIdx);
    this.ln2 = new LayerNorm(config.nEmbd, { eps: config.layerNormEpsilon });
    this.mlp = new GPT2MLP(config.nInner ?? 4 * config.nEmbd, config);
    this.setStateKey('ln1', 'ln_1');
    this.setStateKey('ln2', 'ln_2');
  }

  override forward(x: Tensor, mask: Tensor | null = null): Tensor {
    const h = x.add(this.attn.forward(this.ln1.forward(x), mask));
    return h.add(this.mlp.forward(this.ln2.forward(h)));
  }
}

/** What GPT2Model.forwardWithHiddenStates returns. */
export interface GPT2ModelOutput {
  /** [batch, seq, nEmbd], after ln_f. */
  lastHiddenState: Tensor;
  /** nLayer + 1 tensors as transformers' output_hidden_states: the embeddings, each block's output but the last, then lastHiddenState. */
  hiddenStates: Tensor[];
}

/** Hugging Face's init (_init_weights): N(0, initializer_range) weights, zero biases, unit LayerNorms, c_proj scaled by 1/√(2·n_layer). */
function initGPT2Weights(model: Module, config: GPT2Config): void {
  const std = config.initializerRange;
  noGrad(() => {
    for (const [, m] of model.namedModules()) {
      if (m instanceof Linear || m instanceof Embedding) {
        normal_(m.weight, 0, std);
        if (m instanceof Linear && m.bias) zeros_(m.bias);
      } else if (m instanceof LayerNorm) {
        if (m.weight) ones_(m.weight);
        if (m.bias) zeros_(m.bias);
      }
    }
    for (const [, m] of model.namedModules()) {
      if (m instanceof GPT2Attention || m instanceof GPT2MLP) normal_(m.cProj.weight, 0, std / Math.sqrt(2 * config.nLayer));
    }
  });
}

/** What every GPT-2 class shares: its config, and savePretrained. */
export abstract class GPT2PreTrainedModel extends Module {
  constructor(readonly config: GPT2Config) {
    super();
    checkConfig(config);
  }

  /** Writes this model as a Hugging Face folder (see savePretrained below). */
  savePretrained(dir: string, options: SavePretrainedOptions = {}): void {
    savePretrained(this as unknown as GPT2PretrainedModel, dir, options);
  }
}

/** The GPT-2 body: token and position embeddings, nLayer blocks, the final LayerNorm. forward gives [batch, seq, nEmbd]. */
export class GPT2Model extends GPT2PreTrainedModel {
  wte: Embedding;
  wpe: Embedding;
  drop: Dropout;
  h: ModuleList<GPT2Block>;
  lnF: LayerNorm;

  constructor(config: GPT2Config) {
    super(config);
    this.wte = new Embedding(config.vocabSize, config.nEmbd);
    this.wpe = new Embedding(config.nPositions, config.nEmbd);
    this.drop = new Dropout(config.embdPdrop);
    this.h = new ModuleList(Array.from({ length: config.nLayer }, (_, i) => new GPT2Block(config, i)));
    this.lnF = new LayerNorm(config.nEmbd, { eps: config.layerNormEpsilon });
    initGPT2Weights(this, config);
  }

  /** inputIds [batch, seq] int32 → the last hidden state [batch, seq, nEmbd]. */
  override forward(inputIds: Tensor, options: GPT2ForwardOptions = {}): Tensor {
    return this.run(inputIds, options, null);
  }

  /** The forward pass, also returning every layer's hidden state as transformers' output_hidden_states. */
  forwardWithHiddenStates(inputIds: Tensor, options: GPT2ForwardOptions = {}): GPT2ModelOutput {
    const hiddenStates = scoped(() => {
      const states: Tensor[] = [];
      states.push(this.run(inputIds, options, states));
      return states;
    });
    return { lastHiddenState: hiddenStates.at(-1)!, hiddenStates };
  }

  private run(inputIds: Tensor, options: GPT2ForwardOptions, hiddenStates: Tensor[] | null): Tensor {
    const op = `${this.constructor.name}.forward`;
    const ids = checkIds(op, 'inputIds', inputIds);
    const [batch, seq] = ids.shape;
    if (seq > this.config.nPositions) {
      throw new ShapeError(`${op}: inputIds ${fmtShape(ids.shape)} is longer than n_positions ${this.config.nPositions}`);
    }
    const positions = options.positionIds == null
      ? fromTypedArray(Int32Array.from({ length: seq }, (_, i) => i), [1, seq], 'int32', ids.device)
      : checkIds(op, 'positionIds', options.positionIds, ids.shape);
    let x = this.wte.forward(ids).add(this.wpe.forward(positions));
    if (options.tokenTypeIds != null) x = x.add(this.wte.forward(checkIds(op, 'tokenTypeIds', options.tokenTypeIds, ids.shape)));
    x = this.drop.forward(x);
    const mask = options.attentionMask == null ? null : causalPaddingMask(op, options.attentionMask, batch, seq);
    for (const block of this.h) {
      hiddenStates?.push(x);
      x = block.forward(x, mask);
    }
    return this.lnF.forward(x);
  }
}

/** GPT-2 with the language-model head (lm_head, tied to wte unless tie_word_embeddings is false). forward gives logits [batch, seq, vocab]. */
export class GPT2LMHeadModel extends GPT2PreTrainedModel {
  transformer: GPT2Model;
  lmHead: Linear;

  constructor(config: GPT2Config) {
    super(config);
    this.transformer = new GPT2Model(config);
    this.lmHead = new Linear(config.nEmbd, config.vocabSize, { bias: false });
    if (config.tieWordEmbeddings) this.lmHead.weight = this.transformer.wte.weight;
    else initGPT2Weights(this.lmHead, config);
  }

  override forward(inputIds: Tensor, options: GPT2ForwardOptions = {}): Tensor {
    return this.lmHead.forward(this.transformer.forward(inputIds, options));
  }
}

/**
 * GPT-2 with a bias-free linear `score` on the hidden state of each row's last token that is not
 * pad_token_id (the rightmost one, so left and right padding both work; a row of padding pools
 * position 0), as transformers does. forward gives [batch, numLabels]; without a pad_token_id
 * only a batch of one is accepted (its last token is pooled).
 */
export class GPT2ForSequenceClassification extends GPT2PreTrainedModel {
  transformer: GPT2Model;
  score: Linear;

  constructor(config: GPT2Config) {
    super(config);
    this.transformer = new GPT2Model(config);
    this.score = new Linear(config.nEmbd, numLabelsOf(config), { bias: false });
    initGPT2Weights(this.score, config);
  }

  override forward(inputIds: Tensor, options: GPT2ForwardOptions = {}): Tensor {
    const logits = this.score.forward(this.transformer.forward(inputIds, options));
    const [batch, seq, labels] = logits.shape;
    const pad = this.config.padTokenId;
    if (pad === null && batch !== 1) {
      throw new ArgumentError(`GPT2ForSequenceClassification.forward: inputIds ${fmtShape(inputIds.shape)}: batches of more than one need config pad_token_id to find each row's last token`);
    }
    const ids = inputIds.contiguous().toArray() as number[][];
    const rows = ids.map((row, b) => {
      let last = pad === null ? seq - 1 : 0;
      if (pad !== null) for (let t = 0; t < seq; t++) if (row[t] !== pad) last = t;
      return b * seq + last;
    });
    const index = fromTypedArray(Int32Array.from(rows), [batch], 'int32', logits.device);
    return indexSelect(logits.reshape([batch * seq, labels]), 0, index);
  }
}

/** GPT-2 with dropout and a linear `classifier` on every token's hidden state. forward gives [batch, seq, numLabels]. */
export class GPT2ForTokenClassification extends GPT2PreTrainedModel {
  transformer: GPT2Model;
  dropout: Dropout;
  classifier: Linear;

  constructor(config: GPT2Config) {
    super(config);
    this.transformer = new GPT2Model(config);
    this.dropout = new Dropout(config.classifierDropout ?? 0.1);
    this.classifier = new Linear(config.nEmbd, numLabelsOf(config));
    initGPT2Weights(this.classifier, config);
  }

  override forward(inputIds: Tensor, options: GPT2ForwardOptions = {}): Tensor {
    return this.classifier.forward(this.dropout.forward(this.transformer.forward(inputIds, options)));
  }
}

export type GPT2PretrainedModel = GPT2Model | GPT2LMHeadModel | GPT2ForSequenceClassification | GPT2ForTokenClassification;

const CLASSES = {
  GPT2Model, GPT2LMHeadModel, GPT2ForSequenceClassification, GPT2ForTokenClassification,
} as const;

/** The modules whose Linear weights transformers keeps as Conv1D ([in, out]). */
const CONV1D_WEIGHT = /(^|\.)(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;

/** Buffers old GPT-2 checkpoints hold that transformers ignores (the causal mask, its fill value). */
const IGNORED_CHECKPOINT_KEYS = [/(^|\.)attn\.bias$/, /(^|\.)attn\.masked_bias$/, /(^|\.)crossattention\.(bias|masked_bias)$/];

function architectureOf(model: GPT2PretrainedModel): GPT2Architecture {
  return model.constructor.name as GPT2Architecture;
}

export interface GPT2FromPretrainedOptions {
  /** The class to build, overriding config.json's architectures (e.g. a classifier over a language model's folder). */
  architecture?: GPT2Architecture;
  /** Overrides of the folder's config (e.g. numLabels for a new classification head). */
  config?: Partial<GPT2Config> & { numLabels?: number };
  /** true: weights the model needs but the folder lacks are an error; false (default): they keep their fresh init and a warning names them. */
  strict?: boolean;
}

/** What fromPretrained found: the keys left at their initial values, and the checkpoint keys not used. */
export const loadReports = new WeakMap<Module, LoadResult>();

function chooseArchitecture(json: PretrainedConfigJson, configPath: string, asked?: GPT2Architecture): GPT2Architecture {
  if (asked !== undefined) {
    if (!ARCHITECTURES.includes(asked)) throw new ArgumentError(`gpt2.fromPretrained: architecture '${String(asked)}' is not one of ${ARCHITECTURES.join(', ')}`);
    return asked;
  }
  const listed = json.architectures;
  if (listed === undefined || listed === null) return 'GPT2LMHeadModel';
  if (!Array.isArray(listed) || listed.length === 0 || typeof listed[0] !== 'string') {
    throw new DataError(`gpt2.fromPretrained: ${configPath}: "architectures" must be a list of class names, got ${JSON.stringify(listed)}`);
  }
  const name = listed[0];
  if (!(ARCHITECTURES as readonly string[]).includes(name)) {
    throw new DataError(`gpt2.fromPretrained: ${configPath} names the architecture ${name}; supported: ${ARCHITECTURES.join(', ')} (pass { architecture } to choose one)`);
  }
  return name as GPT2Architecture;
}

const extraConfigKeys = new WeakMap<Module, PretrainedConfigJson>();

/**
 * Reads a Hugging Face GPT-2 folder (config.json + model.safetensors, or a sharded index): the
 * class config.json's `architectures` names (GPT2LMHeadModel when none), with the folder's
 * weights (Conv1D weights transposed; lm_head tied to wte). Returned in eval mode, like
 * transformers' from_pretrained.
 */
export function fromPretrained(dir: string, options: GPT2FromPretrainedOptions = {}): GPT2PretrainedModel {
  const op = 'gpt2.fromPretrained';
  const json = readPretrainedConfig(dir, op);
  const configPath = `${dir}/config.json`;
  if (json.model_type !== undefined && json.model_type !== 'gpt2') {
    throw new DataError(`${op}: ${configPath} has model_type ${JSON.stringify(json.model_type)}, not "gpt2"`);
  }
  const architecture = chooseArchitecture(json, configPath, options.architecture);
  const parsed = gpt2ConfigFromJson(json, configPath);
  const config = options.config ? gpt2Config({ ...parsed.config, ...options.config }) : parsed.config;
  const model = new CLASSES[architecture](config);
  const report = loadPretrainedWeights(model, dir, {
    basePrefix: 'transformer',
    ignoreMissing: config.tieWordEmbeddings ? [/^lm_head\.weight$/] : [],
    ignoreUnexpected: IGNORED_CHECKPOINT_KEYS,
    transform: (key, t) => (CONV1D_WEIGHT.test(key) ? t.transpose(0, 1) : t),
  }, op);
  if (report.missingKeys.length && options.strict) {
    throw new DataError(`${op}: ${dir} lacks weights the model needs: ${report.missingKeys.join(', ')}`);
  }
  if (report.missingKeys.length) {
    process.emitWarning(`${architecture} from ${dir}: newly initialised (not in the checkpoint): ${report.missingKeys.join(', ')}`, 'KindlingWarning');
  }
  loadReports.set(model, report);
  extraConfigKeys.set(model, parsed.extra);
  return model.eval();
}

/**
 * Writes `model` as a Hugging Face folder transformers' from_pretrained reads: config.json
 * (architectures, model_type, snake_case keys) and model.safetensors (sharded when
 * maxShardSize is given), Conv1D weights back in [in, out] layout, and the tied lm_head.weight
 * left out as transformers leaves it out.
 */
export function savePretrained(model: GPT2PretrainedModel, dir: string, options: SavePretrainedOptions = {}): void {
  const architecture = architectureOf(model);
  if (!ARCHITECTURES.includes(architecture)) throw new ArgumentError(`gpt2.savePretrained: expected a GPT-2 model, got ${model.constructor?.name}`);
  const state = model.stateDict();
  const tied = model instanceof GPT2LMHeadModel && model.lmHead.weight === model.transformer.wte.weight;
  const out: Record<string, Tensor> = {};
  for (const [key, t] of Object.entries(state)) {
    if (tied && key === 'lm_head.weight') continue;
    out[key] = CONV1D_WEIGHT.test(key) ? t.transpose(0, 1) : t;
  }
  const config = { ...model.config, tieWordEmbeddings: tied || (model.config.tieWordEmbeddings && !(model instanceof GPT2LMHeadModel)) };
  writePretrainedFolder(dir, gpt2ConfigToJson(config, architecture, extraConfigKeys.get(model)), out, options, 'gpt2.savePretrained');
}

export interface GPT2Factory {
  /** A GPT-2 from scratch with Hugging Face's init: GPT2LMHeadModel unless `architecture` says otherwise. */
  (config?: Partial<GPT2Config> & { numLabels?: number; architecture?: GPT2Architecture }): GPT2PretrainedModel;
  fromPretrained: typeof fromPretrained;
  savePretrained: typeof savePretrained;
  config: typeof gpt2Config;
}

function create(options: Partial<GPT2Config> & { numLabels?: number; architecture?: GPT2Architecture } = {}): GPT2PretrainedModel {
  const { architecture = 'GPT2LMHeadModel', ...rest } = options;
  if (!ARCHITECTURES.includes(architecture)) throw new ArgumentError(`gpt2: architecture '${String(architecture)}' is not one of ${ARCHITECTURES.join(', ')}`);
  return new CLASSES[architecture](gpt2Config(rest));
}

/** kd.models.gpt2(config) builds one from scratch; kd.models.gpt2.fromPretrained(dir) reads a Hugging Face folder. */
export const gpt2: GPT2Factory = Object.assign(create, { fromPretrained, savePretrained, config: gpt2Config });
