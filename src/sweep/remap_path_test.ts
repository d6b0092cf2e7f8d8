import { test } from 'node:test';
import assert from 'node:assert/strict';
import { queueJobId } from './queue_names.js';
import { remapPath } from './queue_worker.js';

test('worker --store remaps only the sweep root, whole path components', () => {
  assert.equal(remapPath('/mnt/sweeps/a/teacher/k1/best', '/mnt/sweeps/a', '/data/a'), '/data/a/teacher/k1/best');
  assert.equal(remapPath('/mnt/sweeps/a', '/mnt/sweeps/a', '/data/a'), '/data/a');
  assert.equal(remapPath('/mnt/sweeps/ab/x', '/mnt/sweeps/a', '/data/a'), '/mnt/sweeps/ab/x');
  assert.equal(remapPath('/mnt/sweeps/a/x', '/mnt/sweeps/a', undefined), '/mnt/sweeps/a/x');
});

test('queue job ids: the job key within its sweep root', () => {
  assert.equal(queueJobId('/r1', 'abc'), queueJobId('/r1', 'abc'));
  assert.notEqual(queueJobId('/r1', 'abc'), queueJobId('/r2', 'abc'));
  assert.match(queueJobId('/r1', 'abc'), /^[0-9a-f]{8}-abc$/);
});
