// Fused functionals: one op where the layers would run several, with the same values and
// gradients as the layers run one by one. nn.Sequential runs matching layer sequences through
// them (lib/nn/fusion.ts); a hand-written forward calls them directly for the same speed.
import { ArgumentError } from '../../errors.js';
import { conv2dMaxPool2d, type Conv2dOptions, type MaxPool2dOptions, type Size2 } from '../../ops/conv.js';
import { relu } from '../../ops/elementwise.js';
import { biasGelu as biasGeluOp } from '../../ops/fused_rows.js';
import { scoped } from '../../scope.js';
import type { Tensor } from '../../tensor.js';

/** maxPool2d's arguments in one object: the kernel size and the options (stride defaults to it). */
export interface MaxPool2dArgs extends MaxPool2dOptions {
  kernelSize: Size2;
}

/**
 * maxPool2d(relu(conv2d(input, weight, bias, convOptions)), poolOptions.kernelSize, poolOptions)
 * as one convolution-and-pooling node followed by a ReLU on the pooled output. ReLU is
 * monotone, so pooling first gives the same values and routes the gradient to the same
 * elements, while the ReLU touches only the pooled elements; and the node's backward goes from
 * the pooled gradient straight to the convolution's gradients, skipping the zeros a
 * separate pooling backward would write. Takes the arguments of conv2d and maxPool2d.
 */
export function conv2dReluMaxPool2d(input: Tensor, weight: Tensor, bias: Tensor | null | undefined,
  convOptions: Conv2dOptions, poolOptions: MaxPool2dArgs): Tensor {
  if (poolOptions === null || typeof poolOptions !== 'object' || poolOptions.kernelSize === undefined) {
    throw new ArgumentError('conv2dReluMaxPool2d: poolOptions must give kernelSize (and optionally stride, padding, dilation, ceilMode)');
  }
  const { kernelSize, ...pool } = poolOptions;
  return scoped(() => relu(conv2dMaxPool2d(input, weight, bias, convOptions ?? {}, kernelSize, pool)));
}

export interface BiasGeluOptions {
  /** 'none' (default): the exact form x·Φ(x); 'tanh': PyTorch's tanh approximation. */
  approximate?: 'none' | 'tanh';
}

/**
 * gelu(x + bias) for x [..., n] and bias [n] as one node with one-pass kernels forward and
 * backward (the backward gives dx and dbias, the sum of dx over the rows). PyTorch has no single
 * function for it: the values and gradients are those of F.gelu(x + bias, approximate), without
 * the intermediate x + bias tensor. float32.
 */
export function biasGelu(x: Tensor, bias: Tensor, options: BiasGeluOptions = {}): Tensor {
  if (options === null || typeof options !== 'object') throw new ArgumentError('biasGelu: options must be an object');
  return biasGeluOp(x, bias, options.approximate ?? 'none');
}
