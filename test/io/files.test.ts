import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { readCsvFile } from '../../lib/data/csv.js';
import { readIdxFile } from '../../lib/data/idx.js';
import * as kd from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { encodeSafetensors } from '../../lib/io/safetensors.js';

const { nn } = kd;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kindling-files-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function expectIOError(fn: () => unknown, path: string | null, code: string): void {
  let error: unknown = null;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, `expected an IOError ${code}`).toBeInstanceOf(kd.IOError);
  expect(error).toBeInstanceOf(kd.KindlingError);
  const { message, code: actual } = error as kd.IOError;
  expect(actual).toBe(code);
  if (path !== null) expect(message).toContain(path);
}

describe('file-system failures are IOErrors naming the path and the cause', () => {
  const readers: [string, (path: string) => unknown][] = [
    ['io.load', (p) => kd.io.load(p)],
    ['io.loadMetadata', (p) => kd.io.loadMetadata(p)],
    ['readIdxFile', (p) => readIdxFile(p)],
    ['readCsvFile', (p) => readCsvFile(p)],
    ['loadCheckpoint', (p) => kd.train.loadCheckpoint(p, { model: new nn.Linear(2, 2) })],
    ['fashionMnist', (p) => kd.data.datasets.fashionMnist({ dir: p })],
  ];

  it.each(readers)('%s: a missing file (ENOENT)', (_, read) => {
    const path = join(dir, 'missing.bin');
    expectIOError(() => read(path), path, 'ENOENT');
  });

  it.each(readers.filter(([name]) => name !== 'fashionMnist'))('%s: a directory (EISDIR)', (name, read) => {
    const path = join(dir, 'folder.safetensors');
    mkdirSync(path);
    expectIOError(() => read(path), path, 'EISDIR');
  });

  it.each(readers)('%s: a path through a regular file (ENOTDIR)', (_, read) => {
    writeFileSync(join(dir, 'plain'), 'x');
    const path = join(dir, 'plain', 'inside.safetensors');
    expectIOError(() => read(path), 'plain', 'ENOTDIR');
  });

  it.each(readers.filter(([name]) => name !== 'fashionMnist'))('%s: a non-string or empty path', (_, read) => {
    for (const bad of ['', 42, null, undefined, {}]) expectIOError(() => read(bad as unknown as string), null, 'EINVAL');
  });

  it.each(readers.filter(([name]) => name !== 'fashionMnist'))('%s: a file too large to read into memory', (_, read) => {
    const path = join(dir, 'huge.safetensors');
    writeFileSync(path, '');
    truncateSync(path, 3 * 2 ** 30); // sparse: takes no disk space
    expectIOError(() => read(path), path, 'ERR_FS_FILE_TOO_LARGE');
  });

  it('io.save into a missing folder, through a file, or to an empty path', () => {
    const state = { w: kd.ones([2]) };
    expectIOError(() => kd.io.save(state, join(dir, 'missing', 'm.safetensors')), join(dir, 'missing', 'm.safetensors'), 'ENOENT');
    writeFileSync(join(dir, 'plain'), 'x');
    expectIOError(() => kd.io.save(state, join(dir, 'plain', 'm.safetensors')), join(dir, 'plain'), 'ENOTDIR');
    expectIOError(() => kd.io.save(state, ''), null, 'EINVAL');
    expectIOError(() => kd.io.save(state, 7 as unknown as string), null, 'EINVAL');
    mkdirSync(join(dir, 'folder.safetensors'));
    expectIOError(() => kd.io.save(state, join(dir, 'folder.safetensors')), join(dir, 'folder.safetensors'), 'EISDIR');
    expect(readdirSync(dir).sort()).toEqual(['folder.safetensors', 'plain']);
  });

  it('saveCheckpoint through a regular file', () => {
    writeFileSync(join(dir, 'plain'), 'x');
    expectIOError(() => kd.train.saveCheckpoint(join(dir, 'plain', 'sub', 'c.safetensors'), { model: new nn.Linear(2, 2), epoch: 1 }), 'plain', 'ENOTDIR');
  });
});

describe('saving over a read-only file', () => {
  it('io.save refuses with EACCES and leaves the file as it was', () => {
    const path = join(dir, 'frozen.safetensors');
    kd.io.save({ w: kd.ones([2]) }, path);
    const before = readFileSync(path);
    chmodSync(path, 0o444);
    expectIOError(() => kd.io.save({ w: kd.zeros([3]) }, path), path, 'EACCES');
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(['frozen.safetensors']);
  });

  it('a writable file is still replaced', () => {
    const path = join(dir, 'm.safetensors');
    kd.io.save({ w: kd.ones([2]) }, path);
    kd.io.save({ w: kd.zeros([3]) }, path);
    expect(kd.io.load(path).w.shape).toEqual([3]);
  });
});

