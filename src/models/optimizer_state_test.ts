/**
 * loadOptimizerState against hostile apc.json records and optimizer.bin files (regressions found
 * by `npm run fuzz`): every case is one CheckpointError naming the file, on one line, with no
 * tensor left behind — never a RangeError or a tfjs shape error from decoding unchecked sizes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { CheckpointError, loadOptimizerState, OPTIMIZER_BIN, saveNet } from './checkpoint.js';
import { GraphNet } from './graph/graph_net.js';
import { archPreset } from './model_config.js';

let dir: string;
let pristineMeta: string;
let pristineBin: Buffer;

before(async () => {
  await tf.setBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'apc-optstate-'));
  const net = GraphNet.create(archPreset({ arch: 'vgg11', width: 64, imageSize: 16, numClasses: 3 }), 1);
  const velocity = net.graph.weights.map((w, i) => tf.fill([...w.shape], i + 0.5));
  await saveNet(dir, net, {}, velocity);
  tf.dispose(velocity);
  net.dispose();
  pristineMeta = readFileSync(join(dir, 'apc.json'), 'utf8');
  pristineBin = readFileSync(join(dir, OPTIMIZER_BIN));
});

after(() => rmSync(dir, { recursive: true, force: true }));

type Meta = { optimizer: { file: string; bytes: number; sha256: string; specs: Record<string, unknown>[] } };

/** Writes an edited apc.json (and optimizer.bin), re-sealing the byte count and hash so the edit is what is tested. */
function write(edit: (meta: Meta) => void, bin: Buffer = pristineBin, editText: (json: string) => string = (t) => t): void {
  const meta = JSON.parse(pristineMeta) as Meta;
  meta.optimizer.bytes = bin.length;
  meta.optimizer.sha256 = createHash('sha256').update(bin).digest('hex');
  edit(meta);
  writeFileSync(join(dir, 'apc.json'), editText(JSON.stringify(meta)));
  writeFileSync(join(dir, OPTIMIZER_BIN), bin);
}

async function rejects(pattern: RegExp): Promise<void> {
  const before = tf.memory().numTensors;
  await assert.rejects(loadOptimizerState(dir), (err: unknown) => {
    assert.ok(err instanceof CheckpointError, `expected a CheckpointError, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
    assert.ok(!err.message.includes('\n'), `one line: ${JSON.stringify(err.message)}`);
    assert.ok(err.message.includes(dir), `names the file: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
}

test('the saved state loads back exactly', async () => {
  write(() => {});
  const state = (await loadOptimizerState(dir))!;
  const specs = (JSON.parse(pristineMeta) as Meta).optimizer.specs;
  assert.equal(state.length, specs.length);
  state.forEach((t, i) => assert.ok(t.dataSync().every((v) => v === i + 0.5), `buffer ${i}`));
  tf.dispose(state);
});

test('an optimizer.bin shorter than its specs (hash re-sealed) is refused before decoding', async () => {
  write(() => {}, pristineBin.subarray(0, pristineBin.length - 8));
  await rejects(/optimizer\.bin holds \d+ bytes, but apc\.json's 'optimizer\.specs' describe \d+/);
  // not a multiple of 4: decodeWeights would throw a bare RangeError
  write(() => {}, pristineBin.subarray(0, pristineBin.length - 3));
  await rejects(/holds \d+ bytes, but .* describe \d+/);
  write(() => {}, pristineBin.subarray(0, 400));
  await rejects(/holds 400 bytes/);
});

test('malformed specs in apc.json: bad shapes, dtypes, names, duplicates', async () => {
  write((m) => { m.optimizer.specs[2].shape = [true]; });
  await rejects(/apc\.json has an invalid shape \[true\]/);
  write((m) => { m.optimizer.specs[0].shape = [null, 3]; });
  await rejects(/invalid shape \[null,3\]/);
  write((m) => { delete m.optimizer.specs[1].dtype; });
  await rejects(/'optimizer\.specs'\[1\] .* has dtype undefined, expected float32/);
  write((m) => { m.optimizer.specs[1].dtype = 7; });
  await rejects(/has dtype 7/);
  write((m) => { m.optimizer.specs[1].name = m.optimizer.specs[0].name; });
  await rejects(/'optimizer\.specs' must name each buffer once/);
  write((m) => { m.optimizer.specs[0].name = '__proto__'; });
  await rejects(/'optimizer\.specs' must name each buffer once/);
  write((m) => { (m.optimizer as unknown as Record<string, unknown>).specs = 'velocity'; });
  await rejects(/'optimizer\.specs' must be an array of weight specs, found a string/);
});

test('a record pointing outside the checkpoint, or without sizes, is refused', async () => {
  write((m) => { m.optimizer.file = '../../etc/passwd'; });
  await rejects(/'optimizer\.file' is "\.\.\/\.\.\/etc\/passwd", expected "optimizer\.bin"/);
  write((m) => { (m.optimizer as unknown as Record<string, unknown>).bytes = '12'; });
  await rejects(/must record the file's bytes/);
  write((m) => { (m as unknown as Record<string, unknown>).optimizer = [1]; });
  await rejects(/'optimizer' must be an object/);
});

test('a shape nested 5000 deep is described, not a stack overflow', async () => {
  write((m) => { m.optimizer.specs[0].shape = ['DEEP']; }, pristineBin, (t) => t.replace('["DEEP"]', `${'['.repeat(5000)}${']'.repeat(5000)}`));
  await rejects(/invalid shape \[1 items\]/);
});

test('an apc.json that is not JSON gives one line, control bytes escaped', async () => {
  write(() => {}, pristineBin, (t) => t.replace('"optimizer":{', '"optimizer":{"a":\u0000\n\u0001,'));
  await rejects(/apc\.json is not valid JSON \(.*; file is \d+ bytes\)/);
});

test('a config asking for 1e308 ResNet blocks, or with a kind nested 100 000 deep, is refused at once', async () => {
  const { parseModelConfig } = await import('./model_config.js');
  const { archPreset } = await import('./model_config.js');
  const resnet = archPreset({ arch: 'resnet18', width: 64, imageSize: 8, numClasses: 3 }) as unknown as { blocks: number[] };
  assert.throws(() => parseModelConfig({ ...resnet, blocks: [2, 2, 2, 1e308] }, 'apc.json config'), /^Error: apc\.json config: blocks\.3: .*1024/);
  const deep = JSON.parse(`{"kind":${'['.repeat(100_000)}${']'.repeat(100_000)}}`) as unknown;
  assert.throws(() => parseModelConfig(deep, 'apc.json config'), /^Error: apc\.json config: 'kind' is \[1 items\], expected one of vgg/);
});
