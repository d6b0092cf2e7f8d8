import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { registerKernelPack } from '../kernels/register.js';
import { relu6 } from './relu6.js';

for (const backend of ['cpu', 'wasm']) {
  test(`${backend}: relu6 and its one-pass gradient equal tfjs's tf.relu6 and its gradient (incl. x = 0 and x = 6 exactly)`, async () => {
    await tf.setBackend(backend);
    await tf.ready();
    registerKernelPack(backend);
    const values = Float32Array.from({ length: 4 * 5 * 6 * 7 }, (_, i) => ((i * 7919) % 211) / 15 - 3);
    values[0] = 0; values[1] = 6; values[2] = 6.000001; values[3] = -0;
    const x = tf.tensor4d(values, [4, 5, 6, 7]);
    const dy = tf.tensor4d(Float32Array.from(values, (_, i) => Math.sin(i)), [4, 5, 6, 7]);
    const ours = tf.grad((t: tf.Tensor) => relu6(t))(x, dy);
    const theirs = tf.grad((t: tf.Tensor) => tf.relu6(t))(x, dy);
    assert.deepEqual(Array.from(ours.dataSync()), Array.from(theirs.dataSync()));
    assert.deepEqual(Array.from(relu6(x).dataSync()), Array.from(tf.relu6(x).dataSync()));
    const before = tf.memory().numTensors;
    tf.dispose(tf.grad((t: tf.Tensor) => relu6(t))(x, dy));
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, dy, ours, theirs]);
  });
}
