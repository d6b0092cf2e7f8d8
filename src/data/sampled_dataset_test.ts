/** `sampledDataset`: a seeded sample is the same on every call, spread over the split, and maps every accessor. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createShapesDataset } from './shapes.js';
import { sampledDataset } from './sampled_dataset.js';

const data = createShapesDataset({ imageSize: 32, sizes: { train: 4, val: 3, test: 50 }, statsSamples: 2 });

test('same seed, same images; another seed, another sample; the view reads the sampled indices', () => {
  const a = sampledDataset(data, ['test'], 8, 0);
  const b = sampledDataset(data, ['test'], 8, 0);
  const c = sampledDataset(data, ['test'], 8, 1);
  assert.deepEqual(a.sample.test, b.sample.test);
  assert.notDeepEqual(a.sample.test, c.sample.test);
  const idx = a.sample.test!;
  assert.equal(idx.length, 8);
  assert.ok(idx.every((v, i) => i === 0 || v > idx[i - 1]), 'ascending, distinct');
  assert.ok(idx.at(-1)! >= 8, 'not simply the first images');
  assert.equal(a.data.size('test'), 8);
  assert.equal(a.data.get('test', 3).id, data.get('test', idx[3]).id);
  assert.equal(a.data.size('val'), 3, 'other splits untouched');
  assert.equal(sampledDataset(data, ['val'], 10, 0).data.size('val'), 3, 'a small split is taken whole');
  assert.throws(() => a.data.get('test', 8), /has 8 images, asked for index 8/);
  assert.throws(() => sampledDataset(data, ['test'], 0, 0), /sample size must be an integer ≥ 1/);
});
