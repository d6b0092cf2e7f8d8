/**
 * `hostBatch` augmentation dispatch: datasets without their own transform (shapes, mnist-multi)
 * keep the generic crop/flip of the resized image; a dataset with `trainSample` (VOC) gets its own
 * transform for augmented train batches — checked by hand on a tiny VOC image with scripted draws.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { Dataset, Sample, SplitName } from '../data/dataset.js';
import { createShapesDataset } from '../data/shapes.js';
import { openVocDataset } from '../data/voc.js';
import { VOC_CLASS_NAMES, VOC_MEAN, VOC_STD } from '../data/voc_annotations.js';
import { decodeJpegRgb } from '../data/voc_decode.js';
import { blockMask, patternRgb, writeVocTree } from '../data/voc_fixture.js';
import { Rng } from '../engine/random.js';
import { DEFAULT_AUGMENT, hostBatch, toTensors, VOC_AUGMENT } from './batches.js';

await tf.setBackend('cpu');

const tmp = mkdtempSync(join(tmpdir(), 'apc-batches-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** An Rng whose uniform draws (`next`, hence `uniform` and `int`) are scripted. */
class ScriptedRng extends Rng {
  private readonly script: number[];
  constructor(values: readonly number[]) {
    super(0);
    this.script = [...values];
  }
  override next(): number {
    const v = this.script.shift();
    if (v === undefined) throw new Error('ScriptedRng: script exhausted');
    return v;
  }
  get left(): number {
    return this.script.length;
  }
}

const shapes = createShapesDataset({ seed: 0, imageSize: 32, sizes: { train: 8, val: 4, test: 4 }, statsSamples: 4 });

test('shapes (no trainSample): generic path — get() pixels, crop boxes, labels from masks', () => {
  assert.equal((shapes as Dataset).trainSample, undefined);
  const idx = [3, 1, 4];
  const hb = hostBatch(shapes, 'train', idx, DEFAULT_AUGMENT, new Rng(11));
  const n = 32 * 32 * 3;
  idx.forEach((i, b) => assert.deepEqual(hb.images.subarray(b * n, (b + 1) * n), shapes.get('train', i).image));
  assert.ok(hb.boxes && hb.boxes.length === 12, 'one crop box per sample');
  idx.forEach((i, b) => {
    const full = shapes.get('train', i).label;
    for (let k = 0; k < 10; k++) assert.ok(hb.labels[b * 10 + k] <= full[k], 'a crop only drops classes it cut out');
  });
  // same draws → same boxes (the generic path is untouched by the trainSample dispatch)
  assert.deepEqual(hostBatch(shapes, 'train', idx, DEFAULT_AUGMENT, new Rng(11)).boxes, hb.boxes);
  assert.equal(hostBatch(shapes, 'train', idx).boxes, undefined);
});

test('a dataset with trainSample gets it for augmented train batches only', () => {
  const calls: number[] = [];
  const marked: Dataset = {
    info: shapes.info,
    size: (s: SplitName) => shapes.size(s),
    get: (s: SplitName, i: number) => shapes.get(s, i),
    trainSample(i: number, rng: Rng): Sample {
      calls.push(i);
      const s = shapes.get('train', i);
      return { id: s.id, image: s.image.map(() => rng.next()), label: s.label };
    },
  };
  const hb = hostBatch(marked, 'train', [2, 0], DEFAULT_AUGMENT, new Rng(1));
  assert.deepEqual(calls, [2, 0]);
  assert.equal(hb.boxes, undefined, 'no generic crop on top of the dataset transform');
  const r = new Rng(1);
  const want = [...shapes.get('train', 2).image.map(() => r.next()), ...shapes.get('train', 0).image.map(() => r.next())];
  assert.deepEqual([...hb.images], [...Float32Array.from(want)]);
  assert.deepEqual([...hb.labels], [...shapes.get('train', 2).label, ...shapes.get('train', 0).label]);
  // no augmentation, or another split: the plain get() path
  calls.length = 0;
  assert.deepEqual(hostBatch(marked, 'train', [2]).images, shapes.get('train', 2).image);
  hostBatch(marked, 'val', [1], DEFAULT_AUGMENT, new Rng(1));
  assert.deepEqual(calls, []);
  // a wrong-sized sample is an error, not a silent misalignment
  const bad: Dataset = { ...marked, trainSample: (i) => ({ ...shapes.get('train', i), image: new Float32Array(5) }) };
  assert.throws(() => hostBatch(bad, 'train', [0], DEFAULT_AUGMENT, new Rng(1)), /trainSample\(0\) gave 5 pixel values/);
});

