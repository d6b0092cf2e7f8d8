/**
 * `apc viewer` end to end in Node (the page itself is tested in Chromium by
 * test/browser/viewer_browser.ts): the four files are written, models.js defines the models under
 * their checkpoint labels for a page's `window`, viewer.js is one self-contained browser script,
 * and a missing model is a one-line error naming it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script, createContext } from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { SHAPES_CLASS_NAMES } from '../src/data/shapes.js';
import { saveNet } from '../src/models/checkpoint.js';
import { GraphNet } from '../src/models/graph/graph_net.js';
import { VggConfigSchema } from '../src/models/vgg_config.js';
import type { EmbeddedModel } from '../src/viewer/embedded_model.js';
import { apc } from './apc_cli.js';

const dir = mkdtempSync(join(tmpdir(), 'apc-viewer-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
await tf.setBackend('cpu');
for (const name of ['teacher', 'kd']) {
  const net = GraphNet.create(VggConfigSchema.parse({ kind: 'vgg', blocks: [[4], [6]], inputSize: [32, 32], numClasses: 10 }), 1);
  await saveNet(join(dir, name, 'best'), net, { dataset: 'shapes', classNames: [...SHAPES_CLASS_NAMES] });
  net.dispose();
}

test('apc viewer writes index.html, a self-contained viewer.js, models.js and wasm.js', () => {
  const out = join(dir, 'viewer');
  const r = apc(['viewer', '--models', join(dir, 'teacher', 'best'), join(dir, 'kd', 'best'), '--out', out]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^viewer: index\.html \d+ KiB, models\.js \d+ KiB, viewer\.js \d+ KiB, wasm\.js \d+ KiB\n/);
  assert.match(r.out, new RegExp(`open file://${out}/index\\.html`));
  const html = readFileSync(join(out, 'index.html'), 'utf8');
  assert.match(html, /<script src="models\.js"><\/script>\s*<script src="viewer\.js"><\/script>/);
  const window: Record<string, unknown> = {};
  new Script(readFileSync(join(out, 'models.js'), 'utf8')).runInContext(createContext({ window }));
  // through JSON: the arrays of the script's realm are not this realm's (deepStrictEqual compares prototypes)
  const models = JSON.parse(JSON.stringify(window.APC_VIEWER_MODELS)) as EmbeddedModel[];
  assert.deepEqual(models.map((m) => m.label), ['teacher', 'kd']);
  assert.deepEqual(models[0].classNames, [...SHAPES_CLASS_NAMES]);
  assert.equal(Buffer.from(models[0].weights, 'base64').byteLength, models[0].weightSpecs.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0));
  const bundle = readFileSync(join(out, 'viewer.js'), 'utf8');
  new Script(bundle); // parses as a classic script (no import/export statements)
  assert.ok(!/\brequire\(["']node:/.test(bundle), 'no Node built-ins in the browser bundle');
  assert.ok(existsSync(join(out, 'wasm.js')));
});

test('apc viewer: a missing model is one line naming it', () => {
  const r = apc(['viewer', '--models', join(dir, 'nope'), '--out', join(dir, 'v2')]);
  assert.equal(r.code, 1);
  assert.equal(r.err.trim().split('\n').filter((l) => l.startsWith('apc: error')).join(''), `apc: error: ${join(dir, 'nope')} does not exist (expected a checkpoint directory, a .onnx file or a model.json)`);
  assert.ok(!existsSync(join(dir, 'v2')));
});
