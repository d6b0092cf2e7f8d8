import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  CheckpointError,
  checkpointPaths,
  fileSystemIO,
  loadCheckpoint,
  readCheckpointMeta,
  saveCheckpoint,
  writeCheckpointMeta,
} from './checkpoint_io.js';

let root: string;

before(async () => {
  await tf.setBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'apc-ckpt-test-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
function freshDir(): string {
  return join(root, `case-${counter++}`, 'nested', 'ckpt');
}

function buildModel(seed = 1, units = 3): tfl.LayersModel {
  const model = tfl.sequential();
  model.add(tfl.layers.conv2d({
    inputShape: [6, 6, 2], filters: 4, kernelSize: 3, activation: 'relu',
    kernelInitializer: tfl.initializers.glorotUniform({ seed }),
  }));
  model.add(tfl.layers.batchNormalization());
  model.add(tfl.layers.flatten());
  model.add(tfl.layers.dense({ units, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }));
  // Give BN non-trivial moving stats and gamma/beta so they are really round-tripped.
  const bn = model.layers[1];
  bn.setWeights(bn.getWeights().map((w, i) => tf.tidy(() => tf.add(w, tf.scalar(0.1 * (i + 1) * seed)))));
  return model;
}

function input(): tf.Tensor {
  return tf.tidy(() => tf.sin(tf.reshape(tf.range(0, 2 * 6 * 6 * 2), [2, 6, 6, 2])));
}

async function assertSameModel(a: tfl.LayersModel, b: tfl.LayersModel): Promise<void> {
  const wa = a.getWeights();
  const wb = b.getWeights();
  assert.equal(wa.length, wb.length);
  for (let i = 0; i < wa.length; i++) {
    assert.deepEqual(wb[i].shape, wa[i].shape);
    assert.deepEqual(await wb[i].data(), await wa[i].data(), `weight ${i} differs`);
  }
  const x = input();
  const pa = a.predict(x) as tf.Tensor;
  const pb = b.predict(x) as tf.Tensor;
  assert.deepEqual(await pb.data(), await pa.data());
  tf.dispose([x, pa, pb]);
}

async function rejectsWith(p: Promise<unknown>, ...patterns: Array<string | RegExp>): Promise<CheckpointError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CheckpointError, `expected CheckpointError, got ${String(err)}`);
    for (const pat of patterns) {
      if (typeof pat === 'string') assert.ok(err.message.includes(pat), `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(pat)}`);
      else assert.match(err.message, pat);
    }
    return err;
  }
  assert.fail('expected a CheckpointError');
}

const META = {
  architecture: { name: 'tiny', filters: 4 },
  dataset: 'synthetic',
  classNames: ['a', 'b', 'c'],
  metrics: { accuracy: 0.5, loss: 1.25 },
  provenance: { git: 'abc123', createdAt: '2025-01-01T00:00:00Z' },
  training: { epoch: 3, step: 120 },
};

test('fileSystemIO: save + tf.loadLayersModel round-trips weights and predictions exactly', async () => {
  const dir = freshDir();
  const model = buildModel();
  const result = await model.save(fileSystemIO(dir));
  assert.equal(result.modelArtifactsInfo.modelTopologyType, 'JSON');
  assert.deepEqual((await readdir(dir)).sort(), ['model.json', 'weights.bin']);

  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  assert.equal(json.format, 'layers-model');
  assert.ok(typeof json.generatedBy === 'string');
  assert.ok('convertedBy' in json);
  assert.deepEqual(json.weightsManifest.map((g: { paths: string[] }) => g.paths), [['weights.bin']]);
  const expectedBytes = model.getWeights().reduce((s, w) => s + w.size * 4, 0);
  assert.equal((await readFile(join(dir, 'weights.bin'))).byteLength, expectedBytes);

  const loaded = await tfl.loadLayersModel(fileSystemIO(dir));
  await assertSameModel(model, loaded);
});

