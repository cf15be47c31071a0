// Making tensors: from JavaScript data, filled with a value, random, or ranges.
import { backendFor } from '../backend/index.js';
import { type Device, parseDevice } from '../device.js';
import { type AnyTypedArray, type DType, assertDType, dtypeBytes } from '../dtype.js';
import { ArgumentError, ShapeError } from '../errors.js';
import { fillNormal, fillUniform, nextUint32 } from '../random.js';
import { type NestedArray, Tensor, shapeNumel } from '../tensor.js';
import { MAX_NUMEL, checkShape } from './shape.js';

export interface TensorOptions {
  dtype?: DType;
  device?: Device | 'cuda:0';
  requiresGrad?: boolean;
}

type SizeArgs = number[] | [number[]] | [number[], TensorOptions] | [...number[], TensorOptions];

/** Splits f(2, 3), f([2, 3]) and f([2, 3], { dtype }) into a shape and options. */
function sizeArgs(args: unknown[], op: string): { shape: number[]; options: TensorOptions } {
  let options: TensorOptions = {};
  let list = args;
  const last = list[list.length - 1];
  if (last !== null && typeof last === 'object' && !Array.isArray(last)) {
    options = last as TensorOptions;
    list = list.slice(0, -1);
  }
  const shape = list.length === 1 && Array.isArray(list[0]) ? [...(list[0] as number[])] : (list as number[]);
  checkShape(shape, op);
  return { shape, options };
}

function finish(t: Tensor, options: TensorOptions): Tensor {
  if (options.requiresGrad) t.requiresGrad = true;
  return t;
}

/** A tensor holding a copy of `values` (already in row-major order) on the device asked for. */
export function fromTypedArray(values: AnyTypedArray, shape: number[], dtype: DType, device: Device): Tensor {
  const t = Tensor._empty(shape, dtype, device);
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.length * dtypeBytes(dtype));
  backendFor(device).write(t.handle, bytes);
  return t;
}

function inferShape(data: unknown): number[] {
  const shape: number[] = [];
  let level: unknown = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  return shape;
}

function flatten(data: unknown, shape: number[], op: string): (number | boolean)[] {
  const out: (number | boolean)[] = [];
  const walk = (v: unknown, depth: number) => {
    if (depth === shape.length) {
      if (typeof v !== 'number' && typeof v !== 'boolean') throw new ArgumentError(`${op}: expected numbers or booleans, got ${typeof v}`);
      out.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new ShapeError(`${op}: the nested arrays are ragged (expected length ${shape[depth]} at depth ${depth})`);
    }
    for (const e of v) walk(e, depth + 1);
  };
  walk(data, 0);
  return out;
}

/**
 * kd.tensor(data, { dtype, device, requiresGrad }): data is a number, a boolean, nested arrays
 * of them, or a typed array (1-d). Booleans give bool, whole numbers int32, others float32.
 */
/**
 * Values bound for an int32 tensor must be finite and within int32 once truncated toward zero
 * (PyTorch: "value cannot be converted to type int32 without overflow"); fractions truncate.
 */
function assertFitsInt32(values: ArrayLike<number>, op: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v > -2147483649 && v < 2147483648)) {
      throw new ArgumentError(`${op}: value ${v} at index ${i} cannot be converted to int32 without overflow (int32 holds -2147483648..2147483647; NaN and infinities have no int32 value)`);
    }
  }
}

export function tensor(data: NestedArray | AnyTypedArray | Float64Array | number | boolean, options: TensorOptions = {}): Tensor {
  const device = parseDevice(options.device, 'tensor');
  if (data instanceof Tensor) throw new ArgumentError('tensor: got a Tensor; use t.clone() or t.detach()');
  if (ArrayBuffer.isView(data)) {
    const dtype = options.dtype ? assertDType(options.dtype, 'tensor') : data instanceof Float32Array || data instanceof Float64Array ? 'float32' : data instanceof Uint8Array ? 'bool' : 'int32';
    const values = data as unknown as ArrayLike<number>;
    if (dtype === 'int32' && !(data instanceof Int32Array)) assertFitsInt32(values, 'tensor');
    const converted = dtype === 'float32' ? Float32Array.from(values) : dtype === 'int32' ? Int32Array.from(values) : Uint8Array.from(values, (v) => (v ? 1 : 0));
    return finish(fromTypedArray(converted, [values.length], dtype, device), options);
  }
  const shape = inferShape(data);
  checkShape(shape, 'tensor');
  const flat = flatten(data, shape, 'tensor');
  let dtype: DType;
  if (options.dtype) dtype = assertDType(options.dtype, 'tensor');
  else if (flat.length > 0 && flat.every((v) => typeof v === 'boolean')) dtype = 'bool';
  else if (flat.every((v) => typeof v === 'boolean' || Number.isInteger(v))) dtype = flat.length === 0 ? 'float32' : 'int32';
  else dtype = 'float32';
  const numbers = flat.map((v) => (typeof v === 'boolean' ? Number(v) : v));
  if (dtype === 'int32') assertFitsInt32(numbers, 'tensor');
  const values = dtype === 'float32' ? Float32Array.from(numbers) : dtype === 'int32' ? Int32Array.from(numbers) : Uint8Array.from(numbers, (v) => (v ? 1 : 0));
  return finish(fromTypedArray(values, shape, dtype, device), options);
}

