/**
 * One writer per output directory: `apc train`, `apc compress` and `apc run` hold OUT/.apc.lock
 * (JSON: pid, host, command, start time) while they run. A second process is refused with a
 * message naming the holder; a lock left by a process that no longer exists on this host (killed)
 * is recognised as stale and taken over, with a message. A lock from another host cannot be
 * checked and is never taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = '.apc.lock';

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
}

/** The output directory is held by another live process (or one on another host). */
export class OutputLockedError extends Error {
  constructor(message: string, readonly holder: LockHolder | undefined) {
    super(message);
    this.name = 'OutputLockedError';
  }
}

/** Whether process `pid` exists on this host (EPERM: it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (Number.isInteger(v.pid) && typeof v.host === 'string') {
      return { pid: v.pid!, host: v.host, command: String(v.command ?? '?'), startedAt: String(v.startedAt ?? '?') };
    }
  } catch { /* unreadable: reported below */ }
  return undefined;
}

function describe(h: LockHolder): string {
  return `pid ${h.pid} on ${h.host} ('${h.command}', started ${h.startedAt})`;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Creates the lock file exclusively; false if it exists. */
function tryCreate(path: string, holder: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new Error(`cannot create the lock file ${path}: ${(err as Error).message}`);
  }
  try {
    writeSync(fd, JSON.stringify(holder) + '\n');
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Takes OUT/.apc.lock for this process (creating OUT); returns the release function (also run at
 * process exit). Throws OutputLockedError when a live process holds it. `log` receives the
 * stale-lock takeover message (default stderr).
 */
export function acquireOutputLock(outDir: string, command: string, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): () => void {
  const path = join(outDir, LOCK_FILE);
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (err) {
    throw new Error(`cannot create the output directory ${outDir}: ${(err as Error).message}`);
  }
  const me: LockHolder = { pid: process.pid, host: hostname(), command, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(path, me)) return releaser(path, me);
    const text = readText(path);
    if (text === undefined) continue; // released meanwhile
    const holder = parseHolder(text);
    if (!holder) {
      throw new OutputLockedError(`${outDir} is locked by ${path}, which is unreadable (${JSON.stringify(text.slice(0, 80))}); delete it if no apc process writes there`, undefined);
    }
    if (holder.host !== me.host || holder.pid === me.pid || processAlive(holder.pid)) {
      const check = holder.host !== me.host ? ' (another host: apc cannot check it; delete the file if that process is gone)' : '';
      throw new OutputLockedError(`${outDir} is in use by ${describe(holder)}; refusing to write there too${check}`, holder);
    }
    // stale: park it under a unique name, and take over only if what we parked is what we read
    const parked = `${path}.${me.pid}.stale`;
    try {
      renameSync(path, parked);
    } catch {
      continue; // someone else moved it first
    }
    if (readText(parked) !== text) {
      renameSync(parked, path);
      continue;
    }
    unlinkSync(parked);
    log(`apc: taking over the stale lock ${path} of ${describe(holder)}: that process no longer exists`);
  }
  throw new OutputLockedError(`cannot take the lock ${path}: other processes keep changing it`, undefined);
}

function releaser(path: string, me: LockHolder): () => void {
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.off('exit', release);
    try {
      if (parseHolder(readText(path) ?? '')?.pid === me.pid) unlinkSync(path);
    } catch { /* already gone or the directory was removed */ }
  };
  process.on('exit', release);
  return release;
}
