import { test } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupRates, prunedGroupConfig } from '../compress/group_prune.js';
import { cumulativeRate } from '../compress/structured_prune.js';
import { createShapesDataset } from '../data/shapes.js';
import { parseMatchingConfig } from '../matching/matching_term.js';
import { modelStats } from '../models/accounting.js';
import { loadNet, readCheckpointMeta } from '../models/checkpoint.js';
import { channelGroups } from '../models/graph/channel_groups.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { archPreset } from '../models/model_config.js';
import type { TrainRecipe } from './train_to_checkpoints.js';
import { structuredPruneAndFineTune } from './prune.js';

tf.enableProdMode();
await tf.setBackend('cpu');

const data = createShapesDataset({ imageSize: 32, sizes: { train: 16, val: 8, test: 8 }, statsSamples: 8 });
const recipe: TrainRecipe = { epochs: 1, batchSize: 8, lr: 0.01, momentum: 0.9, weightDecay: 1e-4, lrMilestones: [], augment: null };
const resnet = archPreset({ arch: 'resnet18', width: 16, imageSize: 32, numClasses: 10 });

test('structured on a ResNet, 2 rounds with SWA: channel-group widths = one-shot at P_2 from the original widths; graph checkpoints reload', async () => {
  const out = await mkdtemp(join(tmpdir(), 'apc-prune-graph-'));
  try {
    const teacher = GraphNet.create(resnet, 1);
    const before = teacher.weight('conv1/kernel').dataSync().slice();
    const r = await structuredPruneAndFineTune({
      data, teacher, rate: 0.5, rounds: 2, matching: parseMatchingConfig({ kind: 'swa', beta: 1 }), recipe, seed: 3, outDir: out, quiet: true,
    });
    const expected = prunedGroupConfig(resnet, groupRates(resnet, cumulativeRate(0.5, 2)));
    assert.deepEqual(r.config, expected);
    const original = channelGroups(teacher.graph).map((g) => g.width);
    // round 1 halves every free group, round 2 keeps a quarter of the ORIGINAL widths (not half of the halves' floor)
    assert.deepEqual(r.rounds[0].widths[0], channelGroups(teacher.graph).map((g) => (g.frozen ? g.width : g.width / 2)));
    assert.deepEqual(r.rounds[1].widths[0], channelGroups(teacher.graph).map((g) => (g.frozen ? g.width : Math.max(1, Math.floor(g.width / 4)))));
    assert.equal(r.rounds[1].params, modelStats(expected).params);
    const meta = await readCheckpointMeta(join(out, 'round-2', 'best'));
    const s = meta.structured as { widths: number[][]; originalWidths: number[]; plan: { importance: string; groups: { kept: number }[] } };
    assert.deepEqual(s.originalWidths, original);
    assert.deepEqual(s.widths, r.rounds[1].widths);
    assert.equal(s.plan.importance, 'l1');
    const { net } = await loadNet(join(out, 'round-2', 'best'));
    assert.deepEqual(net.config, expected);
    assert.deepEqual(teacher.weight('conv1/kernel').dataSync(), before, 'teacher untouched');
    net.dispose(); r.net.dispose(); teacher.dispose();
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
