// kd.train: the training loop, its callbacks, checkpoints for resuming, and training-curve charts.
export { fit, evaluate, countCorrect } from './fit.js';
export type { AnyOptimizer, Callback, DataInput, EvaluateOptions, FitOptions, History, LossInput, MetricName, TrainState } from './fit.js';
export type { Logs } from './progress.js';
export * as callbacks from './callbacks.js';
export { saveCheckpoint, loadCheckpoint, checkpointFiles, historyCurveSvg, historyToJson, historyFromJson } from './checkpoint.js';
export type { LoadedCheckpoint, SaveCheckpointOptions } from './checkpoint.js';
export { trainingCurveSvg } from './plot.js';
export type { TrainingCurveOptions, TrainingHistory } from './plot.js';
