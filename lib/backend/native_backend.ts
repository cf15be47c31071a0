// A backend over one table of native entry points: the addon's top level for the CPU, its `cuda`
// object for CUDA (the binding registers both under the same names and argument layouts, and
// bounds-checks every operand against its storage). Each member is one native call: which
// algorithm runs is the kernels' choice, made in native code.
import type { Device } from '../device.js';
import { DTYPE_CODE, type DType } from '../dtype.js';
import { ArgumentError, KindlingError } from '../errors.js';
import type { NativeAddon } from '../native.js';
import type { AdamHyper, AdamTensors, AttentionGeometry, BadIndex, ConvGeometry, GemmCall, KernelOperand, PoolGeometry } from './backend.js';
import { BinaryOp, ReduceOp, type UnaryOp } from './opcodes.js';

/**
 * The table with every function wrapped so that an exception it throws (a bad handle, a freed
 * storage, a failed allocation) reaches the user as a KindlingError naming the native function:
 * `kind(e)` picks the subclass.
 */
export function withKindlingErrors(addon: NativeAddon,
  kind: (e: unknown) => new (message: string) => KindlingError = () => ArgumentError): NativeAddon {
  const wrapped: NativeAddon = {};
  for (const [name, value] of Object.entries(addon)) {
    if (typeof value !== 'function') {
      wrapped[name] = value;
      continue;
    }
    wrapped[name] = (...args: unknown[]) => {
      try {
        return value(...args);
      } catch (e) {
        if (e instanceof KindlingError) throw e;
        const message = e instanceof Error ? e.message : String(e);
        const ErrorKind = kind(e);
        throw new ErrorKind(message.startsWith(`${name}:`) ? `native ${message}` : `native ${name}: ${message}`);
      }
    };
  }
  return wrapped;
}

/** The binding returns null, or [position, value] for the first out-of-range index. */
function badIndex(result: [number, number] | null): BadIndex | null {
  return result === null ? null : { position: result[0], value: result[1] };
}

function convGeometry(g: ConvGeometry): number[] {
  return [g.n, g.c, g.h, g.w, g.k, g.kh, g.kw, g.oh, g.ow, g.strideH, g.strideW, g.padH, g.padW, g.dilationH, g.dilationW, g.groups];
}

const ATTENTION_MASK_CODE = { none: 0, additive: 1, bool: 2 } as const;

function attentionGeometry(g: AttentionGeometry): number[] {
  return [g.batch, g.heads, g.kvHeads, g.qLen, g.kvLen, g.headDim, g.causal ? 1 : 0, ATTENTION_MASK_CODE[g.maskKind],
    g.seed, g.offset];
}

function poolGeometry(g: PoolGeometry): number[] {
  return [g.n, g.c, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, g.dilationH, g.dilationW];
}

/** A recurrent layer-direction's sizes (native/common/rnn.h); batchSizes: rows advanced per step. */
export interface RnnCall {
  mode: 'lstm' | 'gru' | 'rnn_tanh' | 'rnn_relu';
  steps: number; batch: number; input: number; hidden: number; proj: number; reverse: boolean;
  batchSizes: Int32Array | null;
}
/** A contiguous operand: its storage and first element. */
export type RnnBuffer = Pick<KernelOperand, 'handle' | 'offset'>;
export interface RnnWeightOperands { wIh: RnnBuffer; wHh: RnnBuffer; bIh: RnnBuffer | null; bHh: RnnBuffer | null; wHr: RnnBuffer | null }
export interface RnnGradOperands {
  x: RnnBuffer | null; h0: RnnBuffer | null; c0: RnnBuffer | null; wIh: RnnBuffer | null; wHh: RnnBuffer | null;
  bIh: RnnBuffer | null; bHh: RnnBuffer | null; wHr: RnnBuffer | null;
}
const RNN_MODE_CODE = { lstm: 0, gru: 1, rnn_tanh: 2, rnn_relu: 3 } as const;

function rnnGeometry(g: RnnCall): number[] {
  return [RNN_MODE_CODE[g.mode], g.steps, g.batch, g.input, g.hidden, g.proj, g.reverse ? 1 : 0];
}

/** An optional operand as the binding's (buffer | null, offset) pair. */
function opt(o: RnnBuffer | null): [unknown, number] {
  return o ? [o.handle, o.offset] : [null, 0];
}

