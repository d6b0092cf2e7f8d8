/**
 * The BullMQ executor end to end (needs Redis: `.ci/run` starts one and sets APC_TEST_REDIS_URL):
 * a tiny sweep on two workers, one SIGKILLed mid-job. Its child must die with it, the job must be
 * picked up again, every job must end with exactly one completed result, and sweep.json's
 * statistics must equal the local executor's on the same grid (one wasm thread everywhere).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { redisConnection, queueJobId, SWEEP_QUEUE } from '../src/sweep/queue_names.js';
import type { SweepResults } from '../src/sweep/sweep_results.js';
import { root } from './apc_cli.js';

const url = process.env.APC_TEST_REDIS_URL;
const GRID = ['--preset', 'smoke', '--seeds', '0,1', '--compression', 'kd', '--match', 'none,wcam', '--beta', '1',
  '--train-limit', '64', '--epochs', '1', '--limit', '8', '--attribution', 'gradcam'];
const ENV = { ...process.env, APC_BACKEND: 'wasm', APC_WASM_THREADS: '1' };

function apcAsync(args: string[]): { child: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += String(d); });
  child.stdout!.resume();
  return { child, stderr: () => err, exited: new Promise((r) => child.on('exit', (code) => r(code))) };
}

/** Live (not zombie) child processes of `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === pid && state !== 'Z') out.push(Number(d));
    } catch { /* gone meanwhile */ }
  }
  return out;
}
function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const statistics = (r: SweepResults) => ({ configs: r.configs, paired: r.paired, betaCurves: r.betaCurves, jobs: r.jobs.map((j) => [j.key, j.stage, j.status]) });

test('queue: two workers, one SIGKILLed mid-job; one result per job; sweep.json equals the local executor\'s', {
  skip: url ? false : 'APC_TEST_REDIS_URL is not set: start redis-server on 127.0.0.1 and export its URL to run the queue test (.ci/run does)',
  timeout: 1_800_000, // ~2 min on an idle 2-core machine; generous for a loaded one
}, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'apc-sweep-queue-'));
  const localOut = join(tmp, 'local');
  const queueOut = join(tmp, 'queue');

  const local = apcAsync(['sweep', ...GRID, '--jobs', '2', '--out', localOut]);
  assert.equal(await local.exited, 0, local.stderr());

  const w1 = apcAsync(['worker', '--queue', url!, '--lock-seconds', '5']);
  const w2 = apcAsync(['worker', '--queue', url!, '--lock-seconds', '5']);
  const sweep = apcAsync(['sweep', ...GRID, '--queue', url!, '--out', queueOut]);
  try {
    // wait until worker 1 runs a stage, give the child a moment, then SIGKILL the worker
    while (!/worker \S+: (teacher|compress|evaluate) \w+ \(attempt/.test(w1.stderr())) await sleep(200);
    await sleep(1500);
    const orphans = childrenOf(w1.child.pid!);
    assert.ok(orphans.length >= 1, `worker 1 runs its stage as a child process:\n${w1.stderr()}`);
    w1.child.kill('SIGKILL');
    for (let i = 0; i < 60 && orphans.some(alive); i++) await sleep(250);
    assert.deepEqual(orphans.filter(alive), [], 'the stage process dies with its worker');
    assert.equal(await sweep.exited, 0, sweep.stderr());

    const viaQueue = JSON.parse(readFileSync(join(queueOut, 'sweep.json'), 'utf8')) as SweepResults;
    const viaLocal = JSON.parse(readFileSync(join(localOut, 'sweep.json'), 'utf8')) as SweepResults;
    assert.equal(viaQueue.counts.done, viaQueue.counts.total);
    assert.deepEqual(statistics(viaQueue), statistics(viaLocal));
    assert.ok(viaQueue.configs.some((c) => c.metrics.mAP.n === 2), 'two seeds averaged');

    // exactly one completed result per job id in Redis, and one record file each
    const connection = redisConnection(url!);
    const queue = new Queue(SWEEP_QUEUE, { connection });
    try {
      for (const j of viaQueue.jobs) {
        const job = await queue.getJob(queueJobId(viaQueue.root, j.key));
        assert.equal(await job?.getState(), 'completed', `${j.stage} ${j.key}`);
        assert.equal(job!.returnvalue.key, j.key);
      }
      const ours = (await queue.getJobs(['completed', 'failed', 'active', 'wait', 'delayed'])).filter((x) => x.id?.startsWith(queueJobId(viaQueue.root, '')));
      assert.equal(ours.length, viaQueue.jobs.length);
    } finally {
      await queue.close();
      connection.disconnect();
    }
    assert.equal(readdirSync(join(queueOut, 'jobs')).length, viaQueue.jobs.length);
    assert.ok(viaQueue.jobs.every((j) => j.worker !== undefined && j.worker !== 'local'));
    rmSync(tmp, { recursive: true, force: true }); // kept when the test fails, for its logs
  } finally {
    sweep.child.kill('SIGTERM');
    w1.child.kill('SIGKILL');
    w2.child.kill('SIGTERM');
    await w2.exited;
  }
});
