import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  int32ToInt64Bytes,
  int64BytesToInt32,
  readSafetensorsFile,
  SafetensorsFormatError,
  typedArrayOf,
  writeSafetensorsFile,
  type SafetensorsDtype,
  type SafetensorsEntry,
} from '../../lib/io/safetensors.js';
import { writeFileAtomic } from '../../lib/io/files.js';
import { makeRng } from '../helpers.js';

const fixturesDir = fileURLToPath(new URL('../fixtures/', import.meta.url));

interface ExpectedFixture {
  writer: { safetensors: string; torch: string; call: string };
  metadata: Record<string, string> | null;
  sha256: string;
  bytes: number;
  tensors: Record<string, { dtype: SafetensorsDtype; shape: number[]; values: number[] }>;
}

function loadExpected(stem: string): ExpectedFixture {
  return JSON.parse(readFileSync(join(fixturesDir, `${stem}.expected.json`), 'utf8')) as ExpectedFixture;
}

function halfBitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function bfloat16BitsToNumber(bits: number): number {
  return new Float32Array(new Uint32Array([bits << 16]).buffer)[0]!;
}

function valuesOf(entry: SafetensorsEntry): number[] {
  const elems = typedArrayOf(entry);
  switch (entry.dtype) {
    case 'F16': return Array.from(elems as Uint16Array, halfBitsToNumber);
    case 'BF16': return Array.from(elems as Uint16Array, bfloat16BitsToNumber);
    case 'I64': return Array.from(elems as BigInt64Array, Number);
    default: return Array.from(elems as Float64Array);
  }
}

/** Little-endian bytes of the given values in `dtype`, built without the decoder's help. */
function bytesOf(dtype: SafetensorsDtype, values: number[]): Uint8Array {
  switch (dtype) {
    case 'F64': return new Uint8Array(Float64Array.from(values).buffer);
    case 'F32': return new Uint8Array(Float32Array.from(values).buffer);
    case 'I64': return int32OrInt64(values);
    case 'I32': return new Uint8Array(Int32Array.from(values).buffer);
    case 'I16': return new Uint8Array(Int16Array.from(values).buffer);
    case 'I8': return new Uint8Array(Int8Array.from(values).buffer);
    case 'U8':
    case 'BOOL': return Uint8Array.from(values);
    case 'F16':
    case 'BF16':
      throw new Error(`bytesOf: ${dtype} is checked through its decoded values`);
  }
}

function int32OrInt64(values: number[]): Uint8Array {
  return new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer);
}


/** A file with the given header text and data bytes; `declaredHeaderBytes` overrides the length prefix. */
function rawFile(headerJson: string, dataBytes: number, declaredHeaderBytes?: number): Uint8Array {
  const header = Buffer.from(headerJson, 'utf8');
  const out = Buffer.alloc(8 + header.length + dataBytes);
  out.writeBigUInt64LE(BigInt(declaredHeaderBytes ?? header.length), 0);
  header.copy(out, 8);
  return out;
}

describe('safetensors header layout matches the reference implementation', () => {
  // Byte vectors from the reference implementation's own tests (safetensors/src/tensor.rs:
  // test_serialization, test_serialization_forced_alignement, test_empty).
  const sixFloats = new Uint8Array(Float32Array.from([0, 1, 2, 3, 4, 5]).buffer);

  it('one F32 tensor "attn.0" of shape [1,2,3]: 64-byte header, no padding needed', () => {
    const out = encodeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: sixFloats } });
    expect([...out]).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58,
      34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116,
      97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
      0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
  });

  it('one F32 tensor "attn0" of shape [1,1,2,3]: header padded with 7 spaces to 72 bytes', () => {
    const out = encodeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: sixFloats } });
    expect(out.readBigUInt64LE(0)).toBe(72n);
    expect(out.subarray(8, 80).toString('latin1')).toBe(
      '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ',
    );
    expect(out.subarray(80)).toEqual(Buffer.from(sixFloats));
  });

  it('no tensors, with and without metadata {"framework":"pt"}', () => {
    expect([...encodeSafetensors({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect([...encodeSafetensors({}, { framework: 'pt' })]).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102,
      114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
    ]);
  });
});

