// A node with acceptsInto (the fused layer norm) adds its input's gradient onto the gradient the
// engine already holds for that input, in place (a pre-norm block's x + f(LN(x)): the residual's
// gradient is pending when LN's backward runs), instead of returning a new tensor the engine then
// adds. The gradients must be exactly those of the route that adds afterwards, and the engine must
// not hand over a pending gradient that anything else holds.
import { afterEach, describe, expect, it } from 'vitest';

import { cpuBackend } from '../../lib/backend/cpu.js';
import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, freshSeed, makeRng, randomTensor } from '../helpers.js';

// Records each layer-norm backward's accumulate flag and the in-place adds the engine runs.
const original = { rowNormBackward: cpuBackend.rowNormBackward, binary: cpuBackend.binary };
const log: string[] = [];
function spy(): void {
  log.length = 0;
  cpuBackend.rowNormBackward = (...args: Parameters<typeof original.rowNormBackward>) => {
    log.push(`norm ${args[11] ? 'accumulate' : 'write'}`);
    return original.rowNormBackward(...args);
  };
  cpuBackend.binary = (...args: Parameters<typeof original.binary>) => {
    if (args[1].handle === args[2].handle) log.push('add in place');
    return original.binary(...args);
  };
}
afterEach(() => Object.assign(cpuBackend, original));

/** The gradients of sum(r · f(a, w, b)) for fresh leaves a, w, b. */
function grads(f: (a: Tensor, w: Tensor, b: Tensor) => Tensor, seed: number): Float32Array[] {
  return kd.tidy(() => {
    const rng = makeRng(seed);
    const a = randomTensor(rng, [6, 40], -1, 1, true).t;
    const w = randomTensor(rng, [40], 0.5, 1.5, true).t;
    const b = randomTensor(rng, [40], -1, 1, true).t;
    const out = f(a, w, b);
    out.mul(randomTensor(rng, out.shape as number[]).t).sum().backward();
    return [a, w, b].map((t) => Float32Array.from(t.grad!.data() as Float32Array));
  });
}

/** got within 1e-6 of want (relative L2 error per input): the fused add may round once, not twice. */
function expectSame(got: Float32Array[], want: Float32Array[], context: string): void {
  got.forEach((g, i) => expectClose(g, want[i], 1e-6, `input ${i} ${context}`));
}

describe('a layer norm adds its input gradient onto the pending one', () => {
  it('x + 2·LN(x): the gradients of adding afterwards, with no separate add', () => {
    const seed = freshSeed();
    spy();
    const fused = grads((a, w, b) => { const x = a.mul(1.5); return x.add(kd.nn.functional.layerNorm(x, [40], w, b).mul(2)); }, seed);
    expect(log).toEqual(['norm accumulate']);
    spy();
    // LN reads its own copy of x: its gradient lands on a node nothing else feeds, and the engine
    // adds the two at x.
    const added = grads((a, w, b) => { const x = a.mul(1.5); return x.add(kd.nn.functional.layerNorm(x.mul(1), [40], w, b).mul(2)); }, seed);
    expect(log).toEqual(['norm write', 'add in place']);
    expectSame(fused, added, `seed ${seed}`);
  });

  it('x + LN(x): add hands one gradient to both, which LN reads, so it writes a new one', () => {
    const seed = freshSeed();
    spy();
    const direct = grads((a, w, b) => { const x = a.mul(1.5); return x.add(kd.nn.functional.layerNorm(x, [40], w, b)); }, seed);
    expect(log).toEqual(['norm write', 'add in place']);
    const copied = grads((a, w, b) => { const x = a.mul(1.5); return x.add(kd.nn.functional.layerNorm(x.mul(1), [40], w, b)); }, seed);
    expectSame(direct, copied, `seed ${seed}`);
  });

  it('two pre-norm blocks (x + linear(LN(x)) twice): the same gradients as the unfused route', () => {
    const seed = freshSeed();
    kd.manualSeed(seed);
    const l1 = new kd.nn.Linear(40, 40), l2 = new kd.nn.Linear(40, 40);
    const block = (x: Tensor, w: Tensor, b: Tensor, l: kd.nn.Linear, copy: boolean) =>
      x.add(l.forward(kd.nn.functional.layerNorm(copy ? x.mul(1) : x, [40], w, b)));
    spy();
    const fused = grads((a, w, b) => block(block(a.mul(1), w, b, l1, false), w, b, l2, false), seed);
    expect(log.filter((e) => e.startsWith('norm'))).toEqual(['norm accumulate', 'norm accumulate']);
    const added = grads((a, w, b) => block(block(a.mul(1), w, b, l1, true), w, b, l2, true), seed);
    expectSame(fused, added, `seed ${seed}`);
  });

  it('writes a new gradient when the pending one is not the engine\'s alone', () => {
    const seed = freshSeed();
    spy();
    // x's pending gradient is the same tensor another input also holds (add hands g to both).
    const viaAdd = grads((a, w, b) => { const x = a.mul(1); const y = x.add(x); return y.add(kd.nn.functional.layerNorm(y, [40], w, b)); }, seed);
    const reference = grads((a, w, b) => { const x = a.mul(1); const y = x.mul(2); return y.add(kd.nn.functional.layerNorm(y.mul(1), [40], w, b)); }, seed);
    expectSame(viaAdd, reference, `seed ${seed}`);
  });

  it('leaves createGraph backwards alone (they record the backward instead)', () => {
    const seed = freshSeed();
    const rng = makeRng(seed);
    const a = randomTensor(rng, [3, 8], -1, 1, true).t;
    const x = a.mul(1);
    const y = x.add(kd.nn.functional.layerNorm(x, [8]).mul(2));
    spy();
    y.square().sum().backward(undefined, { createGraph: true });
    expect(a.grad!.requiresGrad).toBe(true);
    expect(log.filter((e) => e.startsWith('norm'))).toEqual([]);  // the composed backward, recorded
  });
});
