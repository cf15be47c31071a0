// The safetensors format at byte level:
//   [u64 little-endian N] [N bytes of UTF-8 JSON header, space-padded to a multiple of 8] [data]
// The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets into
// the data section) and may hold "__metadata__": a string-to-string map. Tensor data is
// little-endian, row-major, and the data sections of the tensors tile the data part exactly.
// Typed-array views below assume a little-endian host, which every platform Node runs on is.
import { DataError } from '../errors.js';
import { readBytes, writeFileAtomic } from './files.js';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Raw little-endian bytes. Decoded entries are plain Uint8Array views into the decoded buffer, not copies. */
  data: Uint8Array;
}

export type SafetensorsMetadata = Record<string, string>;

export interface SafetensorsFile {
  entries: Record<string, SafetensorsEntry>;
  metadata: SafetensorsMetadata | null;
}

export class SafetensorsFormatError extends DataError {
  override name = 'SafetensorsFormatError';
}

const bytesPerElemOf: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

// Position in the reference implementation's Dtype enum (safetensors/src/tensor.rs), which is
// in increasing alignment order; the writer puts tensors of later dtypes first.
const referenceDtypeRank: Readonly<Record<SafetensorsDtype, number>> = {
  BOOL: 0, U8: 1, I8: 2, I16: 3, F16: 4, BF16: 5, I32: 6, F32: 7, F64: 8, I64: 9,
};

const metadataKey = '__metadata__';
const headerAlignBytes = 8;
// The reference reader refuses headers above 100 MB; so do we, rather than allocate on a bad length.
const maxHeaderBytes = 100_000_000;

function isSupportedDtype(dtype: unknown): dtype is SafetensorsDtype {
  return typeof dtype === 'string' && Object.hasOwn(bytesPerElemOf, dtype);
}

export function bytesPerElem(dtype: SafetensorsDtype): number {
  return bytesPerElemOf[dtype];
}

function isDim(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function elemCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

interface PlacedEntry {
  name: string;
  entry: SafetensorsEntry;
}

/** Checks the entries and orders them as the reference writer does: by dtype (widest first), then by name in byte order. */
function placeEntries(entries: Record<string, { dtype: string; shape: number[]; data: Uint8Array }>): PlacedEntry[] {
  const placed: PlacedEntry[] = [];
  for (const [name, { dtype, shape, data }] of Object.entries(entries)) {
    if (name === metadataKey) {
      throw new SafetensorsFormatError(`encodeSafetensors: '${metadataKey}' is reserved and cannot name a tensor`);
    }
    if (!isSupportedDtype(dtype)) {
      throw new SafetensorsFormatError(
        `encodeSafetensors: tensor '${name}': unsupported dtype '${dtype}' (supported: ${Object.keys(bytesPerElemOf).join(', ')})`,
      );
    }
    if (!Array.isArray(shape) || !shape.every(isDim)) {
      throw new SafetensorsFormatError(`encodeSafetensors: tensor '${name}': bad shape ${JSON.stringify(shape)}`);
    }
    const expectedBytes = elemCount(shape) * bytesPerElemOf[dtype];
    if (data.byteLength !== expectedBytes) {
      throw new SafetensorsFormatError(
        `encodeSafetensors: tensor '${name}': shape [${shape}] of ${dtype} needs ${expectedBytes} bytes, data has ${data.byteLength}`,
      );
    }
    placed.push({ name, entry: { dtype, shape, data } });
  }
  placed.sort(
    (a, b) =>
      referenceDtypeRank[b.entry.dtype] - referenceDtypeRank[a.entry.dtype] || compareUtf8(a.name, b.name),
  );
  return placed;
}

/** The length prefix and padded header, followed by each tensor's bytes: the file as a list of chunks. */
export function encodeSafetensorsChunks(
  entries: Record<string, { dtype: string; shape: number[]; data: Uint8Array }>,
  metadata?: SafetensorsMetadata | null,
): Uint8Array[] {
  const placed = placeEntries(entries);
  // Built by hand rather than from one object so the key order is the data order even for
  // names like "0.weight" that JavaScript objects would move first. JSON.stringify escapes
  // strings exactly as serde_json does (\" \\ \b \f \n \r \t, other controls as \u00xx).
  const fields: string[] = [];
  if (metadata != null) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') {
        throw new SafetensorsFormatError(`encodeSafetensors: metadata '${key}' must be a string, got ${typeof value}`);
      }
    }
    // The reference keeps metadata in a hash map, so its order is unspecified; sorting makes ours reproducible.
    const sortedKeys = Object.keys(metadata).sort(compareUtf8);
    const body = sortedKeys.map((key) => `${JSON.stringify(key)}:${JSON.stringify(metadata[key])}`).join(',');
    fields.push(`${JSON.stringify(metadataKey)}:{${body}}`);
  }
  let offset = 0;
  for (const { name, entry } of placed) {
    const end = offset + entry.data.byteLength;
    const info = `{"dtype":"${entry.dtype}","shape":[${entry.shape.join(',')}],"data_offsets":[${offset},${end}]}`;
    fields.push(`${JSON.stringify(name)}:${info}`);
    offset = end;
  }
  const json = Buffer.from(`{${fields.join(',')}}`, 'utf8');
  const headerBytes = Math.ceil(json.length / headerAlignBytes) * headerAlignBytes;
  const header = Buffer.alloc(8 + headerBytes, 0x20);
  header.writeBigUInt64LE(BigInt(headerBytes), 0);
  json.copy(header, 8);
  return [header, ...placed.map(({ entry }) => entry.data)];
}

