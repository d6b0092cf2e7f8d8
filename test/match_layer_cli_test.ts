/**
 * `apc compress --match-layer NAME`: WCAM at an inner ResNet block through the CLI on a tiny run
 * (the explicit backward of any graph), and one-line errors for an unknown node (listing the
 * valid ones) and for a layer without a matching term.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apc } from './apc_cli.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { GraphNet } from '../src/models/graph/graph_net.js';
import { archPreset } from '../src/models/model_config.js';
import { saveNet } from '../src/models/checkpoint.js';
import { SHAPES_CLASS_NAMES } from '../src/data/shapes.js';

await tf.setBackend('cpu');
const dir = mkdtempSync(join(tmpdir(), 'apc-match-layer-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('apc compress --match-layer: WCAM at an inner ResNet block trains; unknown names and --match none are refused', async () => {
  const teacher = join(dir, 'teacher');
  const net = GraphNet.create(archPreset({ arch: 'resnet18', width: 16, imageSize: 32, numClasses: SHAPES_CLASS_NAMES.length }), 1);
  await saveNet(teacher, net, { dataset: 'shapes', classNames: [...SHAPES_CLASS_NAMES] });
  net.dispose();
  const tiny = ['--epochs', '1', '--train-limit', '8', '--quiet', '--width', '32'];
  const bad = apc(['compress', '--teacher', teacher, '--method', 'kd', '--match', 'wcam', '--match-layer', 'layer2.9.relu', ...tiny, '--out', join(dir, 'bad')]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /^apc: error: matching config field 'layer': unknown layer 'layer2\.9\.relu'; layers of this graph: conv1, bn1, relu, maxpool, .*layer2\.1\.relu1/m);
  const none = apc(['compress', '--teacher', teacher, '--method', 'kd', '--match-layer', 'layer2.1.relu1', ...tiny, '--out', join(dir, 'none')]);
  assert.equal(none.code, 1);
  assert.match(none.err, /--match-layer needs --match ewa or wcam/);
  const ok = apc(['compress', '--teacher', teacher, '--method', 'kd', '--match', 'wcam', '--match-layer', 'layer2.1.relu1', ...tiny, '--out', join(dir, 'kd')]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /kd\+wcam: best val mAP/);
});
