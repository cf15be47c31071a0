import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  debianFashionMnistDir,
  decodeIdx,
  encodeIdx,
  findFashionMnist,
  IdxFormatError,
  readIdxFile,
  shippedFashionMnistDir,
  type IdxArray,
} from '../../lib/data/idx.js';

const samples: IdxArray[] = [
  { dtype: 'uint8', shape: [3, 2, 2], data: Uint8Array.from([0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]) },
  { dtype: 'int8', shape: [4], data: Int8Array.from([-128, -1, 0, 127]) },
  { dtype: 'int16', shape: [2, 2], data: Int16Array.from([-32768, -2, 258, 32767]) },
  { dtype: 'int32', shape: [3], data: Int32Array.from([-(2 ** 31), 16909060, 2 ** 31 - 1]) },
  { dtype: 'float32', shape: [1, 3], data: Float32Array.from([1.5, -0.1, 3.4e38]) },
  { dtype: 'float64', shape: [2], data: Float64Array.from([Math.PI, -1e-300]) },
  { dtype: 'uint8', shape: [0, 28, 28], data: new Uint8Array(0) },
];

describe('IDX round trip', () => {
  it.each(samples.map((s) => [`${s.dtype} [${s.shape}]`, s] as const))('%s, plain and gzipped', (_, sample) => {
    const plain = encodeIdx(sample);
    for (const bytes of [plain, gzipSync(plain)]) {
      expect(decodeIdx(bytes)).toEqual(sample);
    }
  });

  it('writes the header big-endian: magic 00 00 0c 01 then the dim count, then big-endian elements', () => {
    const bytes = encodeIdx({ dtype: 'int32', shape: [1], data: Int32Array.from([0x01020304]) });
    expect([...bytes]).toEqual([0, 0, 0x0c, 1, 0, 0, 0, 1, 1, 2, 3, 4]);
  });

  it('reads a file from disk by path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kindling-idx-'));
    try {
      const path = join(dir, 'labels-idx1-ubyte.gz');
      writeFileSync(path, gzipSync(encodeIdx(samples[0]!)));
      expect(readIdxFile(path)).toEqual(samples[0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('malformed IDX files are clear errors naming the file', () => {
  const good = encodeIdx({ dtype: 'uint8', shape: [2, 3], data: new Uint8Array(6) });
  const cases: [string, Uint8Array, RegExp][] = [
    ['shorter than the 4-byte magic', Uint8Array.from([0, 0, 8]), /truncated: 3 bytes/],
    ['bad magic (first bytes not zero)', Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0]), /bad magic 50 4b 03 04/],
    ['unknown element type 0x0a', Uint8Array.from([0, 0, 0x0a, 1, 0, 0, 0, 0]), /bad magic 00 00 0a 01/],
    ['header cut inside the dims', good.subarray(0, 9), /truncated header: 2 dims need 12 bytes, file has 9/],
    ['data cut short', good.subarray(0, good.length - 2), /truncated: shape \[2,3\] of uint8 needs 6 data bytes, file has 4/],
    ['extra bytes after the data', Uint8Array.from([...good, 9, 9]), /size mismatch: shape \[2,3\] of uint8 needs 6 data bytes, file has 8 \(2 extra\)/],
    ['gzip stream cut short', gzipSync(good).subarray(0, 12), /gzip data is corrupt or truncated/],
  ];

  it.each(cases)('%s', (_, bytes, message) => {
    let error: unknown;
    try {
      decodeIdx(bytes, 'images-idx3-ubyte.gz');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(IdxFormatError);
    expect((error as Error).message).toMatch(/^images-idx3-ubyte\.gz: /);
    expect((error as Error).message).toMatch(message);
  });

  it('encodeIdx refuses data that does not fill the shape', () => {
    expect(() => encodeIdx({ dtype: 'uint8', shape: [2, 2], data: new Uint8Array(3) })).toThrow(/holds 4 elements, data has 3/);
  });
});

describe('shipped Fashion-MNIST subset', () => {
  let files: ReturnType<typeof findFashionMnist>;
  beforeAll(() => {
    files = findFashionMnist();
  });

  it('is found in data/fashion-mnist of the package root, gzipped', () => {
    expect(files.trainImages).toBe(join(shippedFashionMnistDir(), 'train-images-idx3-ubyte.gz'));
    expect(files.testLabels).toBe(join(shippedFashionMnistDir(), 't10k-labels-idx1-ubyte.gz'));
  });

  it('has 20,000 training and 10,000 test images of 28×28 uint8', () => {
    const train = readIdxFile(files.trainImages);
    const test = readIdxFile(files.testImages);
    expect({ dtype: train.dtype, shape: train.shape }).toEqual({ dtype: 'uint8', shape: [20000, 28, 28] });
    expect({ dtype: test.dtype, shape: test.shape }).toEqual({ dtype: 'uint8', shape: [10000, 28, 28] });
    // Real images, not zeros: the first training image (an ankle boot) has ink in it.
    expect(train.data.subarray(0, 784).some((v) => v > 0)).toBe(true);
  });

  it('has one label in 0..9 per image; the test set has 1,000 of each class', () => {
    const trainLabels = readIdxFile(files.trainLabels);
    const testLabels = readIdxFile(files.testLabels);
    expect(trainLabels.shape).toEqual([20000]);
    expect(testLabels.shape).toEqual([10000]);
    const count = (labels: IdxArray) => {
      const counts = new Array<number>(10).fill(0);
      for (const label of labels.data) {
        expect(label >= 0 && label <= 9, `label ${label}`).toBe(true);
        counts[label]! += 1;
      }
      return counts;
    };
    expect(count(testLabels)).toEqual(new Array(10).fill(1000));
    expect(count(trainLabels)).toEqual([1935, 2025, 1982, 2011, 1967, 2010, 2068, 2003, 1971, 2028]);
  });
});

describe('findFashionMnist', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kindling-fmnist-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('uses a given folder, accepting uncompressed files too', () => {
    for (const name of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte']) {
      writeFileSync(join(dir, `${name}.gz`), '');
    }
    expect(() => findFashionMnist(dir)).toThrow(/missing t10k-labels-idx1-ubyte \(ENOENT\)/);
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), '');
    expect(findFashionMnist(dir).testLabels).toBe(join(dir, 't10k-labels-idx1-ubyte'));
    expect(findFashionMnist(dir).trainImages).toBe(join(dir, 'train-images-idx3-ubyte.gz'));
  });

  it('debianFashionMnistDir() is the Debian folder exactly when the package is installed', () => {
    const installed = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
    expect(debianFashionMnistDir()).toBe(installed ? '/usr/share/datasets/fashion-mnist' : null);
  });
});
