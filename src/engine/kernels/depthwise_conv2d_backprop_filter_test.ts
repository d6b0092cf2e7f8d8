import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../random.js';
import { dwBackpropFilterSimdAvailable, setDwBackpropFilterStrategy, type DwBackpropFilterStrategy } from './depthwise_conv2d_backprop_filter.js';
import { dwCases, dwInputs, dwLabel, runBackpropFilter } from './depthwise_testing.js';
import { memorySnapshot, randomValues, relErr, useBackend, valuesOf } from './testing.js';

const TOL = 1e-5; // relErr (see testing.ts): max |a − ref| / max |ref|

test('DepthwiseConv2dNativeBackpropFilter (wasm, apc) matches cpu, SIMD and JS paths', async (t) => {
  const cases = dwCases();
  const rng = new Rng(6);
  const inputs = cases.map((c) => dwInputs(rng, c));
  await useBackend('cpu');
  const refs = cases.map((c, i) => runBackpropFilter(c, inputs[i], true));
  await useBackend('wasm');
  try {
    // 'auto' takes the SIMD kernel where it applies (M = 1, ≤ 12 taps, ≥ 4 channels; JS for the
    // C mod 4 last channels), 'js' never.
    for (const strategy of ['auto', 'js'] as DwBackpropFilterStrategy[]) {
      setDwBackpropFilterStrategy(strategy);
      let worst = 0;
      cases.forEach((c, i) => {
        const before = memorySnapshot();
        const got = runBackpropFilter(c, inputs[i]);
        assert.deepEqual(memorySnapshot(), before, `leak: ${strategy} ${dwLabel(c)}`);
        const e = relErr(got, refs[i]);
        assert.ok(e <= TOL, `${strategy} ${dwLabel(c)}: relErr ${e}`);
        worst = Math.max(worst, e);
      });
      t.diagnostic(`${strategy}: max relErr ${worst.toExponential(1)} over ${cases.length} cases`);
    }
  } finally {
    setDwBackpropFilterStrategy('auto');
  }
});

test('the SIMD kernel is available on this engine (else every case above ran the JS path twice)', async () => {
  await useBackend('wasm');
  const { wasmMemoryOf } = await import('./wasm_simd.js');
  assert.ok(wasmMemoryOf(tf.backend() as never), 'the wasm backend exposes its memory');
  assert.ok(dwBackpropFilterSimdAvailable(tf.backend() as never, 3, 3));
});

/**
 * End to end through tf.grads: forward and both gradients of depthwiseConv2d (and of the fused
 * op with a bias, whose custom gradient calls the same kernels) on wasm equal cpu; no tensor is
 * left behind.
 */
test('tf.grads through depthwiseConv2d: forward and gradients on wasm equal cpu', async (t) => {
  type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
  interface G { n: number; h: number; c: number; m: number; k: [number, number]; s: 1 | 2; pad: Pad; fused?: boolean }
  const gs: G[] = [];
  let i = 0;
  for (const s of [1, 2] as const) {
    for (const pad of ['same', 'valid', [[0, 0], [0, 1], [2, 1], [0, 0]]] as Pad[]) {
      for (const k of [[3, 3], [1, 3]] as [number, number][]) {
        gs.push({ n: [1, 4, 2][i % 3], h: 10, c: [3, 8, 16][i++ % 3], m: 1, k, s, pad });
      }
    }
  }
  gs.push({ n: 2, h: 9, c: 4, m: 2, k: [3, 3], s: 2, pad: 'same' });
  gs.push({ n: 2, h: 12, c: 16, m: 1, k: [3, 3], s: 1, pad: 'same', fused: true });
  gs.push({ n: 3, h: 9, c: 6, m: 1, k: [3, 3], s: 2, pad: 'valid', fused: true });
  const rng = new Rng(12);
  const data = gs.map((g) => ({
    x: randomValues(rng, g.n * g.h * g.h * g.c), f: randomValues(rng, g.k[0] * g.k[1] * g.c * g.m),
    b: randomValues(rng, g.c * g.m), seed: rng.int(1 << 30),
  }));
  const run = (g: G, d: (typeof data)[number]) => valuesOf(() => {
    const x = tf.tensor4d(d.x, [g.n, g.h, g.h, g.c]);
    const f = tf.tensor4d(d.f, [g.k[0], g.k[1], g.c, g.m]);
    const b = tf.tensor1d(d.b);
    const conv = (a: tf.Tensor, w: tf.Tensor, bias: tf.Tensor) => (g.fused
      ? tf.fused.depthwiseConv2d({ x: a as tf.Tensor4D, filter: w as tf.Tensor4D, strides: g.s, pad: g.pad as 'same' | 'valid', bias })
      : tf.depthwiseConv2d(a as tf.Tensor4D, w as tf.Tensor4D, g.s, g.pad));
    const y = conv(x, f, b);
    const r = tf.tensor(randomValues(new Rng(d.seed), y.size), y.shape); // random dy
    const grads = g.fused
      ? tf.grads((a: tf.Tensor, w: tf.Tensor, bias: tf.Tensor) => tf.sum(tf.mul(conv(a, w, bias), r)))([x, f, b])
      : tf.grads((a: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(conv(a, w, b), r)))([x, f]);
    return [y, ...grads];
  });
  await useBackend('cpu');
  const refs = gs.map((g, j) => run(g, data[j]));
  await useBackend('wasm');
  let worst = 0;
  gs.forEach((g, j) => {
    const before = memorySnapshot();
    const got = run(g, data[j]);
    assert.deepEqual(memorySnapshot(), before, `leak: ${JSON.stringify(g)}`);
    got.forEach((v, o) => {
      const e = relErr(v, refs[j][o]);
      assert.ok(e <= TOL, `${JSON.stringify(g)} output ${o} (y, dx, dW, db): relErr ${e}`);
      worst = Math.max(worst, e);
    });
  });
  t.diagnostic(`max relErr ${worst.toExponential(1)} over ${gs.length} cases`);
});
