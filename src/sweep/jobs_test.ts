import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSweepGrid } from './grid.js';
import { jobKey } from './job_key.js';
import { expandGrid, sweepLayout } from './jobs.js';

const layout = sweepLayout('/sweeps/a');

test('expansion: one teacher per dataset × arch × seed, shared by every compression; β = 0 is the no-matching job', () => {
  const grid = parseSweepGrid({ preset: 'quick', seeds: '0-1', compressions: ['kd', 'structured'], matches: ['none', 'wcam'], betas: [0, 1, 10] }, 'test');
  const jobs = expandGrid(grid, layout);
  const by = (stage: string) => jobs.filter((j) => j.stage === stage);
  assert.equal(by('teacher').length, 2);
  // per seed and method: none (= wcam β 0), wcam β 1, wcam β 10 → 3 compressions
  assert.equal(by('compress').length, 2 * 2 * 3);
  // an evaluation per teacher and per compression
  assert.equal(by('evaluate').length, 2 + 12);
  assert.equal(new Set(jobs.map((j) => j.key)).size, jobs.length);
  // every dependency is listed before the job that needs it
  const seen = new Set<string>();
  for (const j of jobs) {
    for (const d of j.deps) assert.ok(seen.has(d), `${j.stage} ${j.key} needs ${d} first`);
    seen.add(j.key);
  }
  const kdOff = by('compress').filter((j) => j.config.method === 'kd' && j.config.seed === 0 && j.config.match === 'none');
  assert.equal(kdOff.length, 1);
  assert.deepEqual(kdOff[0].args.slice(0, 8), ['compress', '--teacher', by('teacher')[0].product, '--method', 'kd', '--match', 'none', '--width']);
});

test('keys are hashes of the config: the same grid in another directory gives the same keys, and a changed setting a new one', () => {
  const grid = parseSweepGrid({ preset: 'smoke', compressions: ['kd'], matches: ['wcam'], betas: [1] }, 'test');
  const a = expandGrid(grid, layout);
  const b = expandGrid(grid, sweepLayout('/elsewhere'));
  assert.deepEqual(a.map((j) => j.key), b.map((j) => j.key));
  assert.ok(b.every((j) => j.args.every((x) => !x.startsWith('/sweeps/a'))), 'artifacts live under the sweep root');
  const c = expandGrid(parseSweepGrid({ preset: 'smoke', compressions: ['kd'], matches: ['wcam'], betas: [2] }, 'test'), layout);
  assert.equal(c[0].key, a[0].key, 'the teacher does not depend on β');
  assert.notEqual(c.at(-1)!.key, a.at(-1)!.key);
  assert.equal(a[0].key, jobKey(a[0].config));
});

test('artifacts: absolute paths under the root; unstructured reads its last round; evaluate writes its JSON there', () => {
  const jobs = expandGrid(parseSweepGrid({ preset: 'quick', compressions: ['unstructured'], matches: ['none'] }, 'test'), layout);
  const u = jobs.find((j) => j.stage === 'compress')!;
  assert.equal(u.product, `/sweeps/a/compress/${u.key}/round-3/best`);
  const e = jobs.find((j) => j.stage === 'evaluate' && j.deps[0] === u.key)!;
  assert.deepEqual(e.row, { dataset: 'shapes', arch: 'vgg16', compression: 'unstructured', match: 'none', beta: 0, stochastic: 0, rate: 0.5, rounds: 3 });
  assert.equal(e.args[e.args.indexOf('--model') + 1], u.product);
  assert.equal(e.args.at(-1), `/sweeps/a/evaluate/${e.key}/evaluation.json`);
});

test('grid errors name the source and the field', () => {
  assert.throws(() => parseSweepGrid({ matches: ['wcam', 'gradcam'] }, 'grid.yaml'), /grid\.yaml: matches\.1: Invalid enum value/);
  assert.throws(() => parseSweepGrid({ seeds: '3-1' }, 'grid.json'), /grid\.json: seeds: seeds: range '3-1' runs backwards/);
  assert.throws(() => parseSweepGrid({ betas: [-1] }, 'flags'), /flags: betas\.0:/);
  assert.throws(() => parseSweepGrid({ seed: 3 }, 'grid.json'), /grid\.json: \(grid\): Unrecognized key\(s\) in object: 'seed'/);
  assert.throws(() => expandGrid(parseSweepGrid({ preset: 'huge' }, 'flags'), layout), /preset 'huge' is unknown/);
});

test('keys do not drift: the quick study\'s seed-0 teacher and KD+WCAM jobs keep the keys a finished sweep recorded', () => {
  // A sweep reuses finished stages by key; a change to the config shape that moved these would
  // silently retrain every teacher of an existing sweep directory.
  const jobs = expandGrid(parseSweepGrid({ preset: 'quick', seeds: [0], compressions: ['kd'], matches: ['wcam'], betas: [1] }, 'test'), layout);
  assert.deepEqual(jobs.map((j) => `${j.stage} ${j.key}`), ['teacher b6a4a3eeae0d6458', 'evaluate 8108623e0175e477', 'compress bf92a2726f590101', 'evaluate f205a1a85ba54e91']);
});

test('imageSize: teachers train at it (and get their own keys), students keep their teacher\'s, rows record it', () => {
  const base = { preset: 'quick', datasets: ['voc:/data/tree'], compressions: ['kd', 'structured'], matches: ['none'] } as const;
  const plain = expandGrid(parseSweepGrid(base, 'test'), layout);
  const at64 = expandGrid(parseSweepGrid({ ...base, imageSize: 64 }, 'test'), layout);
  const teacher = at64.find((j) => j.stage === 'teacher')!;
  assert.deepEqual(teacher.args.slice(0, 5), ['train', '--data', 'voc:/data/tree', '--image-size', '64']);
  assert.ok(!plain.find((j) => j.stage === 'teacher')!.args.includes('--image-size'));
  assert.notEqual(teacher.key, plain.find((j) => j.stage === 'teacher')!.key);
  for (const j of at64.filter((x) => x.stage !== 'teacher')) assert.ok(!j.args.includes('--image-size'), `${j.stage} reads the size from its model`);
  assert.ok(at64.filter((j) => j.stage === 'evaluate').every((j) => j.row!.imageSize === 64));
  assert.ok(plain.filter((j) => j.stage === 'evaluate').every((j) => !('imageSize' in j.row!)));
  assert.throws(() => parseSweepGrid({ imageSize: 4 }, 'grid.yaml'), /grid\.yaml: imageSize:/);
});
