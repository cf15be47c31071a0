// kd.models.gpt: a GPT-2-style decoder-only language model trained from scratch, laid out as
// nanoGPT lays it out (so its stateDict keys are nanoGPT's: transformer.wte.weight,
// transformer.h.0.attn.c_attn.weight, lm_head.weight, ...), with nanoGPT's initialisation, and
// generate() sampling with a key/value cache.
import { noGrad } from '../autograd/grad_mode.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { scaledDotProductAttention } from '../ops/attention.js';
import { arange, tensor, zeros } from '../ops/creation.js';
import { Generator, defaultGenerator } from '../random.js';
import { keep, tidy } from '../scope.js';
import { Tensor } from '../tensor.js';
import { crossEntropy } from '../nn/functional/loss.js';
import { embedding, gelu, linear } from '../nn/functional/basic.js';
import { biasGelu } from '../ops/fused_rows.js';
import { matmulBiasResidual } from '../ops/matmul.js';
import { normal_, ones_, zeros_ } from '../nn/init.js';
import { Module } from '../nn/module.js';
import { ModuleDict, ModuleList } from '../nn/layers/container.js';
import { Embedding, Linear } from '../nn/layers/linear.js';
import { Dropout, LayerNorm } from '../nn/layers/normalization.js';

export interface GPTConfig {
  vocabSize: number;
  /** The longest context the model sees (the rows of the position embedding). */
  blockSize: number;
  nLayer: number;
  nHead: number;
  /** Model width; a multiple of nHead. */
  nEmbd: number;
  /** Dropout on the embeddings, the attention weights and each residual branch. Default 0. */
  dropout?: number;
  /** Biases in the Linears and LayerNorms (GPT-2 has them). Default true. */
  bias?: boolean;
}

export interface GenerateOptions {
  maxNewTokens: number;
  /** Divides the logits before sampling; 0 picks the most likely token (greedy). Default 1. */
  temperature?: number;
  /** Sample only among the k most likely tokens. */
  topK?: number;
  /** Sample only among the smallest set of most likely tokens whose probabilities sum to at least p. */
  topP?: number;
  /** Draw from a generator seeded with this (repeatable, leaves kd.manualSeed's stream alone). */
  seed?: number;
  /** Use the key/value cache (default true); false runs the whole context every step. */
  useCache?: boolean;
}

/** One layer's cached keys and values, [B, nHead, blockSize, headDim], filled up to `length`. */
class LayerCache {
  length = 0;
  readonly k: Tensor;
  readonly v: Tensor;

  constructor(batch: number, heads: number, blockSize: number, headDim: number) {
    this.k = keep(zeros([batch, heads, blockSize, headDim]));
    this.v = keep(zeros([batch, heads, blockSize, headDim]));
  }
}

/**
 * The keys and values of every layer for the tokens a GPT has seen so far (GPT.createCache);
 * GPT.forwardCached appends to it. Holds native memory until disposed.
 */
export class KVCache {
  readonly layers: LayerCache[];

  constructor(readonly batchSize: number, nLayer: number, nHead: number, readonly blockSize: number, headDim: number) {
    this.layers = Array.from({ length: nLayer }, () => new LayerCache(batchSize, nHead, blockSize, headDim));
  }

  /** How many positions are cached. */
  get length(): number {
    return this.layers[0].length;
  }

  /** Forgets the cached positions (the buffers are kept and overwritten). */
  reset(): void {
    for (const l of this.layers) l.length = 0;
  }

  dispose(): void {
    for (const l of this.layers) {
      l.k.dispose();
      l.v.dispose();
    }
  }
}

function positiveInt(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new ArgumentError(`gpt: ${name} must be a positive integer, got ${String(value)}`);
  return value;
}

/** x through `d`, or x itself when d does nothing (p = 0 or eval), saving a copy and its backward. */
function applyDropout(d: Dropout, x: Tensor): Tensor {
  return d.training && d.p > 0 ? d.forward(x) : x;
}

/**
 * residual + dropout(proj(x)). A plain Linear with the dropout doing nothing runs as one GEMM that
 * adds the residual as it stores (matmulBiasResidual: no output of its own, no pass adding it);
 * a wrapped layer (LoRA) or an active dropout runs its own forward, then the add.
 */
