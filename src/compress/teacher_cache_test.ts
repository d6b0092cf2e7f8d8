/**
 * The teacher-output cache (teacher_cache.ts): with it, every KD (+ matching) step gives the loss,
 * loss parts and gradients of the uncached objective (same rng), over two epochs that revisit
 * the same sample indices in another order, while the teacher forward runs only in the first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { relErr } from '../engine/kernels/testing.js';
import { Rng } from '../engine/random.js';
import { type MatchingConfigInput, matchingCaptures, parseMatchingConfig } from '../matching/matching_term.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { VggConfigSchema, vggLayout, vggPreset } from '../models/vgg_config.js';
import { epochOrder } from '../train/batches.js';
import type { Objective, TrainBatch } from '../train/fit.js';
import { SgdMomentum } from '../train/sgd.js';
import { compressionObjective } from './objective.js';
import { TeacherOutputCache, teacherCacheBytesPerSample } from './teacher_cache.js';
import { vggView } from '../models/vgg_view.js';

tf.enableProdMode();
await tf.setBackend('cpu');

const cfg = (blocks: number[][]) => VggConfigSchema.parse({ kind: 'vgg', blocks, inputSize: [8, 8], numClasses: 3 });
const N = 10;
const BATCH = 4;
const rng0 = new Rng(3);
const X = rng0.uniformArray(N * 8 * 8 * 3, -1, 1);
const Y = Float32Array.from({ length: N * 3 }, () => (rng0.next() < 0.4 ? 1 : 0));

function batchOf(indices: number[]): TrainBatch {
  const x = new Float32Array(indices.length * 192);
  const y = new Float32Array(indices.length * 3);
  indices.forEach((i, b) => { x.set(X.subarray(i * 192, (i + 1) * 192), b * 192); y.set(Y.subarray(i * 3, (i + 1) * 3), b * 3); });
  return { x: tf.tensor4d(x, [indices.length, 8, 8, 3]), y: tf.tensor2d(y, [indices.length, 3]), indices };
}

interface StepResult { loss: number; parts: Record<string, number>; grads: Map<string, Float32Array>; gradTensors: tf.NamedTensorMap }

/** beforeStep → gradients of the loss → afterStep, as fit's trainStep does (without the update). */
function step(objective: Objective, student: GraphNet, batch: TrainBatch, rng: Rng): StepResult {
  objective.beforeStep?.(batch, rng);
  const kept: tf.Tensor[] = [];
  let parts: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    const r = objective.loss(student, batch, rng);
    parts = r.parts;
    for (const p of Object.values(r.parts)) kept.push(tf.keep(p));
    for (const st of r.stats) kept.push(tf.keep(st.mean), tf.keep(st.variance));
    return r.loss;
  }, student.trainableVariables());
  const out: StepResult = {
    loss: value.dataSync()[0],
    parts: Object.fromEntries(Object.entries(parts).map(([k, t]) => [k, t.dataSync()[0]])),
    grads: new Map(Object.entries(grads).map(([k, g]) => [k, Float32Array.from(g.dataSync())])),
    gradTensors: grads,
  };
  tf.dispose([value, ...kept]);
  objective.afterStep?.();
  return out;
}

/** Counts the teacher's forward calls. */
function countForwards(teacher: GraphNet): { calls: number } {
  const counter = { calls: 0 };
  const forward = teacher.forward.bind(teacher);
  teacher.forward = (x, opts) => { counter.calls++; return forward(x, opts); };
  return counter;
}

const CASES: { label: string; matching: MatchingConfigInput }[] = [
  { label: 'KD + SWA', matching: { kind: 'swa', beta: 1 } },
  { label: 'KD + stochastic SWA', matching: { kind: 'swa', beta: 1, stochastic: 0.3 } },
  { label: 'KD + stochastic SWA, per-sample drop', matching: { kind: 'swa', beta: 1, stochastic: 0.5, dropScope: 'sample' } },
  { label: 'KD + SWA teacherPositive', matching: { kind: 'swa', beta: 1, matchClasses: 'teacherPositive' } },
  { label: 'KD + EWA', matching: { kind: 'ewa', beta: 1 } },
  { label: 'KD + SWA at pool1 (explicit backward: several captured layers)', matching: { kind: 'swa', beta: 1, layer: 'pool1' } },
  { label: 'KD only', matching: { kind: 'none', beta: 0 } },
];

