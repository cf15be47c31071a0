// What kindling holds: kd.memory() (live storages and bytes per device), and the one-time
// warning when live tensors keep growing from one optimizer step to the next, the mark of a loop
// that keeps references it does not need (a list of losses, a graph held across steps).
import { type DeviceMemory, deviceMemory, liveStorageCount } from './backend/storage.js';

export type { DeviceMemory };

export interface MemoryInfo {
  cpu: DeviceMemory;
  cuda: DeviceMemory;
}

/**
 * Live tensors and their bytes per device: `{ cpu: { tensors, bytes }, cuda: { tensors, bytes } }`.
 * A tensor and its views share one storage and count once; a tensor a program forgot counts until
 * the garbage collector frees it.
 */
export function memory(): MemoryInfo {
  return deviceMemory();
}

// The watch: every WINDOW_STEPS optimizer steps, the smallest live-storage count seen in the
// window is compared with the previous window's. Storages a loop merely forgot go up and down
// with garbage collections; storages it holds go only up. When at least RISING_WINDOWS of the
// last WINDOWS windows rose (a collection that frees older garbage may dip one), by
// GROWTH_STORAGES in all, the watch warns, once per process.
const WINDOW_STEPS = 200;
const WINDOWS = 10;
const RISING_WINDOWS = 8;
const GROWTH_STORAGES = 500;

const watch = { steps: 0, windowMin: Infinity, mins: [] as number[], warned: false };

/** @internal Optimizer.step calls this after every step. */
export function noteOptimizerStep(): void {
  if (watch.warned) return;
  watch.windowMin = Math.min(watch.windowMin, liveStorageCount());
  if (++watch.steps % WINDOW_STEPS !== 0) return;
  watch.mins.push(watch.windowMin);
  watch.windowMin = Infinity;
  if (watch.mins.length > WINDOWS + 1) watch.mins.shift();
  const m = watch.mins;
  if (m.length <= WINDOWS || m[m.length - 1] - m[0] < GROWTH_STORAGES) return;
  let rises = 0;
  for (let i = 1; i < m.length; i++) if (m[i] > m[i - 1]) rises++;
  if (rises < RISING_WINDOWS) return;
  watch.warned = true;
  process.emitWarning(
    `kindling: live tensors kept growing over the last ${WINDOWS * WINDOW_STEPS} optimizer steps ` +
    `(${m[0]} -> ${m[m.length - 1]} storages): the loop keeps references to tensors it does not need ` +
    '(a list of losses? keep loss.item() instead). Wrap the step in kd.tidy(() => ...) or dispose() what it made; ' +
    'kd.memory() reports what is live.',
    { type: 'KindlingMemoryWarning', code: 'KINDLING_TENSORS_GROWING' },
  );
}

/** @internal For tests: forget what the watch has seen, and whether it warned. */
export function resetMemoryWatch(): void {
  watch.steps = 0;
  watch.windowMin = Infinity;
  watch.mins = [];
  watch.warned = false;
}
