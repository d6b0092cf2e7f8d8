/**
 * `--data` and `--skip-bad` as a user runs them: a bad VOC file stops `apc train` with one line
 * naming the file (no stack trace); `--skip-bad` trains on the rest and reports the skip at the
 * end; `mnist-multi` trains and is recorded in the checkpoint; the whole `apc run` study runs on a
 * VOC tree with VOC's evaluation splits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultFixtureSpec, writeVocTree } from '../src/data/voc_fixture.js';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'apc-cli-data-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function apc(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
    encoding: 'utf8', cwd: root, env: { ...process.env, APC_BACKEND: 'wasm', APC_CACHE_DIR: join(dir, 'cache') },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const voc = writeVocTree(join(dir, 'voc'), defaultFixtureSpec());
truncateSync(join(voc, 'JPEGImages', '2008_000003.jpg'), 300);
const small = ['--width', '16', '--epochs', '1', '--image-size', '32', '--quiet'];

test('a corrupt VOC file stops apc train with one line naming it', () => {
  const r = apc(['train', '--data', `voc:${voc}`, ...small, '--out', join(dir, 'a')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /^apc: bad input: .*JPEGImages\/2008_000003\.jpg: corrupt or truncated JPEG .*\(--skip-bad leaves such entries out\)$/m);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
});

test('--skip-bad trains on the rest and reports the skipped entry at the end', () => {
  const out = join(dir, 'b');
  const r = apc(['train', '--data', `voc:${voc}`, '--skip-bad', ...small, '--out', out]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /teacher vgg16\/16 @32px/);
  assert.match(r.err, /apc: skipped 1 bad entry \(--skip-bad\):\n {2}train\/2008_000003: .*2008_000003\.jpg: corrupt or truncated JPEG/);
  const meta = JSON.parse(readFileSync(join(out, 'last', 'apc.json'), 'utf8'));
  assert.equal(meta.dataset, `voc:${voc}`);
  assert.equal(meta.classNames.length, 20);
});

test('a path that is not a VOC folder is one line, without the --skip-bad hint', () => {
  const r = apc(['train', '--data', `voc:${join(dir, 'nowhere')}`, '--skip-bad', '--quiet']);
  assert.equal(r.code, 1);
  assert.match(r.err, /^apc: bad input: .*nowhere: is not a VOC2012 folder \(expected .*\)$/m);
  assert.doesNotMatch(r.err, /leaves such entries out/);
});

test('apc train --data mnist-multi records the dataset; unknown --data names the choices', () => {
  const out = join(dir, 'm');
  const r = apc(['train', '--data', 'mnist-multi', '--width', '16', '--epochs', '1', '--train-limit', '64', '--quiet', '--out', out]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /teacher vgg16\/16 @64px/);
  const meta = JSON.parse(readFileSync(join(out, 'last', 'apc.json'), 'utf8'));
  assert.equal(meta.dataset, 'mnist-multi');
  assert.deepEqual(meta.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  const bad = apc(['train', '--data', 'mnist', '--quiet']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /apc: error: --data 'mnist' is not a dataset apc knows; use one of: shapes, mnist-multi, voc:PATH/);
});

test('apc run --data voc:PATH --preset smoke: every stage on VOC; prediction on Main val, localisation on Segmentation val', () => {
  const good = writeVocTree(join(dir, 'voc-good'), defaultFixtureSpec());
  const out = join(dir, 'voc-run');
  const r = apc(['run', '--data', `voc:${good}`, '--preset', 'smoke', '--quiet', '--out', out]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /report: .*report\.html/);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(results.splits, { prediction: 'val', localization: 'test' });
  assert.equal(results.models.length, 9);
  for (const m of results.models) {
    assert.ok(Number.isFinite(m.mAP) && Number.isFinite(m.prediction.mAP_raw), `${m.name}: mAP and mAP_raw`);
    const g = m.attribution.gradcam;
    // only the 2 Segmentation val images have masks: aeroplane in one, sheep in the other
    assert.equal(g.nCounted + g.nMissed, 2, `${m.name}: localisation pairs (predicted + missed)`);
  }
  const manifest = JSON.parse(readFileSync(join(out, 'heatmaps', 'manifest.json'), 'utf8'));
  assert.equal(manifest.split, 'test');
  assert.ok(existsSync(join(out, 'report.html')));
});
