/**
 * runJob waits while its stage directory is held by a live run (the same job handed out twice), and
 * takes the record that run leaves instead of starting the stage again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCK_FILE } from '../engine/output_lock.js';
import type { JobRecord } from './job_record.js';
import { writeJobRecord } from './job_record.js';
import { type SweepJob, sweepLayout } from './jobs.js';
import { runJob } from './run_job.js';

test('a job whose stage directory is held by a live process waits for it, then returns the record that run wrote', async () => {
  const root = mkdtempSync(join(tmpdir(), 'apc-run-job-'));
  try {
    const layout = sweepLayout(root);
    const stageDir = layout.artifact('teacher', 'k1');
    mkdirSync(stageDir, { recursive: true });
    mkdirSync(join(root, 'logs'), { recursive: true });
    // held by this test's parent (alive, this host): as a first run of the job still going would be
    writeFileSync(join(stageDir, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: hostname(), command: 'apc train', startedAt: 'earlier' }));
    // args that would fail at once if the stage were started: the test fails unless runJob waits
    const job: SweepJob = { key: 'k1', stage: 'teacher', config: { stage: 'teacher' }, deps: [], args: ['no-such-command', '--out', stageDir], artifactDir: stageDir, product: join(stageDir, 'best') };
    const record: JobRecord = { key: 'k1', stage: 'teacher', config: job.config, product: job.product, seconds: 1, attempts: 1, worker: 'first', log: layout.log('k1'), finishedAt: new Date().toISOString() };
    let settled = false;
    const running = runJob(job, { layout, attempt: 2, worker: 'second', lockPollMs: 20 }).finally(() => { settled = true; });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(settled, false, 'still waiting while the directory is held');
    // the first run finishes: its record, then its lock goes
    await writeJobRecord(layout.record('k1'), record);
    unlinkSync(join(stageDir, LOCK_FILE));
    assert.deepEqual(await running, record);
    assert.match(readFileSync(layout.log('k1'), 'utf8'), /waiting: .* is in use by pid \d+/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
