import { test } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cumulativeRate, prunedConfig, structuredRates } from '../compress/structured_prune.js';
import { createShapesDataset } from '../data/shapes.js';
import { parseMatchingConfig } from '../matching/matching_term.js';
import { loadNet, readCheckpointMeta } from '../models/checkpoint.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { vggPreset } from '../models/vgg_config.js';
import type { TrainRecipe } from './train_to_checkpoints.js';
import { structuredPruneAndFineTune, unstructuredPruneRounds } from './prune.js';
import { vggView } from '../models/vgg_view.js';

tf.enableProdMode();
await tf.setBackend('cpu');

const data = createShapesDataset({ imageSize: 32, sizes: { train: 16, val: 8, test: 8 }, statsSamples: 8 });
const recipe: TrainRecipe = { epochs: 1, batchSize: 8, lr: 0.01, momentum: 0.9, weightDecay: 1e-4, lrMilestones: [], augment: null };
const cfg = vggPreset({ width: 32, imageSize: 32, numClasses: 10 });

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'apc-prune-'));
  try { await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}

test('structured, 2 rounds with SWA matching: widths = one-shot at P_2, stored in apc.json; resume reuses rounds', async () => {
  await withDir(async (out) => {
    const teacher = GraphNet.create(cfg, 1);
    const before = teacher.weight('conv1_1/kernel').dataSync().slice();
    const opts = {
      data, teacher, rate: 0.5, rounds: 2, matching: parseMatchingConfig({ kind: 'swa', beta: 1 }), recipe, seed: 3, outDir: out, quiet: true,
    };
    const r = await structuredPruneAndFineTune(opts);
    const expected = prunedConfig(cfg, structuredRates(vggView(teacher).layout, cumulativeRate(0.5, 2)));
    assert.deepEqual(vggView(r).config.blocks, expected.blocks);
    assert.deepEqual(r.rounds.map((x) => x.widths[0][0]), [1, 1]); // floor(2·0.5)=1, floor(2·0.25)=0 → 1
    assert.deepEqual(r.rounds[1].widths.at(-1), [4, 4, 4]);
    assert.equal(r.rounds.length, 2);
    assert.ok(Number.isFinite(r.rounds[0].before.mAP) && Number.isFinite(r.rounds[1].best.mAP));
    const meta = await readCheckpointMeta(join(out, 'round-2', 'best'));
    const s = meta.structured as { widths: number[][]; round: number; rounds: number; rate: number; plan: { importance: string } };
    assert.deepEqual(s.widths, expected.blocks);
    assert.equal(s.round, 2); assert.equal(s.rate, 0.5); assert.equal(s.plan.importance, 'l1');
    assert.deepEqual(teacher.weight('conv1_1/kernel').dataSync(), before, 'teacher untouched');
    // resume: both rounds are complete, nothing is retrained
    const again = await structuredPruneAndFineTune({ ...opts, resume: true });
    assert.deepEqual(again.rounds.map((x) => x.best), r.rounds.map((x) => x.best));
    assert.equal(again.state.history.length, 1);
    r.net.dispose(); again.net.dispose(); teacher.dispose();
  });
});

test('unstructured, 2 rounds: masks enforced during fine-tuning, exact k_t zeros, series in rounds.json', async () => {
  await withDir(async (out) => {
    const teacher = GraphNet.create(cfg, 2);
    const res = await unstructuredPruneRounds({
      data, teacher, rate: 0.3, rounds: 2, matching: parseMatchingConfig({ kind: 'ewa', beta: 1 }), recipe, seed: 4, outDir: out, quiet: true,
    });
    const N = vggView(teacher).layout.convs.reduce((a, c) => a + 9 * c.inChannels * c.outChannels, 0);
    assert.deepEqual(res.rounds.map((x) => x.zeros), [1, 2].map((t) => Math.floor(cumulativeRate(0.3, t) * N)));
    let prevZeros: Set<number> | undefined;
    for (const t of [1, 2]) {
      for (const which of ['best', 'last']) {
        const { net } = await loadNet(join(out, `round-${t}`, which));
        const zeros = new Set<number>();
        let off = 0;
        for (const c of vggView(net).layout.convs) {
          const w = net.weight(`${c.name}/kernel`).dataSync();
          w.forEach((v, i) => { if (v === 0) zeros.add(off + i); });
          off += w.length;
        }
        assert.equal(zeros.size, res.rounds[t - 1].zeros, `round ${t} ${which}: pruned weights stayed 0 while fine-tuning`);
        if (prevZeros && which === 'last') for (const z of prevZeros) assert.ok(zeros.has(z), 'masks are nested');
        if (which === 'last') prevZeros = zeros;
        net.dispose();
      }
    }
    const summary = JSON.parse(await readFile(res.summaryPath, 'utf8'));
    assert.equal(summary.series.length, 2);
    assert.equal(summary.series[1].targetSparsity, cumulativeRate(0.3, 2));
    assert.ok(summary.series[0].layers.length === vggView(teacher).layout.convs.length);
    teacher.dispose();
  });
});

test('unstructured compat (C4 inclusive threshold, C5 masks from |W| > 0) and continueFrom best', async () => {
  await withDir(async (out) => {
    const teacher = GraphNet.create(cfg, 5);
    const res = await unstructuredPruneRounds({
      data, teacher, rate: 0.4, rounds: 2, matching: parseMatchingConfig({ kind: 'none', beta: 0 }), recipe: { ...recipe, epochs: 1 }, seed: 6,
      outDir: out, quiet: true, continueFrom: 'best', compat: { thresholdInclusive: true, maskFromNonzero: true },
    });
    const N = vggView(teacher).layout.convs.reduce((a, c) => a + 9 * c.inChannels * c.outChannels, 0);
    res.rounds.forEach((x, i) => assert.ok(x.zeros >= Math.floor(cumulativeRate(0.4, i + 1) * N) + 1));
    const { net } = await loadNet(join(out, 'round-2', 'last'));
    let zeros = 0;
    for (const c of vggView(net).layout.convs) zeros += net.weight(`${c.name}/kernel`).dataSync().filter((v) => v === 0).length;
    assert.ok(zeros >= res.rounds[1].zeros, 'C5 masks keep every zero frozen');
    const meta = await readCheckpointMeta(join(out, 'round-2', 'best'));
    assert.deepEqual((meta.unstructured as { compat: unknown }).compat, { thresholdInclusive: true, maskFromNonzero: true });
    net.dispose(); teacher.dispose();
  });
});
