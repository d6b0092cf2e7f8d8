import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../random.js';
import { memorySnapshot, randomValues, relErr, useBackend, valuesOf } from './testing.js';

const TOL = 1e-6; // relErr (see testing.ts); the kernel only moves values, so it must be exact

interface Case { shape: [number, number, number, number]; f: [number, number]; s: [number, number]; pad: 'same' | 'valid' | number }
const cases: Case[] = [
  { shape: [2, 8, 8, 16], f: [2, 2], s: [2, 2], pad: 'valid' }, // VGG pool (2×2 fast path)
  { shape: [3, 9, 7, 5], f: [2, 2], s: [2, 2], pad: 'valid' }, // odd size, fast path drops the last row/col
  { shape: [3, 9, 7, 5], f: [2, 2], s: [2, 2], pad: 'same' }, // padded → generic path
  { shape: [2, 9, 10, 3], f: [3, 3], s: [2, 2], pad: 'same' }, // overlapping windows
  { shape: [1, 7, 6, 4], f: [3, 2], s: [1, 1], pad: 'valid' },
  { shape: [2, 6, 6, 2], f: [3, 3], s: [1, 1], pad: 1 },
];

test('MaxPoolGrad (wasm, apc) equals cpu, including ties after a ReLU', async () => {
  const rng = new Rng(21);
  const data = cases.map((c) => {
    const size = c.shape.reduce((a, b) => a * b);
    // ReLU'd values rounded to a coarse grid: many exact ties (zeros and repeated values).
    const x = randomValues(rng, size).map((v) => Math.max(0, Math.round(v * 2) / 2));
    // special values in the 2×2 fast path's first case: windows with NaN, −∞ and +∞
    if (c === cases[0]) for (let i = 0; i < size; i += 7) x[i] = [NaN, -Infinity, Infinity][(i / 7) % 3];
    return { x };
  });
  const grads = (c: Case, x: Float32Array, seed: number) => valuesOf(() => {
    const xt = tf.tensor4d(x, c.shape);
    const rngDy = new Rng(seed);
    return tf.grad((a: tf.Tensor) => {
      const y = tf.maxPool(a as tf.Tensor4D, c.f, c.s, c.pad);
      return tf.sum(tf.mul(y, tf.tensor(randomValues(rngDy, y.size), y.shape)));
    })(xt);
  })[0];
  await useBackend('cpu');
  const refs = cases.map((c, i) => grads(c, data[i].x, i));
  await useBackend('wasm');
  cases.forEach((c, i) => {
    const before = memorySnapshot();
    const got = grads(c, data[i].x, i);
    assert.deepEqual(memorySnapshot(), before);
    const e = relErr(got, refs[i]);
    assert.ok(e <= TOL, `${JSON.stringify(c)}: relErr ${e}`);
  });
});
