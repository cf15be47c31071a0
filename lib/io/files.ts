// File access shared by every reader and writer in kindling (safetensors, IDX, CSV, checkpoints,
// the CLI): a failure of the file system becomes an IOError naming the op, the path and the
// cause; writes are atomic (temp file, fsync, rename) and sweep up the temp files of killed saves.
import {
  accessSync, closeSync, constants, fsyncSync, linkSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

import { IOError, KindlingError } from '../errors.js';

const causeOfCode: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EFBIG: 'file too large',
  ERR_FS_FILE_TOO_LARGE: 'file too large to read into memory',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  EEXIST: 'file already exists',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many levels of symbolic links',
  EMFILE: 'too many open files',
  EBUSY: 'resource busy',
  EXDEV: 'cross-device link',
};

/** The path, checked to be a non-empty string without NUL bytes (else an IOError naming the op). */
export function checkPath(op: string, path: unknown): string {
  if (typeof path !== 'string') {
    throw new IOError(`${op}: the path must be a string, got ${path === null ? 'null' : typeof path}`, undefined, 'EINVAL');
  }
  if (path === '') throw new IOError(`${op}: the path is empty`, path, 'EINVAL');
  if (path.includes('\0')) throw new IOError(`${op}: the path ${JSON.stringify(path)} contains a NUL byte`, path, 'EINVAL');
  return path;
}

/** `err` as an IOError naming op and path when it is a Node file-system error; other errors unchanged. */
export function toIOError(op: string, path: string, err: unknown): unknown {
  if (err instanceof KindlingError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return err;
  const cause = causeOfCode[code] ?? (err as Error).message;
  return new IOError(`${op}: ${path}: ${cause} (${code})`, path, code);
}

/** Runs a file-system call, reporting its failure as an IOError naming op and path. */
export function withIOErrors<T>(op: string, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toIOError(op, path, err);
  }
}

export function readBytes(op: string, path: unknown): Buffer {
  const checked = checkPath(op, path);
  return withIOErrors(op, checked, () => readFileSync(checked));
}

export function readText(op: string, path: unknown): string {
  return readBytes(op, path).toString('utf8');
}

export function pathExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Refuses to replace a file that is read-only: one the caller may not write (EACCES from
 * access(2)) or whose mode grants nobody write permission. A rename needs only the folder's
 * permission, so without this check a save would silently replace a write-protected file.
 */
export function assertReplaceable(op: string, path: string): void {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return; // Nothing there to protect; the write itself reports a bad folder.
  }
  let writable = (mode & 0o222) !== 0;
  if (writable) {
    try {
      accessSync(path, constants.W_OK);
    } catch {
      writable = false;
    }
  }
  if (!writable) throw new IOError(`${op}: ${path}: permission denied (EACCES): the file exists and is read-only`, path, 'EACCES');
}

