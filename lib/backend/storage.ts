// A block of device memory shared by a tensor and its views. Reference-counted: each tensor
// holding it counts once, and the block is freed when the last one is disposed. A block nobody
// disposed is freed when the garbage collector drops its Storage: a CPU block by a native
// finalizer that runs during the collection itself (so a synchronous loop that never lets the
// event loop turn still gets its memory back), a CUDA block by a FinalizationRegistry callback.
// A CPU block's bytes count in V8's external memory (what makes it collect) only from when a
// tensor over it leaves every tidy scope undisposed (exposeToCollector).
import type { Device } from '../device.js';
import { ArgumentError } from '../errors.js';
import { native } from '../native.js';
import { backendFor } from './index.js';

const forgotten = new FinalizationRegistry<{ device: Device; handle: unknown; bytes: number }>(({ device, handle, bytes }) => {
  backendFor(device).free(handle);
  untracked.storages--;
  untracked.bytes -= bytes;
});

/** CUDA storages (the native CPU table counts its own blocks, freed during collections). */
const untracked = { storages: 0, bytes: 0 };

export interface DeviceMemory {
  /** Live storages: a tensor and its views share one. */
  tensors: number;
  /** Their sizes in bytes. */
  bytes: number;
}

/** @internal Live storages and their bytes per device, as kd.memory() reports them. */
export function deviceMemory(): { cpu: DeviceMemory; cuda: DeviceMemory } {
  const cpu = native.memoryStats() as { blocks: number; bytes: number };
  return { cpu: { tensors: cpu.blocks, bytes: cpu.bytes }, cuda: { tensors: untracked.storages, bytes: untracked.bytes } };
}

/** @internal Storages allocated and not yet freed (by dispose or the collector); memory tests watch it. */
export function liveStorageCount(): number {
  return (native.memoryStats() as { blocks: number }).blocks + untracked.storages;
}

export class Storage {
  private refs = 1;
  private exposed = false;
  /** Bumped by every in-place write, so autograd can tell a saved tensor was overwritten. */
  version = 0;

  constructor(readonly device: Device, readonly handle: unknown, readonly bytes: number) {
    if (device === 'cpu') {
      native.freeWhenCollected(this, handle);
    } else {
      forgotten.register(this, { device, handle, bytes }, this);
      untracked.storages++;
      untracked.bytes += bytes;
    }
  }

  static allocate(device: Device, bytes: number): Storage {
    return new Storage(device, backendFor(device).alloc(bytes), bytes);
  }

  /**
   * Tells the garbage collector about this block's bytes (CPU; once): a tensor over it is held by
   * no tidy scope, so if the program forgets it only a collection frees it. Blocks made and freed
   * inside scopes are never counted, so a training step's temporaries do not start collections.
   */
  exposeToCollector(): void {
    if (this.exposed || this.refs <= 0) return;
    this.exposed = true;
    if (this.device === 'cpu') native.exposeToCollector(this.handle);
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
      backendFor(this.device).free(this.handle);
      if (this.device !== 'cpu') {
        forgotten.unregister(this);
        untracked.storages--;
        untracked.bytes -= this.bytes;
      }
    }
  }
}
