/**
 * `apc viewer` in a real browser: two random-initialised checkpoints (a small VGG and a small
 * ResNet, fixed seeds) go through the CLI into a static page, headless Chromium opens it from disk
 * (file://), and the Grad-CAM and LRP maps the page computes must equal the ones the Node library
 * computes (`explainImage`, what `apc explain` calls) within 1e-4 after min–max normalisation:
 *   - through the test hook `window.apcExplain` on a shapes test image, on the cpu and wasm backends;
 *   - through the file input with a shapes PNG at 64 px (the page decodes and resizes it as
 *     `apc explain --image` does), whose screen goes to artifacts/viewer.png, and dropped on the page.
 * webgl is tried too: it must either run and agree to 1e-3, or fall back to cpu with a notice (as an
 * unknown `?backend=` does).
 *
 * Not part of `npm test`: `npm run test:browser` runs it (CHROMIUM_PATH, else /usr/bin/chromium).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { chromium, type Browser, type Page } from 'playwright-core';
import { openDataset } from '../../src/data/registry.js';
import { SHAPES_CLASS_NAMES } from '../../src/data/shapes.js';
import { Rng } from '../../src/engine/random.js';
import { saveNet } from '../../src/models/checkpoint.js';
import { GraphNet } from '../../src/models/graph/graph_net.js';
import { loadModel } from '../../src/models/load_model.js';
import { archPreset } from '../../src/models/model_config.js';
import { explainImage, type Normalization, resizeImage } from '../../src/report/explain.js';
import { encodePng, normalizeMap, renderOverlay } from '../../src/report/heatmap_image.js';
import { readImageFile } from '../../src/report/image_file.js';
import type { PageExplanation } from '../../src/viewer/page/viewer_page.js';
import { apc, root } from '../apc_cli.js';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = resolve(process.env.APC_ARTIFACTS ?? join(root, 'artifacts'));
const SIZE = 32;
const METHODS = ['gradcam', 'lrp'];
const dir = mkdtempSync(join(tmpdir(), 'apc-viewer-browser-'));
let browser: Browser | undefined;
test.after(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

await tf.setBackend('cpu');
const data = openDataset('shapes', { imageSize: SIZE });
const norm: Normalization = { mean: data.info.mean, std: data.info.std };
const models = [
  { name: 'teacher', config: archPreset({ arch: 'vgg16', width: 8, imageSize: SIZE, numClasses: SHAPES_CLASS_NAMES.length }), seed: 1 },
  { name: 'resnet', config: archPreset({ arch: 'resnet18', width: 16, imageSize: SIZE, numClasses: SHAPES_CLASS_NAMES.length }), seed: 2 },
];
for (const m of models) {
  const net = GraphNet.create(m.config, m.seed);
  // non-trivial BatchNorm statistics, so the maps depend on every stored tensor
  const rng = new Rng(m.seed + 10);
  tf.tidy(() => {
    for (const d of net.graph.weights) {
      const v = net.weight(d.name);
      if (d.suffix === 'moving_variance') v.assign(tf.tensor(rng.uniformArray(v.size, 0.5, 2), v.shape));
      if (d.suffix === 'moving_mean') v.assign(tf.tensor(rng.uniformArray(v.size, -0.2, 0.2), v.shape));
    }
  });
  await saveNet(join(dir, m.name, 'best'), net, { dataset: 'shapes', classNames: [...SHAPES_CLASS_NAMES], normalization: norm });
  net.dispose();
}
const checkpoints = models.map((m) => join(dir, m.name, 'best'));
const out = join(dir, 'viewer');

/** The Node library's explanation of an H·W·3 image for every model, class = the first model's top-1 (as `apc explain`). */
async function nodeMaps(image: Float32Array, height: number, width: number): Promise<{ classIndex: number; maps: Record<string, Float32Array>[] }> {
  const input = resizeImage(image, height, width, SIZE, SIZE);
  let classIndex: number | undefined;
  const maps: Record<string, Float32Array>[] = [];
  for (const path of checkpoints) {
    const { net } = await loadModel(path);
    const byMethod: Record<string, Float32Array> = {};
    for (const method of METHODS) {
      const e = explainImage(net, method, input, norm, classIndex);
      classIndex = e.classIndex;
      byMethod[method] = e.map;
    }
    maps.push(byMethod);
    net.dispose();
  }
  return { classIndex: classIndex!, maps };
}

/** Largest |Δ| between the normalised maps, per model and method; asserts the maps are not flat. */
function compare(page: PageExplanation, node: Awaited<ReturnType<typeof nodeMaps>>, tolerance: number, what: string): number {
  assert.equal(page.classIndex, node.classIndex, `${what}: class explained`);
  let worst = 0;
  page.models.forEach((m, i) => {
    for (const method of METHODS) {
      assert.ok(m.maps[method], `${what}: ${m.label} ${method} computed (skipped: ${m.skipped[method]})`);
      const want = normalizeMap(node.maps[i][method]);
      const got = normalizeMap(Float32Array.from(m.maps[method]));
      assert.ok(Math.max(...want) === 1 && Math.min(...want) === 0, `${what}: ${m.label} ${method}: the Node map is not flat`);
      const d = Math.max(...want.map((v, j) => Math.abs(v - got[j])));
      assert.ok(d <= tolerance, `${what}: ${m.label} ${method}: max |Δ| ${d} after normalisation`);
      worst = Math.max(worst, d);
    }
  });
  return worst;
}

