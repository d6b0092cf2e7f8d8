import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { openDataset } from '../data/registry.js';
import { SHAPES_CLASS_NAMES } from '../data/shapes.js';
import { Rng } from '../engine/random.js';
import { loadNet, saveNet } from '../models/checkpoint.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { archPreset } from '../models/model_config.js';
import { embeddedNet } from './embedded_model.js';
import { embedModel, writeViewer } from './write_viewer.js';

await tf.setBackend('cpu');
const dir = mkdtempSync(join(tmpdir(), 'apc-viewer-embed-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const K = SHAPES_CLASS_NAMES.length;

async function save(name: string, imageSize: number, meta: Record<string, unknown>): Promise<string> {
  const net = GraphNet.create(archPreset({ arch: 'resnet18', width: 16, imageSize, numClasses: K }), 7);
  const path = join(dir, name);
  await saveNet(path, net, meta);
  net.dispose();
  return path;
}

test('an embedded model rebuilds the checkpoint\'s network exactly, with the dataset\'s classes and statistics', async () => {
  const path = await save('resnet', 32, { dataset: 'shapes' });
  const e = await embedModel({ path, label: 'resnet' });
  // JSON round trip, as the page receives it through models.js
  const page = JSON.parse(JSON.stringify(e));
  const info = openDataset('shapes', { imageSize: 32 }).info;
  assert.deepEqual(page.classNames, [...info.classNames]);
  assert.deepEqual(page.normalization, { mean: [...info.mean], std: [...info.std] });
  const before = tf.memory().numTensors;
  const fromPage = embeddedNet(page);
  const { net } = await loadNet(path);
  const x = tf.tensor4d(new Rng(1).uniformArray(2 * 32 * 32 * 3, -2, 2), [2, 32, 32, 3]);
  const want = tf.tidy(() => net.predict(x).dataSync());
  const got = tf.tidy(() => fromPage.predict(x).dataSync());
  assert.deepEqual(Array.from(got), Array.from(want), 'bit-identical logits');
  x.dispose(); net.dispose(); fromPage.dispose();
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('writeViewer refuses models that do not take the same images, naming both, before writing anything', async () => {
  const a = await save('a32', 32, { dataset: 'shapes', classNames: [...SHAPES_CLASS_NAMES] });
  const b = await save('b40', 40, { dataset: 'shapes', classNames: [...SHAPES_CLASS_NAMES] });
  const out = join(dir, 'viewer');
  await assert.rejects(writeViewer([{ path: a, label: 'a' }, { path: b, label: 'b' }], out),
    (err: Error) => err.message.includes(`${b} takes 40×40 images with ${K} classes; ${a} takes 32×32`));
  assert.ok(!existsSync(out));
  await assert.rejects(writeViewer([], out), /at least one model/);
});