describe.each(['tiny_model', 'every_dtype'])('PyTorch fixture %s.safetensors (safetensors.torch.save_file)', (stem) => {
  const path = join(fixturesDir, `${stem}.safetensors`);
  const expected = loadExpected(stem);
  const fileBytes = readFileSync(path);

  it('is the file its expected.json describes', () => {
    expect(fileBytes.length).toBe(expected.bytes);
    expect(createHash('sha256').update(fileBytes).digest('hex')).toBe(expected.sha256);
  });

  it('decodes to exactly the tensors and metadata PyTorch wrote', () => {
    const { entries, metadata } = readSafetensorsFile(path);
    expect(metadata).toEqual(expected.metadata);
    expect(Object.keys(entries).sort()).toEqual(Object.keys(expected.tensors).sort());
    for (const [name, want] of Object.entries(expected.tensors)) {
      const entry = entries[name]!;
      expect({ name, dtype: entry.dtype, shape: entry.shape }).toEqual({ name, dtype: want.dtype, shape: want.shape });
      // Object.is distinguishes -0 from 0, so signed zeros must survive too.
      valuesOf(entry).forEach((value, i) => expect(Object.is(value, want.values[i]), `${name}[${i}]`).toBe(true));
    }
  });

  it('re-encoding the decoded tensors gives the reference writer’s bytes exactly', () => {
    const { entries, metadata } = decodeSafetensors(fileBytes, path);
    expect(encodeSafetensors(entries, metadata).equals(fileBytes)).toBe(true);
  });

  it('encoding tensors built from the expected values (not from the file) gives the bytes the reference library loaded', () => {
    const entries: Record<string, SafetensorsEntry> = {};
    const decoded = decodeSafetensors(fileBytes, path).entries;
    for (const [name, want] of Object.entries(expected.tensors)) {
      // F16/BF16 bytes come from the file; their values were checked against expected.json above.
      const data = want.dtype === 'F16' || want.dtype === 'BF16' ? decoded[name]!.data : bytesOf(want.dtype, want.values);
      entries[name] = { dtype: want.dtype, shape: want.shape, data };
    }
    const digest = createHash('sha256').update(encodeSafetensors(entries, expected.metadata)).digest('hex');
    expect(digest).toBe(expected.sha256);
    // The record of loading this very output with safetensors.torch.load_file (see make_fixtures.py --check).
    const check = JSON.parse(readFileSync(join(fixturesDir, 'kindling_written.check.json'), 'utf8')) as {
      files: Record<string, { sha256: string; load_file: string; byte_identical_to_reference_writer: boolean }>;
    };
    expect(check.files[stem]).toMatchObject({ sha256: digest, load_file: 'OK', byte_identical_to_reference_writer: true });
  });
});

describe('PyTorch int64 tensors', () => {
  const tiny = readSafetensorsFile(join(fixturesDir, 'tiny_model.safetensors')).entries;
  const everyDtype = readSafetensorsFile(join(fixturesDir, 'every_dtype.safetensors')).entries;

  it('num_batches_tracked (I64, shape []) converts to Int32Array [3]', () => {
    const entry = tiny['3.num_batches_tracked']!;
    expect(entry).toMatchObject({ dtype: 'I64', shape: [] });
    expect(int64BytesToInt32('3.num_batches_tracked', entry.data)).toEqual(Int32Array.from([3]));
  });

  it('values at the int32 limits convert exactly', () => {
    expect(Array.from(int64BytesToInt32('i64', everyDtype['i64']!.data))).toEqual([0, -1, 2 ** 31 - 1, -(2 ** 31), 7]);
  });

  it('a value beyond int32 is an error naming the tensor and the value', () => {
    expect(() => int64BytesToInt32('i64_big', everyDtype['i64_big']!.data)).toThrow(
      /tensor 'i64_big': int64 value 1099511627776 at flat index 1 does not fit in int32/,
    );
  });

  it('int32ToInt64Bytes writes what PyTorch wrote for num_batches_tracked', () => {
    expect(int32ToInt64Bytes([3])).toEqual(new Uint8Array(tiny['3.num_batches_tracked']!.data));
  });
});

