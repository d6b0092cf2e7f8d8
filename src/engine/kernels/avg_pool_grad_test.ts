import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../random.js';
import { setAvgPoolGradStrategy, type AvgPoolGradStrategy } from './avg_pool_grad.js';
import { memorySnapshot, randomValues, relErr, useBackend, valuesOf } from './testing.js';

const TOL = 1e-5; // relErr (see testing.ts): max |a − ref| / max |ref|

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
interface Case { shape: [number, number, number, number]; f: [number, number]; s: [number, number]; pad: Pad }
const cases: Case[] = [
  { shape: [2, 8, 8, 16], f: [2, 2], s: [2, 2], pad: 'valid' },
  { shape: [3, 9, 7, 5], f: [2, 2], s: [2, 2], pad: 'same' },
  { shape: [2, 9, 10, 3], f: [3, 3], s: [2, 2], pad: 'same' }, // overlapping windows
  { shape: [2, 9, 10, 3], f: [3, 3], s: [1, 1], pad: 'same' }, // 9 windows per pixel → dwconv
  { shape: [1, 7, 6, 4], f: [1, 3], s: [1, 2], pad: 'valid' },
  { shape: [2, 6, 6, 2], f: [3, 3], s: [1, 1], pad: 1 },
  { shape: [2, 9, 8, 6], f: [3, 3], s: [2, 2], pad: [[0, 0], [1, 1], [0, 1], [0, 0]] }, // explicit
  { shape: [2, 7, 9, 3], f: [3, 2], s: [1, 1], pad: [[0, 0], [2, 0], [0, 1], [0, 0]] }, // explicit, asymmetric
  { shape: [3, 7, 7, 32], f: [7, 7], s: [1, 1], pad: 'valid' }, // global pool
];

test('AvgPoolGrad (wasm, apc): tf.avgPool forward and gradient equal cpu for every strategy', async (t) => {
  const rng = new Rng(31);
  const data = cases.map((c) => ({ x: randomValues(rng, c.shape.reduce((a, b) => a * b)), seed: rng.int(1 << 30) }));
  const run = (c: Case, d: (typeof data)[number]) => valuesOf(() => {
    const x = tf.tensor4d(d.x, c.shape);
    const y = tf.avgPool(x, c.f, c.s, c.pad);
    const r = tf.tensor(randomValues(new Rng(d.seed), y.size), y.shape);
    return [y, tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(a as tf.Tensor4D, c.f, c.s, c.pad), r)))(x)];
  });
  await useBackend('cpu');
  const refs = cases.map((c, i) => run(c, data[i]));
  await useBackend('wasm');
  try {
    for (const strategy of ['auto', 'js', 'dwconv'] as AvgPoolGradStrategy[]) {
      setAvgPoolGradStrategy(strategy);
      let worst = 0;
      cases.forEach((c, i) => {
        const before = memorySnapshot();
        const got = run(c, data[i]);
        assert.deepEqual(memorySnapshot(), before, `leak: ${strategy} ${JSON.stringify(c)}`);
        got.forEach((v, o) => {
          const e = relErr(v, refs[i][o]);
          assert.ok(e <= TOL, `${strategy} ${JSON.stringify(c)} ${o === 0 ? 'forward' : 'gradient'}: relErr ${e}`);
          worst = Math.max(worst, e);
        });
      });
      t.diagnostic(`${strategy}: max relErr ${worst.toExponential(1)} over ${cases.length} cases`);
    }
  } finally {
    setAvgPoolGradStrategy('auto');
  }
});