export function encodeSafetensors(
  entries: Record<string, { dtype: string; shape: number[]; data: Uint8Array }>,
  metadata?: SafetensorsMetadata | null,
): Buffer {
  return Buffer.concat(encodeSafetensorsChunks(entries, metadata));
}

function fail(source: string, problem: string): never {
  throw new SafetensorsFormatError(`${source}: ${problem}`);
}

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function parseHeaderEntry(name: string, value: unknown, source: string): HeaderEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(source, `tensor '${name}': header entry is not an object`);
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (!isSupportedDtype(dtype)) {
    fail(source, `tensor '${name}': unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(bytesPerElemOf).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every(isDim)) {
    fail(source, `tensor '${name}': bad shape ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isDim) || offsets[0] > offsets[1]) {
    fail(source, `tensor '${name}': bad data_offsets ${JSON.stringify(offsets)}`);
  }
  return { name, dtype, shape, begin: offsets[0], end: offsets[1] };
}

/**
 * Parses a safetensors file. Entries' data are views into `fileBytes`. `source` (a path)
 * names the file in errors. Every tensor must have a supported dtype, a byte length equal to
 * its shape × dtype size, and the tensors' byte ranges must tile the data section exactly.
 */
export function decodeSafetensors(fileBytes: Uint8Array, source = '<buffer>'): SafetensorsFile {
  if (fileBytes.byteLength < 8) {
    fail(source, `truncated: ${fileBytes.byteLength} bytes, a safetensors file starts with an 8-byte header length`);
  }
  const view = new DataView(fileBytes.buffer, fileBytes.byteOffset, fileBytes.byteLength);
  const declaredHeaderBytes = view.getBigUint64(0, true);
  if (declaredHeaderBytes > BigInt(fileBytes.byteLength - 8)) {
    fail(source, `header length ${declaredHeaderBytes} runs past the end of the file (${fileBytes.byteLength} bytes)`);
  }
  const headerBytes = Number(declaredHeaderBytes);
  if (headerBytes > maxHeaderBytes) fail(source, `header length ${headerBytes} exceeds the ${maxHeaderBytes}-byte limit`);

  let headerText: string;
  try {
    headerText = new TextDecoder('utf-8', { fatal: true }).decode(fileBytes.subarray(8, 8 + headerBytes));
  } catch {
    fail(source, 'header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (err) {
    fail(source, `header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail(source, 'header JSON is not an object');
  }

  let metadata: SafetensorsMetadata | null = null;
  const headerEntries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === metadataKey) {
      metadata = parseMetadata(value, source);
    } else {
      headerEntries.push(parseHeaderEntry(name, value, source));
    }
  }

  const dataStart = 8 + headerBytes;
  const dataBytes = fileBytes.byteLength - dataStart;
  headerEntries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const e of headerEntries) {
    if (e.end > dataBytes) {
      fail(source, `tensor '${e.name}': data_offsets [${e.begin},${e.end}] run past the ${dataBytes}-byte data section`);
    }
    if (e.begin < covered) {
      fail(source, `tensor '${e.name}': data_offsets [${e.begin},${e.end}] overlap the previous tensor, which ends at ${covered}`);
    }
    if (e.begin > covered) {
      fail(source, `tensor '${e.name}': data_offsets [${e.begin},${e.end}] leave bytes ${covered}..${e.begin} unused`);
    }
    const expectedBytes = elemCount(e.shape) * bytesPerElemOf[e.dtype];
    if (e.end - e.begin !== expectedBytes) {
      fail(
        source,
        `tensor '${e.name}': shape [${e.shape}] of ${e.dtype} needs ${expectedBytes} bytes, data_offsets [${e.begin},${e.end}] hold ${e.end - e.begin}`,
      );
    }
    covered = e.end;
  }
  if (covered !== dataBytes) {
    fail(source, `tensors cover ${covered} of the ${dataBytes}-byte data section; the rest is unaccounted for`);
  }

  const entries: Record<string, SafetensorsEntry> = {};
  for (const e of headerEntries) {
    setOwn(entries, e.name, {
      dtype: e.dtype,
      shape: e.shape,
      data: new Uint8Array(fileBytes.buffer, fileBytes.byteOffset + dataStart + e.begin, e.end - e.begin),
    });
  }
  return { entries, metadata };
}

/** Assignment that stays an own property even for names like "__proto__", which files may contain. */
function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

function parseMetadata(value: unknown, source: string): SafetensorsMetadata {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(source, `'${metadataKey}' is not an object`);
  }
  const metadata: SafetensorsMetadata = {};
  for (const [key, text] of Object.entries(value)) {
    if (typeof text !== 'string') fail(source, `'${metadataKey}'.${key} is not a string`);
    setOwn(metadata, key, text);
  }
  return metadata;
}

export function readSafetensorsFile(path: string, op = 'load'): SafetensorsFile {
  return decodeSafetensors(readBytes(op, path), path);
}

export function writeSafetensorsFile(
  path: string,
  entries: Record<string, { dtype: string; shape: number[]; data: Uint8Array }>,
  metadata?: SafetensorsMetadata | null,
  op = 'save',
): void {
  writeFileAtomic(path, encodeSafetensorsChunks(entries, metadata), op);
}

const int32Min = -(2n ** 31n);
const int32Max = 2n ** 31n - 1n;

/**
 * PyTorch writes integer tensors (labels, BatchNorm's num_batches_tracked) as I64; kindling
 * holds them as int32. Converts when every value fits, else names the tensor and the value.
 */
export function int64BytesToInt32(name: string, data: Uint8Array): Int32Array {
  if (data.byteLength % 8 !== 0) {
    throw new SafetensorsFormatError(`tensor '${name}': ${data.byteLength} bytes is not a whole number of int64 values`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = new Int32Array(data.byteLength / 8);
  for (let i = 0; i < out.length; i++) {
    const value = view.getBigInt64(8 * i, true);
    if (value < int32Min || value > int32Max) {
      throw new RangeError(
        `tensor '${name}': int64 value ${value} at flat index ${i} does not fit in int32 (range ${int32Min}..${int32Max})`,
      );
    }
    out[i] = Number(value);
  }
  return out;
}

/** The I64 payload PyTorch expects for an integer tensor kindling holds as int32. */
export function int32ToInt64Bytes(values: Int32Array | readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (!Number.isSafeInteger(value)) throw new RangeError(`int32ToInt64Bytes: ${value} at index ${i} is not an integer`);
    view.setBigInt64(8 * i, BigInt(value), true);
  }
  return out;
}

export type SafetensorsTypedArray =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/**
 * The entry's elements as the matching typed array: F16 and BF16 as their raw Uint16 bit
 * patterns, BOOL as 0/1 bytes. A view when the bytes are aligned for the element size, else a copy.
 */
export function typedArrayOf(entry: SafetensorsEntry): SafetensorsTypedArray {
  const elemBytes = bytesPerElemOf[entry.dtype];
  const aligned = entry.data.byteOffset % elemBytes === 0;
  const bytes = aligned ? entry.data : entry.data.slice();
  const { buffer, byteOffset } = bytes;
  const length = bytes.byteLength / elemBytes;
  switch (entry.dtype) {
    case 'F64': return new Float64Array(buffer, byteOffset, length);
    case 'F32': return new Float32Array(buffer, byteOffset, length);
    case 'F16':
    case 'BF16': return new Uint16Array(buffer, byteOffset, length);
    case 'I64': return new BigInt64Array(buffer, byteOffset, length);
    case 'I32': return new Int32Array(buffer, byteOffset, length);
    case 'I16': return new Int16Array(buffer, byteOffset, length);
    case 'I8': return new Int8Array(buffer, byteOffset, length);
    case 'U8':
    case 'BOOL': return new Uint8Array(buffer, byteOffset, length);
  }
}
