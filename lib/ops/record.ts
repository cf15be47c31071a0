// How an op joins the autograd graph, and the small rules every op family shares: turning
// scalars into tensors, broadcasting, and reducing a gradient back to an input's shape.
import { isGradEnabled } from '../autograd/grad_mode.js';
import { type BackwardFn, GradNode } from '../autograd/node.js';
import type { KernelOperand } from '../backend/backend.js';
import { backendOf } from '../backend/index.js';
import type { DType } from '../dtype.js';
import { DeviceError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, type TensorOrScalar, contiguousStrides } from '../tensor.js';

/**
 * What max/min/median/sort/topk along a dim return: { values, indices }, which also unpacks as
 * `const [values, indices] = ...`, as PyTorch's (values, indices) named tuple does.
 */
export interface ValuesIndices extends Iterable<Tensor> {
  values: Tensor;
  indices: Tensor;
}

export function valuesIndices(values: Tensor, indices: Tensor): ValuesIndices {
  const result = { values, indices } as ValuesIndices;
  // Not enumerable: scopes and printing see the two tensors only.
  Object.defineProperty(result, Symbol.iterator, { value: function* () { yield values; yield indices; } });
  return result;
}

/** True when an op on these inputs must be recorded. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!isGradEnabled()) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/**
 * Records `out = op(inputs)` in the graph when any input requires grad. `backward` receives the
 * node (to save tensors with node.save(t) at record time, see `saveFor`) and returns the inputs'
 * gradients, in order, or null where an input gets none.
 */
export function record(
  name: string,
  out: Tensor,
  inputs: (Tensor | null | undefined)[],
  makeBackward: (node: GradNode) => BackwardFn,
): Tensor {
  if (!needsGrad(...inputs)) return out;
  let backward: BackwardFn | null = null;
  const node = new GradNode(name, inputs.map((t) => t ?? null), (g, into) => backward!(g, into));
  // out joins the graph first, so an op that saves its own output (exp, softmax) saves a tensor
  // that requires grad, and a createGraph backward differentiates through it.
  out._setGradFn(node);
  backward = makeBackward(node);
  return out;
}

export function sameDevice(op: string, ...tensors: Tensor[]): void {
  const d = tensors[0].device;
  for (const t of tensors) {
    if (t.device !== d) throw new DeviceError(`${op}: expected all tensors on one device, got ${tensors.map((x) => x.device).join(' and ')}`);
  }
}

export function assertTensor(value: unknown, op: string, what = 'argument'): Tensor {
  if (!(value instanceof Tensor)) throw new ShapeError(`${op}: expected a Tensor as ${what}, got ${typeof value}`);
  value._assertLive(op);
  return value;
}

/** A 0-d tensor holding a scalar, on `like`'s device. */
export function scalarTensor(value: number | boolean, dtype: DType, like: Tensor): Tensor {
  const t = Tensor._empty([], dtype, like.device);
  backendOf(t).fill(t, typeof value === 'boolean' ? Number(value) : value);
  return t;
}

export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a.length - n + i >= 0 ? a[a.length - n + i] : 1;
    const db = b.length - n + i >= 0 ? b[b.length - n + i] : 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together (dim ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that present `t` as `shape` (broadcast dims get stride 0); no data moves. */
export function broadcastStrides(t: Tensor, shape: readonly number[]): number[] {
  const n = shape.length, k = t.ndim;
  const strides = new Array<number>(n).fill(0);
  for (let i = 0; i < k; i++) {
    const d = n - k + i;
    strides[d] = t.shape[i] === 1 && shape[d] !== 1 ? 0 : t.strides[i];
  }
  return strides;
}

/**
 * A kernel operand over t's memory with another layout (by default: t's elements, contiguous, seen
 * as `shape`); a view for one kernel call that needs no tensor object, so nothing to free.
 */
export function viewOperand(t: Tensor, shape: readonly number[], strides: readonly number[] = contiguousStrides(shape), offset = t.offset): KernelOperand {
  return { handle: t.handle, offset, shape, strides, dtype: t.dtype };
}

/** `t` as a kernel operand of at least one dim (the kernels see a 0-d tensor as shape [1]). */
export function atLeast1d(t: Tensor): KernelOperand {
  return t.ndim === 0 ? viewOperand(t, [1]) : t;
}

/** A kernel operand for `t` broadcast to `shape`. */
export function broadcastOperand(t: Tensor, shape: readonly number[]) {
  return { handle: t.handle, offset: t.offset, shape, strides: broadcastStrides(t, shape), dtype: t.dtype };
}

export type { TensorOrScalar };
