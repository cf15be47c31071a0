// kd.optim: optimizers, learning-rate schedulers (kd.optim.lrScheduler) and gradient clipping.
export { Optimizer } from './optimizer.js';
export type { OptimizerStateDict, ParamGroup, ParamGroupInput, ParamsInput, ParamState, StateValue } from './optimizer.js';
export { SGD } from './sgd.js';
export type { SGDOptions } from './sgd.js';
export { Adam, AdamW } from './adam.js';
export type { AdamOptions } from './adam.js';
export { RMSprop } from './rmsprop.js';
export type { RMSpropOptions } from './rmsprop.js';
export { Adagrad } from './adagrad.js';
export type { AdagradOptions } from './adagrad.js';
export { clipGradNorm, clipGradValue } from './clip.js';
export { weightDecayGroups } from './param_groups.js';
export type { WeightDecayGroupsOptions } from './param_groups.js';
export * as lrScheduler from './lr_scheduler.js';
