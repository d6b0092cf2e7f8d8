import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../random.js';
import { setBackpropFilterStrategy, type BackpropFilterStrategy } from './conv2d_backprop_filter.js';
import { memorySnapshot, randomValues, relErr, useBackend, valuesOf } from './testing.js';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface Case { n: number; h: number; w: number; ci: number; co: number; kh: number; kw: number; s: [number, number]; pad: Pad }

const TOL = 1e-4; // relErr (see testing.ts): max |a − ref| / max |ref|

const cases: Case[] = [];
for (const s of [[1, 1], [2, 2], [2, 1]] as [number, number][]) {
  for (const pad of ['same', 'valid', [[0, 0], [1, 2], [0, 1], [0, 0]]] as Pad[]) {
    for (const n of [1, 3]) {
      cases.push({ n, h: 9, w: 7, ci: 5, co: 6, kh: 3, kw: 2, s, pad });
    }
  }
}
cases.push({ n: 2, h: 8, w: 8, ci: 3, co: 4, kh: 3, kw: 3, s: [1, 1], pad: 'same' }); // Ci ≤ 4 → stacked
cases.push({ n: 2, h: 6, w: 11, ci: 4, co: 3, kh: 5, kw: 4, s: [3, 2], pad: 'same' });
cases.push({ n: 2, h: 7, w: 5, ci: 6, co: 5, kh: 1, kw: 1, s: [2, 2], pad: 'valid' });
cases.push({ n: 2, h: 6, w: 6, ci: 2, co: 3, kh: 3, kw: 3, s: [2, 2], pad: 'valid' }); // last row unused
cases.push({ n: 4, h: 16, w: 12, ci: 16, co: 8, kh: 3, kw: 3, s: [1, 1], pad: 'same' }); // VGG-like

function label(c: Case): string {
  return `${c.n}x${c.h}x${c.w}x${c.ci}→${c.co} k${c.kh}x${c.kw} s${c.s} ${JSON.stringify(c.pad)}`;
}

function run(c: Case, xv: Float32Array, dyv: Float32Array, dyShape: number[]): Float32Array {
  return valuesOf(() => {
    const x = tf.tensor4d(xv, [c.n, c.h, c.w, c.ci]);
    const dy = tf.tensor4d(dyv, dyShape as [number, number, number, number]);
    return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
      { strides: c.s, pad: c.pad, dataFormat: 'NHWC', filterShape: [c.kh, c.kw, c.ci, c.co] }) as tf.Tensor;
  })[0];
}

test('Conv2DBackpropFilter (wasm) matches cpu for every strategy', async (t) => {
  const rng = new Rng(7);
  const inputs = cases.map((c) => {
    const outShape = tf.backend_util.computeConv2DInfo([c.n, c.h, c.w, c.ci], [c.kh, c.kw, c.ci, c.co], c.s, 1, c.pad).outShape;
    return { xv: randomValues(rng, c.n * c.h * c.w * c.ci), dyv: randomValues(rng, outShape.reduce((a, b) => a * b)), outShape };
  });
  await useBackend('cpu');
  const refs = cases.map((c, i) => run(c, inputs[i].xv, inputs[i].dyv, inputs[i].outShape));
  await useBackend('wasm');
  const strategies: BackpropFilterStrategy[] = ['auto', 'taps', 'stacked', 'conv', 'js'];
  try {
    for (const strategy of strategies) {
      setBackpropFilterStrategy(strategy);
      let worst = 0;
      cases.forEach((c, i) => {
        const before = memorySnapshot();
        const got = run(c, inputs[i].xv, inputs[i].dyv, inputs[i].outShape);
        assert.deepEqual(memorySnapshot(), before, `leak: ${strategy} ${label(c)}`);
        const e = relErr(got, refs[i]);
        assert.ok(e <= TOL, `${strategy} ${label(c)}: relErr ${e}`);
        worst = Math.max(worst, e);
      });
      t.diagnostic(`${strategy}: max relErr ${worst.toExponential(1)} over ${cases.length} cases`);
    }
  } finally {
    setBackpropFilterStrategy('auto');
  }
});

test('tf.grad through conv2d works on wasm and equals cpu', async () => {
  const rng = new Rng(11);
  const xv = randomValues(rng, 2 * 10 * 10 * 4);
  const fv = randomValues(rng, 3 * 3 * 4 * 8);
  const grads = (): Float32Array[] => valuesOf(() => {
    const x = tf.tensor4d(xv, [2, 10, 10, 4]);
    const f = tf.tensor4d(fv, [3, 3, 4, 8]);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'))));
    return g([x, f]);
  });
  await useBackend('cpu');
  const ref = grads();
  await useBackend('wasm');
  const before = memorySnapshot();
  const got = grads();
  assert.deepEqual(memorySnapshot(), before);
  assert.ok(relErr(got[0], ref[0]) <= TOL, `dx relErr ${relErr(got[0], ref[0])}`);
  assert.ok(relErr(got[1], ref[1]) <= TOL, `dW relErr ${relErr(got[1], ref[1])}`);
});
