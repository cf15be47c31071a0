// kd.nn: modules, layers, losses, initialisation and the functional forms.
export { Module, Parameter, isParameter } from './module.js';
export type { LoadResult } from './module.js';
export { Sequential, ModuleList, ModuleDict } from './layers/container.js';
export { Linear, Identity, Flatten, Unflatten, Embedding } from './layers/linear.js';
export { Conv1d, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d } from './layers/conv.js';
export { BatchNorm1d, BatchNorm2d, LayerNorm, RMSNorm, Dropout } from './layers/normalization.js';
export { ReLU, LeakyReLU, GELU, SiLU, Sigmoid, Tanh, ELU, Softplus, Softmax, LogSoftmax } from './layers/activation.js';
export { ConvTranspose2d } from './layers/conv_transpose.js';
export type { ConvTranspose2dOptions } from './layers/conv_transpose.js';
export { GroupNorm } from './layers/group_norm.js';
export type { GroupNormOptions } from './layers/group_norm.js';
export { MaxPool1d } from './layers/pooling.js';
export { Upsample } from './layers/upsample.js';
export type { UpsampleOptions } from './layers/upsample.js';
export { Hardtanh } from './layers/hardtanh.js';
export * from './loss.js';
export * as functional from './functional/index.js';
export * as init from './init.js';
