// kd.nn.functional: the stateless forms of the layers and losses.
export * from './basic.js';
export * from './loss.js';
export { conv1d, conv2d, maxPool2d, avgPool2d, adaptiveAvgPool2d } from '../../ops/conv.js';
export { hardtanh } from './activation.js';
export { groupNorm } from './normalization.js';
export { interpolate } from './interpolate.js';
export type { InterpolateMode, InterpolateOptions } from './interpolate.js';
export { convTranspose2d, unfold } from './convolution.js';
export type { ConvTranspose2dOptions, UnfoldOptions } from './convolution.js';
export { maxPool1d } from './pooling.js';
export type { MaxPool1dOptions, PooledWithIndices } from './pooling.js';
export { conv2dReluMaxPool2d, type MaxPool2dArgs } from './fused.js';
export { pad } from './padding.js';
export type { PadMode, PadOptions } from './padding.js';
export { normalize, cosineSimilarity } from './similarity.js';
export type { NormalizeOptions, CosineSimilarityOptions } from './similarity.js';
export { oneHot } from './encoding.js';