test('saveCheckpoint / loadCheckpoint round-trip model and meta', async () => {
  const dir = freshDir();
  const model = buildModel(2);
  const written = await saveCheckpoint(dir, model, META);
  assert.deepEqual((await readdir(dir)).sort(), ['apc.json', 'model.json', 'weights.bin'], 'no temp files left behind');

  const { model: loaded, meta } = await loadCheckpoint(dir);
  await assertSameModel(model, loaded);
  const { integrity, ...rest } = meta;
  assert.deepEqual(rest, META);
  assert.deepEqual(meta, written);
  assert.equal(integrity?.algorithm, 'sha256');
  const weights = await readFile(join(dir, 'weights.bin'));
  const modelJson = await readFile(join(dir, 'model.json'));
  assert.equal(integrity?.files['weights.bin'].bytes, weights.byteLength);
  assert.equal(integrity?.files['model.json'].bytes, modelJson.byteLength);
  assert.match(integrity?.files['weights.bin'].sha256 ?? '', /^[0-9a-f]{64}$/);
  assert.deepEqual(await readCheckpointMeta(dir), meta);
});

test('writeCheckpointMeta / readCheckpointMeta round-trip and leave no temp files', async () => {
  const dir = freshDir();
  await writeCheckpointMeta(dir, META);
  assert.deepEqual(await readCheckpointMeta(dir), META);
  await writeCheckpointMeta(dir, { ...META, metrics: { accuracy: 0.75 } });
  assert.deepEqual((await readCheckpointMeta(dir)).metrics, { accuracy: 0.75 });
  assert.deepEqual(await readdir(dir), ['apc.json']);
});

test('truncated weights.bin is reported with the file and byte counts', async () => {
  const dir = freshDir();
  const model = buildModel();
  await saveCheckpoint(dir, model, META);
  const weightsPath = join(dir, 'weights.bin');
  const full = (await readFile(weightsPath)).byteLength;
  await truncate(weightsPath, 100);
  const err = await rejectsWith(loadCheckpoint(dir), `${weightsPath} is truncated`, '100 bytes', `expected ${full}`, 'weightsManifest');
  assert.equal(err.path, weightsPath);
  // The bare IO handler checks the manifest length too.
  await rejectsWith(tfl.loadLayersModel(fileSystemIO(dir)), `${weightsPath} is truncated`, `expected ${full}`);
});

test('a corrupted byte (same length) is a hash mismatch naming the file', async () => {
  const dir = freshDir();
  await saveCheckpoint(dir, buildModel(), META);
  const weightsPath = join(dir, 'weights.bin');
  const bytes = await readFile(weightsPath);
  bytes[17] ^= 0xff;
  await writeFile(weightsPath, bytes);
  await rejectsWith(loadCheckpoint(dir), weightsPath, 'sha256', 'expected', 'integrity');
});

test('model.json garbage is reported as invalid JSON naming model.json', async () => {
  const dir = freshDir();
  await saveCheckpoint(dir, buildModel(), META);
  const modelPath = join(dir, 'model.json');
  const text = await readFile(modelPath, 'utf8');
  await writeFile(modelPath, text.slice(0, 40));
  await rejectsWith(loadCheckpoint(dir), `${modelPath} is not valid JSON (`);
  await rejectsWith(tfl.loadLayersModel(fileSystemIO(dir)), `${modelPath} is not valid JSON (`);
  await writeFile(modelPath, '[1, 2]');
  await rejectsWith(loadCheckpoint(dir), modelPath, 'JSON object', 'array');
});

test('missing files and directories are reported', async () => {
  const dir = freshDir();
  await rejectsWith(loadCheckpoint(dir), `checkpoint directory ${dir} does not exist`);
  await saveCheckpoint(dir, buildModel(), META);
  await unlink(join(dir, 'apc.json'));
  await rejectsWith(loadCheckpoint(dir), `${dir} is not a checkpoint: apc.json missing (an interrupted save?)`);
  await rejectsWith(readCheckpointMeta(dir), 'apc.json missing');

  const dir2 = freshDir();
  await saveCheckpoint(dir2, buildModel(), META);
  await unlink(join(dir2, 'weights.bin'));
  await rejectsWith(loadCheckpoint(dir2), join(dir2, 'weights.bin'), 'missing');

  const dir3 = freshDir();
  await saveCheckpoint(dir3, buildModel(), META);
  await unlink(join(dir3, 'model.json'));
  await rejectsWith(loadCheckpoint(dir3), join(dir3, 'model.json'), 'missing');
});

