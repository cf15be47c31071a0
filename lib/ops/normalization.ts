// Batch normalisation as one autograd node over fused native kernels. x [N, C, ...] is seen as
// [N, C, L] (L the spatial dims flattened; a view when they merge, else a contiguous copy).
//   forward:  y = (x - mean_c) * invstd_c * w_c + b_c, invstd = 1 / sqrt(var + eps); training
//             takes mean and biased var from the batch (and updates the running statistics with
//             the unbiased var), eval takes the running ones.
//   backward: xhat = (x - mean) * invstd, gw = g * w;
//             training: dx = invstd * (gw - mean(gw) - xhat * mean(gw * xhat)); eval: dx = invstd * gw;
//             dw = sum(g * xhat), db = sum(g) (sums and means over N and L).
// When the backward itself is recorded (createGraph), it is composed from differentiable ops.
import { isGradEnabled } from '../autograd/grad_mode.js';
import type { KernelOperand } from '../backend/backend.js';
import { backendOf } from '../backend/index.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { scoped } from '../scope.js';
import { Tensor } from '../tensor.js';
import * as ew from './elementwise.js';
import { assertTensor, record, sameDevice, viewOperand } from './record.js';
import { mean, sum, variance } from './reduce.js';
import { reshape } from './shape.js';

