/**
 * One writer per output directory: `apc train`, `apc compress` and `apc run` hold OUT/.apc.lock
 * (JSON: pid, host, command, start time) while they run. A second process is refused with a
 * message naming the holder; a lock left by a process that no longer exists on this host (killed)
 * is recognised as stale and taken over, with a message. A process on another host (a sweep worker
 * on a shared volume) cannot be checked by pid, so the holder touches the file every 30 s
 * (heartbeat) and another host's lock counts as stale after APC_LOCK_STALE_SECONDS (default 300)
 * without one — the owner of a SIGKILLed worker's stage is then taken over instead of blocking
 * the stage forever.
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = '.apc.lock';
/** How often a holder touches its lock file. */
export const LOCK_HEARTBEAT_MS = 30_000;
const DEFAULT_STALE_SECONDS = 300;

/** Seconds without a heartbeat after which another host's lock is stale (APC_LOCK_STALE_SECONDS). */
export function lockStaleSeconds(): number {
  const v = Number(process.env.APC_LOCK_STALE_SECONDS);
  return Number.isFinite(v) && v > 0 ? v : DEFAULT_STALE_SECONDS;
}

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

/** Seconds since the lock file was last touched (its holder's heartbeat); Infinity if it is gone. */
function heartbeatAge(path: string): number {
  try {
    return (Date.now() - statSync(path).mtimeMs) / 1000;
  } catch {
    return Infinity;
  }
}

export type LockState =
  | { readonly state: 'free' }
  | { readonly state: 'held'; readonly holder: LockHolder | undefined; readonly why: string }
  | { readonly state: 'stale'; readonly holder: LockHolder; readonly why: string };

/** Who holds OUT/.apc.lock, as seen from this process (pid checks on this host, heartbeats across hosts). */
export function outputLockState(outDir: string): LockState {
  const path = join(outDir, LOCK_FILE);
  const text = readText(path);
  if (text === undefined) return { state: 'free' };
  return holderState(path, text);
}

function holderState(path: string, text: string): Exclude<LockState, { state: 'free' }> {
  const holder = parseHolder(text);
  if (!holder) return { state: 'held', holder: undefined, why: `${path} is unreadable (${JSON.stringify(text.slice(0, 80))}); delete it if no apc process writes there` };
  if (holder.host === hostname()) {
    return holder.pid === process.pid || processAlive(holder.pid)
      ? { state: 'held', holder, why: `in use by ${describe(holder)}` }
      : { state: 'stale', holder, why: 'that process no longer exists' };
  }
  const age = heartbeatAge(path);
  const limit = lockStaleSeconds();
  return age > limit
    ? { state: 'stale', holder, why: `another host, no heartbeat for ${Math.round(age)} s (stale after ${limit} s)` }
    : { state: 'held', holder, why: `in use by ${describe(holder)} (another host: last heartbeat ${Math.round(age)} s ago; it counts as gone after ${limit} s without one, APC_LOCK_STALE_SECONDS)` };
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
export function acquireOutputLock(outDir: string, command: string, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  heartbeatMs = LOCK_HEARTBEAT_MS): () => void {
  const path = join(outDir, LOCK_FILE);
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (err) {
    throw new Error(`cannot create the output directory ${outDir}: ${(err as Error).message}`);
  }
  const me: LockHolder = { pid: process.pid, host: hostname(), command, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(path, me)) return releaser(path, me, heartbeatMs);
    const text = readText(path);
    if (text === undefined) continue; // released meanwhile
    const st = holderState(path, text);
    if (st.state === 'held') {
      throw new OutputLockedError(st.holder ? `${outDir} is ${st.why}; refusing to write there too` : `${outDir} is locked by ${st.why}`, st.holder);
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
    log(`apc: taking over the stale lock ${path} of ${describe(st.holder)}: ${st.why}`);
  }
  throw new OutputLockedError(`cannot take the lock ${path}: other processes keep changing it`, undefined);
}

function releaser(path: string, me: LockHolder, heartbeatMs: number): () => void {
  let released = false;
  // the heartbeat: another host sees the holder alive by the file's mtime
  const heartbeat = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(path, now, now);
    } catch { /* removed under us: the next writer decides */ }
  }, heartbeatMs);
  heartbeat.unref();
  const release = (): void => {
    if (released) return;
    released = true;
    clearInterval(heartbeat);
    process.off('exit', release);
    try {
      if (parseHolder(readText(path) ?? '')?.pid === me.pid) unlinkSync(path);
    } catch { /* already gone or the directory was removed */ }
  };
  process.on('exit', release);
  return release;
}
