import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../random.js';
import { memorySnapshot, randomValues, relErr, useBackend, valuesOf } from './testing.js';

const TOL = 1e-5; // relErr (see testing.ts): max |a − ref| / max |ref|

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
type Op = 'conv2d' | 'fusedConv2d' | 'depthwise' | 'fusedDepthwise';
interface Case { op: Op; h: number; w: number; k: [number, number]; s: [number, number]; pad: Pad; d?: [number, number] }

// Every op × kernel side 1/3 × stride 1/2 on even and odd sizes: includes the shapes where the
// shipped kernels' XNNPACK 'same' padding went negative (1×3 / 3×1 with stride 2 on 10 rows).
const cases: Case[] = [];
for (const op of ['conv2d', 'fusedConv2d', 'depthwise', 'fusedDepthwise'] as Op[]) {
  for (const k of [[1, 3], [3, 1], [3, 3], [1, 1], [2, 2]] as [number, number][]) {
    for (const s of [[1, 1], [2, 2], [2, 1]] as [number, number][]) {
      cases.push({ op, h: 10, w: 9, k, s, pad: 'same' });
      if (k[0] === 3 && k[1] === 3) cases.push({ op, h: 10, w: 9, k, s, pad: 'valid' });
    }
  }
  // explicit per-side padding and dilation (depthwise forward with [[0,0],[t,b],[l,r],[0,0]])
  cases.push({ op, h: 9, w: 10, k: [3, 3], s: [2, 2], pad: [[0, 0], [2, 0], [1, 2], [0, 0]] });
  cases.push({ op, h: 9, w: 10, k: [1, 3], s: [1, 1], pad: [[0, 0], [0, 1], [3, 0], [0, 0]] });
  cases.push({ op, h: 11, w: 10, k: [3, 3], s: [1, 1], pad: 'same', d: [2, 2] });
  cases.push({ op, h: 11, w: 10, k: [3, 3], s: [1, 1], pad: [[0, 0], [1, 3], [2, 0], [0, 0]], d: [2, 3] });
}

function run(c: Case, x: Float32Array, f: Float32Array, b: Float32Array): Float32Array {
  return valuesOf(() => {
    const C = 4;
    const xt = tf.tensor4d(x, [2, c.h, c.w, C]);
    const taps = c.k[0] * c.k[1];
    const dense = tf.tensor4d(f.subarray(0, taps * C * 3), [c.k[0], c.k[1], C, 3]);
    const dw = tf.tensor4d(f.subarray(0, taps * C * 2), [c.k[0], c.k[1], C, 2]); // channel multiplier 2
    const d = c.d ?? [1, 1];
    switch (c.op) {
      case 'conv2d': return tf.conv2d(xt, dense, c.s, c.pad, 'NHWC', d);
      case 'fusedConv2d': return tf.fused.conv2d({ x: xt, filter: dense, strides: c.s, pad: c.pad, dilations: d, bias: tf.tensor1d(b.subarray(0, 3)), activation: 'relu' });
      case 'depthwise': return tf.depthwiseConv2d(xt, dw, c.s, c.pad, 'NHWC', d);
      // (typed without explicit padding, which the op accepts at run time)
      case 'fusedDepthwise': return tf.fused.depthwiseConv2d({ x: xt, filter: dw, strides: c.s, pad: c.pad as 'same', dilations: d, bias: tf.tensor1d(b), activation: 'relu6' });
    }
  })[0];
}

test("wasm convolutions with 'same' (made explicit), explicit and dilated padding equal cpu", async (t) => {
  const rng = new Rng(41);
  const data = cases.map((c) => ({ x: randomValues(rng, 2 * c.h * c.w * 4), f: randomValues(rng, 9 * 4 * 3), b: randomValues(rng, 8) }));
  await useBackend('cpu');
  const refs = cases.map((c, i) => run(c, data[i].x, data[i].f, data[i].b));
  await useBackend('wasm');
  let worst = 0;
  cases.forEach((c, i) => {
    const before = memorySnapshot();
    const got = run(c, data[i].x, data[i].f, data[i].b);
    assert.deepEqual(memorySnapshot(), before, `leak: ${JSON.stringify(c)}`);
    const e = relErr(got, refs[i]);
    assert.ok(e <= TOL, `${JSON.stringify(c)}: relErr ${e}`);
    worst = Math.max(worst, e);
  });
  t.diagnostic(`max relErr ${worst.toExponential(1)} over ${cases.length} cases`);
});

test('the wrappers keep the originals and re-registering is idempotent', async () => {
  await useBackend('wasm');
  const { registerKernelPack } = await import('./register.js');
  const names = ['Conv2D', 'FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2D'];
  const first = names.map((n) => tf.getKernel(n, 'wasm'));
  const registered = registerKernelPack('wasm');
  names.forEach((n, i) => {
    assert.ok(registered.includes(n), n);
    assert.equal(tf.getKernel(n, 'wasm'), first[i], n);
  });
});
