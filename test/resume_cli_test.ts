/**
 * Kill-and-resume: `apc train` and `apc compress` children are killed (SIGKILL, or SIGTERM for
 * the graceful path) when a given progress line appears, restarted with --resume until they
 * finish, and their final weights must equal an uninterrupted run's byte for byte. Tiny runs:
 * 48 shapes images at 32 px, VGG16 /16 teacher (3 steps per epoch), /32 student (2 steps).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from './apc_cli.js';

interface Exit { code: number | null; signal: NodeJS.Signals | null; err: string; killed: boolean }

/** Runs the CLI; when `kill` is given, sends its signal once stderr matches its pattern. */
function apcAsync(args: string[], kill?: { signal: NodeJS.Signals; when: RegExp }): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args],
      { cwd: root, env: { ...process.env, APC_BACKEND: 'wasm', APC_WASM_THREADS: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let killed = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      err += d;
      if (kill && !killed && kill.when.test(err)) { killed = true; child.kill(kill.signal); }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, err, killed }));
  });
}

/** At most `n` children at a time (2 cores). */
function pool(n: number): <T>(job: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (job) => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await job();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

const dir = mkdtempSync(join(tmpdir(), 'apc-resume-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const TRAIN = ['train', '--width', '16', '--epochs', '2', '--train-limit', '48', '--image-size', '32', '--batch-size', '16', '--quiet'];
const weights = (checkpoint: string) => readFileSync(join(checkpoint, 'weights.bin'));

/** Runs `args --out out` through the kill points, then resumes to completion; returns the stderr of every run. */
async function interrupted(run: <T>(job: () => Promise<T>) => Promise<T>, args: string[], out: string,
  kills: { signal: NodeJS.Signals; when: RegExp }[]): Promise<string[]> {
  const logs: string[] = [];
  for (const [i, k] of kills.entries()) {
    const r = await run(() => apcAsync([...args, '--out', out, ...(i > 0 ? ['--resume'] : [])], k));
    logs.push(r.err);
    assert.ok(r.killed, `kill point ${k.when} was never reached:\n${r.err}`);
    if (k.signal === 'SIGKILL') assert.equal(r.signal, 'SIGKILL', r.err);
    else {
      assert.equal(r.code, 143, r.err);
      assert.match(r.err, /stopped by SIGTERM .*(checkpoint written|after the stage completed)/);
    }
  }
  const r = await run(() => apcAsync([...args, '--out', out, '--resume']));
  assert.equal(r.code, 0, r.err);
  logs.push(r.err);
  return logs;
}

test('apc train and apc compress killed at several points resume to bit-identical weights', async () => {
  const run = pool(3);
  const progress = (label: string, epoch: string, step: string) => new RegExp(`${label} epoch ${epoch} ${step} ·`);
  // progress lines need a non-quiet run: the kill points are read from them
  const train = TRAIN.filter((a) => a !== '--quiet');
  const teacher = join(dir, 'teacher');
  const ref = await apcAsync([...train, '--out', teacher]);
  assert.equal(ref.code, 0, ref.err);

  const studentArgs = (extra: string[]) => ['compress', '--teacher', join(teacher, 'best'), '--epochs', '2', '--train-limit', '48', ...extra];
  const KD = studentArgs(['--width', '32', '--match', 'wcam', '--stochastic', '0.5', '--beta-warmup', '4']);
  const STRUCTURED = studentArgs(['--method', 'structured', '--rate', '0.5', '--rounds', '2', '--match', 'wcam']);
  const UNSTRUCTURED = studentArgs(['--method', 'unstructured', '--rate', '0.3', '--rounds', '2']);
  const jobs = {
    train: interrupted(run, train, join(dir, 'train-x'), [
      { signal: 'SIGKILL', when: progress('teacher', '1/2', '1/3') }, // during epoch 1
      { signal: 'SIGKILL', when: /teacher epoch 1\/2: loss/ }, // between epochs (epoch 1's checkpoint being written)
      { signal: 'SIGTERM', when: progress('teacher', '2/2', '1/3') }, // graceful, mid-epoch 2
    ]),
    kdRef: run(() => apcAsync([...KD, '--out', join(dir, 'kd')])),
    kd: interrupted(run, KD, join(dir, 'kd-x'), [
      { signal: 'SIGTERM', when: progress('kd\\+swa', '1/2', '1/2') }, // mid-epoch checkpoint inside the β warm-up
      { signal: 'SIGKILL', when: progress('kd\\+swa', '2/2', '1/2') }, // during epoch 2
    ]),
    sRef: run(() => apcAsync([...STRUCTURED, '--out', join(dir, 's')])),
    s: interrupted(run, STRUCTURED, join(dir, 's-x'), [
      { signal: 'SIGKILL', when: progress('prune-s0.5\\+swa round 1/2', '2/2', '1/2') }, // late in round 1
      { signal: 'SIGKILL', when: progress('prune-s0.5\\+swa round 2/2', '1/2', '1/2') }, // during round 2
    ]),
    uRef: run(() => apcAsync([...UNSTRUCTURED, '--out', join(dir, 'u')])),
    u: interrupted(run, UNSTRUCTURED, join(dir, 'u-x'), [
      { signal: 'SIGKILL', when: progress('prune-u0.3\\+none round 2/2', '1/2', '1/2') }, // during round 2 (masks rebuilt from round 1)
    ]),
  };
  const trainLogs = await jobs.train;
  assert.match(trainLogs.at(-1)!, /resuming from .*: in epoch 2 after step \d/);
  // a SIGKILLed run leaves its lock behind, taken over by the restart; SIGTERM releases it
  assert.match(trainLogs[1], /taking over the stale lock .*\.apc\.lock of pid \d+ .*that process no longer exists/);
  assert.doesNotMatch(trainLogs[3], /stale lock/);
  for (const which of ['last', 'best']) assert.deepEqual(weights(join(dir, 'train-x', which)), weights(join(teacher, which)), `train ${which}`);

  const [kdRef, kdLogs] = await Promise.all([jobs.kdRef, jobs.kd]);
  assert.equal(kdRef.code, 0, kdRef.err);
  assert.match(kdLogs[1], /kd\+swa: resuming from .*: in epoch \d after step \d/);
  assert.deepEqual(weights(join(dir, 'kd-x', 'last')), weights(join(dir, 'kd', 'last')), 'kd last');

  const [sRef] = await Promise.all([jobs.sRef, jobs.s]);
  assert.equal(sRef.code, 0, sRef.err);
  for (const round of ['round-1', 'round-2']) {
    assert.deepEqual(weights(join(dir, 's-x', round, 'last')), weights(join(dir, 's', round, 'last')), `structured ${round}`);
  }
  const [uRef] = await Promise.all([jobs.uRef, jobs.u]);
  assert.equal(uRef.code, 0, uRef.err);
  assert.deepEqual(weights(join(dir, 'u-x', 'round-2', 'last')), weights(join(dir, 'u', 'round-2', 'last')), 'unstructured round 2');
  const series = (d: string) => JSON.parse(readFileSync(join(d, 'rounds.json'), 'utf8')).series.map((r: { zeros: number; best: unknown; before: unknown }) => [r.zeros, r.before, r.best]);
  assert.deepEqual(series(join(dir, 'u-x')), series(join(dir, 'u')));
});
