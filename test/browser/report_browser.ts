/**
 * The study report in a real browser (headless Chromium through playwright-core): a smoke study
 * (`apc run --preset smoke`) writes report.html; the page must load without errors, list one row
 * per model, load every heat-map picture, and switch grids with the method selector. Screenshots
 * go to artifacts/ (gitignored): report-smoke.png (the run's own report) and report.png (with a
 * second method's heat-maps added, after switching to it).
 *
 * Not part of `npm test` (its name does not end in _test.ts): run `npm run test:browser`.
 * Needs Chromium: CHROMIUM_PATH, else /usr/bin/chromium (`apt-get install -y chromium`).
 * APC_REPORT_DIR=DIR reuses an existing study directory instead of running the smoke study.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { openDataset } from '../../src/data/registry.js';
import { initBackend } from '../../src/engine/backend.js';
import { writeReport } from '../../src/report/html_report.js';
import { finalRows, parseReportResults } from '../../src/report/report_data.js';
import { saveStudyHeatmaps } from '../../src/report/study_heatmaps.js';

const root = new URL('../..', import.meta.url).pathname;
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = resolve(process.env.APC_ARTIFACTS ?? join(root, 'artifacts'));
const reuse = process.env.APC_REPORT_DIR ? resolve(process.env.APC_REPORT_DIR) : undefined;
const dir = reuse ?? mkdtempSync(join(tmpdir(), 'apc-report-browser-'));
const readResults = () => parseReportResults(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));

let browser: Browser | undefined;
test.after(async () => {
  await browser?.close();
  if (!reuse) rmSync(dir, { recursive: true, force: true });
});

/** Opens the report and fails on any console error, page error or failed request. */
async function open(b: Browser): Promise<{ page: Page; problems: string[] }> {
  const page = await b.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  await page.goto(pathToFileURL(join(dir, 'report.html')).href, { waitUntil: 'load' });
  await page.waitForFunction(() => [...document.images].every((i) => i.complete));
  return { page, problems };
}

/** Checks shared by both phases; returns the visible grid's method. */
async function checkPage(page: Page, problems: string[], models: string[], methods: number, images: number): Promise<string> {
  const rows = await page.$$eval('#summary tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-model')));
  assert.equal(rows.length, models.length, 'one summary row per model');
  assert.deepEqual([...rows].sort(), [...models].sort());
  const imgs = await page.$$eval('img', (els) => els.map((i) => ({ src: i.getAttribute('src'), w: i.naturalWidth, ok: i.complete })));
  assert.equal(imgs.length, methods * images * (1 + models.length), 'input + one picture per model, per image and method');
  for (const i of imgs) assert.ok(i.ok && i.w > 0, `picture did not load: ${i.src}`);
  const visible = await page.$$eval('[data-grid-method]', (gs) => gs.filter((g) => !(g as HTMLElement).hidden).map((g) => g.getAttribute('data-grid-method')));
  assert.equal(visible.length, 1, 'exactly one heat-map grid visible');
  assert.deepEqual(problems, []);
  return visible[0]!;
}

test('report.html of a smoke study in headless Chromium', { timeout: 300_000 }, async () => {
  assert.ok(existsSync(chromiumPath), `Chromium not found at ${chromiumPath}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  mkdirSync(artifacts, { recursive: true });

  if (!reuse) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'run', '--preset', 'smoke', '--quiet', '--out', dir],
      { encoding: 'utf8', cwd: root, env: { ...process.env, APC_BACKEND: 'wasm' } });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.includes(`report: ${join(dir, 'report.html')}`), `apc run prints the report path:\n${r.stdout}`);
  }
  const results = readResults();
  const models = finalRows(results.models).map((m) => m.name);
  const manifest = JSON.parse(readFileSync(join(dir, 'heatmaps', 'manifest.json'), 'utf8'));
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });

  // 1. the report exactly as `apc run` wrote it
  {
    const { page, problems } = await open(browser);
    const shown = await checkPage(page, problems, models, manifest.methods.length, manifest.images.length);
    assert.equal(shown, manifest.methods.includes('gradcam') ? 'gradcam' : manifest.methods[0]);
    assert.match(await page.textContent('#provenance') ?? '', /heatmaps/, 'the heat-map stage is timed');
    await page.screenshot({ path: join(artifacts, 'report-smoke.png'), fullPage: true });
    await page.close();
  }

  // 2. a second method's heat-maps (the smoke preset evaluates one), then switch to it
  await initBackend('wasm');
  const second = manifest.methods.includes('gradxinput') ? 'lrp' : 'gradxinput';
  const methods = [...manifest.methods, second];
  await saveStudyHeatmaps({ data: openDataset(String(results.dataset ?? 'shapes'), { imageSize: 64 }), split: 'test', seed: Number(results.seed ?? 0),
    models: finalRows(results.models).map((m) => ({ name: m.name, checkpoint: m.checkpoint })), methods, outDir: dir, quiet: true });
  await writeReport(dir);
  const { page, problems } = await open(browser);
  const before = await checkPage(page, problems, models, methods.length, manifest.images.length);
  const firstVisibleSrc = () => page.$eval('[data-grid-method]:not([hidden]) td:nth-child(2) img', (i) => i.getAttribute('src'));
  const srcBefore = await firstVisibleSrc();
  await page.selectOption('#method-select', second);
  const after = await page.$$eval('[data-grid-method]', (gs) => gs.filter((g) => !(g as HTMLElement).hidden).map((g) => g.getAttribute('data-grid-method')));
  assert.deepEqual(after, [second], 'the selected method\'s grid is the only one visible');
  assert.notEqual(after[0], before);
  const srcAfter = await firstVisibleSrc();
  assert.notEqual(srcAfter, srcBefore, 'the visible pictures changed');
  assert.ok(srcAfter?.startsWith(`heatmaps/${second}/`), String(srcAfter));
  assert.ok(await page.isVisible(`[data-grid-method="${second}"] img`), 'the new grid is rendered');
  assert.ok(!(await page.isVisible(`[data-grid-method="${before}"] img`)), 'the old grid is hidden');
  await page.screenshot({ path: join(artifacts, 'report.png'), fullPage: true });
  process.stderr.write(`screenshots: ${join(artifacts, 'report-smoke.png')}, ${join(artifacts, 'report.png')}\n`);
});
