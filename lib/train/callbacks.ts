// Callbacks for fit, as Keras names them: earlyStopping, modelCheckpoint, and lrSchedulerCallback
// (which steps a kd.optim.lrScheduler once per epoch).
import { noGrad } from '../autograd/grad_mode.js';
import { ArgumentError } from '../errors.js';
import { LRScheduler, ReduceLROnPlateau } from '../optim/lr_scheduler.js';
import { keep } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { saveCheckpoint } from './checkpoint.js';
import type { Callback, TrainState } from './fit.js';
import type { Logs } from './progress.js';

export type MonitorMode = 'auto' | 'min' | 'max';

/** 'auto' watches accuracies for a rise and everything else (losses) for a fall. */
function resolveMode(op: string, monitor: string, mode: MonitorMode): 'min' | 'max' {
  if (mode === 'min' || mode === 'max') return mode;
  if (mode !== 'auto') throw new ArgumentError(`${op}: mode must be 'auto', 'min' or 'max', got '${String(mode)}'`);
  return /acc/.test(monitor) ? 'max' : 'min';
}

function monitored(op: string, monitor: string, logs: Logs): number {
  const value = logs[monitor];
  if (value === undefined) {
    const hint = monitor.startsWith('val_') ? ' (pass valData to fit, or monitor a training value)' : '';
    throw new ArgumentError(`${op}: monitor '${monitor}' is not among the logged values ${Object.keys(logs).join(', ')}${hint}`);
  }
  return value;
}

function isImprovement(current: number, best: number, mode: 'min' | 'max', minDelta: number): boolean {
  return mode === 'min' ? current < best - minDelta : current > best + minDelta;
}

export interface EarlyStoppingOptions {
  /** Default 'val_loss'. */
  monitor?: string;
  /** Epochs without improvement to allow before stopping. Default 0. */
  patience?: number;
  /** The least change that counts as an improvement. Default 0. */
  minDelta?: number;
  mode?: MonitorMode;
  /** At the end of training, put back the weights of the best epoch. Default false. */
  restoreBestWeights?: boolean;
}

export interface EarlyStopping extends Callback {
  /** The epoch at which training was stopped, or 0 if it ran to the end. */
  readonly stoppedEpoch: number;
  readonly bestEpoch: number;
  readonly best: number;
}

/** Stops training once `monitor` has not improved for `patience` epochs in a row. */
export function earlyStopping(options: EarlyStoppingOptions = {}): EarlyStopping {
  const op = 'earlyStopping';
  const monitor = options.monitor ?? 'val_loss';
  const mode = resolveMode(op, monitor, options.mode ?? 'auto');
  const patience = options.patience ?? 0;
  if (!Number.isInteger(patience) || patience < 0) throw new ArgumentError(`${op}: patience must be an integer >= 0, got ${patience}`);
  const minDelta = Math.abs(options.minDelta ?? 0);
  if (!Number.isFinite(minDelta)) throw new ArgumentError(`${op}: minDelta must be a finite number, got ${options.minDelta}`);
  const restore = options.restoreBestWeights ?? false;

  let wait = 0;
  let bestWeights: Record<string, Tensor> | null = null;
  const dropBestWeights = () => {
    for (const t of Object.values(bestWeights ?? {})) t.dispose();
    bestWeights = null;
  };
  const self = {
    stoppedEpoch: 0,
    bestEpoch: 0,
    best: mode === 'min' ? Infinity : -Infinity,
    lastEpoch: 0,
    onTrainBegin(): void {
      wait = 0;
      self.stoppedEpoch = 0;
      self.bestEpoch = 0;
      self.best = mode === 'min' ? Infinity : -Infinity;
      dropBestWeights();
    },
    onEpochEnd(epoch: number, logs: Logs, state: TrainState): void {
      const current = monitored(op, monitor, logs);
      self.lastEpoch = epoch;
      if (isImprovement(current, self.best, mode, minDelta)) {
        self.best = current;
        self.bestEpoch = epoch;
        wait = 0;
        if (restore) {
          dropBestWeights();
          bestWeights = noGrad(() => Object.fromEntries(Object.entries(state.model.stateDict()).map(([k, t]) => [k, keep(t.clone())])));
        }
        return;
      }
      wait++;
      if (wait >= patience) {
        state.stopTraining = true;
        self.stoppedEpoch = epoch;
      }
    },
    onTrainEnd(state: TrainState): void {
      if (restore && bestWeights && self.bestEpoch !== self.lastEpoch) state.model.loadStateDict(bestWeights);
      dropBestWeights();
    },
  };
  return self;
}

export interface ModelCheckpointOptions {
  /** The model file, e.g. 'runs/a/model.safetensors'; '{epoch}' in it is replaced by the epoch number. */
  path: string;
  /** Default 'val_loss'. */
  monitor?: string;
  /** Write only when `monitor` improves on the best so far. Default false (every epoch). */
  saveBestOnly?: boolean;
  mode?: MonitorMode;
  /** Also write the optimizer's state beside the model, for resuming. Default true. */
  saveOptimizer?: boolean;
}

/**
 * Writes a checkpoint (see lib/train/checkpoint.ts: the model's state dict, the optimizer state,
 * the history as JSON and the training curve as SVG) at the end of each epoch, or of each
 * epoch that improves `monitor`.
 */
export function modelCheckpoint(options: ModelCheckpointOptions): Callback & { readonly best: number; readonly lastSaved: string | null } {
  const op = 'modelCheckpoint';
  if (!options || typeof options.path !== 'string' || options.path === '') throw new ArgumentError(`${op}: path must be a non-empty string`);
  const monitor = options.monitor ?? 'val_loss';
  const mode = resolveMode(op, monitor, options.mode ?? 'auto');
  const saveBestOnly = options.saveBestOnly ?? false;
  const saveOptimizer = options.saveOptimizer ?? true;
  const self = {
    best: mode === 'min' ? Infinity : -Infinity,
    lastSaved: null as string | null,
    onEpochEnd(epoch: number, logs: Logs, state: TrainState): void {
      if (saveBestOnly) {
        const current = monitored(op, monitor, logs);
        if (!isImprovement(current, self.best, mode, 0)) return;
        self.best = current;
      }
      const path = options.path.replaceAll('{epoch}', String(epoch));
      saveCheckpoint(path, {
        model: state.model,
        optimizer: saveOptimizer ? state.optimizer : undefined,
        epoch,
        history: state.history,
        metadata: monitor in logs ? { monitor, [monitor]: String(logs[monitor]) } : {},
      });
      self.lastSaved = path;
    },
  };
  return self;
}

/**
 * Steps a learning-rate scheduler at the end of every epoch: an epoch-based kd.optim.lrScheduler
 * with step(), or ReduceLROnPlateau with the value of `monitor` (default 'val_loss').
 */
export function lrSchedulerCallback(scheduler: LRScheduler | ReduceLROnPlateau, options: { monitor?: string } = {}): Callback {
  const op = 'lrSchedulerCallback';
  if (!(scheduler instanceof LRScheduler) && !(scheduler instanceof ReduceLROnPlateau)) {
    throw new ArgumentError(`${op}: expected a kd.optim.lrScheduler (StepLR, CosineAnnealingLR, ReduceLROnPlateau, ...)`);
  }
  const monitor = options.monitor ?? 'val_loss';
  return {
    onEpochEnd(_epoch: number, logs: Logs): void {
      if (scheduler instanceof ReduceLROnPlateau) scheduler.step(monitored(op, monitor, logs));
      else scheduler.step();
    },
  };
}
