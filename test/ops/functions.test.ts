// The top-level forms of Tensor methods (kd.exp(x) as x.exp(), kd.sum(x, 1), kd.max(x, 1), kd.var)
// give the method's values and gradients and reject a non-tensor input with the op's name; and
// the { values, indices } results of max/min/median/sort/topk unpack as [values, indices], as
// PyTorch's named tuples do.
import { describe, expect, it } from 'vitest';

import * as kd from '../../lib/index.js';
import { expectError } from '../helpers.js';

const x = () => kd.tensor([[0.5, -1.25, 2], [3, 0.75, -0.5]]);
const y = () => kd.tensor([[1.5, 2, -0.25], [0.5, -3, 4]]);

// [name, the top-level call, the method call] on fresh inputs.
const CASES: [string, () => kd.Tensor, () => kd.Tensor][] = [
  ['abs', () => kd.abs(x()), () => x().abs()],
  ['neg', () => kd.neg(x()), () => x().neg()],
  ['exp', () => kd.exp(x()), () => x().exp()],
  ['log', () => kd.log(y().abs()), () => y().abs().log()],
  ['sqrt', () => kd.sqrt(y().abs()), () => y().abs().sqrt()],
  ['rsqrt', () => kd.rsqrt(y().abs()), () => y().abs().rsqrt()],
  ['sin', () => kd.sin(x()), () => x().sin()],
  ['cos', () => kd.cos(x()), () => x().cos()],
  ['tanh', () => kd.tanh(x()), () => x().tanh()],
  ['sigmoid', () => kd.sigmoid(x()), () => x().sigmoid()],
  ['relu', () => kd.relu(x()), () => x().relu()],
  ['erf', () => kd.erf(x()), () => x().erf()],
  ['expm1', () => kd.expm1(x()), () => x().expm1()],
  ['log1p', () => kd.log1p(y().abs()), () => y().abs().log1p()],
  ['square', () => kd.square(x()), () => x().square()],
  ['reciprocal', () => kd.reciprocal(y()), () => y().reciprocal()],
  ['floor', () => kd.floor(x()), () => x().floor()],
  ['ceil', () => kd.ceil(x()), () => x().ceil()],
  ['round', () => kd.round(x()), () => x().round()],
  ['sign', () => kd.sign(x()), () => x().sign()],
  ['add', () => kd.add(x(), y(), 2), () => x().add(y(), 2)],
  ['sub', () => kd.sub(x(), 1.5), () => x().sub(1.5)],
  ['mul', () => kd.mul(x(), y()), () => x().mul(y())],
  ['div', () => kd.div(x(), y()), () => x().div(y())],
  ['pow', () => kd.pow(y().abs(), 1.5), () => y().abs().pow(1.5)],
  ['maximum', () => kd.maximum(x(), y()), () => x().maximum(y())],
  ['minimum', () => kd.minimum(x(), y()), () => x().minimum(y())],
  ['remainder', () => kd.remainder(x(), 0.7), () => x().remainder(0.7)],
  ['eq', () => kd.eq(x(), 2), () => x().eq(2)],
  ['ne', () => kd.ne(x(), 2), () => x().ne(2)],
  ['lt', () => kd.lt(x(), y()), () => x().lt(y())],
  ['le', () => kd.le(x(), y()), () => x().le(y())],
  ['gt', () => kd.gt(x(), y()), () => x().gt(y())],
  ['ge', () => kd.ge(x(), y()), () => x().ge(y())],
  ['logicalAnd', () => kd.logicalAnd(x().gt(0), y().gt(0)), () => x().gt(0).logicalAnd(y().gt(0))],
  ['logicalOr', () => kd.logicalOr(x().gt(0), y().gt(0)), () => x().gt(0).logicalOr(y().gt(0))],
  ['logicalNot', () => kd.logicalNot(x().gt(0)), () => x().gt(0).logicalNot()],
  ['logicalXor', () => kd.logicalXor(x().gt(0), y().gt(0)), () => x().gt(0).logicalXor(y().gt(0))],
  ['sum', () => kd.sum(x(), 1), () => x().sum(1)],
  ['mean', () => kd.mean(x(), 0, true), () => x().mean(0, true)],
  ['prod', () => kd.prod(x(), 1), () => x().prod(1)],
  ['std', () => kd.std(x(), 1), () => x().std(1)],
  ['var', () => kd.var(x(), 1, { correction: 0 }), () => x().var(1, { correction: 0 })],
  ['amax', () => kd.amax(x(), 0), () => x().amax(0)],
  ['amin', () => kd.amin(x(), 1), () => x().amin(1)],
  ['argmax', () => kd.argmax(x(), 1), () => x().argmax(1)],
  ['argmin', () => kd.argmin(x(), 0), () => x().argmin(0)],
  ['logsumexp', () => kd.logsumexp(x(), 1), () => x().logsumexp(1)],
  ['softmax', () => kd.softmax(x(), -1), () => x().softmax(-1)],
  ['logSoftmax', () => kd.logSoftmax(x(), 0), () => x().logSoftmax(0)],
  ['reshape', () => kd.reshape(x(), [3, 2]), () => x().reshape([3, 2])],
  ['transpose', () => kd.transpose(x(), 0, 1), () => x().transpose(0, 1)],
  ['permute', () => kd.permute(x(), [1, 0]), () => x().permute([1, 0])],
  ['squeeze', () => kd.squeeze(x().reshape([1, 2, 3]), 0), () => x().reshape([1, 2, 3]).squeeze(0)],
  ['unsqueeze', () => kd.unsqueeze(x(), 1), () => x().unsqueeze(1)],
  ['flatten', () => kd.flatten(x()), () => x().flatten()],
  ['narrow', () => kd.narrow(x(), 1, 1, 2), () => x().narrow(1, 1, 2)],
  ['gather', () => kd.gather(x(), 1, kd.tensor([[2], [0]], { dtype: 'int32' })), () => x().gather(1, kd.tensor([[2], [0]], { dtype: 'int32' }))],
  ['indexSelect', () => kd.indexSelect(x(), 1, kd.tensor([2, 0], { dtype: 'int32' })), () => x().indexSelect(1, kd.tensor([2, 0], { dtype: 'int32' }))],
  ['maskedFill', () => kd.maskedFill(x(), x().gt(1), -7), () => x().maskedFill(x().gt(1), -7)],
  ['flip', () => kd.flip(x(), [1]), () => x().flip([1])],
  ['clone', () => kd.clone(x()), () => x().clone()],
];

