// The IDX format of MNIST and Fashion-MNIST: a big-endian header
//   [0, 0, dtypeCode, ndim] [dim0 u32] ... [dim(ndim-1) u32]
// followed by the elements in row-major order, big-endian. Files are usually gzipped.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DataError, IOError } from '../errors.js';
import { readBytes, withIOErrors } from '../io/files.js';
import { packageRoot } from '../native.js';

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

export type IdxTypedArray =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array;

export interface IdxArray {
  dtype: IdxDtype;
  shape: number[];
  data: IdxTypedArray;
}

export class IdxFormatError extends DataError {
  override name = 'IdxFormatError';
}

interface IdxDtypeInfo {
  dtype: IdxDtype;
  bytesPerElem: number;
}

const dtypeByCode: ReadonlyMap<number, IdxDtypeInfo> = new Map([
  [0x08, { dtype: 'uint8', bytesPerElem: 1 }],
  [0x09, { dtype: 'int8', bytesPerElem: 1 }],
  [0x0b, { dtype: 'int16', bytesPerElem: 2 }],
  [0x0c, { dtype: 'int32', bytesPerElem: 4 }],
  [0x0d, { dtype: 'float32', bytesPerElem: 4 }],
  [0x0e, { dtype: 'float64', bytesPerElem: 8 }],
]);

const codeByDtype: ReadonlyMap<IdxDtype, number> = new Map(
  [...dtypeByCode].map(([code, info]) => [info.dtype, code]),
);

const gzipMagic = [0x1f, 0x8b];

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === gzipMagic[0] && bytes[1] === gzipMagic[1];
}