export interface BatchNormOptions {
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  weight?: Tensor | null;
  bias?: Tensor | null;
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/**
 * t as [n, c, l] when its dims after the second merge into one strided dim; null when they do
 * not (a permuted view), and the caller copies.
 */
function channelOperand(t: Tensor): KernelOperand | null {
  const l = t.shape.slice(2).reduce((a, b) => a * b, 1);
  let stride = 1;
  let expected: number | null = null;  // the stride the next dim out must have to merge
  for (let d = t.ndim - 1; d >= 2; d--) {
    if (t.shape[d] === 1) continue;
    if (expected === null) stride = t.strides[d];
    else if (t.strides[d] !== expected) return null;
    expected = t.strides[d] * t.shape[d];
  }
  return viewOperand(t, [t.shape[0], t.shape[1], l], [t.strides[0], t.strides[1], stride]);
}

/** t as [n, c, l], copied to a contiguous tensor (freed by the enclosing scope) when it must be. */
function asChannels(t: Tensor): KernelOperand {
  return channelOperand(t) ?? channelOperand(t.contiguous())!;
}

/** The composed backward (differentiable), for createGraph. */
function composedBackward(
  x: Tensor, g: Tensor, weight: Tensor | null, training: boolean, eps: number, saveMean: Tensor, saveInvstd: Tensor,
): [Tensor, Tensor, Tensor] {
  const c = x.shape[1];
  const dims = x.shape.map((_, i) => i).filter((i) => i !== 1);
  const statShape = x.shape.map((s, i) => (i === 1 ? s : 1));
  let mu: Tensor, invstd: Tensor;
  if (training) {
    mu = mean(x, dims, true);
    invstd = ew.rsqrt(ew.add(variance(x, dims, { correction: 0, keepdim: true }), eps));
  } else {
    mu = reshape(saveMean, statShape);
    invstd = reshape(saveInvstd, statShape);
  }
  const xhat = ew.mul(ew.sub(x, mu), invstd);
  const gw = weight ? ew.mul(g, reshape(weight, statShape)) : g;
  const dx = training
    ? ew.mul(invstd, ew.sub(ew.sub(gw, mean(gw, dims, true)), ew.mul(xhat, mean(ew.mul(gw, xhat), dims, true))))
    : ew.mul(gw, invstd);
  return [dx, reshape(sum(ew.mul(g, xhat), dims), [c]), reshape(sum(g, dims), [c])];
}

/**
 * Batch normalisation over dim 1 (channels) of [N, C, ...], float32, as
 * torch.nn.functional.batch_norm: training normalises with the batch statistics (biased variance)
 * and, when running statistics are given, updates them in place with momentum and the unbiased
 * variance; eval normalises with the running statistics. weight and bias are optional.
 */
export function batchNorm(input: Tensor, options: BatchNormOptions = {}): Tensor {
  const op = 'batchNorm';
  assertTensor(input, op, 'input');
  const { runningMean = null, runningVar = null, weight = null, bias = null, training = false, momentum = 0.1, eps = 1e-5 } = options;
  if (input.ndim < 2) throw new ShapeError(`${op}: expected input of at least 2 dims [N, C, ...], got ${fmtShape(input.shape)}`);
  if (input.dtype !== 'float32') throw new DTypeError(`${op}: expected a float32 input, got ${input.dtype}`);
  const c = input.shape[1];
  const given: Tensor[] = [input];
  for (const [name, t] of [['weight', weight], ['bias', bias], ['running_mean', runningMean], ['running_var', runningVar]] as const) {
    if (t === null || t === undefined) continue;
    assertTensor(t, op, name);
    if (t.dtype !== 'float32') throw new DTypeError(`${op}: ${name} must be float32, got ${t.dtype}`);
    if (t.ndim !== 1 || t.shape[0] !== c) throw new ShapeError(`${op}: ${name} ${fmtShape(t.shape)} does not match ${c} channels of input ${fmtShape(input.shape)}`);
    given.push(t);
  }
  sameDevice(op, ...given);
  if (typeof momentum !== 'number' || !Number.isFinite(momentum)) throw new ArgumentError(`${op}: momentum must be a finite number, got ${String(momentum)}`);
  if (typeof eps !== 'number' || !(eps >= 0)) throw new ArgumentError(`${op}: eps must be a number >= 0, got ${String(eps)}`);
  const count = input.numel / Math.max(c, 1);
  if (training && count <= 1) throw new ShapeError(`${op}: expected more than 1 value per channel when training, got input ${fmtShape(input.shape)}`);
  if (!training && (!runningMean || !runningVar)) throw new ArgumentError(`${op}: running statistics are required in eval mode`);
  if (runningMean && runningVar && runningMean._storage === runningVar._storage && runningMean.offset === runningVar.offset) {
    throw new ArgumentError(`${op}: running_mean and running_var must be different tensors`);
  }

  return scoped(() => {
    const x3 = asChannels(input);
    const y = Tensor._empty(input.shape, 'float32', input.device);
    const saveMean = Tensor._empty([c], 'float32', input.device);
    const saveInvstd = Tensor._empty([c], 'float32', input.device);
    backendOf(input).batchNormForward(training, momentum, eps, channelOperand(y)!, x3, weight, bias, runningMean,
      runningVar, saveMean, saveInvstd);
    if (training) for (const t of [runningMean, runningVar]) if (t) t._storage.version++;

    return record('NativeBatchNormBackward', y, [input, weight, bias], (node) => {
      const xSaved = node.save(input);
      const wSaved = weight ? node.save(weight) : null;
      const meanSaved = node.save(saveMean);
      const invstdSaved = node.save(saveInvstd);
      const wantX = input.requiresGrad, wantW = !!weight?.requiresGrad, wantB = !!bias?.requiresGrad;
      return (g) => {
        if (isGradEnabled()) return composedBackward(xSaved, g, wSaved, training, eps, meanSaved, invstdSaved);
        const dx = wantX ? Tensor._empty(xSaved.shape, 'float32', xSaved.device) : null;
        const dw = wantW ? Tensor._empty([c], 'float32', xSaved.device) : null;
        const db = wantB ? Tensor._empty([c], 'float32', xSaved.device) : null;
        backendOf(xSaved).batchNormBackward(training, dx ? channelOperand(dx) : null, asChannels(g),
          asChannels(xSaved), wSaved, meanSaved, invstdSaved, dw, db);
        return [dx, dw, db];
      };
    });
  });
}
