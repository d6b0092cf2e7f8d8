/**
 * The BullMQ executor across Redis restarts, in the README's setup (AOF on, no RDB snapshots). The
 * test runs its own redis-server (Debian's `redis-server` on PATH; `.ci/run` installs it) and
 * restarts it while a stage runs: Redis must come back with every job (completed ones with their
 * results), `apc sweep` and `apc worker` must ride out the outage and finish the sweep with no job
 * run twice. Then, with sweep and worker stopped, Redis restarted again and the job records on disk
 * moved away, a re-run of `apc sweep` with no worker must find every result in Redis alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { queueJobId, redisConnection, SWEEP_QUEUE } from '../src/sweep/queue_names.js';
import type { SweepResults } from '../src/sweep/sweep_results.js';
import { root } from './apc_cli.js';

const haveRedis = !spawnSync('redis-server', ['--version']).error;
// one seed: 1 teacher, 2 compressions, 3 evaluations (~40 s of stages on one worker)
const GRID = ['--preset', 'smoke', '--seeds', '0', '--compression', 'kd', '--match', 'none,wcam', '--beta', '1',
  '--train-limit', '64', '--epochs', '1', '--limit', '8', '--attribution', 'gradcam'];
const ENV = { ...process.env, APC_BACKEND: 'wasm', APC_WASM_THREADS: '1' };

interface Proc { readonly child: ChildProcess; readonly name: string; output(): string; readonly exited: Promise<number | null> }

function start(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const child = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => { out += String(d); });
  child.stderr!.on('data', (d) => { out += String(d); });
  const exited = new Promise<number | null>((r) => { child.on('error', () => r(null)); child.on('exit', (code) => r(code)); });
  return { child, name, output: () => out, exited };
}
const apc = (name: string, args: string[]) => start(name, process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], ENV);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const running = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;

/** Polls `done` until it holds; throws after `seconds`, or as soon as one of `mustRun` has exited (with its output). */
async function until(what: string, seconds: number, done: () => boolean, mustRun: Proc[] = []): Promise<void> {
  const deadline = Date.now() + 1000 * seconds;
  while (!done()) {
    const dead = mustRun.find((p) => !running(p));
    if (dead) throw new Error(`${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode}) while waiting for ${what}:\n${dead.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await sleep(200);
  }
}

async function exitCode(p: Proc, seconds: number): Promise<number | null> {
  await until(`${p.name} to exit`, seconds, () => !running(p));
  return p.exited;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => res(port)); });
  });
}

/** redis-server as the README runs it: AOF on, no RDB snapshots; resolves once it accepts connections. */
async function startRedis(port: number, dir: string): Promise<Proc> {
  const p = start('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--save', '', '--dir', dir]);
  await until('redis-server to accept connections', 30, () => /Ready to accept connections/.test(p.output()), [p]);
  return p;
}

/** Graceful stop (SIGTERM: Redis flushes the AOF and exits 0), as a service manager does. */
async function stopRedis(p: Proc): Promise<void> {
  p.child.kill('SIGTERM');
  assert.equal(await exitCode(p, 30), 0, p.output());
}

/** Cleanup: SIGTERM the apc processes, SIGKILL Redis, and SIGKILL whatever has not exited within 20 s. */
async function stopAll(procs: Proc[]): Promise<void> {
  for (const p of procs.filter(running)) p.child.kill(p.name === 'redis-server' ? 'SIGKILL' : 'SIGTERM');
  for (const p of procs) {
    let timer: NodeJS.Timeout | undefined;
    const hung = await Promise.race([p.exited.then(() => false), new Promise<boolean>((r) => { timer = setTimeout(() => r(true), 20_000); })]);
    clearTimeout(timer);
    if (hung) p.child.kill('SIGKILL');
  }
}

interface JobState { readonly state: string; readonly returnvalue: unknown; readonly finishedOn?: number }

/** Our sweep's jobs in Redis, by sweep job key. */
async function queueState(url: string, sweepRoot: string): Promise<Map<string, JobState>> {
  const connection = redisConnection(url);
  const queue = new Queue(SWEEP_QUEUE, { connection });
  try {
    const prefix = queueJobId(sweepRoot, '');
    const jobs = (await queue.getJobs(['completed', 'failed', 'active', 'wait', 'delayed', 'prioritized', 'waiting-children', 'paused']))
      .filter((j) => j.id?.startsWith(prefix));
    const states = new Map<string, JobState>();
    for (const j of jobs) states.set(j.id!.slice(prefix.length), { state: await j.getState(), returnvalue: j.returnvalue, finishedOn: j.finishedOn });
    return states;
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

/** How often the worker took up each job key ("worker NAME: STAGE KEY (attempt N)" lines). */
function pickups(workerLog: string): Map<string, number> {
  const n = new Map<string, number>();
  for (const m of workerLog.matchAll(/worker \S+: (?:teacher|compress|evaluate) (\w+) \(attempt/g)) n.set(m[1]!, (n.get(m[1]!) ?? 0) + 1);
  return n;
}

test('queue: Redis restarted mid-sweep (AOF on) keeps every job; sweep and worker ride it out, no job runs twice; a re-run finds the results in Redis', {
  skip: haveRedis ? false : 'redis-server is not on PATH: install it (Debian: apt-get install redis-server) to run the Redis restart test (.ci/run does)',
  timeout: 900_000, // ~1 min on an idle 2-core machine; generous for a loaded one (every wait below has its own limit)
}, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'apc-sweep-redis-'));
  const redisDir = join(tmp, 'redis');
  const out = join(tmp, 'sweep');
  const sweepRoot = resolve(out);
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const procs: Proc[] = [];
  try {
    mkdirSync(redisDir);
    let redis = await startRedis(port, redisDir);
    procs.push(redis);
    const worker = apc('apc worker', ['worker', '--queue', url]);
    const sweep = apc('apc sweep', ['sweep', ...GRID, '--queue', url, '--out', out]);
    procs.push(worker, sweep);

    // restart while the worker runs a stage that needs the finished teacher (so: ≥ 1 job completed, 1 active, others waiting)
    await until('a compression stage to start', 300, () => /: compress \w+ \(attempt/.test(worker.output()), [worker, sweep]);
    await sleep(1000);
    const before = await queueState(url, sweepRoot);
    const completedBefore = [...before].filter(([, s]) => s.state === 'completed').map(([k]) => k);
    assert.ok(completedBefore.length >= 1, `a job completed before the restart: ${JSON.stringify([...before])}`);
    assert.ok([...before.values()].some((s) => s.state === 'active' || s.state === 'waiting'), `jobs pending at the restart: ${JSON.stringify([...before])}`);
    await stopRedis(redis);
    await sleep(2000); // an outage the clients see (connection refused, reconnect attempts)
    assert.ok(running(worker) && running(sweep), 'apc worker and apc sweep survive Redis going away');
    redis = await startRedis(port, redisDir);
    procs.push(redis);

    // Redis came back with every job it had; completed ones unchanged (their results, their finish time)
    const after = await queueState(url, sweepRoot);
    for (const [key, s] of before) {
      const a = after.get(key);
      assert.ok(a, `job ${key} (${s.state} before the restart) is in Redis after it`);
      if (s.state === 'completed') assert.deepEqual(a, s, `completed job ${key} is unchanged`);
      else assert.ok(['waiting', 'active', 'completed'].includes(a.state), `job ${key}: ${s.state} before, ${a.state} after`);
    }

    assert.equal(await exitCode(sweep, 600), 0, sweep.output());
    const results = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as SweepResults;
    assert.equal(results.counts.done, results.counts.total);
    assert.equal(results.counts.total, 6);
    const final = await queueState(url, sweepRoot);
    assert.deepEqual([...final.keys()].sort(), results.jobs.map((j) => j.key).sort(), 'one queue job per sweep job');
    for (const j of results.jobs) {
      const s = final.get(j.key)!;
      assert.equal(s.state, 'completed', `${j.stage} ${j.key}`);
      assert.equal((s.returnvalue as { key: string }).key, j.key);
      assert.equal(j.attempts, 1, `${j.stage} ${j.key} ran in one attempt`);
      if (completedBefore.includes(j.key)) assert.equal(s.finishedOn, before.get(j.key)!.finishedOn, `${j.key} was not completed again`);
      // each stage ran once: one take-up by the worker, one run header in its log
      assert.equal(pickups(worker.output()).get(j.key), 1, `worker took up ${j.stage} ${j.key} once:\n${worker.output()}`);
      assert.equal(readFileSync(join(out, 'logs', `${j.key}.log`), 'utf8').match(/^=== /gm)?.length, 1, `${j.key}: one stage run`);
    }
    assert.equal(readdirSync(join(out, 'jobs')).length, 6);
    // the outage is one line when Redis goes and one when it is back, no error dump per reconnect attempt
    for (const [p, who] of [[sweep, 'sweep'], [worker, 'worker \\S+']] as const) {
      assert.match(p.output(), new RegExp(`${who}: Redis at ${url} unreachable \\([^\\n]*\\n(.*\\n)*${who}: Redis at ${url} is back`), p.output());
      assert.doesNotMatch(p.output(), /^\s+at /m, `${p.name}: no stack trace`);
      assert.ok(p.output().split('\n').filter((l) => l.includes('ECONNREFUSED')).length <= 2, `${p.name}: one line per outage:\n${p.output()}`);
    }

    // sweep and worker stopped, Redis restarted, records on disk moved away: the re-run has only Redis to go by, and no worker
    worker.child.kill('SIGTERM');
    await exitCode(worker, 60);
    await stopRedis(redis);
    redis = await startRedis(port, redisDir);
    procs.push(redis);
    renameSync(join(out, 'jobs'), join(tmp, 'jobs-moved'));
    const rerun = apc('apc sweep (re-run)', ['sweep', ...GRID, '--queue', url, '--out', out]);
    procs.push(rerun);
    assert.equal(await exitCode(rerun, 120), 0, `the re-run finishes from Redis's results:\n${rerun.output()}`);
    const again = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as SweepResults;
    assert.deepEqual(again.jobs, results.jobs);
    assert.deepEqual(again.configs, results.configs);
    assert.deepEqual(await queueState(url, sweepRoot), final, 'the re-run added or re-ran nothing');
    assert.equal(existsSync(join(out, 'jobs')), false);

    await stopRedis(redis);
    rmSync(tmp, { recursive: true, force: true }); // kept when the test fails, for its logs
  } finally {
    await stopAll(procs);
  }
});

test('queue: a worker stopped with SIGTERM mid-stage checkpoints it and hands the job straight back; the next worker resumes it in the same attempt', {
  skip: haveRedis ? false : 'redis-server is not on PATH: install it (Debian: apt-get install redis-server) to run this test (.ci/run does)',
  timeout: 900_000,
}, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'apc-sweep-stop-'));
  const redisDir = join(tmp, 'redis');
  const out = join(tmp, 'sweep');
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  // a teacher long enough to be stopped mid-training (~30 s on one thread)
  const grid = ['--preset', 'smoke', '--seeds', '0', '--compression', 'kd', '--match', 'none', '--train-limit', '512', '--epochs', '3',
    '--limit', '8', '--attribution', 'gradcam'];
  const procs: Proc[] = [];
  try {
    mkdirSync(redisDir);
    procs.push(await startRedis(port, redisDir));
    // a long lock: were the job left to BullMQ's stalled-job check, the second worker would wait ≥ 5 min for it
    const first = apc('apc worker (stopped)', ['worker', '--queue', url, '--lock-seconds', '600']);
    const sweep = apc('apc sweep', ['sweep', ...grid, '--queue', url, '--out', out]);
    procs.push(first, sweep);
    await until('the teacher stage to start', 300, () => /: teacher \w+ \(attempt 1\)/.test(first.output()), [first, sweep]);
    const teacherKey = /: teacher (\w+) \(attempt 1\)/.exec(first.output())![1]!;
    await sleep(10_000); // into training
    first.child.kill('SIGTERM');
    assert.equal(await exitCode(first, 120), 143, first.output());
    assert.match(first.output(), new RegExp(`teacher ${teacherKey} stopped; back to the queue`));
    assert.equal(pickups(first.output()).size, 1, `the stopping worker took no other job:\n${first.output()}`);
    const teacherLog = join(out, 'logs', `${teacherKey}.log`);
    assert.match(readFileSync(teacherLog, 'utf8'), /teacher: stopped by SIGTERM at epoch \d+, step \d+ of \d+; checkpoint written/);

    const second = apc('apc worker', ['worker', '--queue', url, '--lock-seconds', '600']);
    procs.push(second);
    await until('the second worker to take up the teacher', 60, () => new RegExp(`teacher ${teacherKey} \\(attempt 1\\)`).test(second.output()), [second, sweep]);
    assert.equal(await exitCode(sweep, 600), 0, sweep.output());
    assert.match(readFileSync(teacherLog, 'utf8'), /teacher: resuming from .*last/);
    const results = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as SweepResults;
    assert.equal(results.counts.done, results.counts.total);
    assert.ok(results.jobs.every((j) => j.attempts === 1), JSON.stringify(results.jobs.map((j) => [j.stage, j.attempts])));
    rmSync(tmp, { recursive: true, force: true });
  } finally {
    await stopAll(procs);
  }
});