function residualProjection(proj: Linear, drop: Dropout, x: Tensor, residual: Tensor): Tensor {
  if (Object.getPrototypeOf(proj) === Linear.prototype && !(drop.training && drop.p > 0)) {
    const rows = residual.numel / proj.outFeatures;
    const out = matmulBiasResidual(x.reshape([rows, proj.inFeatures]), proj.weight.transpose(0, 1), proj.bias ?? null,
      residual.reshape([rows, proj.outFeatures]));
    return out.reshape(residual.shape);
  }
  return residual.add(applyDropout(drop, proj.forward(x)));
}

/** Multi-head causal self-attention: one Linear makes q, k and v, the fused kernel attends. */
export class CausalSelfAttention extends Module {
  cAttn: Linear;
  cProj: Linear;
  attnDropout: Dropout;
  residDropout: Dropout;

  constructor(readonly nEmbd: number, readonly nHead: number, readonly dropout: number, bias: boolean) {
    super();
    this.cAttn = new Linear(nEmbd, 3 * nEmbd, { bias });
    this.cProj = new Linear(nEmbd, nEmbd, { bias });
    this.attnDropout = new Dropout(dropout);
    this.residDropout = new Dropout(dropout);
  }

  /**
   * x [B, T, C] → [B, T, C], plus `residual` when given (the block's x + attn(ln_1(x)) in the
   * output projection's GEMM). With a cache, the new keys and values are written at its end and
   * the queries attend causally to everything cached.
   */
  forward(x: Tensor, cache?: LayerCache, residual?: Tensor): Tensor {
    const [B, T, C] = x.shape;
    const hd = C / this.nHead;
    // [B, T, 3, nHead, hd] split on dim 2: each piece's gradient (strided, from the attention's
    // [B, nHead, T, hd]) is copied once into its slab of the qkv gradient, with no reshape copy.
    const [q, k, v] = this.cAttn.forward(x).view([B, T, 3, this.nHead, hd]).split(1, 2)
      .map((t) => t.squeeze(2).transpose(1, 2));
    const p = this.training ? this.dropout : 0;
    let y: Tensor;
    if (cache) {
      const start = cache.length, S = start + T;
      cache.k.slice(2, start, S).copy_(k);
      cache.v.slice(2, start, S).copy_(v);
      cache.length = S;
      // Query i sits at position start + i and sees keys 0..start+i: causal from an empty cache,
      // everything for one new token, and otherwise a mask aligned to the bottom right.
      const causal = start === 0 ? { isCausal: T > 1 } : T === 1 ? {} : { attnMask: arange(S, { dtype: 'int32' }).reshape([1, S]).le(arange(start, S, { dtype: 'int32' }).reshape([T, 1])) };
      y = scaledDotProductAttention(q, cache.k.slice(2, 0, S), cache.v.slice(2, 0, S), { ...causal, dropoutP: p });
    } else {
      y = scaledDotProductAttention(q, k, v, { isCausal: true, dropoutP: p });
    }
    const merged = y.transpose(1, 2).reshape([B, T, C]);
    if (residual) return residualProjection(this.cProj, this.residDropout, merged, residual);
    return applyDropout(this.residDropout, this.cProj.forward(merged));
  }
}

/** The feed-forward branch: Linear to 4·C, exact GELU, Linear back to C. */
export class MLP extends Module {
  cFc: Linear;
  cProj: Linear;
  dropout: Dropout;

  constructor(nEmbd: number, dropout: number, bias: boolean) {
    super();
    this.cFc = new Linear(nEmbd, 4 * nEmbd, { bias });
    this.cProj = new Linear(4 * nEmbd, nEmbd, { bias });
    this.dropout = new Dropout(dropout);
  }

  /** x → cProj(gelu(cFc(x))), plus `residual` when given (added in cProj's GEMM). */
  forward(x: Tensor, residual?: Tensor): Tensor {
    // A plain Linear's bias goes into the fused bias + GELU kernel; a wrapped layer (LoRA) runs its own forward.
    const fc = this.cFc;
    const h = Object.getPrototypeOf(fc) === Linear.prototype && fc.bias ? biasGelu(linear(x, fc.weight), fc.bias) : gelu(fc.forward(x));
    if (residual) return residualProjection(this.cProj, this.dropout, h, residual);
    return applyDropout(this.dropout, this.cProj.forward(h));
  }
}

/** A pre-norm Transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x)). */
export class Block extends Module {
  ln1: LayerNorm;
  attn: CausalSelfAttention;
  ln2: LayerNorm;
  mlp: MLP;

