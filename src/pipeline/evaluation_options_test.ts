/**
 * The evaluation options `apc run` / `apc evaluate` expose: 'teacherTop1' agreement pairs (a
 * student with no positive logit still gets agreement), the localisation options reaching the
 * pair records, per-pair records, and `matchedMapCosine` against a slow host-side SWA map.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createShapesDataset } from '../data/shapes.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { vggPreset } from '../models/vgg_config.js';
import { evalBatches, hostBatch, toTensors } from '../train/batches.js';
import { evaluateModel, teacherAgreementMaps } from './evaluate_model.js';
import { matchedMapCosines } from './matched_map_cosine.js';

tf.enableProdMode();
await tf.setBackend('cpu');

const data = createShapesDataset({ imageSize: 32, sizes: { train: 2, val: 2, test: 6 }, statsSamples: 2 });
const teacher = GraphNet.create(vggPreset({ width: 32, imageSize: 32, numClasses: 10 }), 3);
test.after(() => teacher.dispose());

/** A copy of `net` whose output biases are shifted by `shift` (logits move, every gradient stays). */
function shiftedBias(net: GraphNet, shift: number): GraphNet {
  const copy = net.clone();
  const bias = copy.weight(`${copy.graph.outputName}/bias`);
  bias.assign(tf.tidy(() => tf.add(bias, shift)));
  return copy;
}

test('teacherTop1 agreement: a student with no positive logit still gets one pair per image, at the teacher\'s arg-max', async () => {
  const student = shiftedBias(teacher, -1000);
  try {
    const methods = ['gradcam'];
    const positive = await evaluateModel(student, { data, methods, quiet: true, teacherMaps: await teacherAgreementMaps(teacher, { data, methods }) });
    assert.equal(positive.attribution.gradcam.agreement?.n, 0); // both-positive: no pair survives z^S_c > 0
    const top1Maps = await teacherAgreementMaps(teacher, { data, methods, agreementPairs: 'teacherTop1' });
    const ev = await evaluateModel(student, { data, methods, quiet: true, agreementPairs: 'teacherTop1', teacherMaps: top1Maps, keepRecords: true });
    const a = ev.attribution.gradcam.agreement!;
    assert.equal(a.pairs, 'teacherTop1');
    assert.equal(a.n, 6);
    // the classes are the teacher's arg-max per image (computed here from its logits)
    const z = tf.tidy(() => teacher.predict(tf.concat([...evalBatches(data, 'test', 6)].map((b) => { tf.dispose(b.y); return b.x; })))).arraySync() as number[][];
    assert.deepEqual(ev.records!.gradcam.agreement!.map((r) => r.classIndex), z.map((row) => row.indexOf(Math.max(...row))));
    assert.ok(ev.records!.gradcam.agreement!.every((r) => r.studentLogit < 0 && r.status === 'used'));
    // a bias moves no gradient: Grad-CAM maps are the teacher's, so every agreement is exactly 1
    assert.equal(a.cosine, 1);
    assert.deepEqual(Object.keys(a.report.topkIoU).map(Number), [5, 10, 15, 20]);
    for (const s of Object.values(a.report.topkIoU)) assert.equal(s.median, 1);
  } finally {
    student.dispose();
  }
});

test('localisation options reach every pair: with a 100-pixel pointing tolerance each peaked map is a hit', async () => {
  const exact = await evaluateModel(teacher, { data, methods: ['gradcam'], quiet: true, keepRecords: true });
  const loose = await evaluateModel(teacher, { data, methods: ['gradcam'], quiet: true, keepRecords: true, localization: { pointingTolerancePx: 100 } });
  const peaked = loose.records!.gradcam.localization.filter((r) => r.status === 'counted' && r.peak !== null);
  assert.ok(peaked.length > 0);
  assert.ok(peaked.every((r) => r.hit === true)); // a 32×32 image: every class pixel is within 100 px
  const hits = exact.records!.gradcam.localization.filter((r) => r.hit === true).length;
  assert.equal(exact.attribution.gradcam.pointing, hits / exact.attribution.gradcam.localization.nPointing);
  // AUCs do not depend on the tolerance; the median is the middle of the records' AUCs
  const aucs = exact.records!.gradcam.localization.flatMap((r) => (r.auc === null ? [] : [r.auc])).sort((x, y) => x - y);
  const mid = aucs.length >> 1;
  assert.equal(exact.attribution.gradcam.localization.medianAUC, aucs.length % 2 ? aucs[mid] : (aucs[mid - 1] + aucs[mid]) / 2);
  assert.equal(loose.attribution.gradcam.auc, exact.attribution.gradcam.auc);
});

/** Slow SWA map of a VGG at its last pool (method spec §2.4): ReLU(Σ_k α_k F_k), α_k = Σ_{h,w} K[(h·W+w)·C+k, c]. */
function slowSwaMap(net: GraphNet, x: tf.Tensor4D, cls: number): number[] {
  const layer = net.matchLayer;
  const f = tf.tidy(() => net.forward(x, { capture: [layer] }).activations[layer]);
  const [, H, W, C] = f.shape;
  const F = f.arraySync() as number[][][][];
  f.dispose();
  const K = net.weight(`${net.graph.outputName}/kernel`).arraySync() as number[][];
  const alpha = Array.from({ length: C }, (_, k) => {
    let s = 0;
    for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) s += K[(h * W + w) * C + k][cls];
    return s;
  });
  const map: number[] = [];
  for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) map.push(Math.max(0, alpha.reduce((s, a, k) => s + a * F[0][h][w][k], 0)));
  return map;
}

function cosine(a: number[], b: number[]): number {
  const dot = a.reduce((s, v, i) => s + v * b[i], 0);
  const na = Math.hypot(...a), nb = Math.hypot(...b);
  return na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / (na * nb);
}

test('matchedMapCosine: 1 for the teacher against a copy; for another net, the cosine of the slow SWA maps at the teacher\'s top-1 class', async () => {
  const copy = teacher.clone();
  const other = GraphNet.create(vggPreset({ width: 32, imageSize: 32, numClasses: 10 }), 4);
  try {
    assert.deepEqual([...matchedMapCosines(teacher, copy, data, 'test')], [1, 1, 1, 1, 1, 1]);
    const got = matchedMapCosines(teacher, other, data, 'test', { limit: 3, batchSize: 2 });
    assert.equal(got.length, 3);
    for (let i = 0; i < 3; i++) {
      const b = toTensors(data, hostBatch(data, 'test', [i]));
      const z = teacher.predict(b.x);
      const row = [...z.dataSync()];
      const cls = row.indexOf(Math.max(...row));
      const want = cosine(slowSwaMap(teacher, b.x, cls), slowSwaMap(other, b.x, cls));
      assert.ok(Math.abs(got[i] - want) < 1e-5, `image ${i}: ${got[i]} vs slow ${want}`);
      assert.ok(want < 0.9999, 'different nets give different maps');
      tf.dispose([z, b.x, b.y]);
    }
    const ev = await evaluateModel(other, { data, methods: [], quiet: true, teacherNet: teacher });
    assert.equal(ev.matchedMapCosine?.n, 6);
  } finally {
    copy.dispose();
    other.dispose();
  }
});
