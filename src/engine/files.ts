/**
 * Files apc writes, atomically: a crash or a concurrent reader never sees half a file. No
 * TensorFlow.js here, so tf-free modules (the HTML report) can use it.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

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
    fh = await open(dir, 'r');
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
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new FileWriteError(`cannot create directory ${dir}: ${errMessage(err)}`, dir, { cause: err });
  }
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx', 0o644);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, target);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
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
