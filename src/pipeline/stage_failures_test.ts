/**
 * A training stage that fails keeps its last good checkpoint: a NaN pixel in one training sample
 * (non-finite loss) stops the stage naming where and which samples, or is skipped with
 * `onNonFinite: 'skip-batch'`; a full or read-only disk (ENOSPC, EROFS, injected through the file
 * writer since tests run as root) fails with one line and leaves OUT/last loadable and unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as fsp from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { createShapesDataset } from '../data/shapes.js';
import { setFileOpsForTesting } from '../engine/files.js';
import { loadNet } from '../models/checkpoint.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { vggPreset } from '../models/vgg_config.js';
import { fit, labelObjective } from '../train/fit.js';
import { multiLabelSoftMargin } from '../train/losses.js';
import { NonFiniteError } from '../train/non_finite.js';
import { trainTeacher } from './train_teacher.js';
import type { TrainRecipe } from './train_to_checkpoints.js';

tf.enableProdMode();
await tf.setBackend('cpu');

const data = createShapesDataset({ imageSize: 32, sizes: { train: 16, val: 8, test: 8 }, statsSamples: 8 });
const config = vggPreset({ width: 32, imageSize: 32, numClasses: 10 });
const recipe: TrainRecipe = { epochs: 1, batchSize: 8, lr: 0.01, momentum: 0.9, weightDecay: 1e-4, lrMilestones: [], augment: null };
const POISONED = 5;

/** `data` whose train sample POISONED has a NaN pixel while `on()` holds. */
function poisoned(on: () => boolean): Dataset {
  return {
    info: data.info,
    size: (split) => data.size(split),
    get(split, index) {
      const s = data.get(split, index);
      if (split !== 'train' || index !== POISONED || !on()) return s;
      const image = Float32Array.from(s.image);
      image[7] = NaN;
      return { ...s, image };
    },
  };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'apc-fail-'));
  try { await fn(dir); } finally { await fsp.rm(dir, { recursive: true, force: true }); }
}

/** Trains epoch 1 into `out`; returns the bytes of OUT/last/weights.bin. */
async function firstEpoch(out: string, d: Dataset = data): Promise<Buffer> {
  const r = await trainTeacher({ data: d, config, recipe, seed: 0, outDir: out, resume: true, quiet: true });
  r.net.dispose();
  return readFileSync(join(out, 'last', 'weights.bin'));
}

const trainState = (out: string) => JSON.parse(readFileSync(join(out, 'last', 'apc.json'), 'utf8')).trainState;

test('a NaN sample stops the stage naming stage, epoch, step and samples; OUT/last stays the last good epoch', async () => {
  await withDir(async (out) => {
    let poison = false;
    const d = poisoned(() => poison);
    const good = await firstEpoch(out, d);
    poison = true;
    const tensors = tf.memory().numTensors;
    await assert.rejects(trainTeacher({ data: d, config, recipe: { ...recipe, epochs: 2 }, seed: 0, outDir: out, resume: true, quiet: true }),
      (err: unknown) => {
        assert.ok(err instanceof NonFiniteError, String(err));
        assert.match(err.message, /^teacher: non-finite loss \(loss NaN\) at epoch 2, step [12] of 2, batch samples \[[\d, ]*\b5\b[\d, ]*\]; stage stopped, the last good checkpoint is kept/);
        assert.deepEqual({ stage: err.where.stage, epoch: err.where.epoch }, { stage: 'teacher', epoch: 2 });
        assert.ok(err.where.samples.includes(POISONED));
        return true;
      });
    assert.equal(tf.memory().numTensors, tensors, 'the failed stage leaks no tensor');
    assert.deepEqual(readFileSync(join(out, 'last', 'weights.bin')), good, 'OUT/last untouched');
    assert.equal(trainState(out).epoch, 1);
    (await loadNet(join(out, 'last'))).net.dispose();
  });
});

test("onNonFinite 'skip-batch' skips the poisoned batch every epoch, records the count, and is bounded", async () => {
  await withDir(async (out) => {
    const d = poisoned(() => true);
    const r = await trainTeacher({ data: d, config, recipe: { ...recipe, epochs: 2 }, seed: 0, outDir: out, quiet: true, onNonFinite: 'skip-batch' });
    r.net.dispose();
    const state = trainState(out);
    assert.equal(state.skippedBatches, 2, 'one batch holds sample 5 in each of 2 epochs');
    assert.equal(state.history.length, 2);
    assert.ok(state.history.every((h: { trainLoss: number }) => Number.isFinite(h.trainLoss)));
    // a third skip is one too many for maxSkippedBatches 2: 3 epochs stop at epoch 3
    const net = GraphNet.create(config, 0);
    await assert.rejects(fit(net, labelObjective(multiLabelSoftMargin), {
      data: d, epochs: 3, batchSize: 8, seed: 0, sgd: { lr: 0.01, momentum: 0.9, weightDecay: 0 }, lrMilestones: [], quiet: true,
      evaluate: () => ({}), selectBy: 'mAP', onNonFinite: 'skip-batch', maxSkippedBatches: 2,
    }), /epoch 3, .*more than 2 batches skipped/);
    net.dispose();
  });
});

for (const code of ['ENOSPC', 'EROFS'] as const) {
  test(`${code} while saving: one-line error naming the checkpoint, previous OUT/last intact and loadable`, async () => {
    await withDir(async (out) => {
      const good = await firstEpoch(out);
      const fail = (what: string) => async (path: string): Promise<never> => {
        throw Object.assign(new Error(`${code}: ${code === 'ENOSPC' ? 'no space left on device' : 'read-only file system'}, ${what} '${path}'`), { code });
      };
      // a full disk fails the data writes; a read-only one every change
      setFileOpsForTesting(code === 'ENOSPC'
        ? { open: (path, flags, mode) => (flags === 'wx' ? fail('open')(path) : fsp.open(path, flags, mode)) }
        : { open: (path, flags, mode) => (flags === 'wx' ? fail('open')(path) : fsp.open(path, flags, mode)), mkdir: fail('mkdir'), rename: fail('rename'), rm: fail('rm'), unlink: fail('unlink') });
      const tensors = tf.memory().numTensors;
      try {
        await assert.rejects(trainTeacher({ data, config, recipe: { ...recipe, epochs: 2 }, seed: 0, outDir: out, resume: true, quiet: true }),
          (err: unknown) => {
            const msg = (err as Error).message;
            assert.ok(!msg.includes('\n'), msg);
            assert.match(msg, new RegExp(`^teacher: cannot save checkpoint ${out}/(last|best) \\(the previous one is kept\\): .*${code}`));
            return true;
          });
      } finally {
        setFileOpsForTesting();
      }
      assert.equal(tf.memory().numTensors, tensors, 'the failed stage leaks no tensor');
      assert.deepEqual(readFileSync(join(out, 'last', 'weights.bin')), good);
      assert.equal(trainState(out).epoch, 1);
      (await loadNet(join(out, 'last'))).net.dispose();
      if (code === 'ENOSPC') assert.deepEqual(readdirSync(out).sort(), ['best', 'last'], 'no staging directory left');
    });
  });
}
