/**
 * Properties every registered method must have (anchors: a method table, captum/zennit style):
 * shapes, finite maps, batched = per image, no tensor leaks, the network left unchanged, config
 * round trip through the registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { type AttributionResult, disposeAttribution } from './attribution_method.js';
import { PAPER_METHODS, kinds, makeAttribution, parseAttributionList } from './registry.js';
import { randomImages, tinyNet, weightValues } from './test_nets.js';

await tf.setBackend('cpu');

/** Small settings so the table stays fast; `native` = has a coarse native map. */
const CASES: { kind: string; cfg: object; native: boolean; nonNegative: boolean }[] = [
  { kind: 'gradcam', cfg: {}, native: true, nonNegative: true },
  { kind: 'gradcam', cfg: { gradients: 'autodiff', pooling: 'mean' }, native: true, nonNegative: true },
  { kind: 'lrp', cfg: {}, native: false, nonNegative: false },
  { kind: 'lrp', cfg: { batchNorm: 'fold' }, native: false, nonNegative: false },
  { kind: 'rap', cfg: {}, native: false, nonNegative: true },
  { kind: 'ebp', cfg: {}, native: true, nonNegative: true },
  { kind: 'ebp', cfg: { contrastive: true }, native: true, nonNegative: true },
  { kind: 'ig', cfg: { steps: 6, internalBatchSize: 4 }, native: false, nonNegative: false },
  { kind: 'smoothgrad', cfg: { samples: 3, internalBatchSize: 4 }, native: false, nonNegative: true },
  { kind: 'gradxinput', cfg: {}, native: false, nonNegative: false },
];

test('registry: every kind has a table case; unknown kinds and lists are rejected by name', () => {
  assert.deepEqual(kinds(), [...new Set(CASES.map((c) => c.kind))].sort());
  for (const k of PAPER_METHODS) assert.ok(kinds().includes(k));
  assert.throws(() => makeAttribution('gradcam++'), /unknown attribution method 'gradcam\+\+'; known: ebp, gradcam/);
  assert.deepEqual(parseAttributionList(' gradcam,lrp,,gradcam '), ['gradcam', 'lrp']);
  assert.deepEqual(parseAttributionList('gxi,gradcam,gradxinput'), ['gradxinput', 'gradcam'], 'gxi is gradxinput');
  assert.throws(() => parseAttributionList('gradcam,lpr'), /--attribution: unknown method 'lpr'/);
});

const net = tinyNet({ blocks: [[4], [5, 3]], inputSize: [9, 11], numClasses: 3, params: 'random', seed: 41 });
const x = randomImages(net, 3, 42);
const classes = [2, 0, 1];

for (const c of CASES) {
  const title = `${c.kind} ${JSON.stringify(c.cfg)}`;
  test(`${title}: shapes, finite values, config round trip`, () => {
    const m = makeAttribution(c.kind, c.cfg);
    assert.equal(m.kind, c.kind);
    const again = makeAttribution(c.kind, JSON.parse(JSON.stringify(m.getConfig())));
    assert.deepEqual(again.getConfig(), m.getConfig());
    const r = m.attribute(net, x, classes);
    assert.deepEqual(r.maps.shape, [3, 9, 11]);
    if (c.native) assert.deepEqual(r.native!.shape, [3, 4, 5]); // relu2_2 after one pool of 9×11
    else assert.equal(r.native, undefined);
    const v = r.maps.dataSync();
    assert.ok(v.every(Number.isFinite), 'finite');
    if (c.nonNegative) assert.ok(Math.min(...v) >= 0, 'non-negative');
    assert.equal(r.targetLogit.length, 3);
    assert.equal(r.logits.length, 9);
    classes.forEach((k, n) => assert.equal(r.targetLogit[n], r.logits[n * 3 + k]));
    disposeAttribution(r);
  });

  test(`${title}: batched maps equal per-image maps`, () => {
    const m = makeAttribution(c.kind, c.cfg);
    const all = m.attribute(net, x, classes);
    const av = all.maps.dataSync();
    const scale = Math.max(1e-6, ...Array.from(av, Math.abs));
    const per = 9 * 11;
    for (let n = 0; n < 3; n++) {
      const xi = tf.slice(x, [n, 0, 0, 0], [1, -1, -1, -1]);
      const one = m.attribute(net, xi, [classes[n]]);
      const ov = one.maps.dataSync();
      for (let i = 0; i < per; i++) {
        assert.ok(Math.abs(ov[i] - av[n * per + i]) <= 1e-5 * scale, `image ${n} pixel ${i}: ${ov[i]} vs ${av[n * per + i]}`);
      }
      assert.ok(Math.abs(one.targetLogit[0] - all.targetLogit[n]) < 1e-5);
      disposeAttribution(one);
      xi.dispose();
    }
    disposeAttribution(all);
  });

  test(`${title}: no tensor leaks, weights and input unchanged`, () => {
    const m = makeAttribution(c.kind, c.cfg);
    const before = weightValues(net);
    const x0 = Array.from(x.dataSync());
    disposeAttribution(m.attribute(net, x, classes)); // warm-up (kernels may allocate once)
    const n0 = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const r: AttributionResult = m.attribute(net, x, classes);
      disposeAttribution(r);
      assert.equal(tf.memory().numTensors, n0, `iteration ${i}`);
    }
    for (const [k, v] of weightValues(net)) assert.deepEqual(v, before.get(k), k);
    assert.deepEqual(Array.from(x.dataSync()), x0);
    assert.ok(!x.isDisposed);
  });
}

test('argument errors name the method and the argument', () => {
  const m = makeAttribution('lrp');
  assert.throws(() => m.attribute(net, x, [0, 1]), /lrp.attribute: classIndices has 2 entries for 3 images/);
  assert.throws(() => m.attribute(net, x, [0, 1, 3]), /lrp.attribute: class index 3/);
  const bad = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
  assert.throws(() => m.attribute(net, bad, [0]), /lrp.attribute: images must be \[N, 9, 11, 3\]/);
  bad.dispose();
});
