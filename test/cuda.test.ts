import { describe, expect, it } from 'vitest';

import * as kd from '../lib/index.js';

describe('kd.cuda without a GPU', () => {
  const noGpu = !kd.cuda.isAvailable();

  it.skipIf(!noGpu)('calls that need a device raise a DeviceError, not a plain Error', () => {
    const calls: [string, () => unknown][] = [
      ['getDeviceName()', () => kd.cuda.getDeviceName()],
      ['getDeviceName(0)', () => kd.cuda.getDeviceName(0)],
      ['currentDevice()', () => kd.cuda.currentDevice()],
      ['setDevice(0)', () => kd.cuda.setDevice(0)],
      ['synchronize()', () => kd.cuda.synchronize()],
    ];
    for (const [name, call] of calls) {
      expect(call, name).toThrow(kd.DeviceError);
      expect(call, name).toThrow(/cuda|CUDA/);
    }
  });

  it.skipIf(!noGpu)('queries answer as for a machine without a GPU', () => {
    expect(kd.cuda.deviceCount()).toBe(0);
    expect(typeof kd.cuda.isBuilt()).toBe('boolean');
    expect(kd.cuda.memoryStats()).toEqual({ allocated: 0, reserved: 0, peakAllocated: 0, allocations: 0 });
    expect(kd.cuda.memoryAllocated()).toBe(0);
    expect(() => kd.cuda.emptyCache()).not.toThrow();
    expect(() => kd.cuda.resetPeakMemoryStats()).not.toThrow();
    const before = kd.cuda.getAllowTF32();
    kd.cuda.setAllowTF32(!before);
    expect(kd.cuda.getAllowTF32()).toBe(!before);
    kd.cuda.setAllowTF32(before);
  });

  it('bad device indices are errors of the right kind', () => {
    expect(() => kd.cuda.getDeviceName(-1)).toThrow(kd.ArgumentError);
    expect(() => kd.cuda.getDeviceName(1.5)).toThrow(kd.ArgumentError);
    expect(() => kd.cuda.getDeviceName(1000)).toThrow(kd.DeviceError);
    expect(() => kd.cuda.setAllowTF32('yes' as unknown as boolean)).toThrow(kd.ArgumentError);
  });
});
