import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { type IdxArray, encodeIdx } from '../../lib/data/idx.js';
import * as kd from '../../lib/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kindling-fmnist-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const images = (n: number): IdxArray => ({ dtype: 'uint8', shape: [n, 2, 2], data: new Uint8Array(n * 4).map((_, i) => i % 256) });
const labels = (n: number): IdxArray => ({ dtype: 'uint8', shape: [n], data: new Uint8Array(n).map((_, i) => i % 10) });

/** A Fashion-MNIST folder whose training files are the given arrays; the test files are consistent. */
function folder(trainImages: IdxArray, trainLabels: IdxArray): void {
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdx(trainImages));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdx(trainLabels));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte'), encodeIdx(images(3)));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), encodeIdx(labels(3)));
}

describe('fashionMnist({ dir }) checks that images and labels belong together', () => {
  it('consistent files load', () => {
    folder(images(5), labels(5));
    const data = kd.data.datasets.fashionMnist({ dir });
    expect(data.train.length).toBe(5);
    expect(data.test.length).toBe(3);
    expect(data.train.get(4)[1].item()).toBe(4);
  });

  it.each([
    ['fewer labels than images', images(6), labels(4), /6 images .* 4 labels/],
    ['more labels than images', images(4), labels(6), /4 images .* 6 labels/],
  ])('%s is a DataError naming both files and both counts', (_, imgs, lbls, counts) => {
    folder(imgs, lbls);
    expect(() => kd.data.datasets.fashionMnist({ dir })).toThrow(kd.DataError);
    expect(() => kd.data.datasets.fashionMnist({ dir })).toThrow(counts);
    expect(() => kd.data.datasets.fashionMnist({ dir })).toThrow(/train-images-idx3-ubyte.*train-labels-idx1-ubyte/);
  });

  it('a 1-D image file is a DataError naming both files', () => {
    folder({ dtype: 'uint8', shape: [16], data: new Uint8Array(16) }, labels(16));
    expect(() => kd.data.datasets.fashionMnist({ dir })).toThrow(kd.DataError);
    expect(() => kd.data.datasets.fashionMnist({ dir })).toThrow(/train-images-idx3-ubyte holds uint8 \[16\].*train-labels-idx1-ubyte/);
  });

  it('labels that are not class indices, and float images, are DataErrors', () => {
    folder(images(2), { dtype: 'uint8', shape: [2], data: Uint8Array.from([1, 200]) });
    expect(() => kd.data.datasets.fashionMnist({ dir })).toThrow(/label 200 at index 1/);
    folder({ dtype: 'float32', shape: [2, 2, 2], data: new Float32Array(8) }, labels(2));
    expect(() => kd.data.datasets.fashionMnist({ dir })).toThrow(kd.DataError);
  });
});
