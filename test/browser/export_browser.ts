/**
 * `apc export --format tfjs` models in a real browser: headless Chromium loads tfjs's own browser
 * bundles (tf-core, tf-backend-cpu, tf-layers from node_modules) and each exported ResNet-18 and
 * MobileNetV2 with `tf.loadLayersModel` over HTTP, predicts a fixed batch, and must give apc's
 * logits (within 1e-4 of max |z|) with no console errors.
 *
 * Not part of `npm test`: `npm run test:browser` runs it (CHROMIUM_PATH, else /usr/bin/chromium).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { chromium } from 'playwright-core';
import { Rng } from '../../src/engine/random.js';
import { fileSystemIO } from '../../src/models/checkpoint_io.js';
import { GraphNet } from '../../src/models/graph/graph_net.js';
import { toLayersModel } from '../../src/models/layers_export.js';
import { archPreset } from '../../src/models/model_config.js';

const root = new URL('../..', import.meta.url).pathname;
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'apc-export-browser-'));
const BUNDLES = ['@tensorflow/tfjs-core/dist/tf-core.min.js', '@tensorflow/tfjs-backend-cpu/dist/tf-backend-cpu.min.js', '@tensorflow/tfjs-layers/dist/tf-layers.min.js'];

/** Serves `/nm/<path>` from node_modules and everything else from `dir`. */
function serve(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.startsWith('/nm/') ? join(root, 'node_modules', normalize(path.slice(4))) : join(dir, normalize(path));
    if (!existsSync(file) || !statSync(file).isFile()) { res.writeHead(404); res.end(); return; }
    const type = extname(file) === '.js' ? 'text/javascript' : extname(file) === '.json' ? 'application/json' : extname(file) === '.html' ? 'text/html' : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    ok({ server, url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}` });
  }));
}

test('exported ResNet-18 and MobileNetV2 load with tf.loadLayersModel in Chromium and give apc\'s logits', { timeout: 300_000 }, async () => {
  assert.ok(existsSync(chromiumPath), `Chromium not found at ${chromiumPath}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  await tf.setBackend('cpu');
  const x = new Rng(3).uniformArray(2 * 32 * 32 * 3, -2, 2);
  const expected: Record<string, number[]> = {};
  for (const [name, config] of [
    ['resnet18', archPreset({ arch: 'resnet18', width: 16, imageSize: 32, numClasses: 5 })],
    ['mobilenetv2', archPreset({ arch: 'mobilenetv2', width: 8, imageSize: 32, numClasses: 5 })],
  ] as const) {
    const net = GraphNet.create(config, 4);
    const rng = new Rng(5);
    tf.tidy(() => {
      for (const d of net.graph.weights) {
        if (d.suffix === 'moving_variance') net.weight(d.name).assign(tf.tensor(rng.uniformArray(net.weight(d.name).size, 0.5, 2), net.weight(d.name).shape));
        if (d.suffix === 'moving_mean') net.weight(d.name).assign(tf.tensor(rng.uniformArray(net.weight(d.name).size, -0.2, 0.2), net.weight(d.name).shape));
      }
    });
    const model = toLayersModel(net);
    await model.save(fileSystemIO(join(dir, name)));
    model.dispose();
    expected[name] = Array.from(tf.tidy(() => net.predict(tf.tensor4d(x, [2, 32, 32, 3]))).dataSync());
    net.dispose();
  }
  const { server, url } = await serve();
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(e.message));
    // a page of the same origin as the models (a blank page's fetches would be cross-origin)
    writeFileSync(join(dir, 'index.html'), `<!doctype html><html><head><link rel="icon" href="data:,"></head><body>${BUNDLES.map((b) => `<script src="/nm/${b}"></script>`).join('')}</body></html>`);
    await page.goto(`${url}/index.html`, { waitUntil: 'load' });
    const got = await page.evaluate(async ({ base, names, values }) => {
      const t = (window as unknown as { tf: any }).tf; // eslint-disable-line @typescript-eslint/no-explicit-any
      await t.setBackend('cpu');
      const out: Record<string, number[]> = {};
      for (const n of names) {
        const model = await t.loadLayersModel(`${base}/${n}/model.json`);
        const z = model.predict(t.tensor4d(values, [2, 32, 32, 3]));
        out[n] = Array.from(await z.data());
      }
      return out;
    }, { base: url, names: Object.keys(expected), values: Array.from(x) });
    for (const [name, want] of Object.entries(expected)) {
      const scale = Math.max(...want.map(Math.abs));
      const worst = Math.max(...want.map((v, i) => Math.abs(v - got[name][i])));
      assert.ok(worst <= 1e-4 * scale, `${name}: max |Δ| ${worst} (max |z| ${scale})`);
    }
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
