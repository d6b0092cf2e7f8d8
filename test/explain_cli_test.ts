/**
 * `apc explain` end to end (through tsx, as a user runs it) on tiny random checkpoints: the PNG
 * has one panel per model plus the input, at the requested scale; the input panel outlines the
 * class's mask; --image reads and resizes a user's PNG or JPEG; bad classes and files are one-line
 * errors naming them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { openDataset } from '../src/data/registry.js';
import { SHAPES_CLASS_NAMES } from '../src/data/shapes.js';
import { saveNet } from '../src/models/checkpoint.js';
import { GraphNet } from '../src/models/graph/graph_net.js';
import { VggConfigSchema } from '../src/models/vgg_config.js';
import { encodePng, labelStripHeight, renderOverlay } from '../src/report/heatmap_image.js';

const root = new URL('..', import.meta.url).pathname;
function apc(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: root, env: { ...process.env, APC_BACKEND: 'wasm' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const SIZE = 32;
const GAP = 4; // composePanels' default
const dir = mkdtempSync(join(tmpdir(), 'apc-explain-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

await tf.setBackend('cpu');
const data = openDataset('shapes', { imageSize: SIZE });
for (const [name, seed] of [['teacher', 1], ['student', 2]] as const) {
  const net = GraphNet.create(VggConfigSchema.parse({ kind: 'vgg', blocks: [[4], [6]], inputSize: [SIZE, SIZE], numClasses: 10 }), seed);
  await saveNet(join(dir, name, 'best'), net, {
    dataset: 'shapes', classNames: [...SHAPES_CLASS_NAMES], normalization: { mean: data.info.mean, std: data.info.std },
  });
  net.dispose();
}
const teacher = join(dir, 'teacher', 'best');
const student = join(dir, 'student', 'best');

function decode(path: string): PNG {
  return PNG.sync.read(readFileSync(path));
}

test('apc explain --data: input + one overlay per model, scaled, with the class mask outlined', () => {
  const index = 1;
  const sample = data.get('test', index);
  const k = Array.from(sample.label).findIndex((v) => v > 0);
  const cls = SHAPES_CLASS_NAMES[k];
  const out = join(dir, 'gradcam.png');
  const r = apc(['explain', '--model', teacher, '--compare', student, '--data', 'shapes', '--split', 'test', '--index', String(index),
    '--method', 'gradcam', '--class', cls, '--scale', '2', '--out', out]);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.match(lines[0], new RegExp(`shapes-test-000001 · gradcam · class ${cls}$`));
  assert.match(lines[1], new RegExp(`^teacher: ${cls} p=0\\.\\d{3} .*→ ${out}$`));
  assert.match(lines[2], new RegExp(`^student: ${cls} p=0\\.\\d{3} .*→ ${out}$`));
  const png = decode(out);
  const panel = SIZE * 2;
  const top = labelStripHeight(1, GAP); // labels such as 'teacher p=0.50' need the 1× font at 64 px
  assert.equal(png.width, 3 * panel + 2 * GAP);
  assert.equal(png.height, top + panel);
  // the input panel is the image with the outline of class k's mask, exactly as the library draws it
  const expected = renderOverlay({ image: sample.image, height: SIZE, width: SIZE, scale: 2,
    outline: Uint8Array.from(sample.mask!, (v) => (v === k + 1 ? 1 : 0)) });
  let outlined = 0;
  for (let y = 0; y < panel; y++) {
    const row = png.data.subarray(4 * ((top + y) * png.width), 4 * ((top + y) * png.width + panel));
    assert.deepEqual(new Uint8Array(row), expected.rgba.subarray(4 * y * panel, 4 * (y + 1) * panel), `input panel row ${y}`);
    for (let x = 0; x < panel; x++) if (row[4 * x] === 255 && row[4 * x + 1] === 255 && row[4 * x + 2] === 255) outlined++;
  }
  assert.ok(outlined > 8, `outline drawn (${outlined} white pixels)`);
});

test('apc explain: default class is the first model\'s top-1, shared by the compared models; lrp works too', () => {
  const out = join(dir, 'sub', 'lrp.png');
  const r = apc(['explain', '--model', teacher, '--compare', student, '--data', 'shapes', '--index', '0', '--method', 'lrp', '--scale', '1', '--out', out]);
  assert.equal(r.code, 0, r.err);
  const [head, t, s] = r.out.trim().split('\n');
  const cls = /class (\w+)/.exec(head)![1];
  assert.match(t, new RegExp(`^teacher: ${cls} p=\\S+ \\(top-1\\)`));
  assert.match(s, new RegExp(`^student: ${cls} p=`));
  const png = decode(out);
  assert.equal(png.width, 3 * SIZE + 2 * GAP);
});

test('apc explain --image reads a PNG or JPEG of another size and resizes it to the input', () => {
  const w = 45, h = 20;
  const rgba = new Uint8Array(w * h * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 7) % 256));
  const img = join(dir, 'photo.png');
  writeFileSync(img, encodePng({ rgba, width: w, height: h }));
  const out = join(dir, 'photo_explained.png');
  const r = apc(['explain', '--model', teacher, '--image', img, '--method', 'ebp', '--colormap', 'viridis', '--scale', '3', '--out', out]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /photo\.png · ebp · class \w+/);
  const png = decode(out);
  assert.equal(png.width, 2 * 3 * SIZE + GAP);
  const jpg = join(dir, 'photo.jpg');
  writeFileSync(jpg, jpeg.encode({ data: rgba, width: w, height: h }, 90).data);
  const j = apc(['explain', '--model', teacher, '--image', jpg, '--scale', '1', '--out', out]);
  assert.equal(j.code, 0, j.err);
  assert.equal(decode(out).width, 2 * SIZE + GAP);
});

test('--class with an unknown name fails with a one-line error naming the class and the choices', () => {
  const r = apc(['explain', '--model', teacher, '--data', 'shapes', '--class', 'zebra', '--out', join(dir, 'x.png')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /apc: error: --class 'zebra' is not a class of .*teacher.*; classes: circle, square, triangle/);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
});

test('unreadable images and wrong extensions are one-line errors naming the file', () => {
  const bad = join(dir, 'broken.png');
  writeFileSync(bad, 'not a png at all');
  const a = apc(['explain', '--model', teacher, '--image', bad, '--out', join(dir, 'y.png')]);
  assert.equal(a.code, 1);
  assert.match(a.err, /apc: error: .*broken\.png is not a readable PNG file/);
  assert.doesNotMatch(a.err, /\n\s+at /, 'no stack trace');
  const b = apc(['explain', '--model', teacher, '--image', join(dir, 'photo.gif'), '--out', join(dir, 'y.png')]);
  assert.equal(b.code, 1);
  assert.match(b.err, /apc: error: .*photo\.gif: unsupported image type '\.gif'; use \.png, \.jpg, \.jpeg/);
  const c = apc(['explain', '--model', teacher, '--image', join(dir, 'missing.jpg'), '--out', join(dir, 'y.png')]);
  assert.match(c.err, /apc: error: cannot read .*missing\.jpg: no such file/);
  const d = apc(['explain', '--model', teacher, '--out', join(dir, 'y.png')]);
  assert.match(d.err, /apc: error: give --image FILE or --data NAME/);
});

test('model labels: the stage folder, and for a pruning round also its run', async () => {
  const { checkpointLabel } = await import('../src/cli/explain_command.js');
  assert.equal(checkpointLabel('runs/x/kd+wcam/best'), 'kd+wcam');
  assert.equal(checkpointLabel('runs/x/kd+wcam/last'), 'kd+wcam');
  assert.equal(checkpointLabel('runs/x/unstructured+wcam/round-3/best'), 'unstructured+wcam round-3');
  assert.equal(checkpointLabel('runs/x/unstructured/round-12'), 'unstructured round-12');
  assert.equal(checkpointLabel('/tmp/my-model'), 'my-model');
});
