// Type-level checks: this file compiles only if the containers and Tensor.size are typed as
// documented (`npx tsc -p tsconfig.test.json` covers test/); the runtime checks confirm that
// the values behind the types are the ones the types promise.
import { describe, expect, expectTypeOf, it } from 'vitest';

import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';

const { nn } = kd;

describe('typed containers', () => {
  it('Sequential.forward returns a Tensor, and each slot has the type of the module put there', () => {
    const seq = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU(), new nn.Linear(3, 2));
    const y = seq.forward(kd.randn([5, 4]));
    expectTypeOf(y).toEqualTypeOf<Tensor>();
    expect(y.shape).toEqual([5, 2]);

    expectTypeOf(seq[0]).toMatchTypeOf<kd.nn.Linear>();
    expectTypeOf(seq[1]).toMatchTypeOf<kd.nn.ReLU>();
    expectTypeOf(seq.at(2)).toEqualTypeOf<kd.nn.Linear>();
    expect(seq[0].outFeatures).toBe(3);
    expect(seq.at(2).weight.shape).toEqual([2, 3]);
    // @ts-expect-error a ReLU has no weight
    expect(seq[1].weight).toBeUndefined();
    // A slot the type cannot know is a Module.
    expectTypeOf(seq.at(-1)).toMatchTypeOf<kd.nn.Module>();
    expect(seq.at(-1)).toBe(seq[2]);
  });

  it('a Sequential built from a Module[] (or extended by a class) is a plain Sequential', () => {
    const layers: kd.nn.Module[] = [new nn.Linear(2, 2), new nn.Tanh()];
    const seq = new nn.Sequential(...layers);
    expectTypeOf(seq).toMatchTypeOf<kd.nn.Sequential>();
    expectTypeOf(seq[0]).toMatchTypeOf<kd.nn.Module>();

    class Head extends nn.Sequential {
      constructor() {
        super(new nn.Linear(2, 1));
      }
    }
    const head: kd.nn.Sequential = new Head();
    expect(head).toBeInstanceOf(nn.Sequential);
    expect(head.toString()).toBe('Head(\n  (0): Linear(in_features=2, out_features=1, bias=True)\n)');
    expect(new nn.Sequential().constructor.name).toBe('Sequential');
  });

  it('ModuleList<T> gives T by index, at() and iteration; ModuleDict gives each key its module', () => {
    const blocks = new nn.ModuleList([new nn.Linear(2, 2), new nn.Linear(2, 2)]);
    expectTypeOf(blocks[0]).toEqualTypeOf<kd.nn.Linear>();
    expectTypeOf(blocks.at(1)).toEqualTypeOf<kd.nn.Linear>();
    for (const b of blocks) expectTypeOf(b).toEqualTypeOf<kd.nn.Linear>();
    expect(blocks[1].inFeatures).toBe(2);

    const heads = new nn.ModuleDict({ cls: new nn.Linear(4, 3), act: new nn.ReLU() });
    expectTypeOf(heads.get('cls')).toEqualTypeOf<kd.nn.Linear>();
    expectTypeOf(heads.get('other')).toEqualTypeOf<kd.nn.Module | undefined>();
    expect(heads.get('cls').outFeatures).toBe(3);
    expect(heads.get('other')).toBeUndefined();
    const loose = new nn.ModuleDict();
    expectTypeOf(loose.get('x')).toEqualTypeOf<kd.nn.Module | undefined>();
  });

  it('Tensor.size() is number[] and size(dim) is number', () => {
    const t = kd.zeros([2, 3]);
    expectTypeOf(t.size()).toEqualTypeOf<number[]>();
    expectTypeOf(t.size(1)).toEqualTypeOf<number>();
    const cols: number = t.size(-1);
    expect(cols).toBe(3);
    expect(t.size()).toEqual([2, 3]);
  });
});
