/**
 * OUT/.apc.lock: a second writer is refused with the holder named; a lock whose process is gone
 * (a killed run) is taken over with a message; release removes only our own lock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireOutputLock, LOCK_FILE, lockStaleSeconds, OutputLockedError, outputLockState, processAlive } from './output_lock.js';

const dir = mkdtempSync(join(tmpdir(), 'apc-lock-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** The pid of a process that has exited (spawnSync waits for it). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  assert.ok(r.pid && !processAlive(r.pid));
  return r.pid!;
}

test('the lock records pid, host, command and start; a second writer is refused naming the holder', () => {
  const out = join(dir, 'a');
  const release = acquireOutputLock(out, 'apc train --out a');
  const holder = JSON.parse(readFileSync(join(out, LOCK_FILE), 'utf8'));
  assert.deepEqual({ pid: holder.pid, host: holder.host, command: holder.command }, { pid: process.pid, host: hostname(), command: 'apc train --out a' });
  assert.ok(!Number.isNaN(Date.parse(holder.startedAt)));
  assert.throws(() => acquireOutputLock(out, 'apc compress --out a'), (err: unknown) => err instanceof OutputLockedError
    && new RegExp(`is in use by pid ${process.pid} on ${hostname()} \\('apc train --out a', started `).test(err.message));
  release();
  assert.ok(!existsSync(join(out, LOCK_FILE)));
  acquireOutputLock(out, 'again')();
});

test('a live process on this host holds its lock; a dead one\'s lock is stale and taken over with a message', () => {
  const out = join(dir, 'b');
  acquireOutputLock(out, 'setup')();
  // the parent of this process is alive: refused
  writeFileSync(join(out, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: hostname(), command: 'apc run', startedAt: 'earlier' }));
  assert.throws(() => acquireOutputLock(out, 'apc run'), new RegExp(`in use by pid ${process.ppid}`));
  const pid = deadPid();
  writeFileSync(join(out, LOCK_FILE), JSON.stringify({ pid, host: hostname(), command: 'apc run --out b', startedAt: 'earlier' }));
  const lines: string[] = [];
  const release = acquireOutputLock(out, 'apc run --out b', (l) => lines.push(l));
  assert.equal(lines.length, 1);
  assert.match(lines[0], new RegExp(`taking over the stale lock .*${LOCK_FILE} of pid ${pid} on ${hostname()} \\('apc run --out b', started earlier\\): that process no longer exists`));
  assert.equal(JSON.parse(readFileSync(join(out, LOCK_FILE), 'utf8')).pid, process.pid);
  release();
});

test('a lock from another host is never taken over; an unreadable one is reported', () => {
  const out = join(dir, 'c');
  acquireOutputLock(out, 'setup')();
  writeFileSync(join(out, LOCK_FILE), JSON.stringify({ pid: deadPid(), host: 'elsewhere', command: 'apc train', startedAt: 'x' }));
  assert.throws(() => acquireOutputLock(out, 'apc train'), /on elsewhere .*another host/);
  writeFileSync(join(out, LOCK_FILE), 'garbage');
  assert.throws(() => acquireOutputLock(out, 'apc train'), /unreadable/);
});

test('another host\'s lock is stale after APC_LOCK_STALE_SECONDS without a heartbeat, and taken over saying so', () => {
  const out = join(dir, 'd');
  acquireOutputLock(out, 'setup')();
  const path = join(out, LOCK_FILE);
  writeFileSync(path, JSON.stringify({ pid: 1, host: 'elsewhere', command: 'apc train', startedAt: 'x' }));
  assert.equal(outputLockState(out).state, 'held', 'just touched: its holder counts as alive');
  const old = new Date(Date.now() - 1000 * (lockStaleSeconds() + 5));
  utimesSync(path, old, old);
  const st = outputLockState(out);
  assert.equal(st.state, 'stale');
  const lines: string[] = [];
  const release = acquireOutputLock(out, 'apc train', (l) => lines.push(l));
  assert.match(lines[0], new RegExp(String.raw`of pid 1 on elsewhere .*another host, no heartbeat for \d+ s \(stale after ${lockStaleSeconds()} s\)`));
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).host, hostname());
  release();
  assert.equal(outputLockState(out).state, 'free');
});

test('the holder touches its lock file (heartbeat) until it releases it', async () => {
  const out = join(dir, 'e');
  const release = acquireOutputLock(out, 'apc train', undefined, 40);
  const path = join(out, LOCK_FILE);
  const old = new Date(Date.now() - 3_600_000);
  utimesSync(path, old, old);
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(Date.now() - statSync(path).mtimeMs < 60_000, 'touched again');
  release();
  assert.ok(!existsSync(path));
});
