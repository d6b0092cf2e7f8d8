/**
 * Files apc writes, atomically: a crash or a concurrent reader never sees half a file. No
 * TensorFlow.js here, so tf-free modules (the HTML report) can use it.
 *
 * Every write goes through `fileOps`, so tests can inject a read-only or full disk (EROFS,
 * ENOSPC) where chmod cannot (tests run as root): `setFileOpsForTesting`.
 */
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The file-system calls apc's writers make. */
export interface FileOps {
  mkdir(dir: string, options: { recursive: true }): Promise<unknown>;
  open(path: string, flags: string, mode?: number): Promise<FileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rm(path: string, options: { recursive: true; force: true }): Promise<void>;
}

const nodeFileOps: FileOps = { mkdir: fsp.mkdir, open: fsp.open, rename: fsp.rename, unlink: fsp.unlink, rm: fsp.rm };
let fileOps: FileOps = nodeFileOps;

/**
 * Replaces some of the file-system calls of every writer (tests: `open` failing with ENOSPC);
 * no argument restores Node's.
 */
export function setFileOpsForTesting(ops?: Partial<FileOps>): void {
  fileOps = { ...nodeFileOps, ...ops };
}

/** A failed atomic write; `path` is the file (or directory) that could not be written. */
export class FileWriteError extends Error {
  constructor(message: string, readonly path: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FileWriteError';
  }
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await fileOps.open(dir, 'r');
    await fh.sync();
  } catch {
    // Windows and some file systems refuse to open/fsync directories; the rename is still atomic.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/**
 * Write `data` to `target` atomically: unique temp file in the same directory (name carries pid +
 * random suffix), write, fsync, rename over the target, fsync the directory. Creates the
 * directory. On failure the temp file is removed and the target is untouched.
 */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(target);
  try {
    await fileOps.mkdir(dir, { recursive: true });
  } catch (err) {
    throw new FileWriteError(`cannot create directory ${dir}: ${errMessage(err)}`, dir, { cause: err });
  }
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle | undefined;
  try {
    fh = await fileOps.open(tmp, 'wx', 0o644);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fileOps.rename(tmp, target);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await fileOps.unlink(tmp).catch(() => undefined);
    throw new FileWriteError(`cannot write file ${target}: ${errMessage(err)}`, target, { cause: err });
  }
  await fsyncDir(dir);
}

/**
 * `value` as indented JSON, written atomically. JSON.stringify already writes NaN/±Infinity (an
 * AUC with no counted pairs, say) as null.
 */
export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2));
}

/** Where `replaceDirectory` stages a new `dir` and parks the old one. */
export function directorySwapPaths(dir: string): { staged: string; old: string } {
  const parent = dirname(dir), name = basename(dir);
  return { staged: join(parent, `.${name}.new`), old: join(parent, `.${name}.old`) };
}

/**
 * Writes a whole directory atomically: `fill(staged)` writes into a fresh staging directory
 * beside `dir`, which then replaces `dir` by two renames (dir → .dir.old, staged → dir). A crash
 * at any point leaves either the complete old or the complete new directory; the one window
 * where `dir` is missing (between the renames) is undone by `recoverDirectory`. On failure the
 * staging directory is removed and `dir` is untouched.
 */
export async function replaceDirectory(dir: string, fill: (staged: string) => Promise<void>): Promise<void> {
  const { staged, old } = directorySwapPaths(dir);
  await recoverDirectory(dir);
  try {
    await fileOps.rm(staged, { recursive: true, force: true }).catch((err) => {
      throw new FileWriteError(`cannot clear the staging directory ${staged}: ${errMessage(err)}`, staged, { cause: err });
    });
    await fill(staged);
  } catch (err) {
    await fileOps.rm(staged, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  try {
    await fileOps.rm(old, { recursive: true, force: true });
    await fileOps.rename(dir, old).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
    await fileOps.rename(staged, dir);
  } catch (err) {
    await recoverDirectory(dir).catch(() => undefined);
    await fileOps.rm(staged, { recursive: true, force: true }).catch(() => undefined);
    throw new FileWriteError(`cannot replace directory ${dir}: ${errMessage(err)}`, dir, { cause: err });
  }
  await fsyncDir(dirname(dir));
  await fileOps.rm(old, { recursive: true, force: true }).catch(() => undefined);
}

/**
 * Completes or undoes an interrupted `replaceDirectory`: if `dir` is missing but its parked old
 * copy exists, the old copy is put back. Leftover staging directories are ignored (the next
 * replace removes them).
 */
export async function recoverDirectory(dir: string): Promise<void> {
  const { old } = directorySwapPaths(dir);
  const exists = (p: string) => fsp.stat(p).then(() => true, () => false);
  if (!(await exists(dir)) && (await exists(old))) await fileOps.rename(old, dir);
}
