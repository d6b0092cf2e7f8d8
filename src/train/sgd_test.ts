/**
 * SGD with momentum and coupled weight decay (PyTorch semantics, voc-protocol §7) and the step
 * learning-rate schedule, against updates worked out by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { SgdMomentum, stepLr } from './sgd.js';

await tf.setBackend('cpu');

test('two momentum steps with weight decay: g ← ∇ + wd·θ; v ← μv + g; θ ← θ − lr·v, by hand', () => {
  // θ0 = (1, −2), ∇ = (0.5, 0.5) at both steps, lr 0.1, μ 0.9, wd 0.1
  const theta = tf.variable(tf.tensor1d([1, -2]), true, 'sgd_test_theta');
  const opt = new SgdMomentum({ lr: 0.1, momentum: 0.9, weightDecay: 0.1 });
  const grad = tf.tensor1d([0.5, 0.5]);
  // step 1: g = 0.5 + 0.1·θ0 = (0.6, 0.3); v = g; θ1 = θ0 − 0.1·v = (0.94, −2.03)
  opt.step([theta], { [theta.name]: grad });
  const t1 = Array.from(theta.dataSync());
  [0.94, -2.03].forEach((w, i) => assert.ok(Math.abs(t1[i] - w) < 1e-6, `θ1[${i}] = ${t1[i]}, want ${w}`));
  // step 2: g = 0.5 + 0.1·θ1 = (0.594, 0.297); v = 0.9·v1 + g = (1.134, 0.567); θ2 = θ1 − 0.1·v = (0.8266, −2.0867)
  // (decay added after the momentum update would give v = (1.044, 0.247): θ2 = (0.8356, −2.0547))
  opt.step([theta], { [theta.name]: grad });
  const t2 = Array.from(theta.dataSync());
  [0.8266, -2.0867].forEach((w, i) => assert.ok(Math.abs(t2[i] - w) < 1e-6, `θ2[${i}] = ${t2[i]}, want ${w}`));
  const [v] = opt.state([theta]);
  Array.from(v.dataSync()).forEach((x, i) => assert.ok(Math.abs(x - [1.134, 0.567][i]) < 1e-6, `v[${i}] = ${x}`));
  tf.dispose([v, grad, theta]);
  opt.dispose();
});

test('step schedule: lr × γ^(milestones ≤ epoch), 0-based epochs', () => {
  const lr = stepLr(0.01, [2, 4], 0.1);
  const want = [0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001];
  want.forEach((w, epoch) => assert.ok(Math.abs(lr(epoch) - w) < 1e-15, `epoch ${epoch}: ${lr(epoch)}, want ${w}`));
  assert.equal(stepLr(0.5, [])(10), 0.5);
  assert.equal(stepLr(1, [0], 0.5)(0), 0.5, 'a milestone at epoch 0 applies from the start');
});