describe('top-level forms of Tensor methods', () => {
  for (const [name, top, method] of CASES) {
    it(`kd.${name} equals the method`, () => {
      kd.tidy(() => {
        const a = top(), b = method();
        expect(a.shape).toEqual(b.shape);
        expect(a.dtype).toBe(b.dtype);
        expect(a.toArray()).toEqual(b.toArray());
      });
    });
  }

  it('split and chunk return the method\'s pieces', () => {
    kd.tidy(() => {
      const a = kd.split(x(), 1, 1).map((t) => t.toArray()), b = x().split(1, 1).map((t) => t.toArray());
      expect(a).toEqual(b);
      expect(kd.chunk(x(), 2, 0).map((t) => t.toArray())).toEqual(x().chunk(2, 0).map((t) => t.toArray()));
    });
  });

  it('carries gradients like the method', () => {
    kd.tidy(() => {
      const a = kd.tensor([0.5, -1, 2], { requiresGrad: true });
      kd.sum(kd.mul(kd.exp(a), a)).backward();
      // d/da (a e^a) = e^a (1 + a)
      const expected = [0.5, -1, 2].map((v) => Math.exp(v) * (1 + v));
      Array.from(a.grad!.data() as Float32Array).forEach((g, i) => expect(g).toBeCloseTo(expected[i], 5));
    });
  });

  it('max and min: everything, or { values, indices } along a dim', () => {
    kd.tidy(() => {
      expect(kd.max(x()).item()).toBe(3);
      expect(kd.min(x()).item()).toBe(-1.25);
      const { values, indices } = kd.max(x(), 1);
      expect(values.toArray()).toEqual([2, 3]);
      expect(indices.toArray()).toEqual([2, 0]);
      const low = kd.min(x(), 0, true);
      expect(low.values.toArray()).toEqual([[0.5, -1.25, -0.5]]);
    });
  });

  it('rejects a non-tensor input, naming the op', () => {
    expectError(() => kd.exp(3 as unknown as kd.Tensor), kd.ShapeError, 'exp');
    expectError(() => kd.sum(null as unknown as kd.Tensor), kd.ShapeError, 'sum');
    expectError(() => kd.max([1, 2] as unknown as kd.Tensor), kd.ShapeError, 'max');
  });
});

describe('{ values, indices } results unpack as a pair', () => {
  it('max, min, median, sort and topk', () => {
    kd.tidy(() => {
      const t = kd.tensor([[3, 1, 2], [0, 5, 4]]);
      for (const result of [t.max(1), t.min(1), kd.median(t, 1), kd.sort(t, { dim: 1 }), kd.topk(t, 2), t.topk(1, { largest: false })]) {
        const [values, indices] = result;
        expect(values).toBe(result.values);
        expect(indices).toBe(result.indices);
        expect([...result]).toHaveLength(2);
        // The iterator is not a field: the result still shows and copies as { values, indices }.
        expect(Object.keys(result)).toEqual(['values', 'indices']);
      }
      const [v, i] = kd.topk(kd.tensor([1, 9, 4, 7]), 2);
      expect(v.toArray()).toEqual([9, 7]);
      expect(i.toArray()).toEqual([1, 3]);
    });
  });
});
