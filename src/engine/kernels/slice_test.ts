import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../random.js';
import { memorySnapshot, randomValues, relErr, useBackend, valuesOf } from './testing.js';

/** Each case returns its outputs (values compared exactly: slicing only moves data). */
const cases: [string, (rng: Rng) => tf.Tensor[]][] = [];
const t = (rng: Rng, shape: number[]) => tf.tensor(randomValues(rng, shape.reduce((a, b) => a * b)), shape);
cases.push(['slice 4d channels', (r) => [tf.slice(t(r, [2, 5, 6, 7]), [0, 1, 2, 3], [2, 3, 3, 4])]]);
cases.push(['slice 4d rows (contiguous)', (r) => [tf.slice(t(r, [2, 5, 6, 7]), [1, 2, 0, 0], [1, 2, -1, -1])]]);
cases.push(['slice 4d whole trailing axes', (r) => [tf.slice(t(r, [3, 5, 6, 7]), [1, 1, 0, 0], [2, 3, 6, 7])]]);
cases.push(['slice 1d / 2d / 3d / 5d', (r) => [
  tf.slice(t(r, [50]), 7, 20), tf.slice(t(r, [9, 8]), [2, 3], [4, 5]), tf.slice(t(r, [4, 5, 6]), [1, 0, 2], [2, 5, 3]),
  tf.slice(t(r, [2, 3, 4, 5, 6]), [1, 1, 0, 2, 1], [1, 2, 4, 2, 5])]]);
cases.push(['slice int32 and bool', (r) => {
  const x = tf.cast(tf.mul(t(r, [4, 5, 6]), 10), 'int32');
  return [tf.cast(tf.slice(x, [1, 1, 1], [2, 3, 4]), 'float32'), tf.cast(tf.slice(tf.greater(x, 0), [0, 2, 1], [4, 2, 3]), 'float32')];
}]);
cases.push(['slice empty', (r) => [tf.slice(t(r, [4, 5]), [1, 2], [0, 3])]]);
cases.push(['split (concat gradient) axis 3', (r) => tf.split(t(r, [2, 4, 5, 11]), [3, 0, 8], 3)]);
cases.push(['split axis 1', (r) => tf.split(t(r, [2, 6, 5, 3]), 3, 1)]);
cases.push(['unstack axis 0 and 2', (r) => [...tf.unstack(t(r, [3, 4, 5])), ...tf.unstack(t(r, [3, 4, 5]), 2)]]);
cases.push(['concat axis 3 gradient', (r) => {
  const a = t(r, [2, 4, 5, 3]);
  const b = t(r, [2, 4, 5, 6]);
  const w = t(r, [2, 4, 5, 9]);
  return tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.concat([p, q], 3), w)))([a, b]);
}]);
cases.push(['pad gradient', (r) => {
  const w = t(r, [2, 7, 6, 3]);
  return [tf.grad((p: tf.Tensor) => tf.sum(tf.mul(tf.pad(p, [[0, 0], [1, 2], [0, 1], [0, 0]]), w)))(t(r, [2, 4, 5, 3]))];
}]);

test('Slice, SplitV, Unpack (wasm, apc) equal cpu exactly and leave nothing behind', async () => {
  await useBackend('cpu');
  const refs = cases.map(([, f], i) => valuesOf(() => f(new Rng(i))));
  await useBackend('wasm');
  cases.forEach(([name, f], i) => {
    const before = memorySnapshot();
    const got = valuesOf(() => f(new Rng(i)));
    assert.deepEqual(memorySnapshot(), before, `leak: ${name}`);
    assert.equal(got.length, refs[i].length, name);
    got.forEach((v, o) => {
      assert.equal(v.length, refs[i][o].length, `${name} output ${o} size`);
      if (v.length > 0) assert.equal(relErr(v, refs[i][o]), 0, `${name} output ${o}`);
    });
  });
});

test('string tensors still slice and unstack (original kernels; tf.split takes numbers only)', async () => {
  await useBackend('wasm');
  const s = tf.tensor(['a', 'b', 'c', 'd', 'e', 'f'], [2, 3]);
  assert.deepEqual(tf.slice(s, [0, 1], [2, 2]).arraySync(), [['b', 'c'], ['e', 'f']]);
  assert.deepEqual(tf.unstack(s).map((p) => p.arraySync()), [['a', 'b', 'c'], ['d', 'e', 'f']]);
});