async function openViewer(backend: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser!.newPage({ viewport: { width: 1000, height: 820 } });
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${pathToFileURL(join(out, 'index.html')).href}?backend=${backend}`, { waitUntil: 'load' });
  await page.waitForFunction(() => document.body.dataset.apcReady !== undefined, undefined, { timeout: 120_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.apcReady), 'true', `page failed: ${await page.textContent('#status')} ${problems.join('; ')}`);
  return { page, problems };
}

test('apc viewer writes a static page whose in-browser Grad-CAM and LRP equal the Node library\'s', { timeout: 600_000 }, async () => {
  assert.ok(existsSync(chromiumPath), `Chromium not found at ${chromiumPath}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  const r = apc(['viewer', '--models', ...checkpoints, '--out', out]);
  assert.equal(r.code, 0, r.err);
  for (const f of ['index.html', 'viewer.js', 'models.js', 'wasm.js']) assert.ok(existsSync(join(out, f)), `${f} written`);
  assert.match(r.out, /^viewer: index\.html/);

  const sample = data.get('test', 3);
  const expected = await nodeMaps(sample.image, SIZE, SIZE);
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });

  // 1. the test hook, on cpu and wasm, from disk
  for (const backend of ['cpu', 'wasm']) {
    const { page, problems } = await openViewer(backend);
    assert.equal(await page.evaluate(() => document.body.dataset.apcBackend), backend, `${backend} runs from file:// (${await page.textContent('#notice')})`);
    const got = await page.evaluate(({ image, size }) => (window as unknown as { apcExplain: (i: unknown) => PageExplanation }).apcExplain({ image, height: size, width: size }),
      { image: Array.from(sample.image), size: SIZE });
    assert.equal(got.backend, backend);
    const worst = compare(got, expected, 1e-4, backend);
    console.log(`# ${backend}: max |Δ| of normalised maps ${worst.toExponential(2)}`);
    assert.deepEqual(problems, []);
    await page.close();
  }

  // 2. webgl: runs and agrees, or falls back to cpu saying so
  {
    const { page } = await openViewer('webgl');
    const used = await page.evaluate(() => document.body.dataset.apcBackend);
    if (used === 'webgl') {
      const got = await page.evaluate(({ image, size }) => (window as unknown as { apcExplain: (i: unknown) => PageExplanation }).apcExplain({ image, height: size, width: size }),
        { image: Array.from(sample.image), size: SIZE });
      console.log(`# webgl: max |Δ| of normalised maps ${compare(got, expected, 1e-3, 'webgl').toExponential(2)}`);
    } else {
      assert.equal(used, 'cpu');
      assert.match((await page.textContent('#notice')) ?? '', /webgl backend is not available here/);
      console.log(`# webgl: fell back to cpu: ${await page.textContent('#notice')}`);
    }
    await page.close();
  }

  // 3. a real shapes image through the file input (decoded and resized in the page), screenshot
  const big = openDataset('shapes', { imageSize: 64 }).get('test', 5);
  const png = join(dir, 'shapes-test-5.png');
  writeFileSync(png, encodePng(renderOverlay({ image: big.image, height: 64, width: 64 })));
  const decoded = await readImageFile(png);
  const fromFile = await nodeMaps(decoded.image, decoded.height, decoded.width);
  const { page, problems } = await openViewer('wasm');
  await page.setInputFiles('#file', png);
  await page.waitForFunction(() => document.querySelectorAll('section.model canvas').length > 0, undefined, { timeout: 120_000 });
  const shown = await page.evaluate(() => (window as unknown as { apcViewer: { last: PageExplanation } }).apcViewer.last);
  assert.deepEqual(shown.models.map((m) => m.label), models.map((m) => m.name));
  console.log(`# file input (64 px PNG → 32 px): max |Δ| ${compare(shown, fromFile, 1e-4, 'file input').toExponential(2)}; class ${shown.className}`);
  assert.equal(await page.$$eval('section.model', (s) => s.length), 2, 'one column per model');
  assert.equal(await page.$$eval('section.model canvas', (c) => c.length), 4, 'Grad-CAM and LRP per model');
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, 'viewer.png'), fullPage: true });

  // 4. the same file dropped on the page gives the same explanation
  await page.evaluate(() => { (window as unknown as { apcViewer: { last?: unknown } }).apcViewer.last = undefined; });
  await page.evaluate((bytes) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(bytes)], 'dropped.png', { type: 'image/png' }));
    document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, Array.from(readFileSync(png)));
  await page.waitForFunction(() => (window as unknown as { apcViewer: { last?: unknown } }).apcViewer.last !== undefined, undefined, { timeout: 120_000 });
  const dropped = await page.evaluate(() => (window as unknown as { apcViewer: { last: PageExplanation } }).apcViewer.last);
  assert.deepEqual(dropped, shown, 'drop and file input give the same explanation');
  assert.deepEqual(problems, []);
  await page.close();

  // 5. an unknown backend: cpu, with a visible notice
  const bad = await openViewer('bogus');
  assert.equal(await bad.page.evaluate(() => document.body.dataset.apcBackend), 'cpu');
  assert.match((await bad.page.textContent('#notice')) ?? '', /Unknown backend 'bogus'/);
  assert.ok(await bad.page.isVisible('#notice'));
});
