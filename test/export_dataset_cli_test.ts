/** `apc export-dataset`: a VOC tree the VOC reader opens with the dataset's classes; bad flags are one clear error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openVocDataset } from '../src/data/voc.js';
import { MNIST_MULTI_CLASS_NAMES } from '../src/data/mnist_multi.js';
import { apc } from './apc_cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'apc-export-cli-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('apc export-dataset mnist-multi --format voc: tree with classes.txt that voc: opens', () => {
  const out = join(tmp, 'mm');
  const r = apc(['export-dataset', 'mnist-multi', '--format', 'voc', '--out', out, '--train', '3', '--val', '2', '--quality', '90', '--quiet']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /3 train \+ 2 val images of mnist-multi \(10 classes, 64×64, JPEG quality 90\)/);
  assert.equal(readFileSync(join(out, 'classes.txt'), 'utf8'), MNIST_MULTI_CLASS_NAMES.map((c) => `${c}\n`).join(''));
  const voc = openVocDataset(out, { imageSize: 64, cacheDir: null, log: () => {} });
  assert.deepEqual([voc.size('train'), voc.size('val'), voc.size('test')], [3, 2, 2]);
  assert.deepEqual(voc.info.classNames, MNIST_MULTI_CLASS_NAMES);
});

test('apc export-dataset: unknown dataset, bad quality and a non-empty folder are one-line errors', () => {
  assert.match(apc(['export-dataset', 'cifar', '--out', join(tmp, 'x')]).err, /value 'cifar' is invalid for argument 'dataset'/);
  assert.match(apc(['export-dataset', 'shapes', '--out', join(tmp, 'x'), '--quality', '101']).err, /--quality must be an integer in \[1, 100\]/);
  const r = apc(['export-dataset', 'shapes', '--out', tmp, '--train', '1', '--val', '1']);
  assert.equal(r.code, 1);
  assert.match(r.err, /apc: error: export: .* is not empty/);
});
