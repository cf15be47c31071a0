// LoRA (low-rank adaptation) as Hugging Face peft lays it out. lora.apply replaces the chosen
// nn.Linear layers of a model, in place, by LoraLinear: y = base(x) + B(A(dropout(x))) · alpha / r,
// A [r, in] drawn as nn.Linear's weight (kaiming_uniform a=√5), B [out, r] zeros, and freezes
// every other parameter. Module names are peft's (`<path>.base_layer`, `<path>.lora_A.default`,
// `<path>.lora_B.default`, `<path>.lora_dropout.default`), and an adapter folder (saveAdapter /
// loadAdapter) is peft's save_pretrained layout: adapter_model.safetensors with the keys
// `base_model.model.<path>.lora_A.weight` (no adapter name) and adapter_config.json; peft's
// PeftModel.from_pretrained loads what saveAdapter writes and the reverse.
//
// modulesToSave (a classifier head, say) keeps those modules trainable and saves them whole in the
// adapter under `base_model.model.<path>.<param>`, as peft saves them; in the model they keep
// their own names (peft wraps them in a ModulesToSaveWrapper with a frozen copy of the original).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { noGrad } from '../autograd/grad_mode.js';
import { ArgumentError, DataError, ShapeError, fmtShape } from '../errors.js';
import { type PendingFile, checkPath, commitFiles, discardTempFiles, pathExists, readText, withIOErrors, writeTempFile } from '../io/files.js';
import { encodeStateDict, readStateDictFile } from '../io/state_dict.js';
import { matmulAddLowRank } from '../ops/matmul.js';
import { reshape, transpose } from '../ops/shape.js';
import { scoped, tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { ModuleDict } from './layers/container.js';
import { linear } from './functional/basic.js';
import { Identity, Linear } from './layers/linear.js';
import { Dropout } from './layers/normalization.js';
import { Module, reprFloat } from './module.js';

/** peft's LoraConfig, camelCased. */
export interface LoraConfig {
  /** The rank. Default 8. */
  r?: number;
  /** The scale is loraAlpha / r (loraAlpha / √r with useRslora). Default 8. */
  loraAlpha?: number;
  /** Dropout on the adapter's input. Default 0. */
  loraDropout?: number;
  /**
   * Which nn.Linear layers get adapters: a list of names, each matching a module whose path is
   * that name or ends in `.<name>` (peft's target_modules: ['q_proj', 'v_proj']); or a string
   * that must match the whole path as a regular expression (peft's fullmatch); or a RegExp
   * tested against the path.
   */
  targetModules: readonly string[] | string | RegExp;
  /** Modules trained and saved whole alongside the adapters (a classification head), matched as targetModules' list. */
  modulesToSave?: readonly string[] | null;
  /**
   * peft's fan_in_fan_out: true for models whose layers are transformers' Conv1D ([in, out]
   * weights, GPT-2). Written to adapter_config.json for peft; kindling's nn.Linear always holds
   * [out, in] (kd.models.gpt2 transposes Conv1D weights on load), and the adapter's A [r, in] and
   * B [out, r] are the same either way, so nothing else changes. Default false.
   */
  fanInFanOut?: boolean;
  /** Which biases train: only 'none' (peft's default) is supported. */
  bias?: 'none';
  /** Scale by loraAlpha / √r (rank-stabilised LoRA). Default false. */
  useRslora?: boolean;
  /** Written to adapter_config.json (the base model's name or folder). */
  baseModelNameOrPath?: string | null;
  /** Written to adapter_config.json: 'CAUSAL_LM', 'SEQ_CLS', ... Default null. */
  taskType?: string | null;
}

type FullConfig = Required<Omit<LoraConfig, 'targetModules' | 'modulesToSave'>> & { targetModules: readonly string[] | string | RegExp; modulesToSave: string[] };

const ADAPTER = 'default';
const PREFIX = 'base_model.model.';

function checkConfig(op: string, config: LoraConfig): FullConfig {
  if (!config || typeof config !== 'object') throw new ArgumentError(`${op}: expected a config { r, loraAlpha, loraDropout, targetModules, ... }`);
  const r = config.r ?? 8;
  if (!Number.isInteger(r) || r < 1) throw new ArgumentError(`${op}: r must be a positive integer, got ${String(r)}`);
  const loraAlpha = config.loraAlpha ?? 8;
  if (typeof loraAlpha !== 'number' || !Number.isFinite(loraAlpha)) throw new ArgumentError(`${op}: loraAlpha must be a finite number, got ${String(loraAlpha)}`);
  const loraDropout = config.loraDropout ?? 0;
  if (typeof loraDropout !== 'number' || !(loraDropout >= 0 && loraDropout < 1)) throw new ArgumentError(`${op}: loraDropout must be in [0, 1), got ${String(loraDropout)}`);
  const t = config.targetModules;
  const listOk = Array.isArray(t) && t.length > 0 && t.every((s) => typeof s === 'string' && s.length > 0);
  if (!listOk && !(typeof t === 'string' && t.length > 0) && !(t instanceof RegExp)) {
    throw new ArgumentError(`${op}: targetModules must be a non-empty list of module names (['q_proj', 'v_proj']), a regex string or a RegExp`);
  }
  const bias = config.bias ?? 'none';
  if (bias !== 'none') throw new ArgumentError(`${op}: bias '${String(bias)}' is not supported; only 'none' (peft's default: biases stay frozen)`);
  const modulesToSave = config.modulesToSave ?? [];
  if (!Array.isArray(modulesToSave) || modulesToSave.some((s) => typeof s !== 'string' || s.length === 0)) throw new ArgumentError(`${op}: modulesToSave must be a list of module names`);
  return {
    r, loraAlpha, loraDropout, targetModules: t, modulesToSave: [...modulesToSave], bias,
    fanInFanOut: Boolean(config.fanInFanOut ?? false), useRslora: Boolean(config.useRslora ?? false),
    baseModelNameOrPath: config.baseModelNameOrPath ?? null, taskType: config.taskType ?? null,
  };
}

/** peft's target matching: a name list matches the path or its `.name` ending; a string is a full-path regex. */
function nameMatcher(op: string, target: readonly string[] | string | RegExp): (path: string) => boolean {
  if (target instanceof RegExp) {
    const re = new RegExp(target.source, target.flags.replace(/[gy]/g, ''));
    return (path) => re.test(path);
  }
  if (typeof target === 'string') {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${target})$`);
    } catch (err) {
      throw new ArgumentError(`${op}: targetModules '${target}' is not a valid regular expression (${(err as Error).message})`);
    }
    return (path) => re.test(path);
  }
  return (path) => target.some((name) => path === name || path.endsWith(`.${name}`));
}

/** An nn.Linear with a LoRA adapter, as peft's lora.Linear: base_layer, lora_dropout, lora_A, lora_B. */
export class LoraLinear extends Module {
  baseLayer: Linear;
  loraDropout: ModuleDict<{ default: Module }>;
  loraA: ModuleDict<{ default: Linear }>;
  loraB: ModuleDict<{ default: Linear }>;
  readonly r: number;
  readonly loraAlpha: number;
  readonly scaling: number;
  readonly fanInFanOut: boolean;
  /** True while the adapter's product is added into baseLayer.weight (merge). */
  merged = false;

  constructor(base: Linear, options: { r: number; loraAlpha: number; loraDropout?: number; useRslora?: boolean; fanInFanOut?: boolean }) {
    super();
    if (!(base instanceof Linear)) throw new ArgumentError('LoraLinear: the base layer must be a kd.nn.Linear');
    const { r, loraAlpha } = options;
    if (!Number.isInteger(r) || r < 1) throw new ArgumentError(`LoraLinear: r must be a positive integer, got ${String(r)}`);
    this.baseLayer = base;
    const p = options.loraDropout ?? 0;
    this.loraDropout = new ModuleDict<{ default: Module }>({ [ADAPTER]: p > 0 ? new Dropout(p) : new Identity() });
    this.fanInFanOut = options.fanInFanOut ?? false;
    const { inFeatures, outFeatures } = base;
    // peft: kaiming_uniform_(A, a=√5), which is nn.Linear's own weight initialisation; B = 0.
    this.loraA = new ModuleDict({ [ADAPTER]: new Linear(inFeatures, r, { bias: false }) });
    const b = new Linear(r, outFeatures, { bias: false });
    noGrad(() => b.weight.copy_(b.weight.mul(0)));
    this.loraB = new ModuleDict({ [ADAPTER]: b });
    this.setStateKey('loraA', 'lora_A');
    this.setStateKey('loraB', 'lora_B');
    this.r = r;
    this.loraAlpha = loraAlpha;
    this.scaling = options.useRslora ? loraAlpha / Math.sqrt(r) : loraAlpha / r;
    this.train(base.training);
  }

  /** The base layer's weight, as peft's lora.Linear.weight (the adapter is applied in forward). */
  get weight(): Tensor {
    return this.baseLayer.weight;
  }

  /** The base layer's bias (the adapter has none). */
  get bias(): Tensor | null {
    return this.baseLayer.bias;
  }

  get a(): Linear {
    return this.loraA.get(ADAPTER);
  }

  get b(): Linear {
    return this.loraB.get(ADAPTER);
  }

  forward(x: Tensor): Tensor {
    if (this.merged) return this.baseLayer.forward(x);
    return scoped(() => {
      // Without dropout the adapter reads x itself (Identity would copy it, and its gradient, once
      // more).
      const dropout = this.loraDropout.get(ADAPTER);
      const dropped = dropout instanceof Identity ? x : dropout.forward(x) as Tensor;
      const base = this.baseLayer;
      // A subclassed base layer runs its own forward (and an input it rejects gets its error); the
      // scaling then multiplies the rank-r activations, not the [.., out] product.
      if (Object.getPrototypeOf(base) !== Linear.prototype || x.ndim === 0 || x.shape[x.ndim - 1] !== base.inFeatures) {
        return base.forward(x).add(this.b.forward(this.a.forward(dropped).mul(this.scaling)));
      }
      // One output: the base product with its bias, onto which B · (A · x) · scaling is
      // accumulated by the second GEMM (no [.., out] temporary, no pass adding it).
      const rows = x.numel / base.inFeatures;
      const h = linear(reshape(dropped, [rows, base.inFeatures]), this.a.weight);
      const y = matmulAddLowRank(reshape(x, [rows, base.inFeatures]), transpose(base.weight, 0, 1), base.bias, h,
        transpose(this.b.weight, 0, 1), this.scaling);
      return reshape(y, [...x.shape.slice(0, -1), base.outFeatures]);
    });
  }

  /** scaling · B @ A: [out, in], the base weight's layout. */
  deltaWeight(): Tensor {
    return noGrad(() => this.b.weight.matmul(this.a.weight).mul(this.scaling));
  }

  /** Adds the adapter into the base weight: the forward is then the base layer's alone. */
  merge(): void {
    if (this.merged) return;
    noGrad(() => tidy(() => { this.baseLayer.weight.add_(this.deltaWeight()); }));
    this.merged = true;
  }

  /** Takes the adapter back out of the base weight. */
  unmerge(): void {
    if (!this.merged) return;
    noGrad(() => tidy(() => { this.baseLayer.weight.sub_(this.deltaWeight()); }));
    this.merged = false;
  }

  override extraRepr(): string {
    return `r=${this.r}, lora_alpha=${reprFloat(this.loraAlpha)}, scaling=${reprFloat(this.scaling)}${this.merged ? ', merged=True' : ''}`;
  }
}

const configs = new WeakMap<Module, FullConfig>();

/** Each field of `parent` that holds `child` (a module may sit in more than one field). */
function fieldsHolding(parent: Module, child: Module): string[] {
  return Object.entries(parent).filter(([k, v]) => !k.startsWith('_') && v === child).map(([k]) => k);
}

/**
 * Adds LoRA adapters to the model's nn.Linear layers that config.targetModules names, in place
 * (peft's get_peft_model / inject_adapter_in_model), and freezes every parameter but the adapters
 * and the modulesToSave. Returns the model.
 */
export function apply<M extends Module>(model: M, config: LoraConfig): M {
  const op = 'lora.apply';
  if (!(model instanceof Module)) throw new ArgumentError(`${op}: expected a kd.nn.Module`);
  if (configs.has(model)) throw new ArgumentError(`${op}: the model already has LoRA adapters (one adapter per model)`);
  const cfg = checkConfig(op, config);
  const isTarget = nameMatcher(op, cfg.targetModules);
  const toSave = cfg.modulesToSave.length ? nameMatcher(op, cfg.modulesToSave) : () => false;
  const targets: [Module, Linear, string][] = [];
  const saved: Module[] = [];
  for (const [path, parent] of model.namedModules()) {
    if (parent instanceof LoraLinear) continue;
    for (const [name, child] of parent.namedChildren()) {
      const childPath = path ? `${path}.${name}` : name;
      if (isTarget(childPath)) {
        if (!(child instanceof Linear)) throw new ArgumentError(`${op}: target module '${childPath}' is a ${child.constructor.name}; LoRA wraps nn.Linear layers`);
        targets.push([parent, child, childPath]);
      }
      if (toSave(childPath)) saved.push(child);
    }
  }
  if (targets.length === 0) {
    throw new ArgumentError(`${op}: no module matches targetModules ${JSON.stringify(cfg.targetModules instanceof RegExp ? String(cfg.targetModules) : cfg.targetModules)}; the Linear layers are: ${linearNames(model).join(', ') || 'none'}`);
  }
  model.freeze();
  const wrapped = new Map<Linear, LoraLinear>();
  for (const [parent, child] of targets) {
    let lora = wrapped.get(child);
    if (!lora) {
      lora = new LoraLinear(child, { r: cfg.r, loraAlpha: cfg.loraAlpha, loraDropout: cfg.loraDropout, useRslora: cfg.useRslora, fanInFanOut: cfg.fanInFanOut });
      wrapped.set(child, lora);
    }
    for (const field of fieldsHolding(parent, child)) (parent as unknown as Record<string, unknown>)[field] = lora;
  }
  for (const m of saved) m.unfreeze();
  configs.set(model, cfg);
  return model;
}

function linearNames(model: Module): string[] {
  return [...model.namedModules()].filter(([, m]) => m instanceof Linear).map(([n]) => n);
}

/** The LoraLinear layers of a model, by path. */
export function loraLayers(model: Module): [string, LoraLinear][] {
  return [...model.namedModules()].filter((e): e is [string, LoraLinear] => e[1] instanceof LoraLinear);
}

function configOf(op: string, model: Module): FullConfig {
  const cfg = configs.get(model);
  if (!cfg) throw new ArgumentError(`${op}: the model has no LoRA adapters; call kd.nn.lora.apply(model, config) (or loadAdapter) first`);
  return cfg;
}

/** The config lora.apply used on this model (camelCase), or null. */
export function configOfModel(model: Module): LoraConfig | null {
  const cfg = configs.get(model);
  return cfg ? { ...cfg, modulesToSave: [...cfg.modulesToSave] } : null;
}

/**
 * The adapter's tensors under the keys peft saves: `base_model.model.<path>.lora_A.weight`,
 * `....lora_B.weight`, and each modulesToSave parameter as `base_model.model.<path>.<name>`.
 * Values share the model's storage.
 */
export function adapterStateDict(model: Module): Record<string, Tensor> {
  const cfg = configOf('lora.adapterStateDict', model);
  const out: Record<string, Tensor> = {};
  for (const [path, layer] of loraLayers(model)) {
    out[`${PREFIX}${path}.lora_A.weight`] = layer.a.weight.detach();
    out[`${PREFIX}${path}.lora_B.weight`] = layer.b.weight.detach();
  }
  if (cfg.modulesToSave.length) {
    const toSave = nameMatcher('lora.adapterStateDict', cfg.modulesToSave);
    for (const [path, m] of model.namedModules()) {
      if (!path || !toSave(path)) continue;
      for (const [name, t] of Object.entries(m.stateDict())) out[`${PREFIX}${path}.${name}`] = t;
    }
  }
  return out;
}

/** adapter_config.json as peft 0.21 writes it (every key, in its order). */
function adapterConfigJson(cfg: FullConfig): string {
  const target = cfg.targetModules instanceof RegExp ? cfg.targetModules.source : typeof cfg.targetModules === 'string' ? cfg.targetModules : [...new Set(cfg.targetModules)].sort();
  const body: Record<string, unknown> = {
    alora_invocation_tokens: null, alpha_pattern: {}, arrow_config: null, auto_mapping: null,
    base_model_name_or_path: cfg.baseModelNameOrPath, bias: cfg.bias, corda_config: null, ensure_weight_tying: false, eva_config: null,
    exclude_modules: null, fan_in_fan_out: cfg.fanInFanOut, inference_mode: true, init_lora_weights: true, kasa_config: null,
    layer_replication: null, layers_pattern: null, layers_to_transform: null, loftq_config: {}, lora_alpha: cfg.loraAlpha,
    lora_bias: false, lora_dropout: cfg.loraDropout, lora_ga_config: null, megatron_config: null, megatron_core: 'megatron.core',
    modules_to_save: cfg.modulesToSave.length ? [...cfg.modulesToSave] : null, monteclora_config: null, peft_type: 'LORA',
    qalora_group_size: 16, r: cfg.r, rank_pattern: {}, revision: null, target_modules: target, target_parameters: null,
    task_type: cfg.taskType, trainable_token_indices: null, use_bdlora: null, use_dora: false, use_qalora: false,
    use_rslora: cfg.useRslora, velora_config: null,
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/**
 * Writes the adapter folder peft's PeftModel.from_pretrained reads: adapter_model.safetensors and
 * adapter_config.json, both or neither (temp files renamed into place together). The adapter is
 * saved unmerged whatever the layers' state.
 */
export function saveAdapter(model: Module, dir: string): void {
  const op = 'lora.saveAdapter';
  checkPath(op, dir);
  const cfg = configOf(op, model);
  withIOErrors(op, dir, () => mkdirSync(dir, { recursive: true }));
  const pending: PendingFile[] = [];
  try {
    const weights = join(dir, 'adapter_model.safetensors');
    pending.push({ temp: writeTempFile(weights, tidy(() => encodeStateDict(adapterStateDict(model), {}, op)), op), path: weights });
    const configPath = join(dir, 'adapter_config.json');
    pending.push({ temp: writeTempFile(configPath, Buffer.from(adapterConfigJson(cfg)), op), path: configPath });
  } catch (err) {
    discardTempFiles(pending);
    throw err;
  }
  commitFiles(pending, op);
}

/** adapter_config.json (peft's snake_case) as a LoraConfig. */
export function readAdapterConfig(dir: string): LoraConfig {
  const op = 'lora.readAdapterConfig';
  const path = join(checkPath(op, dir), 'adapter_config.json');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readText(op, path)) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof SyntaxError) throw new DataError(`${op}: ${path} is not valid JSON (${err.message})`);
    throw err;
  }
  if (!raw || typeof raw !== 'object') throw new DataError(`${op}: ${path} is not a JSON object`);
  if (raw.peft_type !== 'LORA') throw new DataError(`${op}: ${path} has peft_type ${JSON.stringify(raw.peft_type)}; only LORA adapters load here`);
  if (raw.use_dora === true) throw new DataError(`${op}: ${path} is a DoRA adapter (use_dora true), which kindling does not implement`);
  for (const key of ['rank_pattern', 'alpha_pattern'] as const) {
    if (raw[key] && typeof raw[key] === 'object' && Object.keys(raw[key] as object).length > 0) throw new DataError(`${op}: ${path} sets ${key}; per-layer ranks are not supported`);
  }
  const target = raw.target_modules;
  return {
    r: raw.r as number,
    loraAlpha: raw.lora_alpha as number,
    loraDropout: (raw.lora_dropout as number | undefined) ?? 0,
    targetModules: Array.isArray(target) ? (target as string[]) : (target as string),
    modulesToSave: Array.isArray(raw.modules_to_save) ? (raw.modules_to_save as string[]) : null,
    fanInFanOut: Boolean(raw.fan_in_fan_out),
    bias: raw.bias as 'none',
    useRslora: Boolean(raw.use_rslora),
    baseModelNameOrPath: (raw.base_model_name_or_path as string | null | undefined) ?? null,
    taskType: (raw.task_type as string | null | undefined) ?? null,
  };
}

/**
 * Loads an adapter folder (peft's save_pretrained, or saveAdapter's) into `model`: when the model
 * has no adapters yet, they are first added as its adapter_config.json says. Every tensor is
 * checked (names and shapes) before any is copied. Returns the model.
 */
export function loadAdapter<M extends Module>(model: M, dir: string): M {
  const op = 'lora.loadAdapter';
  if (!(model instanceof Module)) throw new ArgumentError(`${op}: expected a kd.nn.Module`);
  const weightsPath = join(checkPath(op, dir), 'adapter_model.safetensors');
  if (!pathExists(weightsPath)) throw new DataError(`${op}: ${dir} has no adapter_model.safetensors (an adapter folder holds it and adapter_config.json)`);
  if (!configs.has(model)) apply(model, readAdapterConfig(dir));
  const { tensors } = readStateDictFile(weightsPath, op);
  try {
    const own = adapterStateDict(model);
    const missing = Object.keys(own).filter((k) => !(k in tensors));
    const unexpected = Object.keys(tensors).filter((k) => !(k in own));
    if (missing.length || unexpected.length) {
      const said = [missing.length ? `missing: ${missing.join(', ')}` : '', unexpected.length ? `unexpected: ${unexpected.join(', ')}` : ''].filter(Boolean).join('; ');
      throw new ArgumentError(`${op}: ${weightsPath} does not fit the model's adapters (${said})`);
    }
    for (const [key, target] of Object.entries(own)) {
      const src = tensors[key]!;
      if (src.shape.join(',') !== target.shape.join(',')) throw new ShapeError(`${op}: ${key}: the adapter has ${fmtShape(src.shape)}, the model ${fmtShape(target.shape)}`);
    }
    const mergedLayers = loraLayers(model).filter(([, l]) => l.merged).map(([, l]) => l);
    for (const l of mergedLayers) l.unmerge();
    noGrad(() => { for (const [key, target] of Object.entries(own)) target.copy_(tensors[key]!); });
    for (const l of mergedLayers) l.merge();
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
  return model;
}

/** Adds every adapter into its base weight (outputs unchanged, the forward as fast as the base model's). */
export function merge(model: Module): Module {
  configOf('lora.merge', model);
  for (const [, layer] of loraLayers(model)) layer.merge();
  return model;
}

/** Takes merged adapters back out of the base weights. */
export function unmerge(model: Module): Module {
  configOf('lora.unmerge', model);
  for (const [, layer] of loraLayers(model)) layer.unmerge();
  return model;
}

/**
 * peft's merge_and_unload: merges every adapter and puts each base nn.Linear back in its place,
 * leaving a plain model with its original state-dict keys (requiresGrad left as it was).
 */
export function mergeAndUnload<M extends Module>(model: M): M {
  configOf('lora.mergeAndUnload', model);
  for (const [, parent] of [...model.namedModules()]) {
    for (const [field, value] of Object.entries(parent)) {
      if (field.startsWith('_') || !(value instanceof LoraLinear)) continue;
      value.merge();
      (parent as unknown as Record<string, unknown>)[field] = value.baseLayer;
    }
  }
  configs.delete(model);
  return model;
}