/** Temp files of a save to `path` (see tempPathFor): `.<name>.<pid>.<12 hex>.tmp` beside it. */
function tempPattern(path: string): RegExp {
  const name = basename(path).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^\\.${name}\\.(\\d+)\\.[0-9a-f]{12}\\.tmp$`);
}

export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as { code?: string }).code === 'EPERM';
  }
}

/** A temp file older than this is stale even if its pid is alive (pids are reused). */
export const STALE_TEMP_AGE_MS = 60 * 60 * 1000;

/**
 * Removes temp files (or temp folders) left beside `path` by saves that were killed: those whose
 * writer process is gone, or that are older than STALE_TEMP_AGE_MS. A save in progress in
 * another live process (or another thread of this one) is recent and left alone.
 */
export function removeStaleTemps(path: string): void {
  const dir = dirname(path);
  const pattern = tempPattern(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names) {
    const match = pattern.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    const full = join(dir, name);
    try {
      const age = now - statSync(full).mtimeMs;
      const writerGone = pid !== process.pid && !processIsAlive(pid);
      if (writerGone || age > STALE_TEMP_AGE_MS) rmSync(full, { recursive: true, force: true });
    } catch {
      // Removed by someone else meanwhile, or not ours to remove: either way not this save's problem.
    }
  }
}

/**
 * Writes `bytes` (one buffer, or chunks written in order) to a new temp file beside `path` and
 * fsyncs it; returns the temp file's path (commitFiles renames it into place). A read-only file
 * at `path` is refused first, and stale temp files of earlier killed saves are removed. On
 * failure nothing is left behind and an IOError names `path`.
 */
export function writeTempFile(path: string, bytes: Uint8Array | Iterable<Uint8Array>, op = 'save'): string {
  checkPath(op, path);
  assertReplaceable(op, path);
  removeStaleTemps(path);
  const tempPath = tempPathFor(path);
  const chunks = bytes instanceof Uint8Array ? [bytes] : bytes;
  let fd: number | null = null;
  try {
    fd = openSync(tempPath, 'wx', 0o644);
    for (const chunk of chunks) {
      for (let written = 0; written < chunk.byteLength; ) {
        written += writeSync(fd, chunk, written, chunk.byteLength - written);
      }
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    return tempPath;
  } catch (err) {
    if (fd !== null) closeSync(fd);
    removeQuietly(tempPath);
    throw toIOError(op, path, err);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Never created, or already gone; the error being reported is the one that matters.
  }
}

export interface PendingFile {
  /** A fsynced temp file from writeTempFile. */
  temp: string;
  /** Where it goes. */
  path: string;
}

/** Removes prepared temp files that will not be committed. */
export function discardTempFiles(files: readonly PendingFile[]): void {
  for (const { temp } of files) removeQuietly(temp);
}

/**
 * Renames prepared temp files into place, in order (put the file that marks the whole as
 * complete last). If a rename fails, the files already replaced get their previous contents
 * back (kept as hard links until the end) and the new ones are removed, so an error leaves every
 * destination as it was. Temp files are removed on failure.
 */
export function commitFiles(files: readonly PendingFile[], op = 'save'): void {
  // Previous contents, as hard links, for putting back if a later rename fails (one file needs none).
  const existed = files.map(({ path }) => pathExists(path));
  const backups: (string | null)[] = files.map(({ path }, k) => {
    if (files.length === 1 || !existed[k]) return null;
    const backup = tempPathFor(path);
    try {
      linkSync(path, backup);
      return backup;
    } catch {
      return null; // No hard links here: that part cannot be put back, but each rename is still atomic.
    }
  });
  let done = 0;
  try {
    for (const { temp, path } of files) {
      withIOErrors(op, path, () => renameSync(temp, path));
      done++;
    }
  } catch (err) {
    for (let k = 0; k < done; k++) {
      const backup = backups[k], path = files[k]!.path;
      try {
        if (backup !== null) renameSync(backup, path);
        else if (!existed[k]) unlinkSync(path);
      } catch {
        // Best effort: the original error is the one to report.
      }
    }
    for (const { temp } of files.slice(done)) removeQuietly(temp);
    for (const backup of backups) if (backup !== null) removeQuietly(backup);
    throw err;
  }
  for (const backup of backups) if (backup !== null) removeQuietly(backup);
  for (const dir of new Set(files.map(({ path }) => dirname(path)))) fsyncDirectory(dir);
}

/**
 * Writes `bytes` to `path` so that a crash or error at any point leaves either the old file or
 * the complete new one: a fsynced temp file in the same directory (same file system, so the
 * rename is atomic) is renamed over `path`. See writeTempFile for the checks made first.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | Iterable<Uint8Array>, op = 'save'): void {
  const temp = writeTempFile(path, bytes, op);
  commitFiles([{ temp, path }], op);
}

/** Makes a rename durable. Some platforms (Windows) cannot open a directory; there the rename is as durable as it gets. */
export function fsyncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // Not supported for directories on this file system.
  } finally {
    closeSync(fd);
  }
}