test('apc.json garbage is reported naming apc.json', async () => {
  const dir = freshDir();
  await saveCheckpoint(dir, buildModel(), META);
  await writeFile(join(dir, 'apc.json'), '{"architecture": ');
  await rejectsWith(loadCheckpoint(dir), `${join(dir, 'apc.json')} is not valid JSON (`);
});

test('saving twice over the same directory works and leaves no temp files', async () => {
  const dir = freshDir();
  await saveCheckpoint(dir, buildModel(1), { ...META, training: { epoch: 1 } });
  const second = buildModel(5, 5); // different values and a different architecture
  await saveCheckpoint(dir, second, { ...META, training: { epoch: 2 } });
  assert.deepEqual((await readdir(dir)).sort(), ['apc.json', 'model.json', 'weights.bin']);
  const { model, meta } = await loadCheckpoint(dir);
  await assertSameModel(second, model);
  assert.deepEqual(meta.training, { epoch: 2 });
});

test('a crash between files while overwriting is detected', async () => {
  // Same architecture: new weights.bin over old model.json + apc.json -> hash mismatch.
  const dir = freshDir();
  await saveCheckpoint(dir, buildModel(1), META);
  const other = freshDir();
  await saveCheckpoint(other, buildModel(7), META);
  await writeFile(join(dir, 'weights.bin'), await readFile(join(other, 'weights.bin')));
  await rejectsWith(loadCheckpoint(dir), join(dir, 'weights.bin'), 'sha256', 'interrupted');

  // New model.json + weights.bin (different architecture), crash before apc.json.
  const dir2 = freshDir();
  await saveCheckpoint(dir2, buildModel(1), META);
  await buildModel(2, 7).save(fileSystemIO(dir2));
  await rejectsWith(loadCheckpoint(dir2), join(dir2, 'model.json'), 'integrity', 'interrupted');

  // New weights.bin of a different architecture, old model.json: length mismatch with a hint.
  const dir3 = freshDir();
  await saveCheckpoint(dir3, buildModel(1), META);
  const big = freshDir();
  await saveCheckpoint(big, buildModel(1, 9), META);
  await writeFile(join(dir3, 'weights.bin'), await readFile(join(big, 'weights.bin')));
  await rejectsWith(loadCheckpoint(dir3), `${join(dir3, 'weights.bin')} is too long`, 'weightsManifest', 'apc.json records');
});

test('checkpointPaths', () => {
  assert.deepEqual(checkpointPaths(join('runs', 't')), { last: join('runs', 't', 'last'), best: join('runs', 't', 'best') });
});

test('hostile weightsManifest dtypes (from the fuzzer): a 100 000-deep array or an inherited key is one CheckpointError', async () => {
  const dir = freshDir();
  await saveCheckpoint(dir, buildModel(), META);
  const modelPath = join(dir, 'model.json');
  const json = JSON.parse(await readFile(modelPath, 'utf8')) as { weightsManifest: { weights: { dtype: unknown }[] }[] };
  for (const [dtype, shown] of [['DEEP', '[1 items]'], ['constructor', '"constructor"'], [7, '7']] as const) {
    json.weightsManifest[0].weights[0].dtype = dtype;
    await writeFile(modelPath, JSON.stringify(json).replace('"DEEP"', `${'['.repeat(100_000)}${']'.repeat(100_000)}`));
    await assert.rejects(loadCheckpoint(dir), (err: unknown) => {
      assert.ok(err instanceof CheckpointError, `${String(dtype)}: ${(err as Error)?.name}: ${(err as Error)?.message?.slice(0, 200)}`);
      assert.ok(err.message.includes(`in ${modelPath} has unknown dtype ${shown}`), err.message.slice(0, 300));
      return true;
    });
  }
});
