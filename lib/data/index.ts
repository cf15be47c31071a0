// kd.data: datasets, loaders, splits, per-sample transforms and the readers for the formats data comes in.
export { Dataset, TensorDataset, Subset, DataLoader, randomSplit, defaultCollate, oneHot, standardize, permutation } from './dataset.js';
export type { Batch, DataLoaderOptions, DataLoaderState, TensorDatasetOptions } from './dataset.js';
export * as datasets from './datasets.js';
export * as transforms from './transforms.js';
export { readIdxFile, decodeIdx, encodeIdx, findFashionMnist, debianFashionMnistDir } from './idx.js';
export { readCsvFile, parseCsvTable, parseCsvRows } from './csv.js';
export { TokenWindows, maskTokens, textPath } from './text.js';
export type { TokenWindowsOptions, MaskTokensOptions, MaskedTokens } from './text.js';
