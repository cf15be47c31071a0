// What can be checked of the CUDA backend on any machine: it implements every member of the
// Backend interface, a machine without a GPU gets a DeviceError naming the op (never a silent CPU
// fallback), and the binding's CUDA storage table rejects handles that are not its own.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { cpuBackend } from '../../lib/backend/cpu.js';
import { cudaBackend } from '../../lib/backend/cuda.js';
import { native } from '../../lib/native.js';

const members = Object.keys(cpuBackend).filter((k) => k !== 'device').sort();

describe('the CUDA backend surface', () => {
  it('has every Backend member the CPU backend has, as a function', () => {
    expect(cudaBackend.device).toBe('cuda');
    for (const name of members) expect(typeof (cudaBackend as unknown as Record<string, unknown>)[name], name).toBe('function');
  });

  it('the addon exports a CUDA entry point for every kernel the CPU backend calls', () => {
    const table = native.cuda as Record<string, unknown>;
    for (const name of ['alloc', 'dispose', 'readBytes', 'writeBytes', 'readScalar', 'unary', 'binary', 'where', 'cast', 'fill',
      'reduce', 'gather', 'indexSelect', 'scatterAdd', 'indexAdd', 'softmax', 'softmaxBackward', 'gemm', 'conv2d',
      'conv2dInputGrad', 'conv2dWeightGrad', 'conv2dBiasGrad', 'maxPool2d', 'maxPool2dBackward', 'avgPool2d',
      'avgPool2dBackward', 'adaptiveAvgPool2d', 'adaptiveAvgPool2dBackward', 'adam', 'memoryStats', 'emptyCache', 'synchronize'])
      expect(typeof table[name], name).toBe('function');
  });
});

describe.skipIf(kd.cuda.isAvailable())('without a CUDA device (this machine has none)', () => {
  const expected = kd.cuda.isBuilt() ? /no CUDA device is available/ : /kindling was built without CUDA/;

  it('every backend call throws a DeviceError naming the op', () => {
    for (const name of members) {
      const fn = (cudaBackend as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
      let caught: unknown;
      try {
        fn();
      } catch (e) {
        caught = e;
      }
      expect(caught, name).toBeInstanceOf(kd.DeviceError);
      expect((caught as Error).message, name).toMatch(new RegExp(`^${name}: `));
      expect((caught as Error).message, name).toMatch(expected);
    }
  });

  it('t.to("cuda") and kd.zeros on cuda throw a DeviceError', () => {
    const t = kd.ones([3]);
    expect(() => t.to('cuda')).toThrow(kd.DeviceError);
    expect(() => kd.zeros([2], { device: 'cuda' })).toThrow(expected);
    t.dispose();
  });

  it('kd.cuda reports no memory and no devices, and emptyCache is harmless', () => {
    expect(kd.cuda.deviceCount()).toBe(0);
    expect(kd.cuda.memoryAllocated()).toBe(0);
    expect(kd.cuda.memoryReserved()).toBe(0);
    kd.cuda.emptyCache();
    expect(() => kd.cuda.synchronize()).toThrow(kd.DeviceError);
  });
});

describe('the CUDA storage table (binding checks that need no device)', () => {
  const table = native.cuda as Record<string, (...a: unknown[]) => unknown>;

  it('rejects handles that are not live CUDA storages', () => {
    expect(() => table.readBytes(-1, 0, 4)).toThrow(/not a live CUDA storage/);
    expect(() => table.readBytes('x', 0, 4)).toThrow(/not a live CUDA storage/);
    expect(() => table.readScalar(-12345, 0, 0)).toThrow(/not a live CUDA storage/);
    expect(() => table.writeBytes(-3.5, 0, new Uint8Array(4))).toThrow(/not a live CUDA storage/);
  });

  it('rejects a CPU handle, and the CPU table rejects a CUDA-shaped (negative) handle', () => {
    const cpu = native.alloc(16);
    expect(() => table.readBytes(cpu, 0, 4)).toThrow(/not a live CUDA storage/);
    expect(() => native.readBytes(-1, 0, 4)).toThrow(/not a live CPU storage/);
    native.dispose(cpu);
  });

  it('dispose of an unknown handle is a no-op, as on the CPU', () => {
    expect(() => table.dispose(-7)).not.toThrow();
    expect(() => table.dispose(42)).not.toThrow();
  });

  it('kernel entry points check their arguments before touching a device', () => {
    expect(() => table.unary(999, 0, 0, 0, [2], -1, 0, [1], -1, 0, [1])).toThrow(/unary: unknown op/);
    expect(() => table.reduce(0, 2, [], [], [], [], -1, 0, -1, 0, [])).toThrow(/bool input must be cast first/);
    expect(() => table.conv2d([1, 2, 3], -1, 0, [1, 1, 1, 1])).toThrow(/expected 16 geometry values/);
    expect(() => table.adam([1, 2, 3], [])).toThrow(/expected 7 hyperparameters/);
  });
});
