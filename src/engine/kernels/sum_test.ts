import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../random.js';
import { memorySnapshot, randomValues, relErr, useBackend, valuesOf } from './testing.js';

const TOL = 1e-5; // relErr (see testing.ts)

interface Case { shape: number[]; axis: number | number[]; keepDims: boolean }
const cases: Case[] = [
  { shape: [4, 9, 7, 16], axis: [0, 1, 2], keepDims: false }, // bias gradient (apc path, small K)
  { shape: [4, 9, 7, 16], axis: [0, 1, 2], keepDims: true },
  { shape: [6, 300], axis: 0, keepDims: false }, // dense bias (K ≥ 64)
  { shape: [5, 4, 3], axis: [0, 1, 2], keepDims: false }, // all axes → scalar
  { shape: [3, 5, 7], axis: [1, 0], keepDims: false }, // unsorted leading axes
  { shape: [4, 9, 7, 6], axis: [1, 2], keepDims: false }, // not leading → original kernel
  { shape: [4, 9, 7, 6], axis: -1, keepDims: true }, // innermost → original kernel
];

test('Sum (wasm, apc) equals cpu', async () => {
  const rng = new Rng(4);
  const data = cases.map((c) => randomValues(rng, c.shape.reduce((a, b) => a * b), 0.5, 2));
  const run = (c: Case, v: Float32Array) => valuesOf(() => tf.sum(tf.tensor(v, c.shape), c.axis, c.keepDims))[0];
  const shapes = (c: Case, v: Float32Array) => tf.tidy(() => tf.sum(tf.tensor(v, c.shape), c.axis, c.keepDims).shape);
  await useBackend('cpu');
  const refs = cases.map((c, i) => ({ v: run(c, data[i]), shape: shapes(c, data[i]) }));
  await useBackend('wasm');
  cases.forEach((c, i) => {
    const before = memorySnapshot();
    const got = run(c, data[i]);
    assert.deepEqual(memorySnapshot(), before);
    assert.deepEqual(shapes(c, data[i]), refs[i].shape);
    const e = relErr(got, refs[i].v);
    assert.ok(e <= TOL, `${JSON.stringify(c)}: relErr ${e}`);
  });
  // int32 sums keep the original kernel (and its dtype).
  const ints = tf.sum(tf.tensor([[1, 2], [3, 4]], [2, 2], 'int32'), 0);
  assert.equal(ints.dtype, 'int32');
  assert.deepEqual(Array.from(ints.dataSync()), [4, 6]);
  ints.dispose();
});