for (const c of CASES) {
  for (const maxBytes of [undefined, 5] as const) {
    const bounded = maxBytes !== undefined;
    test(`${c.label}${bounded ? ', cache bounded to 5 samples' : ''}: loss, parts and every gradient equal the uncached objective's over two epochs`, () => {
      const teacher = GraphNet.create(cfg([[6], [8]]), 1);
      const student = GraphNet.create(cfg([[4], [5]]), 2);
      const matching = parseMatchingConfig(c.matching);
      const kd = { alpha: 0.9, temperature: 4 };
      const perSample = teacherCacheBytesPerSample(teacher, matchingCaptures(matching, teacher, false));
      const cached = compressionObjective({ teacher, kd, matching, teacherCache: bounded ? { maxBytes: maxBytes * perSample } : true });
      const plain = compressionObjective({ teacher, kd, matching });
      const opt = new SgdMomentum({ lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
      const vars = student.trainableVariables();
      const forwards = countForwards(teacher);
      let n0 = -1;
      for (let epoch = 0; epoch < 2; epoch++) {
        const order = epochOrder(N, 7, epoch);
        const callsBefore = forwards.calls;
        const steps = Math.ceil(N / BATCH);
        for (let s = 0; s < steps; s++) {
          const batch = batchOf(Array.from(order.subarray(s * BATCH, (s + 1) * BATCH)));
          const a = step(cached, student, batch, Rng.derive(9, 'step', epoch, s));
          const b = step(plain, student, batch, Rng.derive(9, 'step', epoch, s));
          const where = `epoch ${epoch} step ${s}`;
          assert.ok(Math.abs(a.loss - b.loss) <= 1e-6 * Math.max(1, Math.abs(b.loss)), `${where}: loss ${a.loss} vs ${b.loss}`);
          assert.deepEqual(Object.keys(a.parts).sort(), Object.keys(b.parts).sort());
          for (const [k, v] of Object.entries(b.parts)) assert.ok(Math.abs(a.parts[k] - v) <= 1e-6 * Math.max(1, Math.abs(v)), `${where}: part ${k} ${a.parts[k]} vs ${v}`);
          assert.equal(a.grads.size, vars.length);
          for (const [k, g] of b.grads) {
            const e = relErr(a.grads.get(k)!, g);
            assert.ok(e <= 1e-6, `${where}: ∂/∂${k} relErr ${e}`);
          }
          opt.step(vars, b.gradTensors);
          tf.dispose([...Object.values(a.gradTensors), ...Object.values(b.gradTensors), batch.x, batch.y]);
          if (epoch === 1 && s === 0) n0 = tf.memory().numTensors;
        }
        const teacherRuns = forwards.calls - callsBefore;
        const stats = cached.teacherCache!.stats();
        if (epoch === 0) {
          assert.equal(teacherRuns, 2 * steps, 'epoch 1: both objectives run the teacher');
          assert.equal(stats.samples, bounded ? maxBytes : N);
          assert.equal(stats.bytes, stats.samples * perSample);
          assert.equal(stats.full, bounded);
        } else if (!bounded) {
          assert.equal(teacherRuns, steps, 'epoch 2: only the uncached objective runs the teacher');
          assert.equal(stats.hits, steps);
        } else {
          assert.ok(teacherRuns > steps, 'epoch 2, bounded cache: batches with uncached samples run the teacher');
          assert.equal(stats.teacherSamples, N + (N - maxBytes), 'epoch 2, bounded cache: the teacher runs on the uncached samples only');
        }
      }
      assert.equal(tf.memory().numTensors, n0, 'no tensor leaks across cached steps');
      opt.dispose(); student.dispose(); teacher.dispose();
    });
  }
}

test('a shared cache (apc run\'s KD variants): a second objective with other matching reuses the first\'s rows, results equal the uncached ones', () => {
  const teacher = GraphNet.create(cfg([[6], [8]]), 1);
  const kd = { alpha: 0.9, temperature: 4 };
  const variants = [parseMatchingConfig({ kind: 'none', beta: 0 }), parseMatchingConfig({ kind: 'swa', beta: 1, stochastic: 0.3 }), parseMatchingConfig({ kind: 'ewa', beta: 1 })];
  const shared = new TeacherOutputCache(teacher, [...new Set(variants.flatMap((m) => matchingCaptures(m, teacher, false)))]);
  const forwards = countForwards(teacher);
  const order = Array.from(epochOrder(N, 7, 0));
  const steps = Math.ceil(N / BATCH);
  variants.forEach((matching, v) => {
    const student = GraphNet.create(cfg([[4], [5]]), 2);
    const cached = compressionObjective({ teacher, kd, matching, teacherCache: shared });
    const plain = compressionObjective({ teacher, kd, matching });
    for (let s = 0; s < steps; s++) {
      const batch = batchOf(order.slice(s * BATCH, (s + 1) * BATCH));
      const callsBefore = forwards.calls;
      const a = step(cached, student, batch, Rng.derive(9, 'step', v, s));
      assert.equal(forwards.calls - callsBefore, v === 0 ? 1 : 0, `variant ${v} step ${s}: the teacher runs for the first variant only`);
      const b = step(plain, student, batch, Rng.derive(9, 'step', v, s));
      assert.ok(Math.abs(a.loss - b.loss) <= 1e-6 * Math.max(1, Math.abs(b.loss)), `variant ${v} step ${s}: loss ${a.loss} vs ${b.loss}`);
      for (const [k, g] of b.grads) assert.ok(relErr(a.grads.get(k)!, g) <= 1e-6, `variant ${v} step ${s}: ∂/∂${k}`);
      tf.dispose([...Object.values(a.gradTensors), ...Object.values(b.gradTensors), batch.x, batch.y]);
    }
    student.dispose();
  });
  assert.equal(shared.stats().samples, N);
  // a cache of another teacher, or without the captures this objective needs, is refused
  const other = GraphNet.create(cfg([[6], [8]]), 5);
  assert.throws(() => compressionObjective({ teacher: other, kd, matching: variants[1], teacherCache: shared }), /another teacher/);
  assert.throws(() => compressionObjective({ teacher, kd, matching: variants[1], teacherCache: new TeacherOutputCache(teacher, []) }), /does not capture pool2/);
  other.dispose(); teacher.dispose();
});

test('cache outputs equal the teacher forward; batches without matching indices bypass it; bad options throw', () => {
  const teacher = GraphNet.create(cfg([[6], [8]]), 1);
  const cache = new TeacherOutputCache(teacher, ['pool2', 'relu1_1']);
  const batch = batchOf([3, 1, 4, 1]);
  const ref = teacher.forward(batch.x, { capture: ['pool2', 'relu1_1'] });
  const first = cache.outputs(batch.x, batch.indices); // miss: runs the teacher, stores 3 samples
  assert.deepEqual(cache.stats(), { hits: 0, misses: 1, teacherSamples: 4, samples: 3, bytes: 3 * cache.bytesPerSample, full: false });
  const again = cache.outputs(batch.x, batch.indices); // hit
  assert.equal(cache.stats().hits, 1);
  for (const r of [first, again]) {
    assert.deepEqual(r.logits.shape, ref.logits.shape);
    assert.deepEqual(Array.from(r.logits.dataSync()), Array.from(ref.logits.dataSync()));
    for (const name of ['pool2', 'relu1_1']) {
      assert.deepEqual(r.activations[name].shape, ref.activations[name].shape);
      assert.deepEqual(Array.from(r.activations[name].dataSync()), Array.from(ref.activations[name].dataSync()), name);
    }
  }
  const synthetic = cache.outputs(batch.x, []); // no indices: bypass, nothing stored
  assert.deepEqual([cache.stats().misses, cache.stats().samples], [2, 3]);
  // partly cached: the teacher runs on the two new samples only; rows equal a full forward's
  const mixed = batchOf([0, 3, 9, 4]);
  const mixedRef = teacher.forward(mixed.x, { capture: ['pool2', 'relu1_1'] });
  const merged = cache.outputs(mixed.x, mixed.indices);
  assert.deepEqual([cache.stats().teacherSamples, cache.stats().samples], [4 + 4 + 2, 5]);
  assert.ok(relErr(merged.logits.dataSync(), mixedRef.logits.dataSync()) <= 1e-6, 'merged logits');
  for (const name of ['pool2', 'relu1_1']) {
    assert.deepEqual(merged.activations[name].shape, mixedRef.activations[name].shape);
    assert.ok(relErr(merged.activations[name].dataSync(), mixedRef.activations[name].dataSync()) <= 1e-6, `merged ${name}`);
  }
  tf.dispose([mixed.x, mixed.y, mixedRef.logits, ...Object.values(mixedRef.activations), merged.logits, ...Object.values(merged.activations)]);
  cache.clear();
  assert.equal(cache.stats().samples, 0);
  assert.throws(() => new TeacherOutputCache(teacher, ['pool9']), /no node 'pool9'/);
  assert.throws(() => new TeacherOutputCache(teacher, ['pool2'], { maxBytes: -1 }), /maxBytes/);
  tf.dispose([batch.x, batch.y, ref.logits, ...Object.values(ref.activations), first.logits, ...Object.values(first.activations),
    again.logits, ...Object.values(again.activations), synthetic.logits, ...Object.values(synthetic.activations)]);
  teacher.dispose();
});

test('memory bound: bytes per sample = 4·(classes + captured features)', () => {
  // the bench's vgg16s/8 @64 teacher matched at pool4 (4·4·64), 10 classes: 4,136 B per sample,
  // 6,000 training images ≈ 24.8 MB
  const small = GraphNet.create(vggPreset({ arch: 'vgg16', width: 8, imageSize: 64, numClasses: 10 }), 0);
  assert.equal(teacherCacheBytesPerSample(small, [small.matchLayer]), 4 * (10 + 4 * 4 * 64));
  assert.ok(Math.abs(6000 * teacherCacheBytesPerSample(small, ['pool4']) / 1e6 - 24.8) < 0.1);
  small.dispose();
  // the paper's VGG16 @227 at pool5 (7·7·512), 20 classes: ≈100 kB per sample, ≈574 MB for VOC's 5,717
  const paper = vggPreset({ arch: 'vgg16', width: 1, imageSize: 227, numClasses: 20 });
  const pool5 = vggLayout(paper).pools[4];
  const bytes = teacherCacheBytesPerSample({ numClasses: 20, activationShape: () => [pool5.height, pool5.width, pool5.channels] }, ['pool5']); // no weights needed
  assert.equal(bytes, 4 * (20 + 7 * 7 * 512));
  assert.ok(Math.abs(5717 * bytes / 1e6 - 574) < 1);
});
