// The public API: `import * as kd from 'kindling'`.
export { Tensor, isTensor, numel } from './tensor.js';
export type { NestedArray, TensorOrScalar } from './tensor.js';
export type { DType } from './dtype.js';
export type { Device } from './device.js';
export { KindlingError, ShapeError, DTypeError, DeviceError, ArgumentError, IOError, DataError } from './errors.js';
export {
  tensor, zeros, ones, full, empty, rand, randn, randint, arange, linspace, eye,
  zerosLike, onesLike, fullLike, randLike, randnLike,
} from './ops/creation.js';
export type { TensorOptions } from './ops/creation.js';
export { cat, stack } from './ops/shape.js';
export { where, clamp } from './ops/elementwise.js';
export { mm, bmm, addmm, baddbmm, dot, outer, kron, cross, norm } from './ops/linalg.js';
export type { AddmmOptions, NormOrder } from './ops/linalg.js';
export { sinh, cosh, trunc, fmod, lerp, clip, isnan, isinf, isfinite, allclose } from './ops/pointwise.js';
export type { AllcloseOptions } from './ops/pointwise.js';
export { t, broadcastTo, tile, repeatInterleave, roll, diag, diagonal } from './ops/rearrange.js';
export { maskedSelect, nonzero, unique, median, scatter } from './ops/select.js';
export type { NonzeroOptions, UniqueOptions, ScatterReduce } from './ops/select.js';
export { matmul } from './ops/matmul.js';
export * from './ops/functions.js';
export { sort, argsort, topk } from './ops/sorting.js';
export type { SortOptions, TopkOptions, ValuesIndices } from './ops/sorting.js';
export { cumsum, cumprod } from './ops/scan.js';
export { triu, tril } from './ops/triangular.js';
export { any, all } from './ops/logical.js';
export { unbind } from './ops/unbind.js';
export { einsum } from './ops/einsum.js';
export { multinomial, bernoulli } from './ops/random_ops.js';
export type { MultinomialOptions, BernoulliOptions } from './ops/random_ops.js';
export { manualSeed, Generator, getRngState, setRngState } from './random.js';
export { noGrad, enableGrad, isGradEnabled } from './autograd/grad_mode.js';
export { tidy, keep } from './scope.js';
export { memory } from './memory.js';
export type { MemoryInfo, DeviceMemory } from './memory.js';
export { getNumThreads, setNumThreads, cpuIsa, cpuIsaDetected, setCpuIsa } from './runtime.js';
export * as cuda from './cuda.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as data from './data/index.js';
export * as text from './text/index.js';
export * as io from './io/index.js';
export * as train from './train/index.js';
export * as models from './models/index.js';
