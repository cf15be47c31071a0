// predict: the model's outputs for every sample of a tensor or a dataset, computed in batches in
// eval mode without grad, and concatenated along dim 0 (Keras's model.predict).
import { noGrad } from '../autograd/grad_mode.js';
import { DataLoader, Dataset } from '../data/dataset.js';
import type { Device } from '../device.js';
import { ArgumentError, ShapeError } from '../errors.js';
import { Module } from '../nn/module.js';
import { cat } from '../ops/shape.js';
import { tidy } from '../scope.js';
import { Tensor } from '../tensor.js';
import { batchesOf, checkPositiveInt, forwardOf, inEvalMode } from './fit.js';

export interface PredictOptions {
  /** Samples per forward pass. Default 32 (Keras's). */
  batchSize?: number;
  /** Moves the model there, and each batch before its forward. */
  device?: Device;
}

/** The inputs of `data` in batches: row slices of a tensor, or the first field of a dataset's batches. */
function* inputBatches(op: string, data: Tensor | Dataset<Tensor[]> | DataLoader, batchSize: number): Generator<Tensor> {
  if (data instanceof Tensor) {
    for (let start = 0; start < data.shape[0]; start += batchSize) yield data.slice(0, start, Math.min(start + batchSize, data.shape[0]));
    return;
  }
  for (const batch of batchesOf(data, batchSize, false, 0)) {
    const [x, ...rest] = Array.isArray(batch) ? batch : [batch];
    for (const t of rest) t.dispose();
    if (!(x instanceof Tensor)) throw new ArgumentError(`${op}: each batch must start with an input tensor`);
    yield x;
  }
}

/**
 * The outputs of `model` for every sample of `data` (a tensor of samples along dim 0, a Dataset
 * whose examples start with the input, or a DataLoader), concatenated along dim 0. Runs in eval
 * mode without grad and puts each module's mode back afterwards.
 */
export function predict(model: Module, data: Tensor | Dataset<Tensor[]> | DataLoader, options: PredictOptions = {}): Tensor {
  const op = 'predict';
  if (!(model instanceof Module)) throw new ArgumentError(`${op}: expected a kd.nn.Module`);
  if (!(data instanceof Tensor || data instanceof Dataset || data instanceof DataLoader)) {
    throw new ArgumentError(`${op}: data must be a Tensor of samples, a kd.data.Dataset or a kd.data.DataLoader`);
  }
  if (!options || typeof options !== 'object') throw new ArgumentError(`${op}: expected options { batchSize?, device? }`);
  if (data instanceof Tensor && data.ndim === 0) throw new ShapeError(`${op}: the input needs a batch dim (samples along dim 0), got a scalar`);
  const batchSize = checkPositiveInt(op, 'batchSize', options.batchSize ?? 32);
  const device = options.device;
  if (device) model.to(device);
  return inEvalMode(model, () => noGrad(() => tidy(() => {
    const outputs: Tensor[] = [];
    for (const x of inputBatches(op, data, batchSize)) {
      const out = tidy(() => forwardOf(op, model, device && x.device !== device ? x.to(device) : x));
      outputs.push(out);
      if (out !== x) x.dispose();
    }
    if (outputs.length === 0) throw new ArgumentError(`${op}: the data has no samples`);
    return outputs.length === 1 ? outputs[0] : cat(outputs, 0);
  })));
}