export function full(shape: number[], value: number | boolean, options: TensorOptions = {}): Tensor {
  checkShape(shape, 'full');
  const dtype = options.dtype ? assertDType(options.dtype, 'full') : typeof value === 'boolean' ? 'bool' : Number.isInteger(value) ? 'int32' : 'float32';
  const t = Tensor._empty(shape, dtype, parseDevice(options.device, 'full'));
  backendFor(t.device).fill(t, Number(value));
  return finish(t, options);
}

export function zeros(...args: SizeArgs): Tensor {
  const { shape, options } = sizeArgs(args, 'zeros');
  return full(shape, 0, { dtype: 'float32', ...options });
}

export function ones(...args: SizeArgs): Tensor {
  const { shape, options } = sizeArgs(args, 'ones');
  return full(shape, 1, { dtype: 'float32', ...options });
}

/** Uninitialised memory (poisoned in tests). */
export function empty(...args: SizeArgs): Tensor {
  const { shape, options } = sizeArgs(args, 'empty');
  return finish(Tensor._empty(shape, options.dtype ? assertDType(options.dtype, 'empty') : 'float32', parseDevice(options.device, 'empty')), options);
}

function randomFloat(op: string, args: unknown[], fill: (out: Float32Array) => void): Tensor {
  const { shape, options } = sizeArgs(args, op);
  if (options.dtype && options.dtype !== 'float32') throw new ArgumentError(`${op}: only float32 is supported, got ${options.dtype}`);
  const values = new Float32Array(shapeNumel(shape));
  fill(values);
  return finish(fromTypedArray(values, shape, 'float32', parseDevice(options.device, op)), options);
}

/** Uniform on [0, 1). */
export function rand(...args: SizeArgs): Tensor {
  return randomFloat('rand', args, (v) => fillUniform(v, 0, 1));
}

/** Standard normal. */
export function randn(...args: SizeArgs): Tensor {
  return randomFloat('randn', args, (v) => fillNormal(v, 0, 1));
}

/** Integers uniform in [low, high). */
export function randint(low: number, high: number, shape: number[], options: TensorOptions = {}): Tensor {
  checkShape(shape, 'randint');
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) throw new ArgumentError(`randint: expected integers low < high, got ${low}, ${high}`);
  const span = high - low;
  const values = new Int32Array(shapeNumel(shape));
  for (let i = 0; i < values.length; i++) values[i] = low + (span <= 2 ** 32 ? Math.floor((nextUint32() / 2 ** 32) * span) : 0);
  return finish(fromTypedArray(values, shape, 'int32', parseDevice(options.device, 'randint')), options);
}

/** arange(end), arange(start, end), arange(start, end, step); int32 when all are integers. */
export function arange(a: number, b?: number | TensorOptions, c?: number | TensorOptions, d?: TensorOptions): Tensor {
  const nums = [a, b, c].filter((v) => typeof v === 'number') as number[];
  const options = ([b, c, d].find((v) => v !== null && typeof v === 'object') ?? {}) as TensorOptions;
  const [start, end, step] = nums.length === 1 ? [0, nums[0], 1] : nums.length === 2 ? [nums[0], nums[1], 1] : [nums[0], nums[1], nums[2]];
  if (step === 0 || !Number.isFinite(step)) throw new ArgumentError(`arange: step must be a non-zero finite number, got ${step}`);
  if (!Number.isFinite(start) || !Number.isFinite(end)) throw new ArgumentError('arange: bounds must be finite');
  const n = Math.max(0, Math.ceil((end - start) / step));
  if (n > MAX_NUMEL) throw new ShapeError(`arange: ${n} elements (start ${start}, end ${end}, step ${step}) is more than the ${MAX_NUMEL} a tensor can hold`);
  const dtype: DType = options.dtype ?? ([start, end, step].every(Number.isInteger) ? 'int32' : 'float32');
  const values = dtype === 'float32' ? new Float32Array(n) : new Int32Array(n);
  for (let i = 0; i < n; i++) values[i] = start + i * step;
  return finish(fromTypedArray(values, [n], dtype, parseDevice(options.device, 'arange')), options);
}

export function linspace(start: number, end: number, steps: number, options: TensorOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new ArgumentError(`linspace: steps must be a non-negative integer, got ${steps}`);
  checkShape([steps], 'linspace');
  const values = new Float32Array(steps);
  for (let i = 0; i < steps; i++) values[i] = steps === 1 ? start : start + ((end - start) * i) / (steps - 1);
  return finish(fromTypedArray(values, [steps], 'float32', parseDevice(options.device, 'linspace')), options);
}

export function eye(n: number, m: number = n, options: TensorOptions = {}): Tensor {
  checkShape([n, m], 'eye');
  const values = new Float32Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) values[i * m + i] = 1;
  const dtype = options.dtype ?? 'float32';
  const typed = dtype === 'float32' ? values : dtype === 'int32' ? Int32Array.from(values) : Uint8Array.from(values);
  return finish(fromTypedArray(typed, [n, m], dtype, parseDevice(options.device, 'eye')), options);
}

function likeOptions(t: Tensor, options: TensorOptions): TensorOptions {
  return { dtype: t.dtype, device: t.device, ...options };
}

export const zerosLike = (t: Tensor, options: TensorOptions = {}) => full(t.shape, 0, likeOptions(t, options));
export const onesLike = (t: Tensor, options: TensorOptions = {}) => full(t.shape, 1, likeOptions(t, options));
export const fullLike = (t: Tensor, value: number, options: TensorOptions = {}) => full(t.shape, value, likeOptions(t, options));
export const randLike = (t: Tensor, options: TensorOptions = {}) => rand(t.shape, { device: t.device, ...options });
export const randnLike = (t: Tensor, options: TensorOptions = {}) => randn(t.shape, { device: t.device, ...options });
