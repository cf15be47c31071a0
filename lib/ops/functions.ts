// Top-level forms of Tensor methods, as torch.exp(x) is x.exp(): kd.exp(x), kd.sum(x, 1),
// kd.softmax(x, -1), kd.max(x, 1). Each checks that its first argument is a tensor, then runs the
// method, so both spellings share one implementation (and its autograd).
import type { Tensor } from '../tensor.js';
import { type ValuesIndices, assertTensor } from './record.js';

type MethodName =
  | 'abs' | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'sin' | 'cos' | 'tanh' | 'sigmoid' | 'relu' | 'erf'
  | 'expm1' | 'log1p' | 'square' | 'reciprocal' | 'floor' | 'ceil' | 'round' | 'sign'
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'remainder'
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'logicalAnd' | 'logicalOr' | 'logicalNot' | 'logicalXor'
  | 'sum' | 'mean' | 'prod' | 'std' | 'var' | 'amax' | 'amin' | 'argmax' | 'argmin' | 'logsumexp'
  | 'softmax' | 'logSoftmax'
  | 'reshape' | 'transpose' | 'permute' | 'squeeze' | 'unsqueeze' | 'flatten' | 'split' | 'chunk' | 'narrow'
  | 'gather' | 'indexSelect' | 'maskedFill' | 'flip' | 'clone';

type Functional<K extends MethodName> = Tensor[K] extends (...args: infer A) => infer R ? (input: Tensor, ...args: A) => R : never;

function fromMethod<K extends MethodName>(name: K): Functional<K> {
  const fn = (input: Tensor, ...args: unknown[]): unknown => {
    assertTensor(input, name, 'input');
    return (input[name] as (...a: unknown[]) => unknown).apply(input, args);
  };
  Object.defineProperty(fn, 'name', { value: name });
  return fn as Functional<K>;
}

export const abs = fromMethod('abs');
export const neg = fromMethod('neg');
export const exp = fromMethod('exp');
export const log = fromMethod('log');
export const sqrt = fromMethod('sqrt');
export const rsqrt = fromMethod('rsqrt');
export const sin = fromMethod('sin');
export const cos = fromMethod('cos');
export const tanh = fromMethod('tanh');
export const sigmoid = fromMethod('sigmoid');
export const relu = fromMethod('relu');
export const erf = fromMethod('erf');
export const expm1 = fromMethod('expm1');
export const log1p = fromMethod('log1p');
export const square = fromMethod('square');
export const reciprocal = fromMethod('reciprocal');
export const floor = fromMethod('floor');
export const ceil = fromMethod('ceil');
export const round = fromMethod('round');
export const sign = fromMethod('sign');
export const add = fromMethod('add');
export const sub = fromMethod('sub');
export const mul = fromMethod('mul');
export const div = fromMethod('div');
export const pow = fromMethod('pow');
export const maximum = fromMethod('maximum');
export const minimum = fromMethod('minimum');
export const remainder = fromMethod('remainder');
export const eq = fromMethod('eq');
export const ne = fromMethod('ne');
export const lt = fromMethod('lt');
export const le = fromMethod('le');
export const gt = fromMethod('gt');
export const ge = fromMethod('ge');
export const logicalAnd = fromMethod('logicalAnd');
export const logicalOr = fromMethod('logicalOr');
export const logicalNot = fromMethod('logicalNot');
export const logicalXor = fromMethod('logicalXor');
export const sum = fromMethod('sum');
export const mean = fromMethod('mean');
export const prod = fromMethod('prod');
export const std = fromMethod('std');
const variance = fromMethod('var');
/** kd.var(x, dim, { correction, keepdim }), torch.var. */
export { variance as var };
export const amax = fromMethod('amax');
export const amin = fromMethod('amin');
export const argmax = fromMethod('argmax');
export const argmin = fromMethod('argmin');
export const logsumexp = fromMethod('logsumexp');
export const softmax = fromMethod('softmax');
export const logSoftmax = fromMethod('logSoftmax');
export const reshape = fromMethod('reshape');
export const transpose = fromMethod('transpose');
export const permute = fromMethod('permute');
export const squeeze = fromMethod('squeeze');
export const unsqueeze = fromMethod('unsqueeze');
export const flatten = fromMethod('flatten');
export const split = fromMethod('split');
export const chunk = fromMethod('chunk');
export const narrow = fromMethod('narrow');
export const gather = fromMethod('gather');
export const indexSelect = fromMethod('indexSelect');
export const maskedFill = fromMethod('maskedFill');
export const flip = fromMethod('flip');
export const clone = fromMethod('clone');

/** max of every element, or along dim as { values, indices } (torch.max). */
export function max(input: Tensor): Tensor;
export function max(input: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
export function max(input: Tensor, dim?: number, keepdim = false): Tensor | ValuesIndices {
  assertTensor(input, 'max', 'input');
  return dim === undefined ? input.max() : input.max(dim, keepdim);
}

/** min of every element, or along dim as { values, indices } (torch.min). */
export function min(input: Tensor): Tensor;
export function min(input: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
export function min(input: Tensor, dim?: number, keepdim = false): Tensor | ValuesIndices {
  assertTensor(input, 'min', 'input');
  return dim === undefined ? input.min() : input.min(dim, keepdim);
}
