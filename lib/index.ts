// The public API: `import * as kd from 'kindling'`.
export { Tensor, isTensor, numel } from './tensor.js';
export type { NestedArray, TensorOrScalar } from './tensor.js';
export type { DType } from './dtype.js';
export type { Device } from './device.js';
export { KindlingError, ShapeError, DTypeError, DeviceError, ArgumentError } from './errors.js';
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
export { manualSeed } from './random.js';
export { noGrad, enableGrad, isGradEnabled } from './autograd/grad_mode.js';
export { tidy, keep } from './scope.js';
export { memory } from './memory.js';
export type { MemoryInfo, DeviceMemory } from './memory.js';
export { getNumThreads, setNumThreads, cpuIsa, cpuIsaDetected, setCpuIsa } from './runtime.js';
export * as cuda from './cuda.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as data from './data/index.js';
export * as io from './io/index.js';
export * as train from './train/index.js';
