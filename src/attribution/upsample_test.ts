import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { upsampleBilinear } from './upsample.js';

await tf.setBackend('cpu');

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}] = ${actual[i]}, expected ${expected[i]}`);
  }
}

test('§6.9: [[0,1],[2,3]] → 4×4 with half-pixel centres', () => {
  const m = tf.tensor3d([[[0, 1], [2, 3]]]);
  const up = upsampleBilinear(m, [4, 4]);
  assert.deepEqual(up.shape, [1, 4, 4]);
  close(up.dataSync(), [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3], 1e-6, 'up');
  tf.dispose([m, up]);
});

test('matches the half-pixel formula with edge clamping at a non-integer ratio (3×2 → 7×5), batched', () => {
  const src = [[1, -2], [0.5, 4], [3, 0]];
  const [h, w, H, W] = [3, 2, 7, 5];
  const m = tf.tensor3d([src, src.map((r) => r.map((v) => 2 * v))]);
  const up = upsampleBilinear(m, [H, W]);
  const expected: number[] = [];
  for (const s of [1, 2]) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const sy = Math.min(Math.max((y + 0.5) * h / H - 0.5, 0), h - 1);
        const sx = Math.min(Math.max((x + 0.5) * w / W - 0.5, 0), w - 1);
        const y0 = Math.floor(sy), x0 = Math.floor(sx), y1 = Math.min(y0 + 1, h - 1), x1 = Math.min(x0 + 1, w - 1);
        const fy = sy - y0, fx = sx - x0;
        const top = src[y0][x0] * (1 - fx) + src[y0][x1] * fx;
        const bot = src[y1][x0] * (1 - fx) + src[y1][x1] * fx;
        expected.push(s * (top * (1 - fy) + bot * fy));
      }
    }
  }
  close(up.dataSync(), expected, 1e-5, 'up');
  tf.dispose([m, up]);
});

test('same size is a copy; bad arguments are named', () => {
  const m = tf.tensor3d([[[1, 2], [3, 4]]]);
  const same = upsampleBilinear(m, [2, 2]);
  assert.notEqual(same, m);
  assert.deepEqual([...same.dataSync()], [1, 2, 3, 4]);
  assert.throws(() => upsampleBilinear(m, [0, 2]), /upsampleBilinear: size/);
  tf.dispose([m, same]);
});
