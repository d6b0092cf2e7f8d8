import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { memorySnapshot, useBackend } from './testing.js';

test('Identity (wasm, apc) shares data; clones survive disposal of the original and vice versa', async () => {
  await useBackend('wasm');
  const before = memorySnapshot();
  const a = tf.tensor([1, 2, 3, 4], [2, 2]);
  const b = a.clone();
  assert.equal(tf.engine().backend.numDataIds(), before.dataIds + 1, 'no new data bucket');
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3, 4]);
  const c = b.clone();
  b.dispose();
  assert.deepEqual(Array.from(c.dataSync()), [1, 2, 3, 4]);
  c.dispose();
  assert.deepEqual(memorySnapshot(), before);
  // Variables swap their data on assign: a clone taken before keeps the old values.
  const v = tf.variable(tf.tensor([1, 2]));
  const snap = v.clone();
  const next = tf.tensor([5, 6]);
  v.assign(next);
  assert.deepEqual(Array.from(snap.dataSync()), [1, 2]);
  assert.deepEqual(Array.from(v.dataSync()), [5, 6]);
  tf.dispose([v, snap, next]);
  // Strings go through the original kernel.
  const s = tf.tensor(['x', 'yz']);
  const s2 = s.clone();
  s.dispose();
  assert.deepEqual(s2.dataSync(), ['x', 'yz']);
  s2.dispose();
});
