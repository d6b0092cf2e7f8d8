/**
 * The training losses against values derived by hand (float64 on the host), never by the code
 * under test: multi-label BCE and the multi-label KD term with its T² factor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { multiLabelKd, multiLabelSoftMargin } from './losses.js';

await tf.setBackend('cpu');

const value = (f: () => tf.Scalar): number => {
  const t = f();
  const v = t.dataSync()[0];
  t.dispose();
  return v;
};
const close = (got: number, want: number, tol: number, what: string) => assert.ok(Math.abs(got - want) <= tol, `${what}: ${got}, want ${want}`);

test('BCE: mean over classes of softplus(−z) for y = 1 and softplus(z) for y = 0, by hand', () => {
  // z = (2, −1), y = (1, 0): (ln(1 + e^−2) + ln(1 + e^−1)) / 2 = (0.126928 + 0.313262) / 2
  const v = value(() => multiLabelSoftMargin(tf.tensor2d([[2, -1]]), tf.tensor2d([[1, 0]])));
  close(v, 0.2200948492805977, 1e-6, 'BCE');
  // z = 0 gives ln 2 whatever the label; two rows average
  close(value(() => multiLabelSoftMargin(tf.tensor2d([[0], [0]]), tf.tensor2d([[1], [0]]))), Math.LN2, 1e-6, 'BCE at z = 0');
});

test('KD: 0 for equal logits; finite at ±100; a hand value at T = 4 (includes the T² factor)', () => {
  const z = tf.tensor2d([[3, -2, 0.5], [-7, 1, 9]]);
  close(value(() => multiLabelKd(z, z, 4)), 0, 1e-6, 'KD(z, z)');
  z.dispose();
  // ±100 logits, student and teacher disagreeing completely: log-sigmoid keeps it finite
  const far = value(() => multiLabelKd(tf.tensor2d([[100, -100]]), tf.tensor2d([[-100, 100]]), 1));
  assert.ok(Number.isFinite(far) && far > 0, `KD at ±100: ${far}`);
  // each class: q ≈ 0, 1 − p = σ(−100): KL ≈ ln(1/σ(−100)) = ln(1 + e^100) ≈ 100; the mean of two is ≈ 100
  close(far, 100, 1e-3, 'KD at ±100');
  // s = (2, −1), t = (6, 3), T = 4: p = σ(s/4), q = σ(t/4), KL_c = q ln(q/p) + (1−q) ln((1−q)/(1−p))
  // class 0: q = σ(1.5) = 0.817574, p = σ(0.5) = 0.622459 → 0.222925 − 0.132679 = 0.090238
  // class 1: q = σ(0.75), p = σ(−0.25) → 0.118247; mean 0.104243, × T² = 16 → 1.667882
  const kd = value(() => multiLabelKd(tf.tensor2d([[2, -1]]), tf.tensor2d([[6, 3]]), 4));
  close(kd, 1.6678823626426762, 1e-5, 'KD at T = 4');
});
