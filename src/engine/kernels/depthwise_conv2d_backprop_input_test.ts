import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../random.js';
import { dwBackpropInputSimdApplies, setDwBackpropInputStrategy, type DwBackpropInputStrategy } from './depthwise_conv2d_backprop_input.js';
import { dwCases, dwInputs, dwLabel, runBackpropInput, type DwCase } from './depthwise_testing.js';
import { memorySnapshot, relErr, useBackend } from './testing.js';

const TOL = 1e-5; // relErr (see testing.ts): max |a − ref| / max |ref|

test('DepthwiseConv2dNativeBackpropInput (wasm, apc) matches cpu for every strategy', async (t) => {
  const cases = dwCases();
  const rng = new Rng(5);
  const inputs = cases.map((c) => dwInputs(rng, c));
  await useBackend('cpu');
  const refs = cases.map((c, i) => runBackpropInput(c, inputs[i], true));
  await useBackend('wasm');
  try {
    for (const strategy of ['auto', 'simd', 'dwconv', 'js'] as DwBackpropInputStrategy[]) {
      setDwBackpropInputStrategy(strategy);
      let worst = 0;
      cases.forEach((c, i) => {
        const before = memorySnapshot();
        const got = runBackpropInput(c, inputs[i]);
        assert.deepEqual(memorySnapshot(), before, `leak: ${strategy} ${dwLabel(c)}`);
        const e = relErr(got, refs[i]);
        assert.ok(e <= TOL, `${strategy} ${dwLabel(c)}: relErr ${e}`);
        worst = Math.max(worst, e);
      });
      t.diagnostic(`${strategy}: max relErr ${worst.toExponential(1)} over ${cases.length} cases`);
    }
  } finally {
    setDwBackpropInputStrategy('auto');
  }
});

test('the SIMD gather applies where expected (stride > 1, M = 1, C divisible by 4)', async () => {
  await useBackend('wasm');
  const backend = tf.backend() as never;
  const applies = (c: DwCase) => dwBackpropInputSimdApplies(backend,
    tf.backend_util.computeConv2DInfo([c.n, c.h, c.w, c.c], [c.kh, c.kw, c.c, c.m], c.s, c.d ?? 1, c.pad, c.round, true));
  const used = dwCases().filter((c) => (c.s[0] > 1 || c.s[1] > 1) && applies(c)).length;
  assert.ok(used >= 6, `SIMD gather ran on ${used} strided cases`);
  assert.ok(applies({ n: 16, h: 32, w: 32, c: 96, m: 1, kh: 3, kw: 3, s: [2, 2], pad: 'same' }));
  assert.ok(!applies({ n: 2, h: 8, w: 8, c: 6, m: 1, kh: 3, kw: 3, s: [2, 2], pad: 'same' })); // C mod 4 ≠ 0
  assert.ok(!applies({ n: 2, h: 8, w: 8, c: 4, m: 2, kh: 3, kw: 3, s: [2, 2], pad: 'same' })); // multiplier
});

test('the pack registers DepthwiseConv2dNativeBackpropInput for wasm only', async () => {
  await useBackend('wasm');
  const { registerKernelPack } = await import('./register.js');
  assert.ok(registerKernelPack('wasm').includes('DepthwiseConv2dNativeBackpropInput'));
  assert.ok(!registerKernelPack('cpu').includes('DepthwiseConv2dNativeBackpropInput'));
  assert.ok(tf.getKernel('DepthwiseConv2dNativeBackpropInput', 'cpu')); // tfjs's own, untouched
});
