// The layer sequences nn.Sequential runs as one fused op, listed as data: the exact module
// classes in order, and a function that runs them through a fused functional with the values
// and gradients of the layers run one by one. Only instances of the classes themselves match,
// not subclasses (which may override forward). A new fusion is one entry here over its
// functional in lib/nn/functional/.
import { scoped } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { conv2dReluMaxPool2d } from './functional/fused.js';
import { maxPool2d, relu } from './functional/index.js';
import { ReLU } from './layers/activation.js';
import { Conv2d, MaxPool2d } from './layers/conv.js';
import type { Module } from './module.js';

type ModuleClass<M extends Module = Module> = abstract new (...args: never[]) => M;

export interface Fusion {
  /** What the fused run calls, for reading and for tests. */
  readonly name: string;
  readonly pattern: readonly ModuleClass[];
  readonly run: (modules: readonly Module[], input: Tensor) => Tensor;
}

/** A table entry whose run function receives its modules typed as the pattern's classes. */
function fusion<M extends Module[]>(name: string, pattern: { [K in keyof M]: ModuleClass<M[K]> },
  run: (modules: M, input: Tensor) => Tensor): Fusion {
  return { name, pattern: pattern as readonly ModuleClass[], run: run as Fusion['run'] };
}

/** Longer patterns first: the first entry that matches at a position is the one that runs. */
export const fusions: readonly Fusion[] = [
  fusion<[Conv2d, ReLU, MaxPool2d]>('conv2dReluMaxPool2d', [Conv2d, ReLU, MaxPool2d], ([conv, , pool], x) =>
    conv2dReluMaxPool2d(x, conv.weight, conv.bias,
      { stride: conv.stride, padding: conv.padding, dilation: conv.dilation, groups: conv.groups },
      { ...pool.options, kernelSize: pool.kernelSize })),
  // Pooling first: the values and gradients of ReLU then pooling (ReLU is monotone), with the
  // ReLU and its backward touching only the pooled elements.
  fusion<[ReLU, MaxPool2d]>('relu(maxPool2d)', [ReLU, MaxPool2d], ([, pool], x) =>
    scoped(() => relu(maxPool2d(x, pool.kernelSize, pool.options)))),
];

/** The fusion whose pattern matches modules[start], modules[start + 1], ..., if any. */
export function matchFusion(modules: readonly Module[], start: number): Fusion | undefined {
  return fusions.find((f) => f.pattern.length <= modules.length - start &&
    f.pattern.every((cls, j) => Object.getPrototypeOf(modules[start + j]) === cls.prototype));
}
