import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { type Layer, layerIndex, runLayers, vggLayers } from './forward_trace.js';
import {
  GradCam, autodiffChannelWeights, closedFormChannelWeights, gradCamFromActivations,
} from './grad_cam.js';
import { oneHotTargets } from './attribution_method.js';
import { upsampleBilinear } from './upsample.js';
import { randomImages, tinyNet } from './test_nets.js';

await tf.setBackend('cpu');

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}] = ${actual[i]}, expected ${expected[i]}`);
  }
}

test('§6.1: Grad-CAM by hand, closed form and autodiff', () => {
  // A: 2×2×2, channel 0 = [[1,2],[3,4]], channel 1 = [[0,5],[1,0]] (NHWC)
  const acts = tf.tensor4d([1, 0, 2, 5, 3, 1, 4, 0], [1, 2, 2, 2]);
  const head: Layer[] = [
    { kind: 'maxPool', name: 'pool' }, { kind: 'flatten', name: 'flatten' },
    { kind: 'dense', name: 'fc', kernel: tf.tensor2d([[0.5, 1], [-1, 2]]), bias: tf.zeros([2]) },
  ];
  const expected = [[0.5, 0, 0.5, 2], [1, 12, 5, 4]];
  for (const gradients of ['closedForm', 'autodiff'] as const) {
    for (const c of [0, 1]) {
      const oneHot = oneHotTargets([c], 2);
      const m = gradCamFromActivations(acts, head, oneHot, { pooling: 'sum', gradients });
      close(m.dataSync(), expected[c], 1e-6, `${gradients} class ${c}`);
      const mean = gradCamFromActivations(acts, head, oneHot, { pooling: 'mean', gradients });
      close(mean.dataSync(), expected[c].map((v) => v / 4), 1e-6, `${gradients} class ${c} mean`);
      tf.dispose([oneHot, m, mean]);
    }
  }
  const oneHot = oneHotTargets([0], 2);
  const alpha = closedFormChannelWeights((head[2] as { kernel: tf.Tensor2D }).kernel, [1, 1, 2], oneHot);
  close(alpha.dataSync(), [0.5, -1], 1e-7, 'α class 0');
  tf.dispose([acts, oneHot, alpha, (head[2] as { kernel: tf.Tensor }).kernel, (head[2] as { bias: tf.Tensor }).bias]);
});

test('§6.2: closed-form α equals the spatial sum of autodiff ∂z_c/∂A (random net, uneven widths, odd size)', () => {
  const net = tinyNet({ blocks: [[5], [7, 3], [6]], inputSize: [21, 19], numClasses: 5, seed: 3 });
  const x = randomImages(net, 3);
  const layers = vggLayers(net);
  const li = layerIndex(layers, net.layout.gradCamLayer);
  const acts = runLayers(layers, x, 0, li + 1) as tf.Tensor4D;
  assert.deepEqual(acts.shape, [3, 5, 4, 6]);
  const oneHot = oneHotTargets([0, 4, 2], 5);
  const a = closedFormChannelWeights(net.weight('fc/kernel') as tf.Tensor2D, [2, 2, 6], oneHot);
  const b = autodiffChannelWeights(layers.slice(li + 1), acts, oneHot);
  const av = a.dataSync(), bv = b.dataSync();
  const scale = Math.max(...Array.from(av, Math.abs));
  for (let i = 0; i < av.length; i++) assert.ok(Math.abs(av[i] - bv[i]) <= 1e-5 * scale, `α[${i}] ${av[i]} vs ${bv[i]}`);
  tf.dispose([x, acts, oneHot, a, b]);
  net.dispose();
});

test('GradCam.attribute: native map at the last ReLU, upsampled maps, both gradient paths agree', () => {
  const net = tinyNet({ blocks: [[4], [6]], inputSize: [10, 10], numClasses: 3, seed: 2 });
  const x = randomImages(net, 2);
  const classes = [1, 2];
  const closed = new GradCam({ gradients: 'closedForm' }).attribute(net, x, classes);
  const auto = new GradCam({ gradients: 'autodiff' }).attribute(net, x, classes);
  assert.deepEqual(closed.native!.shape, [2, 5, 5]);
  assert.deepEqual(closed.maps.shape, [2, 10, 10]);
  close(closed.native!.dataSync(), auto.native!.dataSync(), 1e-5, 'native');
  const up = upsampleBilinear(closed.native!, [10, 10]);
  close(closed.maps.dataSync(), up.dataSync(), 1e-6, 'maps');
  assert.ok(Math.min(...closed.maps.dataSync()) >= 0);
  const ref = net.predict(x);
  const lv = ref.dataSync();
  close(closed.targetLogit, [lv[1], lv[5]], 1e-5, 'targetLogit');
  // an earlier layer is explained by autodiff
  const early = new GradCam({ layer: 'relu1_1' }).attribute(net, x, classes);
  assert.deepEqual(early.native!.shape, [2, 10, 10]);
  assert.throws(() => new GradCam({ layer: 'relu1_1', gradients: 'closedForm' }).attribute(net, x, classes), /closedForm/);
  tf.dispose([x, closed.maps, closed.native!, auto.maps, auto.native!, up, ref, early.maps, early.native!]);
  net.dispose();
});

test('bad configs name the field', () => {
  assert.throws(() => new GradCam({ pooling: 'max' }), /gradcam: invalid config: pooling/);
  assert.throws(() => new GradCam({ polling: 'sum' }), /gradcam: invalid config/);
});
