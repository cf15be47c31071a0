// Built-in data sets: Iris (shipped as CSV) and Fashion-MNIST (a shipped subset, or the full
// set from a folder or from Debian's dataset-fashion-mnist package).
import { join } from 'node:path';

import { DataError, IOError } from '../errors.js';
import { fromTypedArray } from '../ops/creation.js';
import { readCsvFile } from './csv.js';
import { TensorDataset } from './dataset.js';
import { type IdxArray, debianFashionMnistDir, findFashionMnist, readIdxFile, shippedFashionMnistDir } from './idx.js';
import type { TensorDatasetOptions } from './dataset.js';
import type { TransformLike } from './transforms.js';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];


export interface FashionMnist {
  train: TensorDataset;
  test: TensorDataset;
  classes: string[];
  /** Where the files were read from. */
  source: string;
}

export interface FashionMnistOptions {
  dir?: string | 'debian';
  flatten?: boolean;
  /** Per-sample transform of the training images (augmentation), e.g. a kd.data.transforms.Compose. */
  transform?: TransformLike;
  /** Per-sample transform of the training labels. */
  targetTransform?: TransformLike;
  /** Per-sample transform of the test images (e.g. the same Normalize, without augmentation). */
  testTransform?: TransformLike;
}

/**
 * Fashion-MNIST as two TensorDatasets of (image [1, 28, 28] in [0, 1], label int32).
 * `dir`: a folder with the four IDX files; 'debian' for the full set from the Debian package;
 * omitted: the subset shipped in data/ (20,000 training images, all 10,000 test images).
 */
export function fashionMnist(options: FashionMnistOptions = {}): FashionMnist {
  let dir = options.dir;
  if (dir === 'debian') {
    const found = debianFashionMnistDir();
    if (!found) {
      throw new IOError('fashionMnist: /usr/share/datasets/fashion-mnist: no such folder (ENOENT); the Debian package dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)', '/usr/share/datasets/fashion-mnist', 'ENOENT');
    }
    dir = found;
  }
  const files = findFashionMnist(dir);
  const load = (imagesPath: string, labelsPath: string, transforms: TensorDatasetOptions): TensorDataset => {
    const images = readIdxFile(imagesPath), labels = readIdxFile(labelsPath);
    checkImagesAndLabels(images, imagesPath, labels, labelsPath);
    const n = images.shape[0], h = images.shape[1], w = images.shape[2];
    const pixels = new Float32Array(images.data.length);
    const raw = images.data as Uint8Array;
    for (let i = 0; i < raw.length; i++) pixels[i] = raw[i] / 255;
    const x = fromTypedArray(pixels, options.flatten ? [n, h * w] : [n, 1, h, w], 'float32', 'cpu');
    const y = fromTypedArray(Int32Array.from(labels.data as Uint8Array), [n], 'int32', 'cpu');
    return new TensorDataset(x, y, transforms);
  };
  return {
    train: load(files.trainImages, files.trainLabels, { transform: options.transform, targetTransform: options.targetTransform }),
    test: load(files.testImages, files.testLabels, { transform: options.testTransform }),
    classes: FASHION_MNIST_CLASSES,
    source: dir ?? shippedFashionMnistDir(),
  };
}

/**
 * Images must be uint8 [n, h, w], labels uint8 [n] with values below the class count: anything
 * else would read past one array or leave rows without labels.
 */
function checkImagesAndLabels(images: IdxArray, imagesPath: string, labels: IdxArray, labelsPath: string): void {
  const fmt = (a: IdxArray) => `${a.dtype} [${a.shape.join(',')}]`;
  if (images.dtype !== 'uint8' || images.shape.length !== 3) {
    throw new DataError(`fashionMnist: ${imagesPath} holds ${fmt(images)}; images must be uint8 [count, height, width] (labels: ${labelsPath})`);
  }
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1) {
    throw new DataError(`fashionMnist: ${labelsPath} holds ${fmt(labels)}; labels must be uint8 [count] (images: ${imagesPath})`);
  }
  const imageCount = images.shape[0]!, labelCount = labels.shape[0]!;
  if (imageCount !== labelCount) {
    throw new DataError(`fashionMnist: ${imagesPath} holds ${imageCount} images but ${labelsPath} holds ${labelCount} labels; the counts must match`);
  }
  const classes = FASHION_MNIST_CLASSES.length;
  const bad = (labels.data as Uint8Array).findIndex((v) => v >= classes);
  if (bad >= 0) {
    throw new DataError(`fashionMnist: ${labelsPath}: label ${labels.data[bad]} at index ${bad} is not a class index 0..${classes - 1} (images: ${imagesPath})`);
  }
}

export interface Iris {
  /** (features [4] float32, species int32) for all 150 flowers. */
  dataset: TensorDataset;
  featureNames: string[];
  classes: string[];
}

/** Fisher's Iris data (shipped): 150 rows, 4 features, 3 classes; `transform` / `targetTransform` per sample. */
export function iris(options: TensorDatasetOptions = {}): Iris {
  const root = shippedFashionMnistDir().replace(/fashion-mnist$/, '');
  const table = readCsvFile(join(root, 'iris.csv'), { labelColumn: 'species' });
  const x = fromTypedArray(Float32Array.from(table.features), [table.rowCount, table.featureColumns.length], 'float32', 'cpu');
  const y = fromTypedArray(table.labels, [table.rowCount], 'int32', 'cpu');
  return { dataset: new TensorDataset(x, y, { transform: options.transform, targetTransform: options.targetTransform }), featureNames: table.featureColumns, classes: table.classes };
}

// The shipped English text (the King James Bible): kd.data.datasets.text().
export { text, textPath } from './text.js';
