/** `apc sweep` from the command line: grid-file errors, and a failing stage reported with its log while the jobs that need it are not run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SweepResults } from '../src/sweep/sweep_results.js';
import { apc } from './apc_cli.js';

test('sweep: a bad grid file is one error naming the file and the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'apc-sweep-cli-'));
  const grid = join(dir, 'grid.yaml');
  writeFileSync(grid, 'datasets: [shapes]\nbetas: [0, 1, ten]\n');
  const r = apc(['sweep', '--grid', grid, '--out', join(dir, 'out')]);
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`apc: bad input: ${grid}: betas\\.2: Expected number, received string`));
  assert.equal(existsSync(join(dir, 'out', 'sweep.json')), false);
});

test('sweep: a failing teacher is retried, then reported with its error and log; its compressions and evaluations are not run; exit 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'apc-sweep-cli-'));
  const out = join(dir, 'out');
  const r = apc(['sweep', '--data', `voc:${join(dir, 'no-such-voc')}`, '--compression', 'kd', '--match', 'none', '--retries', '1', '--jobs', '1', '--out', out]);
  assert.equal(r.code, 1, r.err);
  const results = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as SweepResults;
  assert.deepEqual(results.counts, { total: 4, done: 0, failed: 1, blocked: 3 });
  const teacher = results.jobs.find((j) => j.stage === 'teacher')!;
  assert.equal(teacher.status, 'failed');
  assert.equal(teacher.attempts, 2);
  assert.match(teacher.error!, /teacher exited with code 1: .*no-such-voc/);
  assert.equal(teacher.log, join(out, 'logs', `${teacher.key}.log`));
  // both attempts appended to the one log
  assert.equal(readFileSync(teacher.log!, 'utf8').match(/^=== /gm)?.length, 2);
  assert.ok(results.jobs.filter((j) => j.stage !== 'teacher').every((j) => j.status === 'blocked'));
  assert.match(r.out, new RegExp(`failed teacher ${teacher.key} after 2 attempts`));
  assert.match(r.err, /4 of 4 sweep jobs did not finish/);
});

test('sweep --name: statistics go to OUT/NAME.json (sweep.json untouched), and a name that is not a file name is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'apc-sweep-cli-'));
  const out = join(dir, 'out');
  const bad = apc(['sweep', '--name', '../x', '--out', out]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /--name: '\.\.\/x' is not a file name/);
  const r = apc(['sweep', '--name', 'beta-sweep', '--data', `voc:${join(dir, 'no-such-voc')}`, '--compression', 'kd', '--match', 'none', '--retries', '0', '--jobs', '1', '--out', out]);
  assert.equal(r.code, 1, r.err);
  assert.equal(existsSync(join(out, 'sweep.json')), false);
  const results = JSON.parse(readFileSync(join(out, 'beta-sweep.json'), 'utf8')) as SweepResults;
  assert.equal(results.counts.total, 4);
  const report = apc(['report', '--results', join(out, 'beta-sweep.json')]);
  assert.equal(report.code, 0, report.err);
  assert.ok(existsSync(join(out, 'beta-sweep.html')) && existsSync(join(out, 'beta-sweep.md')));
});
