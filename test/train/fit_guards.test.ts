import { afterEach, describe, expect, it, vi } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';

const { nn } = kd;

function setup() {
  kd.manualSeed(4);
  const model = new nn.Sequential(new nn.Linear(2, 4), new nn.Tanh(), new nn.Linear(4, 1));
  const optimizer = new kd.optim.SGD(model.parameters(), { lr: 0.1 });
  const x = kd.randn([32, 2]), y = kd.randn([32, 1]);
  return { model, optimizer, trainData: new kd.data.TensorDataset(x, y) };
}

/** MSE, except that the `nanAt`-th call (1-based) returns NaN. */
function lossTurningNaN(nanAt: number): (out: Tensor, target: Tensor) => Tensor {
  let calls = 0;
  return (out, target) => {
    calls++;
    const l = out.sub(target).pow(2).mean();
    return calls === nanAt ? l.mul(NaN) : l;
  };
}

function allFinite(model: kd.nn.Module): boolean {
  return Object.values(model.stateDict()).every((t) => Array.from(t.data()).every(Number.isFinite));
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('fit stops at the first non-finite loss (terminateOnNaN)', () => {
  it('by default: a message naming the epoch and batch, the weights from before that batch, no further epochs', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { model, optimizer, trainData } = setup();
    const history = await kd.train.fit(model, { optimizer, loss: lossTurningNaN(7), trainData, epochs: 5, batchSize: 8, shuffle: false, verbose: 0 });
    // 4 batches per epoch: the 7th loss is epoch 2, batch 3.
    expect(history.epoch).toEqual([1, 2]);
    expect(Number.isFinite(history.history.loss[0])).toBe(true);
    expect(Number.isNaN(history.history.loss[1])).toBe(true);
    expect(allFinite(model)).toBe(true);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/epoch 2, batch 3: the loss is NaN; training stopped \(terminateOnNaN\)/);
  });

  it('terminateOnNaN: false trains on, as before', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { model, optimizer, trainData } = setup();
    const history = await kd.train.fit(model, { optimizer, loss: lossTurningNaN(2), trainData, epochs: 3, batchSize: 8, verbose: 0, terminateOnNaN: false });
    expect(history.epoch).toEqual([1, 2, 3]);
    expect(allFinite(model)).toBe(false);
  });

  it('terminateOnNaN must be a boolean', async () => {
    const { model, optimizer, trainData } = setup();
    await expect(kd.train.fit(model, { optimizer, loss: lossTurningNaN(0), trainData, epochs: 1, verbose: 0, terminateOnNaN: 'no' as unknown as boolean })).rejects.toThrow(kd.ArgumentError);
  });
});

describe('fit checks its callbacks', () => {
  it.each([
    ['a number', [42], /callbacks\[0\] is 42/],
    ['null', [{ onEpochEnd() {} }, null], /callbacks\[1\] is null/],
    ['a string', ['earlyStopping'], /callbacks\[0\] is 'earlyStopping'/],
    ['an object without hooks', [{ onEpochENd() {} }], /callbacks\[0\] is an object, not a callback/],
    ['a hook that is not a function', [{ onEpochEnd: 5 }], /callbacks\[0\]\.onEpochEnd must be a function/],
    ['not an array', { onEpochEnd() {} }, /callbacks must be an array/],
  ])('%s is an ArgumentError naming the entry, before training', async (_, callbacks, message) => {
    const { model, optimizer, trainData } = setup();
    const before = Array.from(model.stateDict()['0.weight'].data());
    const options = { optimizer, loss: lossTurningNaN(0), trainData, epochs: 1, verbose: 0 as const, callbacks: callbacks as unknown as kd.train.Callback[] };
    await expect(kd.train.fit(model, options)).rejects.toThrow(kd.ArgumentError);
    await expect(kd.train.fit(model, options)).rejects.toThrow(message);
    expect(Array.from(model.stateDict()['0.weight'].data())).toEqual(before);
  });

  it('built-in callbacks and class instances with hooks on the prototype are accepted', async () => {
    class Counter {
      epochs = 0;
      onEpochEnd(): void {
        this.epochs++;
      }
    }
    const counter = new Counter();
    const { model, optimizer, trainData } = setup();
    await kd.train.fit(model, { optimizer, loss: lossTurningNaN(0), trainData, epochs: 2, verbose: 0, callbacks: [counter, kd.train.callbacks.earlyStopping({ monitor: 'loss' })] });
    expect(counter.epochs).toBe(2);
  });
});