describe('safetensors round trip', () => {
  const random = makeRng(20240611);
  const shapes = [[], [0], [1], [7], [3, 5], [2, 3, 4], [2, 0, 3]];
  const dtypes: SafetensorsDtype[] = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];
  const sizes: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

  it.each(dtypes)('%s tensors of every shape come back byte for byte', (dtype) => {
    const entries: Record<string, SafetensorsEntry> = {};
    shapes.forEach((shape, k) => {
      const byteLength = shape.reduce((a, b) => a * b, 1) * sizes[dtype];
      const data = Uint8Array.from({ length: byteLength }, () => Math.floor(random() * 256));
      if (dtype === 'BOOL') data.forEach((_, i) => (data[i] = data[i]! & 1));
      entries[`layer.${k}.${dtype.toLowerCase()}`] = { dtype, shape, data };
    });
    const decoded = decodeSafetensors(encodeSafetensors(entries, { note: dtype }));
    expect(decoded.metadata).toEqual({ note: dtype });
    for (const [name, entry] of Object.entries(entries)) {
      expect(decoded.entries[name]).toEqual(entry);
    }
  });

  it('mixed dtypes are laid out widest first, then by name in byte order', () => {
    const entries = {
      b: { dtype: 'U8', shape: [3], data: Uint8Array.from([1, 2, 3]) },
      a: { dtype: 'F32', shape: [2], data: new Uint8Array(Float32Array.from([1, 2]).buffer) },
      c: { dtype: 'I64', shape: [1], data: int32ToInt64Bytes([9]) },
      Z: { dtype: 'F32', shape: [1], data: new Uint8Array(Float32Array.from([5]).buffer) },
    };
    const file = encodeSafetensors(entries);
    const headerBytes = Number(file.readBigUInt64LE(0));
    expect(headerBytes % 8).toBe(0);
    const header = JSON.parse(file.subarray(8, 8 + headerBytes).toString('utf8')) as Record<string, unknown>;
    expect(Object.keys(header)).toEqual(['c', 'Z', 'a', 'b']);
    const decoded = decodeSafetensors(file).entries;
    expect(Array.from(typedArrayOf(decoded['a']!) as Float32Array)).toEqual([1, 2]);
    expect(decoded['c']!.data.byteOffset % 8).toBe(0);
  });

  it('metadata keys are written sorted, so equal inputs give equal bytes', () => {
    const a = encodeSafetensors({}, { zeta: '1', alpha: '2' });
    const b = encodeSafetensors({}, { alpha: '2', zeta: '1' });
    expect(a.equals(b)).toBe(true);
    expect(a.toString('utf8', 8)).toMatch(/^\{"__metadata__":\{"alpha":"2","zeta":"1"\}\}/);
  });

  it('a tensor named "__proto__" in a file stays an ordinary entry', () => {
    const file = rawFile('{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1);
    const { entries } = decodeSafetensors(file);
    expect(Object.keys(entries)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(entries)).toBe(Object.prototype);
  });
});