/** Parses IDX bytes (gzipped or not). `source` names the file in error messages. */
export function decodeIdx(fileBytes: Uint8Array, source = '<buffer>'): IdxArray {
  let bytes = fileBytes;
  if (isGzip(fileBytes)) {
    try {
      bytes = gunzipSync(fileBytes);
    } catch (err) {
      throw new IdxFormatError(`${source}: gzip data is corrupt or truncated (${(err as Error).message})`);
    }
  }
  if (bytes.length < 4) {
    throw new IdxFormatError(`${source}: truncated: ${bytes.length} bytes, an IDX header needs at least 4`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const info = dtypeByCode.get(bytes[2]!);
  if (bytes[0] !== 0 || bytes[1] !== 0 || info === undefined) {
    const magic = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new IdxFormatError(
      `${source}: bad magic ${magic}: expected 00 00 <type 08|09|0b|0c|0d|0e> <ndim>`,
    );
  }
  const ndim = bytes[3]!;
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw new IdxFormatError(
      `${source}: truncated header: ${ndim} dims need ${headerBytes} bytes, file has ${bytes.length}`,
    );
  }
  const shape: number[] = [];
  for (let d = 0; d < ndim; d++) shape.push(view.getUint32(4 + 4 * d, false));
  const elems = shape.reduce((a, b) => a * b, 1);
  const payloadBytes = bytes.length - headerBytes;
  const expectedBytes = elems * info.bytesPerElem;
  if (payloadBytes < expectedBytes) {
    throw new IdxFormatError(
      `${source}: truncated: shape [${shape}] of ${info.dtype} needs ${expectedBytes} data bytes, file has ${payloadBytes}`,
    );
  }
  if (payloadBytes > expectedBytes) {
    throw new IdxFormatError(
      `${source}: size mismatch: shape [${shape}] of ${info.dtype} needs ${expectedBytes} data bytes, file has ${payloadBytes} (${payloadBytes - expectedBytes} extra)`,
    );
  }
  return { dtype: info.dtype, shape, data: readBigEndian(bytes, headerBytes, elems, info.dtype) };
}

/** Copies the payload into a fresh typed array in host order (the result never aliases the input). */
function readBigEndian(bytes: Uint8Array, offset: number, elems: number, dtype: IdxDtype): IdxTypedArray {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    // new Uint8Array(view) copies; Buffer#slice would not, and would return a Buffer.
    case 'uint8':
      return new Uint8Array(bytes.subarray(offset, offset + elems));
    case 'int8':
      return new Int8Array(new Uint8Array(bytes.subarray(offset, offset + elems)).buffer);
    case 'int16': {
      const out = new Int16Array(elems);
      for (let i = 0; i < elems; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(elems);
      for (let i = 0; i < elems; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(elems);
      for (let i = 0; i < elems; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(elems);
      for (let i = 0; i < elems; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Serialises an array as uncompressed IDX bytes (gzip them with node:zlib if wanted). */
export function encodeIdx(array: IdxArray): Uint8Array {
  const { dtype, shape, data } = array;
  const code = codeByDtype.get(dtype);
  if (code === undefined) throw new IdxFormatError(`encodeIdx: unknown dtype '${dtype}'`);
  if (shape.length > 255) throw new IdxFormatError(`encodeIdx: ${shape.length} dims, IDX allows at most 255`);
  const elems = shape.reduce((a, b) => a * b, 1);
  if (elems !== data.length) {
    throw new IdxFormatError(`encodeIdx: shape [${shape}] holds ${elems} elements, data has ${data.length}`);
  }
  const bytesPerElem = dtypeByCode.get(code)!.bytesPerElem;
  const headerBytes = 4 + 4 * shape.length;
  const out = new Uint8Array(headerBytes + elems * bytesPerElem);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = shape.length;
  shape.forEach((dim, d) => view.setUint32(4 + 4 * d, dim, false));
  for (let i = 0; i < elems; i++) {
    const at = headerBytes + i * bytesPerElem;
    const value = data[i]!;
    switch (dtype) {
      case 'uint8': view.setUint8(at, value); break;
      case 'int8': view.setInt8(at, value); break;
      case 'int16': view.setInt16(at, value, false); break;
      case 'int32': view.setInt32(at, value, false); break;
      case 'float32': view.setFloat32(at, value, false); break;
      case 'float64': view.setFloat64(at, value, false); break;
    }
  }
  return out;
}

export function readIdxFile(path: string): IdxArray {
  return decodeIdx(readBytes('readIdxFile', path), path);
}

export interface FashionMnistFiles {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

const fashionMnistFileNames: FashionMnistFiles = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
};

const debianFashionMnistPath = '/usr/share/datasets/fashion-mnist';

/** Where Debian's `dataset-fashion-mnist` installs the full 60k/10k set, or null if absent. */
export function debianFashionMnistDir(): string | null {
  return filesIn(debianFashionMnistPath) === null ? null : debianFashionMnistPath;
}

export function shippedFashionMnistDir(): string {
  return join(packageRoot(), 'data', 'fashion-mnist');
}

/** Each file as `name.gz` or plain `name`; null unless all four are there. */
function filesIn(dir: string): FashionMnistFiles | null {
  const found: Partial<FashionMnistFiles> = {};
  for (const [key, base] of Object.entries(fashionMnistFileNames) as [keyof FashionMnistFiles, string][]) {
    const path = [join(dir, `${base}.gz`), join(dir, base)].find((p) => existsSync(p));
    if (path === undefined) return null;
    found[key] = path;
  }
  return found as FashionMnistFiles;
}

/**
 * Paths of the four Fashion-MNIST files: in `dir` when given (an error if any is missing
 * there), else in the package's shipped data/fashion-mnist.
 */
export function findFashionMnist(dir?: string): FashionMnistFiles {
  if (dir !== undefined && (typeof dir !== 'string' || dir === '')) {
    throw new IOError(`findFashionMnist: dir must be a non-empty string, got ${typeof dir === 'string' ? "''" : typeof dir}`, undefined, 'EINVAL');
  }
  const searched = dir === undefined ? shippedFashionMnistDir() : resolve(dir);
  const files = filesIn(searched);
  if (files === null) {
    const names = Object.values(fashionMnistFileNames).map((n) => `${n}[.gz]`);
    const missing = Object.values(fashionMnistFileNames).filter((n) => !existsSync(join(searched, n)) && !existsSync(join(searched, `${n}.gz`)));
    const op = 'findFashionMnist';
    if (!withIOErrors(op, searched, () => statSync(searched)).isDirectory()) {
      throw new IOError(`${op}: ${searched}: not a folder (ENOTDIR)`, searched, 'ENOTDIR');
    }
    throw new IOError(`${op}: ${searched}: missing ${missing.join(', ')} (ENOENT); the folder must hold ${names.join(', ')}`, searched, 'ENOENT');
  }
  return files;
}
