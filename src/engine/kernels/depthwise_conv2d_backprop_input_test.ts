import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../random.js';
import { setDwBackpropInputStrategy, type DwBackpropInputStrategy } from './depthwise_conv2d_backprop_input.js';
import { dwCases, dwInputs, dwLabel, runBackpropInput } from './depthwise_testing.js';
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
    for (const strategy of ['auto', 'dwconv', 'js'] as DwBackpropInputStrategy[]) {
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

test('the pack registers DepthwiseConv2dNativeBackpropInput for wasm only', async () => {
  await useBackend('wasm');
  const { registerKernelPack } = await import('./register.js');
  assert.ok(registerKernelPack('wasm').includes('DepthwiseConv2dNativeBackpropInput'));
  assert.ok(!registerKernelPack('cpu').includes('DepthwiseConv2dNativeBackpropInput'));
  assert.ok(tf.getKernel('DepthwiseConv2dNativeBackpropInput', 'cpu')); // tfjs's own, untouched
});