/** The kernels of one device over its table of native entry points; its type is `Backend`. */
export function nativeBackend(device: Device, native: NativeAddon) {
  return {
    device,

    // Storage: numeric handles naming native blocks.

    alloc(bytes: number): unknown {
      return native.alloc(bytes);
    },
    free(handle: unknown): void {
      native.dispose(handle);
    },
    /** Copies `src` into the storage at `byteOffset` (default 0). */
    write(handle: unknown, src: Uint8Array, byteOffset = 0): void {
      native.writeBytes(handle, byteOffset, src);
    },
    /** Copies `bytes` bytes from `byteOffset` out of the storage. */
    read(handle: unknown, byteOffset: number, bytes: number): Uint8Array {
      return new Uint8Array(native.readBytes(handle, byteOffset, bytes));
    },
    /** One element (index in elements of `dtype`) as a number; what item() uses. */
    readScalar(handle: unknown, index: number, dtype: DType): number {
      return native.readScalar(handle, index, DTYPE_CODE[dtype]);
    },
    /** The storage's memory itself, where the device shares it with JavaScript (CPU); else null. */
    hostBuffer(handle: unknown): ArrayBuffer | null {
      return native.hostView(handle);
    },

    unary(op: UnaryOp, p0: number, p1: number, out: KernelOperand, x: KernelOperand): void {
      native.unary(op, DTYPE_CODE[x.dtype], p0, p1, out.shape, out.handle, out.offset, out.strides, x.handle, x.offset, x.strides);
    },
    /** a and b are already broadcast to out.shape (stride 0 on broadcast dims). */
    binary(op: BinaryOp, out: KernelOperand, a: KernelOperand, b: KernelOperand): void {
      native.binary(op, DTYPE_CODE[a.dtype], out.shape, out.handle, out.offset, out.strides,
        a.handle, a.offset, a.strides, b.handle, b.offset, b.strides);
    },
    where(out: KernelOperand, cond: KernelOperand, a: KernelOperand, b: KernelOperand): void {
      native.where(DTYPE_CODE[out.dtype], out.shape, out.handle, out.offset, out.strides,
        cond.handle, cond.offset, cond.strides, a.handle, a.offset, a.strides, b.handle, b.offset, b.strides);
    },
    /** Converts x into out's dtype; a plain strided copy when the dtypes match. */
    cast(out: KernelOperand, x: KernelOperand): void {
      native.cast(DTYPE_CODE[x.dtype], DTYPE_CODE[out.dtype], out.shape, out.handle, out.offset, out.strides,
        x.handle, x.offset, x.strides);
    },
    fill(out: KernelOperand, value: number): void {
      native.fill(DTYPE_CODE[out.dtype], value, out.shape, out.handle, out.offset, out.strides);
    },

    /**
     * Reduces x over the dims listed in `reduced` (x's own dim indices). out's shape is x's shape
     * without those dims (its strides follow that order).
     */
    reduce(op: ReduceOp, out: KernelOperand, x: KernelOperand, reduced: readonly number[]): void {
      const keptShape: number[] = [], keptStrides: number[] = [], redShape: number[] = [], redStrides: number[] = [];
      for (let d = 0; d < x.shape.length; d++) {
        if (reduced.includes(d)) {
          redShape.push(x.shape[d]);
          redStrides.push(x.strides[d]);
        } else {
          keptShape.push(x.shape[d]);
          keptStrides.push(x.strides[d]);
        }
      }
      native.reduce(op, DTYPE_CODE[x.dtype], keptShape, keptStrides, redShape, redStrides, x.handle, x.offset,
        out.handle, out.offset, out.strides);
    },

    // Indexing along `dim` with int32 indices; each returns the first bad index, or null.
    /** out[p] = x[p with p[dim] = index[p]] for p over index's shape (out's shape). */
    gather(out: KernelOperand, x: KernelOperand, index: KernelOperand, dim: number): BadIndex | null {
      return badIndex(native.gather(DTYPE_CODE[x.dtype], dim, index.shape, out.handle, out.offset, out.strides,
        index.handle, index.offset, index.strides, x.shape, x.handle, x.offset, x.strides));
    },
    /** out = x.indexSelect(dim, index) for a 1-d index. */
    indexSelect(out: KernelOperand, x: KernelOperand, index: KernelOperand, dim: number): BadIndex | null {
      return badIndex(native.indexSelect(DTYPE_CODE[x.dtype], dim, x.shape, x.handle, x.offset, x.strides,
        index.handle, index.offset, index.strides[0] ?? 1, index.shape[0] ?? 1, out.handle, out.offset, out.strides));
    },
    /** out[p with p[dim] = index[p]] += src[p] for p over index's shape, in place. */
    scatterAdd(out: KernelOperand, index: KernelOperand, src: KernelOperand, dim: number): BadIndex | null {
      return badIndex(native.scatterAdd(DTYPE_CODE[out.dtype], dim, out.shape, out.handle, out.offset, out.strides,
        index.shape, index.handle, index.offset, index.strides, src.handle, src.offset, src.strides));
    },
    /** out.select(dim, index[j]) += src.select(dim, j) for a 1-d index, in place. */
    indexAdd(out: KernelOperand, index: KernelOperand, src: KernelOperand, dim: number): BadIndex | null {
      return badIndex(native.indexAdd(DTYPE_CODE[out.dtype], dim, out.shape, out.handle, out.offset, out.strides,
        index.handle, index.offset, index.strides[0] ?? 1, index.shape[0] ?? 1, src.handle, src.offset, src.strides));
    },

    /** Fused softmax / log-softmax along `dim` (float32). */
    softmax(log: boolean, out: KernelOperand, x: KernelOperand, dim: number): void {
      native.softmax(log, x.shape, dim, out.handle, out.offset, out.strides, x.handle, x.offset, x.strides);
    },
    /** dx from the forward output y and its gradient g. */
    softmaxBackward(log: boolean, dx: KernelOperand, y: KernelOperand, g: KernelOperand, dim: number): void {
      native.softmaxBackward(log, y.shape, dim, dx.handle, dx.offset, dx.strides, y.handle, y.offset, y.strides,
        g.handle, g.offset, g.strides);
    },

    /**
     * Fused batch normalisation over dim 1 of x and y seen as [n, c, l] (float32, strided; weight,
     * bias and the running statistics are strided [c] vectors or null). Training normalises with the
     * batch statistics and updates the running ones in place; eval uses the running ones. Writes
     * the mean and 1/sqrt(var + eps) it used to the contiguous [c] saveMean / saveInvstd.
     */
    batchNormForward(training: boolean, momentum: number, eps: number, y: KernelOperand, x: KernelOperand,
      weight: KernelOperand | null, bias: KernelOperand | null, runningMean: KernelOperand | null,
      runningVar: KernelOperand | null, saveMean: KernelOperand, saveInvstd: KernelOperand): void {
      const vec = (t: KernelOperand | null) => (t ? [t.handle, t.offset, t.strides] : [null, 0, [1]]);
      native.batchNormForward(x.shape, training, momentum, eps, y.handle, y.offset, y.strides, x.handle, x.offset,
        x.strides, ...vec(weight), ...vec(bias), ...vec(runningMean), ...vec(runningVar), saveMean.handle,
        saveMean.offset, saveInvstd.handle, saveInvstd.offset);
    },
    /**
     * Gradients of batchNormForward from g (as x, [n, c, l]) and the saved statistics; dx (strided),
     * dweight and dbias (contiguous [c]) are each written when given.
     */
    batchNormBackward(training: boolean, dx: KernelOperand | null, g: KernelOperand, x: KernelOperand,
      weight: KernelOperand | null, saveMean: KernelOperand, saveInvstd: KernelOperand,
      dweight: KernelOperand | null, dbias: KernelOperand | null): void {
      native.batchNormBackward(x.shape, training, dx ? dx.handle : null, dx ? dx.offset : 0, dx ? dx.strides : x.strides,
        g.handle, g.offset, g.strides, x.handle, x.offset, x.strides, weight ? weight.handle : null,
        weight ? weight.offset : 0, weight ? weight.strides : [1], saveMean.handle, saveMean.offset, saveInvstd.handle,
        saveInvstd.offset, dweight ? dweight.handle : null, dweight ? dweight.offset : 0, dbias ? dbias.handle : null,
        dbias ? dbias.offset : 0);
    },

    // Row-wise fused kernels over a contiguous float32 [rows, cols] matrix (native/common/fused_rows.h):
    // every operand is a contiguous run read from its offset; an optional one may be null.
    /**
     * Layer norm (rms false) or RMS norm (rms true) of each row of x: y = (x - mean) * rstd * weight + bias,
     * rstd = 1 / sqrt(biased var + eps) (mean(x²) + eps for RMS). Writes y and the [rows] mean and rstd.
     */
    rowNormForward(rms: boolean, eps: number, rows: number, cols: number, x: KernelOperand, weight: KernelOperand | null,
      bias: KernelOperand | null, y: KernelOperand, mean: KernelOperand, rstd: KernelOperand): void {
      native.rowNormForward(rows, cols, rms, eps, x.handle, x.offset, weight ? weight.handle : null, weight ? weight.offset : 0,
        bias ? bias.handle : null, bias ? bias.offset : 0, y.handle, y.offset, mean.handle, mean.offset, rstd.handle, rstd.offset);
    },
    /** Gradients of rowNormForward from g and the saved mean / rstd; dx, dweight, dbias each written when given. */
    rowNormBackward(rms: boolean, rows: number, cols: number, g: KernelOperand, x: KernelOperand, weight: KernelOperand | null,
      mean: KernelOperand, rstd: KernelOperand, dx: KernelOperand | null, dweight: KernelOperand | null,
      dbias: KernelOperand | null, accumulateDx = false): void {
      const opt = (t: KernelOperand | null) => (t ? [t.handle, t.offset] : [null, 0]);
      native.rowNormBackward(rows, cols, rms, g.handle, g.offset, x.handle, x.offset, ...opt(weight), mean.handle, mean.offset,
        rstd.handle, rstd.offset, ...opt(dx), ...opt(dweight), ...opt(dbias), accumulateDx);
    },
    /** y = gelu(x + bias) over [rows, cols] with bias [cols]; tanh picks the tanh approximation. */
    biasGeluForward(tanh: boolean, rows: number, cols: number, x: KernelOperand, bias: KernelOperand, y: KernelOperand): void {
      native.biasGeluForward(rows, cols, tanh, x.handle, x.offset, bias.handle, bias.offset, y.handle, y.offset);
    },
    /** dx = g * gelu'(x + bias) and dbias = its column sums, each written when given. */
    biasGeluBackward(tanh: boolean, rows: number, cols: number, g: KernelOperand, x: KernelOperand, bias: KernelOperand,
      dx: KernelOperand | null, dbias: KernelOperand | null): void {
      native.biasGeluBackward(rows, cols, tanh, g.handle, g.offset, x.handle, x.offset, bias.handle, bias.offset,
        dx ? dx.handle : null, dx ? dx.offset : 0, dbias ? dbias.handle : null, dbias ? dbias.offset : 0);
    },
    /**
     * Softmax cross-entropy of logits x [rows, cols] against int32 targets [rows] (optional class
     * weight [cols], ignoreIndex, label smoothing): writes the per-row loss, the target's weight (0
     * when ignored) and the row's logsumexp as a float pair [rows, 2] (hi, lo), reading each row once.
     */
    crossEntropyForward(ignoreIndex: number, labelSmoothing: number, rows: number, cols: number, x: KernelOperand,
      target: KernelOperand, weight: KernelOperand | null, loss: KernelOperand, targetWeight: KernelOperand,
      lse: KernelOperand): void {
      native.crossEntropyForward(rows, cols, ignoreIndex, labelSmoothing, x.handle, x.offset, target.handle, target.offset,
        weight ? weight.handle : null, weight ? weight.offset : 0, loss.handle, loss.offset, targetWeight.handle,
        targetWeight.offset, lse.handle, lse.offset);
    },
    /** dx [rows, cols] of crossEntropyForward's per-row loss from its gradient g [rows] and the saved lse. */
    crossEntropyBackward(ignoreIndex: number, labelSmoothing: number, rows: number, cols: number, x: KernelOperand,
      target: KernelOperand, weight: KernelOperand | null, lse: KernelOperand, g: KernelOperand, dx: KernelOperand): void {
      native.crossEntropyBackward(rows, cols, ignoreIndex, labelSmoothing, x.handle, x.offset, target.handle, target.offset,
        weight ? weight.handle : null, weight ? weight.offset : 0, lse.handle, lse.offset, g.handle, g.offset, dx.handle, dx.offset);
    },

    // 2-d convolution, NCHW float32: `x` may be strided; weight, bias, gradOutput and every output
    // are contiguous.
    conv2d(g: ConvGeometry, out: KernelOperand, x: KernelOperand, weight: KernelOperand, bias: KernelOperand | null): void {
      native.conv2d(convGeometry(g), x.handle, x.offset, x.strides, weight.handle, weight.offset,
        bias ? bias.handle : null, bias ? bias.offset : 0, out.handle, out.offset);
    },
    /** Overwrites gradInput. */
    conv2dInputGrad(g: ConvGeometry, gradInput: KernelOperand, gradOutput: KernelOperand, weight: KernelOperand): void {
      native.conv2dInputGrad(convGeometry(g), gradOutput.handle, gradOutput.offset, weight.handle, weight.offset,
        gradInput.handle, gradInput.offset);
    },
    /** Overwrites gradWeight with the sum over the batch. */
    conv2dWeightGrad(g: ConvGeometry, gradWeight: KernelOperand, x: KernelOperand, gradOutput: KernelOperand): void {
      native.conv2dWeightGrad(convGeometry(g), x.handle, x.offset, x.strides, gradOutput.handle, gradOutput.offset,
        gradWeight.handle, gradWeight.offset);
    },
    conv2dBiasGrad(g: ConvGeometry, gradBias: KernelOperand, gradOutput: KernelOperand): void {
      native.conv2dBiasGrad(convGeometry(g), gradOutput.handle, gradOutput.offset, gradBias.handle, gradBias.offset);
    },
    /**
     * out and indices ([n, k, pool.oh, pool.ow]) = maxPool2d(conv2d(x, weight) + bias), where pool
     * describes the convolution's output; the conv output itself is not kept (the CPU pools each
     * image while it is in cache when the batch is large enough).
     */
    conv2dMaxPool2d(g: ConvGeometry, pool: PoolGeometry, out: KernelOperand, indices: KernelOperand, x: KernelOperand,
      weight: KernelOperand, bias: KernelOperand | null): void {
      native.conv2dMaxPool2d(convGeometry(g), poolGeometry(pool), x.handle, x.offset, x.strides, weight.handle,
        weight.offset, bias ? bias.handle : null, bias ? bias.offset : 0, out.handle, out.offset, indices.handle, indices.offset);
    },
    /**
     * The gradients of a convolution followed by max pooling (geometry pool), from the pooled
     * gradient and the pool's indices (both [n, k, pool.oh, pool.ow], indices oy·ow + ox in the
     * conv output plane); the CPU skips the zeros of the convolution's output gradient where it
     * can. Each target may be null; the others are overwritten.
     */
    conv2dPooledBackward(g: ConvGeometry, pool: PoolGeometry, x: KernelOperand, weight: KernelOperand, gradPooled: KernelOperand,
      indices: KernelOperand, gradInput: KernelOperand | null, gradWeight: KernelOperand | null, gradBias: KernelOperand | null): void {
      native.conv2dPooledBackward(convGeometry(g), poolGeometry(pool), x.handle, x.offset, x.strides, weight.handle,
        weight.offset, gradPooled.handle, gradPooled.offset, indices.handle, indices.offset,
        gradInput ? gradInput.handle : null, gradInput ? gradInput.offset : 0,
        gradWeight ? gradWeight.handle : null, gradWeight ? gradWeight.offset : 0,
        gradBias ? gradBias.handle : null, gradBias ? gradBias.offset : 0);
    },

    // 2-d pooling over NCHW float32: `x` may be strided, the rest is contiguous.
    /** indices (int32): y*w + x of each window's maximum within its plane. */
    maxPool2d(g: PoolGeometry, out: KernelOperand, indices: KernelOperand, x: KernelOperand): void {
      native.maxPool2d(poolGeometry(g), x.handle, x.offset, x.strides, out.handle, out.offset, indices.handle, indices.offset);
    },
    maxPool2dBackward(g: PoolGeometry, gradInput: KernelOperand, gradOutput: KernelOperand, indices: KernelOperand): void {
      native.maxPool2dBackward(poolGeometry(g), gradOutput.handle, gradOutput.offset, indices.handle, indices.offset,
        gradInput.handle, gradInput.offset);
    },
    avgPool2d(g: PoolGeometry, countIncludePad: boolean, out: KernelOperand, x: KernelOperand): void {
      native.avgPool2d(poolGeometry(g), countIncludePad, x.handle, x.offset, x.strides, out.handle, out.offset);
    },
    avgPool2dBackward(g: PoolGeometry, countIncludePad: boolean, gradInput: KernelOperand, gradOutput: KernelOperand): void {
      native.avgPool2dBackward(poolGeometry(g), countIncludePad, gradOutput.handle, gradOutput.offset,
        gradInput.handle, gradInput.offset);
    },
    /** Shapes come from the operands: x [n, c, h, w], out [n, c, oh, ow]. */
    adaptiveAvgPool2d(out: KernelOperand, x: KernelOperand): void {
      native.adaptiveAvgPool2d([...x.shape, out.shape[2], out.shape[3]], x.handle, x.offset, x.strides, out.handle, out.offset);
    },
    adaptiveAvgPool2dBackward(gradInput: KernelOperand, gradOutput: KernelOperand): void {
      native.adaptiveAvgPool2dBackward([...gradInput.shape, gradOutput.shape[2], gradOutput.shape[3]],
        gradOutput.handle, gradOutput.offset, gradInput.handle, gradInput.offset);
    },

    /**
     * Fused attention forward: out = softmax(scale·q kᵀ + mask) v with dropout on the weights,
     * never storing the qLen×kvLen matrix. q [batch, heads, qLen, headDim] and k, v [batch, kvHeads,
     * kvLen, headDim] may be strided; mask (float32 for 'additive', uint8 for 'bool', null for
     * 'none') is [batch, heads, qLen, kvLen] with stride 0 on broadcast dims; out (written through
     * its strides, elements apart) and logsumexp ([batch, heads, qLen], contiguous) are overwritten.
     */
    attentionForward(g: AttentionGeometry, out: KernelOperand, logsumexp: KernelOperand, q: KernelOperand,
      k: KernelOperand, v: KernelOperand, mask: KernelOperand | null): void {
      native.attentionForward(attentionGeometry(g), g.scale, g.dropoutP, q.handle, q.offset, q.strides,
        k.handle, k.offset, k.strides, v.handle, v.offset, v.strides,
        mask ? mask.handle : null, mask ? mask.offset : 0, mask ? mask.strides : [0, 0, 0, 0],
        out.handle, out.offset, out.strides, logsumexp.handle, logsumexp.offset);
    },
    /**
     * The gradients of attentionForward (same geometry, operands and mask) from gradOut, given the
     * forward's out (any strides) and logsumexp; the weights are recomputed tile by tile. gradQ,
     * gradK and gradV are written through their strides (elements apart) and overwritten (with GQA a
     * key/value head sums its query heads).
     */
    attentionBackward(g: AttentionGeometry, gradQ: KernelOperand, gradK: KernelOperand, gradV: KernelOperand,
      q: KernelOperand, k: KernelOperand, v: KernelOperand, mask: KernelOperand | null, out: KernelOperand,
      gradOut: KernelOperand, logsumexp: KernelOperand): void {
      native.attentionBackward(attentionGeometry(g), g.scale, g.dropoutP, q.handle, q.offset, q.strides,
        k.handle, k.offset, k.strides, v.handle, v.offset, v.strides,
        mask ? mask.handle : null, mask ? mask.offset : 0, mask ? mask.strides : [0, 0, 0, 0],
        out.handle, out.offset, out.strides, gradOut.handle, gradOut.offset, gradOut.strides,
        logsumexp.handle, logsumexp.offset, gradQ.handle, gradQ.offset, gradQ.strides, gradK.handle, gradK.offset,
        gradK.strides, gradV.handle, gradV.offset, gradV.strides);
    },

    /**
     * One recurrent layer in one direction over a whole sequence (native/common/rnn.h): x [T, B, I],
     * h0 [B, Hout], c0 [B, H] (LSTM) → out [T, B, Hout], hN, cN, and the workspace the backward
     * reads. Every operand is contiguous float32; null marks an absent bias, projection or cell.
     */
    rnnForward(g: RnnCall, x: RnnBuffer, h0: RnnBuffer, c0: RnnBuffer | null, w: RnnWeightOperands,
      out: RnnBuffer, hN: RnnBuffer, cN: RnnBuffer | null, workspace: RnnBuffer): void {
      native.rnnForward(rnnGeometry(g), g.batchSizes, x.handle, x.offset, h0.handle, h0.offset, ...opt(c0),
        w.wIh.handle, w.wIh.offset, w.wHh.handle, w.wHh.offset, ...opt(w.bIh), ...opt(w.bHh), ...opt(w.wHr),
        out.handle, out.offset, hN.handle, hN.offset, ...opt(cN), workspace.handle, workspace.offset);
    },
    /**
     * The gradients of rnnForward from those of out, hN and cN (null: zero), given its input and
     * workspace; each non-null gradient operand is overwritten, the others are not computed.
     */
    rnnBackward(g: RnnCall, x: RnnBuffer, workspace: RnnBuffer, w: RnnWeightOperands, gradOut: RnnBuffer,
      gradHN: RnnBuffer | null, gradCN: RnnBuffer | null, grads: RnnGradOperands): void {
      native.rnnBackward(rnnGeometry(g), g.batchSizes, x.handle, x.offset, workspace.handle, workspace.offset,
        w.wIh.handle, w.wIh.offset, w.wHh.handle, w.wHh.offset, ...opt(w.wHr), gradOut.handle, gradOut.offset,
        ...opt(gradHN), ...opt(gradCN), ...opt(grads.x), ...opt(grads.h0), ...opt(grads.c0), ...opt(grads.wIh),
        ...opt(grads.wHh), ...opt(grads.bIh), ...opt(grads.bHh), ...opt(grads.wHr));
    },

    /**
     * out = x · mask / (1 - p) over contiguous float32 operands of one size (out may be x), the
     * mask a pure function of (seed, element index): the same seed on the gradient is the backward.
     */
    dropout(p: number, seed: number, out: KernelOperand, x: KernelOperand): void {
      native.dropout(p, seed, x.shape.reduce((a, b) => a * b, 1), out.handle, out.offset, [1], x.handle, x.offset, [1]);
    },

    /** Updates every listed parameter and its moments in place, in one native call. */
    adam(h: AdamHyper, tensors: readonly AdamTensors[]): void {
      const hyper = [h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.decoupled ? 1 : 0, h.maximize ? 1 : 0];
      native.adam(hyper, tensors.map((t) => [t.step, t.param.shape.reduce((a, b) => a * b, 1),
        t.param.handle, t.param.offset, t.grad.handle, t.grad.offset, t.expAvg.handle, t.expAvg.offset,
        t.expAvgSq.handle, t.expAvgSq.offset, t.maxExpAvgSq ? t.maxExpAvgSq.handle : null, t.maxExpAvgSq ? t.maxExpAvgSq.offset : 0]));
    },

    /**
     * See GemmCall. The CPU adds the bias in the GEMM's last store, takes A's row sums from its
     * packed panels and reads Cin where it would read C; the CUDA table takes none of them, so
     * there Cin is copied into C first, the bias is a broadcast add over C after the product and
     * the row sums a reduction of A.
     */
    gemm(c: GemmCall): void {
      const cpu = device === 'cpu';
      const shape = [c.batch, c.m, c.n], strides = [c.c.batchStride, c.c.rowStride, c.c.colStride];
      const fused: unknown[] = [];
      if (cpu && (c.bias || c.aRowSums || c.cIn)) {
        fused.push(c.bias?.handle ?? null, c.bias?.offset ?? 0);
        if (c.aRowSums || c.cIn) fused.push(c.aRowSums?.handle ?? null, c.aRowSums?.offset ?? 0);
        if (c.cIn) fused.push(c.cIn.handle, c.cIn.offset);
      }
      if (c.cIn && !cpu && c.beta !== 0) {
        native.cast(DTYPE_CODE.float32, DTYPE_CODE.float32, shape, c.c.handle, c.c.offset, strides, c.cIn.handle, c.cIn.offset, strides);
      }
      native.gemm(c.m, c.n, c.k, c.batch,
        c.a.handle, c.a.offset, c.a.rowStride, c.a.colStride, c.a.batchStride,
        c.b.handle, c.b.offset, c.b.rowStride, c.b.colStride, c.b.batchStride,
        c.c.handle, c.c.offset, c.c.rowStride, c.c.colStride, c.c.batchStride,
        c.alpha, c.beta, ...fused);
      if (c.aRowSums && !cpu) {
        native.reduce(ReduceOp.Sum, DTYPE_CODE.float32, [c.m], [c.a.rowStride], [c.k], [c.a.colStride], c.a.handle, c.a.offset,
          c.aRowSums.handle, c.aRowSums.offset, [1]);
      }
      if (c.bias && !cpu) {
        native.binary(BinaryOp.Add, DTYPE_CODE.float32, shape, c.c.handle, c.c.offset, strides,
          c.c.handle, c.c.offset, strides, c.bias.handle, c.bias.offset, [0, 0, 1]);
      }
    },
  };
}