test('VOC train batches: the reference crop of the original image + flip, hand-checked on a 12×10 image', () => {
  // two 12×10 train images; the model size 8 makes the crop's resize an identity (no pass runs)
  const W = 12, H = 10;
  const root = writeVocTree(join(tmp, 'hand'), {
    images: [
      { id: '2010_000001', width: W, height: H, objects: [{ name: 'dog' }], rgb: patternRgb(W, H, 3) },
      { id: '2010_000002', width: W, height: H, objects: [{ name: 'cat' }, { name: 'bus', difficult: true }], rgb: patternRgb(W, H, 5) },
      { id: '2010_000003', width: 16, height: 16, objects: [{ name: 'cow' }], mask: blockMask(16, 16, 10, 2, 2, 12, 12) },
    ],
    train: ['2010_000001', '2010_000002'], val: ['2010_000003'], segVal: ['2010_000003'],
  });
  const ds = openVocDataset(root, { cacheDir: null, log: () => {}, imageSize: 8 });
  const raw = ['2010_000001', '2010_000002'].map((id) => decodeJpegRgb(readFileSync(join(root, 'JPEGImages', `${id}.jpg`)), id));
  // Draws per sample (voc-protocol §4): f = 0.08 + 0.92·u, ln r = ln¾ + (ln 4⁄3 − ln¾)·u, top = ⌊u·(H−h+1)⌋,
  // left = ⌊u·(W−w+1)⌋, flip iff u < ½.
  //   sample 0: f = 0.54 → √(0.54·120) = 8.05 → w = h = 8 (r = 1); top ⌊0.5·3⌋ = 1; left ⌊0.5·5⌋ = 2; flip (0.25)
  //   sample 1: same size; top ⌊0·3⌋ = 0; left ⌊0.99·5⌋ = 4; no flip (0.75)
  const rng = new ScriptedRng([0.5, 0.5, 0.5, 0.5, 0.25, 0.5, 0.5, 0, 0.99, 0.75]);
  const hb = hostBatch(ds, 'train', [0, 1], VOC_AUGMENT, rng);
  assert.equal(rng.left, 0, 'five draws per sample');
  assert.equal(hb.boxes, undefined);
  const expected = new Float32Array(2 * 8 * 8 * 3);
  const boxes = [{ top: 1, left: 2, flip: true }, { top: 0, left: 4, flip: false }];
  boxes.forEach(({ top, left, flip }, b) => {
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        const sx = left + (flip ? 7 - x : x);
        for (let c = 0; c < 3; c++) expected[((b * 8 + y) * 8 + x) * 3 + c] = raw[b].data[((top + y) * W + sx) * 3 + c] / 255;
      }
    }
  });
  assert.deepEqual([...hb.images], [...expected]);
  const names = (v: Float32Array, b: number) => [...v.subarray(b * 20, (b + 1) * 20)].map((y, k) => (y ? VOC_CLASS_NAMES[k] : '')).filter(Boolean);
  assert.deepEqual(names(hb.labels, 0), ['dog']);
  assert.deepEqual(names(hb.labels, 1), ['bus', 'cat']); // difficult objects stay positive (quirk V1)
  // toTensors only normalises (no cropAndResize on top)
  const { x, y } = toTensors(ds, hb);
  assert.deepEqual(x.shape, [2, 8, 8, 3]);
  const xv = x.dataSync();
  for (let i = 0; i < xv.length; i++) {
    const c = i % 3;
    assert.ok(Math.abs(xv[i] - (expected[i] - VOC_MEAN[c]) / VOC_STD[c]) < 1e-5, `value ${i}`);
  }
  tf.dispose([x, y]);
});

test('VOC train batches equal trainSample drawn in batch order; eval batches are the whole-image resize', () => {
  const root = writeVocTree(join(tmp, 'order'), {
    images: [
      { id: '2011_000001', width: 24, height: 18, objects: [{ name: 'dog' }] },
      { id: '2011_000002', width: 20, height: 26, objects: [{ name: 'cat' }] },
      { id: '2011_000003', width: 30, height: 12, objects: [{ name: 'tvmonitor' }] },
      { id: '2011_000004', width: 16, height: 16, objects: [{ name: 'cow' }], mask: blockMask(16, 16, 10, 2, 2, 12, 12) },
    ],
    train: ['2011_000001', '2011_000002', '2011_000003'], val: ['2011_000004'], segVal: ['2011_000004'],
  });
  const ds = openVocDataset(root, { cacheDir: null, log: () => {}, imageSize: 12 });
  const order = [2, 0, 1];
  const hb = hostBatch(ds, 'train', order, VOC_AUGMENT, new Rng(9));
  const r = new Rng(9);
  const want = order.flatMap((i) => [...ds.trainSample(i, r).image]);
  assert.deepEqual([...hb.images], want);
  // the reference crop differs from the eval transform (whole image resized)
  const plain = hostBatch(ds, 'train', order);
  assert.notDeepEqual([...plain.images], want);
  assert.deepEqual([...plain.images], order.flatMap((i) => [...ds.get('train', i).image]));
});
