// What can be checked of the CUDA backend on any machine: it implements every member of the
// Backend interface (the list taken from the CPU backend object), the addon's CUDA table has every
// native function those members call (found by running the CPU backend over a recording table), a machine without a GPU gets a DeviceError naming the op (never a silent CPU
// fallback), and the binding's CUDA storage table rejects handles that are not its own.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { cpuBackend } from '../../lib/backend/cpu.js';
import { cudaBackend } from '../../lib/backend/cuda.js';
import { nativeBackend } from '../../lib/backend/native_backend.js';
import { native } from '../../lib/native.js';

// The Backend members, from the CPU backend object itself.
const members = Object.keys(cpuBackend).filter((k) => k !== 'device').sort();

// One stand-in for every argument a backend member takes: an operand (handle, offset, shape,
// strides, dtype), a geometry (every field 1), a GEMM call (a, b, c), an Adam entry (param, grad,
// ... all itself), recurrent weights and gradients (wIh, x, ...: itself) and a list of one of them, all at once.
function anyArgument(): unknown {
  const arg = Object.assign([] as unknown[], {
    handle: 0, offset: 0, shape: [1, 1, 1, 1], strides: [1, 1, 1, 1], dtype: 'float32', step: 1,
    n: 1, c: 1, h: 1, w: 1, k: 1, kh: 1, kw: 1, oh: 1, ow: 1, strideH: 1, strideW: 1, padH: 0, padW: 0,
    dilationH: 1, dilationW: 1, groups: 1, m: 1, batch: 1, rowStride: 1, colStride: 1, batchStride: 1, alpha: 1, beta: 0,
    lr: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, maximize: false,
  });
  for (const key of ['a', 'b', 'c', 'param', 'grad', 'expAvg', 'expAvgSq', 'maxExpAvgSq', 'x', 'h0', 'c0', 'wIh', 'wHh', 'bIh', 'bHh', 'wHr']) (arg as unknown as Record<string, unknown>)[key] = arg;
  arg.push(arg);
  return arg;
}

// The native entry points each Backend member calls: the CPU backend's code run over a table
// that records the names it is asked for.
function nativeCallsByMember(): Map<string, string[]> {
  let calls: string[] = [];
  const recorder = new Proxy({}, {
    get: (_target, name) => () => {
      calls.push(String(name));
      return null;
    },
  });
  const backend = nativeBackend('cpu', recorder) as unknown as Record<string, (...a: unknown[]) => unknown>;
  const byMember = new Map<string, string[]>();
  for (const name of members) {
    calls = [];
    backend[name](...Array.from({ length: 12 }, anyArgument));
    byMember.set(name, calls);
  }
  return byMember;
}

describe('the CUDA backend surface', () => {
  it('has every Backend member the CPU backend has, as a function', () => {
    expect(cudaBackend.device).toBe('cuda');
    for (const name of members) expect(typeof (cudaBackend as unknown as Record<string, unknown>)[name], name).toBe('function');
  });

  it('the addon exports a CUDA entry point for every native function a Backend member calls', () => {
    const table = native.cuda as Record<string, unknown>;
    const byMember = nativeCallsByMember();
    for (const [member, calls] of byMember) {
      expect(calls.length, `${member} calls the addon`).toBeGreaterThan(0);
      for (const name of calls) {
        expect(typeof native[name], `${member} -> ${name} (CPU)`).toBe('function');
        expect(typeof table[name], `${member} -> ${name} (CUDA)`).toBe('function');
      }
    }
    expect(byMember.get('conv2dMaxPool2d')).toEqual(['conv2dMaxPool2d']);
    expect(byMember.get('adam')).toEqual(['adam']);
  });

  it('the CUDA runtime entry points kd.cuda uses exist', () => {
    const table = native.cuda as Record<string, unknown>;
    for (const name of ['memoryStats', 'emptyCache', 'synchronize']) expect(typeof table[name], name).toBe('function');
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

  it.runIf(kd.cuda.isBuilt())('kernel entry points check their arguments before touching a device', () => {
    expect(() => table.unary(999, 0, 0, 0, [2], -1, 0, [1], -1, 0, [1])).toThrow(/unary: unknown op/);
    expect(() => table.reduce(0, 2, [], [], [], [], -1, 0, -1, 0, [])).toThrow(/bool input must be cast first/);
    expect(() => table.conv2d([1, 2, 3], -1, 0, [1, 1, 1, 1])).toThrow(/expected 16 geometry values/);
    expect(() => table.adam([1, 2, 3], [])).toThrow(/expected 7 hyperparameters/);
  });

  it.skipIf(kd.cuda.isBuilt())('in a build without CUDA every kernel entry point has the CPU name and says so', () => {
    const kernels = Object.keys(native).filter((name) => typeof native[name] === 'function' && name in table);
    expect(kernels).toContain('conv2dMaxPool2d');
    for (const name of ['unary', 'reduce', 'gemm', 'softmax', 'gather', 'conv2d', 'maxPool2d', 'adam'])
      expect(() => table[name](), name).toThrow(new RegExp(`^${name}: kindling was built without CUDA`));
  });
});
