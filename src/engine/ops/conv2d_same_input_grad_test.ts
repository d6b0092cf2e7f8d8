import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { conv2dSameInputGrad } from './conv2d_same_input_grad.js';

await tf.setBackend('cpu');

test('equals conv2dTranspose (the input-gradient of a same conv) for odd and even kernels', () => {
  for (const [kh, kw] of [[3, 3], [1, 1], [5, 3], [2, 2]]) {
    const dy = tf.randomUniform([2, 6, 5, 4], -1, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomUniform([kh, kw, 3, 4], -1, 1, 'float32', 2) as tf.Tensor4D;
    const ours = conv2dSameInputGrad(dy, w);
    const ref = tf.conv2dTranspose(dy, w, [2, 6, 5, 3], 1, 'same');
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(ours, ref))).dataSync()[0]);
    assert.ok(d < 1e-5, `${kh}×${kw}: max |Δ| ${d}`);
    tf.dispose([dy, w, ours, ref]);
  }
});

test('a dy with the wrong channel count is named', () => {
  const dy = tf.zeros([1, 2, 2, 3]) as tf.Tensor4D;
  const w = tf.zeros([3, 3, 2, 4]) as tf.Tensor4D;
  assert.throws(() => conv2dSameInputGrad(dy, w), /conv2dSameInputGrad: dy must be \[N, H, W, 4\]/);
  tf.dispose([dy, w]);
});