describe('malformed safetensors files are clear errors naming the file and tensor', () => {
  const ok = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const cases: [string, Uint8Array, RegExp][] = [
    ['fewer than 8 bytes', Uint8Array.from([1, 0, 0]), /bad\.safetensors: truncated: 3 bytes/],
    ['header length beyond the file', rawFile(ok, 8, 1000), /header length 1000 runs past the end of the file \(70 bytes\)/],
    ['header length near 2^64', (() => { const f = rawFile(ok, 8); new DataView(f.buffer).setBigUint64(0, 2n ** 64n - 1n, true); return f; })(), /header length 18446744073709551615 runs past the end/],
    ['header that is not UTF-8', rawFile('{"\xff":1}', 0).map((b, i) => (i === 10 ? 0xff : b)), /header is not valid UTF-8/],
    ['header that is not JSON', rawFile('{"w":{"dtype":"F32",', 8), /header is not valid JSON/],
    ['header that is a JSON array', rawFile('[1,2]', 0), /header JSON is not an object/],
    ['unsupported dtype', rawFile('{"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}', 2), /tensor 'w': unsupported dtype "F8_E4M3"/],
    ['negative dimension', rawFile('{"w":{"dtype":"U8","shape":[-2],"data_offsets":[0,2]}}', 2), /tensor 'w': bad shape \[-2\]/],
    ['offsets reversed', rawFile('{"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}', 4), /tensor 'w': bad data_offsets \[4,0\]/],
    ['offsets past the data', rawFile('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', 8), /tensor 'w': data_offsets \[0,16\] run past the 8-byte data section/],
    [
      'overlapping tensors',
      rawFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8),
      /tensor 'b': data_offsets \[4,8\] overlap the previous tensor, which ends at 8/,
    ],
    [
      'a gap between tensors',
      rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', 12),
      /tensor 'b': data_offsets \[8,12\] leave bytes 4\.\.8 unused/,
    ],
    ['trailing bytes no tensor covers', rawFile(ok, 12), /tensors cover 8 of the 12-byte data section/],
    ['shape × dtype size ≠ byte length', rawFile('{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', 8), /tensor 'w': shape \[3\] of F32 needs 12 bytes, data_offsets \[0,8\] hold 8/],
    ['non-string metadata', rawFile('{"__metadata__":{"epoch":3}}', 0), /'__metadata__'\.epoch is not a string/],
  ];

  it.each(cases)('%s', (_, file, message) => {
    let error: unknown;
    try {
      decodeSafetensors(file, 'bad.safetensors');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SafetensorsFormatError);
    expect((error as Error).message).toMatch(/^bad\.safetensors: /);
    expect((error as Error).message).toMatch(message);
  });

  it('the encoder refuses data whose length does not match shape × dtype size', () => {
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Uint8Array(12) } })).toThrow(
      /tensor 'w': shape \[2,2\] of F32 needs 16 bytes, data has 12/,
    );
  });

  it('the encoder refuses unknown dtypes and the reserved name __metadata__', () => {
    expect(() => encodeSafetensors({ w: { dtype: 'F8', shape: [1], data: new Uint8Array(1) } })).toThrow(/unsupported dtype 'F8'/);
    expect(() => encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } })).toThrow(/reserved/);
  });
});

describe('writeFileAtomic', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kindling-atomic-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('replaces the file with the new bytes and leaves no temp file', () => {
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, 'old checkpoint');
    writeSafetensorsFile(path, { w: { dtype: 'U8', shape: [2], data: Uint8Array.from([7, 8]) } }, { epoch: '2' });
    expect(readSafetensorsFile(path).metadata).toEqual({ epoch: '2' });
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('a write that fails midway leaves the previous checkpoint intact and removes the temp file', () => {
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, 'old checkpoint');
    function* crashAfterFirstChunk(): Generator<Uint8Array> {
      yield new Uint8Array(4096).fill(1);
      throw new Error('simulated crash during the write');
    }
    expect(() => writeFileAtomic(path, crashAfterFirstChunk())).toThrow(/simulated crash/);
    expect(readFileSync(path, 'utf8')).toBe('old checkpoint');
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('a write into a missing directory throws and creates nothing', () => {
    expect(() => writeFileAtomic(join(dir, 'missing', 'model.safetensors'), new Uint8Array(8))).toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
