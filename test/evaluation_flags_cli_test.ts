/**
 * `apc evaluate --agreement-pairs teacher-top1 --pointing-tolerance PX --records FILE`: the flags
 * reach the evaluation (one agreement pair per image, records per pair, matched-layer cosine), and a
 * bad value names the flag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { apc } from './apc_cli.js';
import { GraphNet } from '../src/models/graph/graph_net.js';
import { archPreset } from '../src/models/model_config.js';
import { saveNet } from '../src/models/checkpoint.js';
import { SHAPES_CLASS_NAMES } from '../src/data/shapes.js';

await tf.setBackend('cpu');
const dir = mkdtempSync(join(tmpdir(), 'apc-eval-flags-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('apc evaluate: teacher-top1 pairs, pointing tolerance and per-pair records reach the evaluation', async () => {
  const model = join(dir, 'net');
  const net = GraphNet.create(archPreset({ arch: 'vgg16', width: 32, imageSize: 32, numClasses: SHAPES_CLASS_NAMES.length }), 1);
  await saveNet(model, net, { dataset: 'shapes', classNames: [...SHAPES_CLASS_NAMES] });
  net.dispose();
  const json = join(dir, 'ev.json');
  const records = join(dir, 'records.json');
  const r = apc(['evaluate', '--model', model, '--teacher', model, '--limit', '5', '--agreement-pairs', 'teacher-top1',
    '--pointing-tolerance', '15', '--void-as-background', '--records', records, '--json', json]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /matched-layer map cosine 1\.000 \(median 1\.000, 5 images\)/);
  const ev = JSON.parse(readFileSync(json, 'utf8'));
  const a = ev.attribution.gradcam.agreement;
  assert.equal(a.pairs, 'teacherTop1');
  assert.equal(a.n, 5); // one pair per image, whatever the logits
  assert.deepEqual(Object.keys(a.report.topkIoU), ['5', '10', '15', '20']);
  assert.equal(ev.matchedMapCosine.n, 5);
  assert.equal(ev.records, undefined, '--json keeps the summary; records go to --records');
  const rec = JSON.parse(readFileSync(records, 'utf8'));
  assert.equal(rec.agreementPairs, 'teacherTop1');
  assert.deepEqual(rec.localization, { pointingTolerancePx: 15, voidAsBackground: true });
  assert.equal(rec.records.gradcam.agreement.length, 5);
  assert.equal(rec.records.gradcam.localization.length, ev.attribution.gradcam.localization.nGtPairs);

  const bad = apc(['evaluate', '--model', model, '--agreement-pairs', 'top1']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /--agreement-pairs.*both-positive, teacher-top1/);
  const noTeacher = apc(['evaluate', '--model', model, '--limit', '2', '--agreement-pairs', 'teacher-top1']);
  assert.equal(noTeacher.code, 1);
  assert.match(noTeacher.err, /--agreement-pairs teacher-top1 needs --teacher/);
});
