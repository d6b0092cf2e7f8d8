/**
 * OUT/.apc.lock: a second writer is refused with the holder named; a lock whose process is gone
 * (a killed run) is taken over with a message; release removes only our own lock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireOutputLock, LOCK_FILE, OutputLockedError, processAlive } from './output_lock.js';

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
