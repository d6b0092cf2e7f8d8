import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../random.js';
import { setBackpropInputStrategy, type BackpropInputStrategy } from './conv2d_backprop_input.js';
import { memorySnapshot, randomValues, relErr, useBackend, valuesOf } from './testing.js';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface Case { n: number; h: number; w: number; ci: number; co: number; kh: number; kw: number; s: [number, number]; pad: Pad }

const TOL = 1e-4; // relErr (see testing.ts): max |a − ref| / max |ref|

const cases: Case[] = [];
for (const s of [[1, 1], [2, 2], [1, 2]] as [number, number][]) {
  for (const pad of ['same', 'valid', [[0, 0], [2, 1], [1, 0], [0, 0]]] as Pad[]) {
    for (const n of [1, 3]) cases.push({ n, h: 9, w: 7, ci: 5, co: 6, kh: 3, kw: 2, s, pad });
  }
}
cases.push({ n: 2, h: 6, w: 11, ci: 4, co: 3, kh: 5, kw: 4, s: [3, 2], pad: 'same' });
cases.push({ n: 2, h: 7, w: 5, ci: 6, co: 5, kh: 1, kw: 1, s: [2, 2], pad: 'valid' });
cases.push({ n: 2, h: 6, w: 6, ci: 2, co: 3, kh: 3, kw: 3, s: [2, 2], pad: 'valid' });
cases.push({ n: 2, h: 5, w: 5, ci: 2, co: 3, kh: 3, kw: 3, s: [1, 1], pad: [[0, 0], [3, 0], [0, 3], [0, 0]] }); // pad ≥ K → fallback
cases.push({ n: 4, h: 16, w: 12, ci: 8, co: 16, kh: 3, kw: 3, s: [1, 1], pad: 'same' });

function label(c: Case): string {
  return `${c.n}x${c.h}x${c.w}x${c.ci}→${c.co} k${c.kh}x${c.kw} s${c.s} ${JSON.stringify(c.pad)}`;
}

function run(c: Case, dyv: Float32Array, wv: Float32Array, dyShape: number[]): Float32Array {
  return valuesOf(() => {
    const dy = tf.tensor4d(dyv, dyShape as [number, number, number, number]);
    const filter = tf.tensor4d(wv, [c.kh, c.kw, c.ci, c.co]);
    return tf.engine().runKernel('Conv2DBackpropInput', { dy, filter },
      { strides: c.s, pad: c.pad, dataFormat: 'NHWC', inputShape: [c.n, c.h, c.w, c.ci] }) as tf.Tensor;
  })[0];
}

test('Conv2DBackpropInput (wasm, apc) matches cpu', async (t) => {
  const rng = new Rng(3);
  const inputs = cases.map((c) => {
    const outShape = tf.backend_util.computeConv2DInfo([c.n, c.h, c.w, c.ci], [c.kh, c.kw, c.ci, c.co], c.s, 1, c.pad).outShape;
    return { dyv: randomValues(rng, outShape.reduce((a, b) => a * b)), wv: randomValues(rng, c.kh * c.kw * c.ci * c.co), outShape };
  });
  await useBackend('cpu');
  const refs = cases.map((c, i) => run(c, inputs[i].dyv, inputs[i].wv, inputs[i].outShape));
  await useBackend('wasm');
  try {
    for (const strategy of ['auto', 'conv', 'original'] as BackpropInputStrategy[]) {
      setBackpropInputStrategy(strategy);
      let worst = 0;
      cases.forEach((c, i) => {
        const before = memorySnapshot();
        const got = run(c, inputs[i].dyv, inputs[i].wv, inputs[i].outShape);
        assert.deepEqual(memorySnapshot(), before, `leak: ${strategy} ${label(c)}`);
        const e = relErr(got, refs[i]);
        assert.ok(e <= TOL, `${strategy} ${label(c)}: relErr ${e}`);
        worst = Math.max(worst, e);
      });
      t.diagnostic(`${strategy}: max relErr ${worst.toExponential(1)} over ${cases.length} cases`);
    }
  } finally {
    setBackpropInputStrategy('auto');
  }
});

test('the replaced kernel keeps the original as fallback and re-registering is idempotent', async () => {
  await useBackend('wasm');
  const { registerKernelPack } = await import('./register.js');
  const first = tf.getKernel('Conv2DBackpropInput', 'wasm');
  const names = registerKernelPack('wasm');
  assert.ok(names.includes('Conv2DBackpropInput'));
  assert.equal(tf.getKernel('Conv2DBackpropInput', 'wasm'), first);
  const { originalConv2DBackpropInputWasm } = await import('./conv2d_backprop_input.js');
  assert.ok(originalConv2DBackpropInputWasm());
  assert.notEqual(originalConv2DBackpropInputWasm()!.kernelFunc, first.kernelFunc);
});
