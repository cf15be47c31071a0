// Parameter groups for fine-tuning: weight decay on the weight matrices only, as Hugging Face's
// Trainer sets it up (biases and normalisation weights go in a group with weightDecay 0).
import { ArgumentError } from '../errors.js';
import { Embedding } from '../nn/layers/linear.js';
import { GroupNorm } from '../nn/layers/group_norm.js';
import { BatchNorm1d, BatchNorm2d, LayerNorm, RMSNorm } from '../nn/layers/normalization.js';
import { LearnedPositionalEmbedding } from '../nn/layers/positional.js';
import { Module, type ParameterPattern, parameterMatcher } from '../nn/module.js';
import type { Tensor } from '../tensor.js';

export interface WeightDecayGroupsOptions {
  /** The decay of the first group (weight matrices). Default 0.01, AdamW's. */
  weightDecay?: number;
  /** More parameters to keep out of decay: a name regex or a predicate (name, param) => boolean. */
  noDecay?: ParameterPattern;
  /** Also keep embedding tables (nn.Embedding, learned positions) out of decay. Default false. */
  noDecayEmbeddings?: boolean;
  /** Put frozen parameters (requiresGrad false) in the groups too. Default false. */
  includeFrozen?: boolean;
}

/** Normalisation layers: nn's own, and any class whose name ends in Norm / Norm1d / Norm2d (another family's LayerNorm). */
function isNormalization(m: Module): boolean {
  if (m instanceof LayerNorm || m instanceof RMSNorm || m instanceof BatchNorm1d || m instanceof BatchNorm2d || m instanceof GroupNorm) return true;
  return /Norm(\dd)?$/.test(m.constructor.name);
}

/**
 * Two parameter groups for an optimizer: [{ params: decayed, weightDecay }, { params: the rest,
 * weightDecay: 0 }]. Not decayed: every parameter with fewer than 2 dims (biases, norm scales),
 * the parameters of normalisation layers, embeddings with noDecayEmbeddings, and what noDecay
 * selects. Empty groups are left out. Each group also lists its parameter names (`paramNames`, as
 * PyTorch's param_names), which the update ignores.
 */
export function weightDecayGroups(model: Module, options: WeightDecayGroupsOptions = {}): { params: Tensor[]; weightDecay: number; paramNames: string[] }[] {
  const op = 'weightDecayGroups';
  if (!(model instanceof Module)) throw new ArgumentError(`${op}: expected a kd.nn.Module`);
  if (options === null || typeof options !== 'object') throw new ArgumentError(`${op}: expected options { weightDecay?, noDecay?, noDecayEmbeddings? }`);
  const weightDecay = options.weightDecay ?? 0.01;
  if (typeof weightDecay !== 'number' || !(weightDecay >= 0) || !Number.isFinite(weightDecay)) throw new ArgumentError(`${op}: weightDecay must be a finite number >= 0, got ${String(weightDecay)}`);
  const extra = options.noDecay === undefined ? () => false : parameterMatcher(op, options.noDecay);
  const embeddings = options.noDecayEmbeddings ?? false;
  const excluded = new Set<Tensor>();
  for (const m of model.modules()) {
    if (isNormalization(m) || (embeddings && (m instanceof Embedding || m instanceof LearnedPositionalEmbedding))) {
      for (const p of m.parameters()) excluded.add(p);
    }
  }
  const decay: [string, Tensor][] = [], noDecay: [string, Tensor][] = [];
  for (const [name, p] of model.namedParameters()) {
    if (!p.requiresGrad && !options.includeFrozen) continue;
    (p.ndim < 2 || excluded.has(p) || extra(name, p) ? noDecay : decay).push([name, p]);
  }
  if (decay.length + noDecay.length === 0) throw new ArgumentError(`${op}: the model has no trainable parameters (all frozen?)`);
  const group = (list: [string, Tensor][], wd: number) => ({ params: list.map(([, p]) => p), weightDecay: wd, paramNames: list.map(([n]) => n) });
  return [group(decay, weightDecay), group(noDecay, 0)].filter((g) => g.params.length > 0);
}
