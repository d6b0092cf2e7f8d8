import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Ebp, ebpDense } from './ebp.js';
import { ForwardTrace } from './forward_trace.js';
import { upsampleBilinear } from './upsample.js';
import { denseEntry, randomImages, tinyNet } from './test_nets.js';

await tf.setBackend('cpu');

test('§6.3: EBP dense W⁺ rule by hand, P = (0.2, 0.8, 0)', () => {
  const e = denseEntry([[1, 2, 1]], [[0.5], [1], [-1]], [0.2]);
  const p = tf.tidy(() => ebpDense().propagate(e, tf.tensor2d([[1]])));
  const v = p.dataSync();
  [0.2, 0.8, 0].forEach((want, i) => assert.ok(Math.abs(v[i] - want) < 1e-6, `P[${i}] = ${v[i]}`));
});

test('§6.8: the native map is ≥ 0 and sums to 1; it equals the closed form of §4; maps are its upsampling', () => {
  const net = tinyNet({ blocks: [[3], [5, 4]], inputSize: [13, 10], numClasses: 4, params: 'random', seed: 21 });
  const x = randomImages(net, 3, 22);
  const classes = [3, 0, 2];
  const r = new Ebp().attribute(net, x, classes);
  assert.deepEqual(r.native!.shape, [3, 6, 5]);
  const nat = r.native!.dataSync();
  assert.ok(Math.min(...nat) >= 0);
  // closed form: E[h,w] = Σ_k [arg-max] x_(h',w',k) K⁺[(h',w',k), c] / o⁺_c
  const trace = ForwardTrace.ofNet(net, x);
  const pool = trace.entry(net.matchLayer);
  const mask = pool.argmaxMask!.dataSync();
  const pooled = pool.output.dataSync();
  const kern = net.weight('fc/kernel').dataSync();
  const [, H, W, C] = pool.input.shape;
  const [, ho, wo] = pool.output.shape;
  for (let n = 0; n < 3; n++) {
    const c = classes[n];
    let o = 0;
    for (let j = 0; j < ho * wo * C; j++) o += pooled[n * ho * wo * C + j] * Math.max(kern[j * 4 + c], 0);
    assert.ok(o > 0);
    let total = 0;
    for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) {
      let e = 0;
      if (h < 2 * ho && w < 2 * wo) {
        for (let k = 0; k < C; k++) {
          if (mask[((n * H + h) * W + w) * C + k] !== 1) continue;
          const j = ((Math.floor(h / 2) * wo) + Math.floor(w / 2)) * C + k;
          e += pooled[n * ho * wo * C + j] * Math.max(kern[j * 4 + c], 0) / o;
        }
      }
      const got = nat[(n * H + h) * W + w];
      assert.ok(Math.abs(got - e) < 1e-6, `E[${n},${h},${w}] = ${got}, closed form ${e}`);
      total += got;
    }
    assert.ok(Math.abs(total - 1) <= 1e-6, `Σ E = ${total}`);
  }
  const up = upsampleBilinear(r.native!, [13, 10]);
  assert.deepEqual(Array.from(up.dataSync()), Array.from(r.maps.dataSync()));
  trace.dispose();
  tf.dispose([x, r.maps, r.native!, up]);
  net.dispose();
});

test('contrastive EBP: non-negative, differs from plain EBP', () => {
  const net = tinyNet({ seed: 4 });
  const x = randomImages(net, 2, 4);
  const plain = new Ebp().attribute(net, x, [0, 1]);
  const contrast = new Ebp({ contrastive: true }).attribute(net, x, [0, 1]);
  assert.ok(Math.min(...contrast.native!.dataSync()) >= 0);
  assert.notDeepEqual(Array.from(contrast.native!.dataSync()), Array.from(plain.native!.dataSync()));
  tf.dispose([x, plain.maps, plain.native!, contrast.maps, contrast.native!]);
  net.dispose();
});

test('contrastive EBP equals the closed form max(Σ_k E⁺_k − E⁻_k, 0), E⁻ from the negated dense kernel', () => {
  const net = tinyNet({ blocks: [[3], [5, 4]], inputSize: [13, 10], numClasses: 4, params: 'random', seed: 23 });
  const x = randomImages(net, 2, 24);
  const classes = [1, 3];
  const r = new Ebp({ contrastive: true }).attribute(net, x, classes);
  const nat = r.native!.dataSync();
  const trace = ForwardTrace.ofNet(net, x);
  const pool = trace.entry(net.matchLayer);
  const mask = pool.argmaxMask!.dataSync();
  const pooled = pool.output.dataSync();
  const kern = net.weight('fc/kernel').dataSync();
  const [, H, W, C] = pool.input.shape;
  const [, ho, wo] = pool.output.shape;
  let positive = 0;
  for (let n = 0; n < 2; n++) {
    const c = classes[n];
    // E^±[h,w] = Σ_k [arg-max] x_j K^±[j, c] / o^±_c with K⁺ = max(K, 0), K⁻ = max(−K, 0)
    const kPos = (j: number) => Math.max(kern[j * 4 + c], 0);
    const kNeg = (j: number) => Math.max(-kern[j * 4 + c], 0);
    let oPos = 0, oNeg = 0;
    for (let j = 0; j < ho * wo * C; j++) {
      oPos += pooled[n * ho * wo * C + j] * kPos(j);
      oNeg += pooled[n * ho * wo * C + j] * kNeg(j);
    }
    assert.ok(oPos > 0 && oNeg > 0, 'both units fire, so both terms matter');
    for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) {
      let e = 0;
      if (h < 2 * ho && w < 2 * wo) {
        for (let k = 0; k < C; k++) {
          if (mask[((n * H + h) * W + w) * C + k] !== 1) continue;
          const j = ((Math.floor(h / 2) * wo) + Math.floor(w / 2)) * C + k;
          const xj = pooled[n * ho * wo * C + j];
          e += xj * kPos(j) / oPos - xj * kNeg(j) / oNeg;
        }
      }
      const want = Math.max(e, 0);
      if (want > 0) positive++;
      const got = nat[(n * H + h) * W + w];
      assert.ok(Math.abs(got - want) < 1e-6, `c-EBP[${n},${h},${w}] = ${got}, closed form ${want}`);
    }
  }
  assert.ok(positive > 0 && positive < 2 * H * W, 'the subtraction clips some pixels and leaves others');
  trace.dispose();
  tf.dispose([x, r.maps, r.native!]);
  net.dispose();
});
