import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { PNG } from 'pngjs';
import { tinyNet } from '../attribution/test_nets.js';
import type { Dataset, Sample, SplitName } from '../data/dataset.js';
import { createShapesDataset } from '../data/shapes.js';
import { presentClasses } from '../eval/localization.js';
import { HEATMAP_DIR, heatmapFile, type HeatmapManifest, MANIFEST_FILE, safeDirName } from './heatmap_manifest.js';
import { chooseHeatmapImages, saveStudyHeatmaps } from './study_heatmaps.js';

await tf.setBackend('cpu');

const dir = mkdtempSync(join(tmpdir(), 'apc-heatmaps-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** n 2×2 images; image i has the classes `classes[i]` in its mask. */
function fakeData(classes: number[][], K = 4): Dataset {
  return {
    info: { name: 'fake', classNames: Array.from({ length: K }, (_, k) => `c${k}`), height: 2, width: 2, mean: [0, 0, 0], std: [1, 1, 1] },
    size: () => classes.length,
    get: (_s: SplitName, i: number): Sample => ({
      id: `fake-${i}`, image: new Float32Array(12), label: new Float32Array(K),
      mask: Uint8Array.from([0, 1, 2, 3].map((p) => (classes[i][p] === undefined ? 0 : classes[i][p] + 1))),
    }),
  };
}

test('chooseHeatmapImages: teacher-positive classes first, new classes before repeats, then any present class; seeded', () => {
  const classes = [[0], [0], [1], [2, 3], [], [3], [1]];
  const K = 4;
  // the teacher predicts: image 0 → c0, 1 → c0, 3 → c3 (not c2), 6 → c1; images 2 and 5 are misses
  const positive: Record<number, number[]> = { 0: [0], 1: [0], 3: [3], 6: [1] };
  const logitsOf = (idx: number[]) => {
    const z = new Float32Array(idx.length * K).fill(-1);
    idx.forEach((img, i) => { for (const k of positive[img] ?? []) z[i * K + k] = 2; });
    return z;
  };
  const data = fakeData(classes, K);
  const chosen = chooseHeatmapImages(data, 'test', 6, 3, logitsOf);
  assert.equal(chosen.length, 6, 'the image without classes is never chosen');
  assert.ok(chosen.every((c) => classes[c.index].includes(c.classIndex)));
  const firstThree = chosen.slice(0, 3).map((c) => c.classIndex).sort();
  assert.deepEqual(firstThree, [0, 1, 3], 'one image per teacher-positive class first');
  assert.deepEqual(chosen.slice(0, 4).map((c) => positive[c.index]?.includes(c.classIndex)), [true, true, true, true]);
  assert.ok(!chosen.slice(4).some((c) => positive[c.index]?.includes(c.classIndex)), 'then misses');
  assert.deepEqual(chooseHeatmapImages(data, 'test', 6, 3, logitsOf), chosen, 'same seed, same choice');
  assert.equal(new Set(chosen.map((c) => c.index)).size, 6, 'no image twice');
});

test('saveStudyHeatmaps writes input and per-(method, model) PNGs and a manifest, and leaks no tensors', async () => {
  const data = createShapesDataset({ imageSize: 32, sizes: { train: 4, val: 4, test: 16 }, statsSamples: 4 });
  const teacher = tinyNet({ inputSize: [32, 32], numClasses: 10, blocks: [[4], [6]], seed: 1 });
  const student = tinyNet({ inputSize: [32, 32], numClasses: 10, blocks: [[2], [3]], seed: 2 });
  const models = [{ name: 'teacher', net: teacher }, { name: 'kd+wcam/x', net: student }];
  const opts = { data, split: 'test' as const, models, methods: ['gradcam', 'gradxinput'], outDir: dir, count: 3, seed: 5, scale: 2, quiet: true };
  const n0 = tf.memory().numTensors;
  const manifest = await saveStudyHeatmaps(opts);
  assert.equal(tf.memory().numTensors, n0);

  const onDisk = JSON.parse(readFileSync(join(dir, HEATMAP_DIR, MANIFEST_FILE), 'utf8')) as HeatmapManifest;
  assert.deepEqual(onDisk, JSON.parse(JSON.stringify(manifest)));
  assert.equal(manifest.images.length, 3);
  assert.deepEqual(manifest.methods, ['gradcam', 'gradxinput']);
  assert.deepEqual(manifest.models.map((m) => [m.name, m.dir]), [['teacher', 'teacher'], ['kd+wcam/x', safeDirName('kd+wcam/x')]]);
  assert.equal(manifest.models[1].dir, 'kd+wcam_x');
  assert.deepEqual([manifest.width, manifest.height], [64, 64]);
  for (const im of manifest.images) {
    const s = data.get('test', im.index);
    assert.equal(im.id, s.id);
    assert.ok(presentClasses(s.mask!).includes(im.classIndex), 'the class is in the mask');
    assert.equal(im.className, data.info.classNames[im.classIndex]);
  }
  for (const m of manifest.models) assert.ok(m.logits.length === 3 && m.logits.every(Number.isFinite));
  for (const m of manifest.models) assert.deepEqual(Object.keys(m.flat!), ['gradcam', 'gradxinput']);
  assert.ok(Object.values(manifest.models[0].flat!).every((f) => f.length === 3 && f.every((x) => typeof x === 'boolean')));

  const files = [...manifest.images.map((im) => im.file),
    ...manifest.methods.flatMap((method) => manifest.models.flatMap((m) => [0, 1, 2].map((i) => heatmapFile(method, m.dir, i))))];
  assert.equal(files.length, 3 + 2 * 2 * 3);
  for (const f of files) {
    const path = join(dir, HEATMAP_DIR, f);
    assert.ok(existsSync(path), f);
    const png = PNG.sync.read(readFileSync(path));
    assert.deepEqual([png.width, png.height], [64, 64], f);
  }
  const a = readFileSync(join(dir, HEATMAP_DIR, heatmapFile('gradcam', 'teacher', 0)));
  const b = readFileSync(join(dir, HEATMAP_DIR, manifest.images[0].file));
  assert.ok(!a.equals(b), 'the heat-map differs from the input picture');

  // same seed → same pictures; the directory is replaced, not merged
  const again = await saveStudyHeatmaps({ ...opts, methods: ['gradcam'] });
  assert.deepEqual(again.images, manifest.images);
  assert.ok(readFileSync(join(dir, HEATMAP_DIR, heatmapFile('gradcam', 'teacher', 0))).equals(a));
  assert.ok(!existsSync(join(dir, HEATMAP_DIR, 'gradxinput')), 'stale method directories are removed');
  teacher.dispose(); student.dispose();
});

test('saveStudyHeatmaps rejects bad arguments before drawing anything', async () => {
  const data = fakeData([[0]]);
  const net = tinyNet({ blocks: [[4]], inputSize: [2, 2], numClasses: 4 });
  const base = { data, split: 'test' as const, methods: ['gradcam'], outDir: join(dir, 'bad'), seed: 0, quiet: true };
  await assert.rejects(saveStudyHeatmaps({ ...base, models: [] }), /no models/);
  await assert.rejects(saveStudyHeatmaps({ ...base, models: [{ name: 'a' }] }), /model 'a' has neither a net nor a checkpoint/);
  await assert.rejects(saveStudyHeatmaps({ ...base, models: [{ name: 'a/b', net }, { name: 'a_b', net }] }), /collide/);
  await assert.rejects(saveStudyHeatmaps({ ...base, models: [{ name: 'a', net }], methods: ['nope'] }), /unknown attribution method 'nope'/);
  await assert.rejects(saveStudyHeatmaps({ ...base, models: [{ name: 'a', net }], count: 0 }), /count must be a positive integer/);
  net.dispose();
});