describe('temp files of killed saves', () => {
  // A pid far above any pid_max, so no live process has it.
  const deadPid = 99_999_999;

  it('the next save to the path removes those of dead processes and old ones, and keeps the rest', () => {
    const path = join(dir, 'model.safetensors');
    const dead = `.model.safetensors.${deadPid}.0123456789ab.tmp`;
    const oldLive = `.model.safetensors.${process.pid}.aaaaaaaaaaaa.tmp`;
    const freshLive = `.model.safetensors.${process.pid}.bbbbbbbbbbbb.tmp`;
    const otherFile = `.other.safetensors.${deadPid}.cccccccccccc.tmp`;
    for (const name of [dead, oldLive, freshLive, otherFile, 'notes.txt']) writeFileSync(join(dir, name), 'partial');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
    utimesSync(join(dir, oldLive), twoHoursAgo, twoHoursAgo);

    kd.io.save({ w: kd.ones([2]) }, path);
    expect(readdirSync(dir).sort()).toEqual([freshLive, otherFile, 'model.safetensors', 'notes.txt'].sort());
  });
});

describe('io.load of unusual files', () => {
  function writeEntries(entries: Record<string, { dtype: string; shape: number[]; data: Uint8Array }>): string {
    const path = join(dir, 'x.safetensors');
    writeFileSync(path, encodeSafetensors(entries));
    return path;
  }

  it('U8 tensors are a DTypeError naming the key and the file, not silently bool', () => {
    const path = writeEntries({ pixels: { dtype: 'U8', shape: [3], data: Uint8Array.from([0, 7, 255]) } });
    expect(() => kd.io.load(path)).toThrow(kd.DTypeError);
    expect(() => kd.io.load(path)).toThrow(/pixels.*U8|U8.*pixels/);
    expect(() => kd.io.load(path)).toThrow(path);
  });

  it('BOOL tensors still load as bool', () => {
    const path = writeEntries({ mask: { dtype: 'BOOL', shape: [3], data: Uint8Array.from([1, 0, 1]) } });
    const mask = kd.io.load(path).mask;
    expect(mask.dtype).toBe('bool');
    expect(mask.toArray()).toEqual([true, false, true]);
  });

  it('a tensor of more than 16 dims is a ShapeError naming the key and the file', () => {
    const shape = new Array(17).fill(1);
    const path = writeEntries({ deep: { dtype: 'F32', shape, data: new Uint8Array(4) } });
    expect(() => kd.io.load(path)).toThrow(kd.ShapeError);
    expect(() => kd.io.load(path)).toThrow(/'deep'.*17 dims/);
    expect(() => kd.io.load(path)).toThrow(path);
    const ok = writeEntries({ deep: { dtype: 'F32', shape: new Array(16).fill(1), data: new Uint8Array(4) } });
    expect(kd.io.load(ok).deep.ndim).toBe(16);
  });

  it("keys '__proto__', 'constructor' and 'toString' round-trip as ordinary entries", () => {
    const state: Record<string, Tensor> = Object.create(null);
    state['__proto__'] = kd.tensor([1, 2]);
    state['constructor'] = kd.tensor([3]);
    state['toString'] = kd.tensor([[4, 5]]);
    state['plain'] = kd.tensor([6]);
    const path = join(dir, 'keys.safetensors');
    kd.io.save(state, path);
    const back = kd.io.load(path);
    expect(Object.getPrototypeOf(back)).toBeNull();
    expect(Object.keys(back).sort()).toEqual(['__proto__', 'constructor', 'plain', 'toString']);
    expect(back['__proto__'].toArray()).toEqual([1, 2]);
    expect(back['constructor'].toArray()).toEqual([3]);
    expect(back['toString'].toArray()).toEqual([[4, 5]]);
    // kd.tidy keeps the tensors of a returned null-prototype record.
    const kept = kd.tidy(() => kd.io.load(path));
    expect(kept['plain'].isDisposed).toBe(false);
    expect(kept['plain'].toArray()).toEqual([6]);
  });

  it("a file whose only key is '__proto__' does not change the result's prototype", () => {
    const entries = {};
    Object.defineProperty(entries, '__proto__', { value: { dtype: 'F32', shape: [1], data: new Uint8Array(4) }, enumerable: true });
    const path = writeEntries(entries);
    const back = kd.io.load(path);
    expect(Object.getPrototypeOf(back)).toBeNull();
    expect(Object.keys(back)).toEqual(['__proto__']);
    expect(back['__proto__']).toBeInstanceOf(kd.Tensor);
  });
});