  constructor(nEmbd: number, nHead: number, dropout: number, bias: boolean) {
    super();
    this.ln1 = new LayerNorm(nEmbd, { bias });
    this.attn = new CausalSelfAttention(nEmbd, nHead, dropout, bias);
    this.ln2 = new LayerNorm(nEmbd, { bias });
    this.mlp = new MLP(nEmbd, dropout, bias);
    this.setStateKey('ln1', 'ln_1');
    this.setStateKey('ln2', 'ln_2');
  }

  forward(x: Tensor, cache?: LayerCache): Tensor {
    const h = this.attn.forward(this.ln1.forward(x), cache, x);
    return this.mlp.forward(this.ln2.forward(h), h);
  }
}

interface GPTBody {
  [key: string]: Module;
  wte: Embedding;
  wpe: Embedding;
  drop: Dropout;
  h: ModuleList<Block>;
  ln_f: LayerNorm;
}

export interface GPTOutput {
  /** [B, T, vocabSize]. */
  logits: Tensor;
  /** Mean cross-entropy of the logits against the targets (positions whose target is -100 skipped). */
  loss: Tensor;
}

/**
 * The GPT. `forward(idx)` takes token ids [B, T] (int32, T <= blockSize) and returns logits
 * [B, T, vocabSize]; `forward(idx, targets)` returns `{ logits, loss }`.
 */
export class GPT extends Module {
  readonly config: Required<GPTConfig>;
  /** nanoGPT's `transformer` dict: its entries are also fields (ModuleDict stores them so). */
  transformer: ModuleDict<GPTBody> & GPTBody;
  /** Shares its weight with transformer.wte (one tensor, listed under both keys as PyTorch does). */
  lmHead: Linear;

  constructor(config: GPTConfig) {
    super();
    if (config === null || typeof config !== 'object') throw new ArgumentError('gpt: expected a config { vocabSize, blockSize, nLayer, nHead, nEmbd }');
    const vocabSize = positiveInt(config.vocabSize, 'vocabSize');
    const blockSize = positiveInt(config.blockSize, 'blockSize');
    const nLayer = positiveInt(config.nLayer, 'nLayer');
    const nHead = positiveInt(config.nHead, 'nHead');
    const nEmbd = positiveInt(config.nEmbd, 'nEmbd');
    if (nEmbd % nHead !== 0) throw new ArgumentError(`gpt: nEmbd ${nEmbd} must be a multiple of nHead ${nHead}`);
    const dropout = config.dropout ?? 0;
    if (!(dropout >= 0 && dropout < 1)) throw new ArgumentError(`gpt: dropout must be in [0, 1), got ${dropout}`);
    const bias = config.bias ?? true;
    this.config = { vocabSize, blockSize, nLayer, nHead, nEmbd, dropout, bias };

    this.transformer = new ModuleDict({
      wte: new Embedding(vocabSize, nEmbd),
      wpe: new Embedding(blockSize, nEmbd),
      drop: new Dropout(dropout),
      h: new ModuleList(Array.from({ length: nLayer }, () => new Block(nEmbd, nHead, dropout, bias))),
      ln_f: new LayerNorm(nEmbd, { bias }),
    }) as ModuleDict<GPTBody> & GPTBody;
    this.lmHead = new Linear(nEmbd, vocabSize, { bias: false });
    this.lmHead.weight.dispose();
    this.lmHead.weight = this.transformer.wte.weight;
    this.resetParameters();
  }

  /**
   * nanoGPT's initialisation: every Linear and Embedding weight N(0, 0.02), biases zero,
   * LayerNorms ones/zeros, and the projections into the residual stream (c_proj) N(0, 0.02/√(2·nLayer)).
   */
  resetParameters(): void {
    noGrad(() => {
      for (const m of this.modules()) {
        if (m instanceof Linear) {
          normal_(m.weight, 0, 0.02);
          if (m.bias) zeros_(m.bias);
        } else if (m instanceof Embedding) {
          normal_(m.weight, 0, 0.02);
        } else if (m instanceof LayerNorm) {
          if (m.weight) ones_(m.weight);
          if (m.bias) zeros_(m.bias);
        }
      }
      const std = 0.02 / Math.sqrt(2 * this.config.nLayer);
      for (const block of this.transformer.h) {
        normal_(block.attn.cProj.weight, 0, std);
        normal_(block.mlp.cProj.weight, 0, std);
      }
    });
  }

