// kd.train: the training loop, its metrics, predict, callbacks, checkpoints for resuming, and
// training-curve charts; importing it installs the Keras workflow (model.compile / fit / ...).
import './keras.js';
import { accuracy, topKAccuracy } from './metrics.js';
export { fit, evaluate } from './fit.js';
export type { AnyOptimizer, Callback, DataInput, EvaluateOptions, FitOptions, History, LossInput, Regularizer, TrainState } from './fit.js';
export { predict } from './predict.js';
export type { PredictOptions } from './predict.js';
export { countCorrect } from './metrics.js';
export type { AccuracyOptions, MetricFn, MetricInput, MetricName, TopKAccuracyOptions } from './metrics.js';
/** Metrics with options, for `metrics: [...]`: accuracy({ threshold }), topKAccuracy({ k }). */
export const metrics = { accuracy, topKAccuracy } as const;
export type { CompileOptions, LossName, ModelEvaluateOptions, ModelFitOptions, OptimizerName, ValidationData } from './keras.js';
export type { Logs } from './progress.js';
export * as callbacks from './callbacks.js';
export { saveCheckpoint, loadCheckpoint, checkpointFiles, historyCurveSvg, historyToJson, historyFromJson } from './checkpoint.js';
export type { LoadedCheckpoint, SaveCheckpointOptions } from './checkpoint.js';
export { trainingCurveSvg } from './plot.js';
export type { TrainingCurveOptions, TrainingHistory } from './plot.js';
