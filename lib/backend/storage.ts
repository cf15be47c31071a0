// A block of device memory shared by a tensor and its views. Reference-counted: each tensor
// holding it counts once, and the block is freed when the last one is disposed. A block nobody
// disposed is freed after the garbage collector drops its Storage (a FinalizationRegistry
// callback; the handle itself is a plain number, so dropping it costs nothing).
import type { Device } from '../device.js';
import { ArgumentError } from '../errors.js';
import { backendFor } from './index.js';

const forgotten = new FinalizationRegistry<{ device: Device; handle: unknown }>(({ device, handle }) => {
  backendFor(device).free(handle);
  live--;
});

let live = 0;

/** @internal Storages allocated and not yet freed (by dispose or the collector); memory tests watch it. */
export function liveStorageCount(): number {
  return live;
}

export class Storage {
  private refs = 1;
  /** Bumped by every in-place write, so autograd can tell a saved tensor was overwritten. */
  version = 0;

  constructor(readonly device: Device, readonly handle: unknown, readonly bytes: number) {
    forgotten.register(this, { device, handle }, this);
    live++;
  }

  static allocate(device: Device, bytes: number): Storage {
    return new Storage(device, backendFor(device).alloc(bytes), bytes);
  }

  get freed(): boolean {
    return this.refs <= 0;
  }

  retain(): void {
    if (this.refs <= 0) throw new ArgumentError('storage: cannot use a tensor after dispose()');
    this.refs++;
  }

  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) {
      forgotten.unregister(this);
      backendFor(this.device).free(this.handle);
      live--;
    }
  }
}