  private checkIds(idx: Tensor, op: string): void {
    if (!(idx instanceof Tensor)) throw new ArgumentError(`${op}: idx must be a Tensor of token ids [B, T]`);
    if (idx.dtype !== 'int32') throw new DTypeError(`${op}: idx must be int32 token ids, got ${idx.dtype}`);
    if (idx.ndim !== 2) throw new ShapeError(`${op}: idx must be [B, T], got ${fmtShape(idx.shape)}`);
    if (idx.shape[1] > this.config.blockSize) {
      throw new ShapeError(`${op}: idx ${fmtShape(idx.shape)}: cannot forward a sequence of length ${idx.shape[1]}, blockSize is only ${this.config.blockSize}`);
    }
  }

  forward(idx: Tensor): Tensor;
  forward(idx: Tensor, targets: Tensor): GPTOutput;
  forward(idx: Tensor, targets?: Tensor): Tensor | GPTOutput {
    this.checkIds(idx, 'GPT.forward');
    if (targets !== undefined && (!(targets instanceof Tensor) || targets.shape.join() !== idx.shape.join())) {
      throw new ShapeError(`GPT.forward: targets ${targets instanceof Tensor ? fmtShape(targets.shape) : String(targets)} must have idx's shape ${fmtShape(idx.shape)}`);
    }
    const logits = this.logitsFrom(this.hidden(idx, 0));
    if (targets === undefined) return logits;
    const loss = crossEntropy(logits.reshape([-1, this.config.vocabSize]), targets.reshape([-1]), { ignoreIndex: -100 });
    return { logits, loss };
  }

  /** The final hidden states [B, T, C] for ids whose first position is `pos0`, through the caches when given. */
  private hidden(idx: Tensor, pos0: number, caches?: readonly LayerCache[]): Tensor {
    const T = idx.shape[1];
    const { wte, wpe, drop, h, ln_f: lnF } = this.transformer;
    const pos = arange(pos0, pos0 + T, { dtype: 'int32' });
    let x = applyDropout(drop, embedding(idx, wte.weight).add(embedding(pos, wpe.weight)));
    let i = 0;
    for (const block of h) x = block.forward(x, caches?.[i++]);
    return lnF.forward(x);
  }

  /** An empty key/value cache for batches of `batchSize` sequences (dispose it when done). */
  createCache(batchSize = 1): KVCache {
    const { nLayer, nHead, blockSize, nEmbd } = this.config;
    return new KVCache(positiveInt(batchSize, 'createCache batchSize'), nLayer, nHead, blockSize, nEmbd / nHead);
  }

  /**
   * Logits [B, T, vocabSize] for ids [B, T] that continue what `cache` holds: they sit at
   * positions cache.length .. cache.length + T - 1, attend to the cached keys and values, and are
   * appended to the cache. From an empty cache this equals forward(idx).
   */
  forwardCached(idx: Tensor, cache: KVCache): Tensor {
    const op = 'GPT.forwardCached';
    this.checkIds(idx, op);
    if (!(cache instanceof KVCache) || cache.layers.length !== this.config.nLayer) throw new ArgumentError(`${op}: cache must come from this model's createCache()`);
    if (idx.shape[0] !== cache.batchSize) throw new ShapeError(`${op}: idx ${fmtShape(idx.shape)} has batch ${idx.shape[0]}, the cache was made for ${cache.batchSize}`);
    if (cache.length + idx.shape[1] > this.config.blockSize) {
      throw new ShapeError(`${op}: idx ${fmtShape(idx.shape)} after ${cache.length} cached positions passes blockSize ${this.config.blockSize}`);
    }
    return this.logitsFrom(this.hidden(idx, cache.length, cache.layers));
  }

  private logitsFrom(x: Tensor): Tensor {
    return this.lmHead.forward(x);
  }

