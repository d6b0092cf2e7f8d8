/**
 * End-to-end checks of the CLI as a user runs it (compiled through tsx): a tiny study writes a
 * results.json of the documented shape, `apc train --resume` continues, checkpoints load with
 * `tf.loadLayersModel`, and a corrupt checkpoint gives a one-line error naming the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { fileSystemIO } from '../src/models/checkpoint_io.js';

const root = new URL('..', import.meta.url).pathname;
function apc(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: root, env: { ...process.env, APC_BACKEND: 'wasm' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'apc-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('apc train writes a checkpoint that tf.loadLayersModel loads, and --resume continues it', async () => {
  const out = join(dir, 'teacher');
  const a = apc(['train', '--width', '16', '--epochs', '1', '--train-limit', '64', '--quiet', '--out', out]);
  assert.equal(a.code, 0, a.err);
  assert.match(a.err, /backend: wasm/);
  assert.match(a.out, /best val mAP \d+\.\d+ · F1 \d+\.\d+/);
  tf.enableProdMode();
  await tf.setBackend('cpu');
  const model = await tfl.loadLayersModel(fileSystemIO(join(out, 'last')));
  assert.equal(model.outputs[0].shape[1], 10);
  const meta = JSON.parse(readFileSync(join(out, 'last', 'apc.json'), 'utf8'));
  assert.equal(meta.trainState.epoch, 1);
  assert.equal(meta.dataset, 'shapes');
  model.dispose();
  const b = apc(['train', '--width', '16', '--epochs', '2', '--train-limit', '64', '--quiet', '--resume', '--out', out]);
  assert.equal(b.code, 0, b.err);
  assert.match(b.err, /resuming from .* after epoch 1/);
  const meta2 = JSON.parse(readFileSync(join(out, 'last', 'apc.json'), 'utf8'));
  assert.equal(meta2.trainState.epoch, 2);
  assert.equal(meta2.trainState.history.length, 2);
  assert.deepEqual(meta2.trainState.history[0], meta.trainState.history[0]);
});

test('a truncated checkpoint gives a one-line error naming the file', () => {
  const last = join(dir, 'teacher', 'last');
  const w = join(last, 'weights.bin');
  truncateSync(w, Math.floor(statSync(w).size / 2));
  const r = apc(['evaluate', '--model', last, '--limit', '4']);
  assert.equal(r.code, 1);
  assert.match(r.err, /apc: error: .*weights\.bin/);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
});

test('bad flags name the flag', () => {
  const r = apc(['train', '--width', 'zero']);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /--width must be an integer/);
});

test('apc run --preset smoke writes results.json with teacher, four KD rows, pruning rows ± WCAM and the sparsity series', () => {
  const out = join(dir, 'study');
  const r = apc(['run', '--preset', 'smoke', '--quiet', '--out', out]);
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(res.dataset, 'shapes');
  assert.deepEqual(res.models.map((m: { name: string }) => m.name), ['teacher', 'kd', 'kd+ewa', 'kd+wcam', 'kd+wcam+stochastic',
    'structured', 'structured+wcam', 'unstructured', 'unstructured+wcam']);
  for (const m of res.models) {
    for (const key of ['name', 'compression', 'match', 'beta', 'stochastic', 'params', 'flops', 'sparsity', 'bytes', 'mAP', 'f1']) assert.ok(key in m, `${m.name} lacks ${key}`);
    assert.ok(m.bytes > 4 * m.params, `${m.name}: checkpoint holds float32 weights`);
    const g = m.attribution.gradcam;
    for (const key of ['auc', 'pointing']) assert.ok(key in g, `${m.name}.gradcam lacks ${key}`);
    for (const key of ['cosine', 'spearman', 'topkIoU']) assert.ok(key in g.agreement, `${m.name} agreement lacks ${key}`);
  }
  const teacher = res.models[0];
  assert.equal(teacher.compression, 'none');
  assert.equal(teacher.attribution.gradcam.agreement.cosine, 1);
  assert.equal(res.models[3].match, 'wcam');
  assert.equal(res.models[4].stochastic, 0.3);
  assert.ok(res.models[1].params < teacher.params);
  assert.match(r.out, /kd\+wcam/);
  const byName = new Map(res.models.map((m: { name: string }) => [m.name, m]));
  const [s, sw, u, uw] = ['structured', 'structured+wcam', 'unstructured', 'unstructured+wcam'].map((n) => byName.get(n) as Record<string, number & string>);
  assert.equal(s.match, 'none');
  assert.equal(sw.match, 'wcam');
  assert.ok(s.params < teacher.params && s.flops < teacher.flops, 'structured pruning shrinks the network');
  assert.equal(s.sparsity, 0);
  assert.equal(u.params, teacher.params, 'unstructured keeps the dense shape');
  assert.ok(Math.abs(u.sparsity - 0.75) < 1e-3 && Math.abs(uw.sparsity - 0.75) < 1e-3, `2 rounds of r = 0.5 → 75 % (got ${u.sparsity})`);
  assert.ok(u.flopsEffective < 0.5 * teacher.flopsEffective);
  assert.ok(u.bytesGzip < teacher.bytesGzip, 'zeros compress');
  assert.deepEqual(res.series.map((x: { name: string }) => x.name), ['unstructured', 'unstructured+wcam']);
  for (const x of res.series) {
    assert.deepEqual(x.points.map((p: { sparsity: number }) => Math.round(p.sparsity * 100)), [50, 75]);
    for (const p of x.points) assert.ok('gradcam' in p.attribution && Number.isFinite(p.mAP));
    for (const p of x.points.slice(0, -1)) assert.ok(!('faithfulness' in p.attribution.gradcam), 'intermediate rounds skip faithfulness');
  }
  // the smoke preset's faithfulness subset (8 pairs, 4 steps) on every final model, and the teacher's sanity check
  for (const m of res.models) {
    const f = m.attribution.gradcam.faithfulness;
    assert.ok(f, `${m.name} lacks gradcam.faithfulness`);
    assert.equal(f.steps, 4);
    assert.equal(f.baseline, 'blur');
    assert.ok(f.nPairs <= 8 && f.deletionCurve.length === 5 && f.insertionCurve.length === 5, `${m.name}: ${JSON.stringify(f)}`);
  }
  assert.ok(res.sanity.gradcam.layers.length >= 1 && res.sanity.gradcam.layers.length <= 4);
  assert.equal(typeof res.sanity.gradcam.passed, 'boolean');
});

test('apc compress --method structured writes a physically smaller checkpoint', () => {
  const out = join(dir, 'structured');
  const r = apc(['compress', '--teacher', join(dir, 'teacher', 'best'), '--method', 'structured', '--rate', '0.5',
    '--match', 'wcam', '--beta', '1', '--epochs', '1', '--train-limit', '32', '--quiet', '--out', out]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /structured p=0\.5\+wcam: best val mAP/);
  const teacher = JSON.parse(readFileSync(join(dir, 'teacher', 'best', 'apc.json'), 'utf8'));
  const pruned = JSON.parse(readFileSync(join(out, 'best', 'apc.json'), 'utf8'));
  const widths = (m: { config: { blocks: number[][] } }) => m.config.blocks.flat();
  const [t, p] = [widths(teacher), widths(pruned)];
  assert.equal(p[0], Math.floor(t[0] * 0.5), 'first conv pruned at rate p');
  assert.equal(p[1], t[1], 'second conv untouched');
  assert.equal(p.at(-1), Math.floor(t.at(-1)! * 0.5), 'last conv pruned at rate p');
  assert.ok(pruned.params < teacher.params);
});

test('apc compress --method structured --importance l2 ranks filters by their L2 norm (recorded in the plan); a bad kind is refused', () => {
  const out = join(dir, 'structured-l2');
  const r = apc(['compress', '--teacher', join(dir, 'teacher', 'best'), '--method', 'structured', '--rate', '0.5', '--importance', 'l2',
    '--epochs', '1', '--train-limit', '32', '--quiet', '--out', out]);
  assert.equal(r.code, 0, r.err);
  const pruned = JSON.parse(readFileSync(join(out, 'best', 'apc.json'), 'utf8'));
  assert.equal(pruned.structured.plan.importance, 'l2');
  const bad = apc(['compress', '--teacher', join(dir, 'teacher', 'best'), '--method', 'structured', '--importance', 'l3', '--out', join(dir, 'x')]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /--importance/);
});