  /**
   * Continues `prompt` (token ids) by maxNewTokens tokens and returns prompt + continuation.
   * With the cache (the default) the prompt is run once and each new token then runs one query row
   * against the cached keys and values. The context is the last blockSize tokens, as without the
   * cache: once the sequence is longer than blockSize the positions of the window shift every
   * step, so from then on each step re-prefills the cache from the window (exactly what the
   * uncached path computes; only tokens within the first blockSize are one row each).
   */
  generate(prompt: number[] | Tensor, options: GenerateOptions): number[] {
    const op = 'GPT.generate';
    const ids = promptIds(prompt, this.config.vocabSize, op);
    if (options === null || typeof options !== 'object') throw new ArgumentError(`${op}: expected options { maxNewTokens, ... }`);
    const { maxNewTokens, temperature = 1, topK, topP, seed, useCache = true } = options;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new ArgumentError(`${op}: maxNewTokens must be an integer >= 0, got ${maxNewTokens}`);
    if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new ArgumentError(`${op}: temperature must be a finite number >= 0, got ${temperature}`);
    if (topK !== undefined && (!Number.isInteger(topK) || topK < 1)) throw new ArgumentError(`${op}: topK must be a positive integer, got ${topK}`);
    if (topP !== undefined && !(topP > 0 && topP <= 1)) throw new ArgumentError(`${op}: topP must be in (0, 1], got ${topP}`);
    const rng = seed === undefined ? defaultGenerator : new Generator(seed);
    const { blockSize } = this.config;
    const wasTraining = this.training;
    this.eval();
    const cache = useCache ? this.createCache(1) : null;
    try {
      return noGrad(() => {
        const out = ids.slice();
        for (let n = 0; n < maxNewTokens; n++) {
          // The last position's logits, read out in float64; the scope frees every tensor of the step.
          const values = tidy(() => {
            let logits: Tensor;
            if (cache && cache.length > 0 && out.length <= blockSize) {
              logits = this.forwardCached(tensor([[out[out.length - 1]]], { dtype: 'int32' }), cache);
            } else {
              const window = out.slice(-blockSize);
              const x = tensor([window], { dtype: 'int32' });
              cache?.reset();
              const all = cache ? this.forwardCached(x, cache) : this.forward(x);
              logits = all.slice(1, window.length - 1, window.length);
            }
            return Float64Array.from(logits.contiguous().data() as Float32Array);
          });
          out.push(sampleToken(values, temperature, topK, topP, rng));
        }
        return out;
      });
    } finally {
      cache?.dispose();
      this.train(wasTraining);
    }
  }
}

function promptIds(prompt: number[] | Tensor, vocabSize: number, op: string): number[] {
  let ids: number[];
  if (prompt instanceof Tensor) {
    if (prompt.dtype !== 'int32' || prompt.ndim > 2 || (prompt.ndim === 2 && prompt.shape[0] !== 1)) {
      throw new ShapeError(`${op}: a prompt tensor must be int32 ids [T] or [1, T], got ${prompt.dtype} ${fmtShape(prompt.shape)}`);
    }
    ids = tidy(() => Array.from(prompt.contiguous().data() as Int32Array));
  } else if (Array.isArray(prompt)) {
    ids = prompt.slice();
  } else {
    throw new ArgumentError(`${op}: prompt must be an array of token ids or an int32 Tensor`);
  }
  if (ids.length === 0) throw new ArgumentError(`${op}: the prompt is empty; give at least one token id`);
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new ArgumentError(`${op}: prompt id ${id} at position ${i} is out of range for vocabSize ${vocabSize}`);
  });
  return ids;
}

/**
 * One token from a row of logits: greedy at temperature 0; otherwise logits / temperature,
 * the topK most likely kept, then the smallest most-likely set reaching topP, softmax, one draw.
 */
export function sampleToken(logits: Float64Array, temperature: number, topK: number | undefined, topP: number | undefined, rng: Generator): number {
  const n = logits.length;
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  let keep = topK === undefined ? n : Math.min(topK, n);
  const max = logits[order[0]] / temperature;
  const weights = new Float64Array(keep);
  let total = 0;
  for (let r = 0; r < keep; r++) total += weights[r] = Math.exp(logits[order[r]] / temperature - max);
  if (topP !== undefined) {
    let cum = 0, r = 0;
    while (r < keep) {
      cum += weights[r++] / total;
      if (cum >= topP) break;
    }
    keep = r;
    total = 0;
    for (let i = 0; i < keep; i++) total += weights[i];
  }
  let u = rng.nextUniform() * total;
  for (let r = 0; r < keep; r++) {
    u -= weights[r];
    if (u < 0) return order[r];
  }
  return order[keep - 1];
}

/** kd.models.gpt(config): a GPT with nanoGPT's layout and initialisation (see GPT). */
export function gpt(config: GPTConfig): GPT {
  return new GPT(config);
}
