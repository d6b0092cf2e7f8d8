/**
 * The study report on hand-made records: one table row per model, best-per-column marks on the
 * right cells, escaping, images that resolve, and graceful '–' for records that lack fields.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { HEATMAP_DIR, heatmapFile, type HeatmapManifest, MANIFEST_FILE, safeDirName } from './heatmap_manifest.js';
import { bestRows, formatBytes, formatInterval, formatSeconds, formatSi, renderReport, summaryColumns, writeReport } from './html_report.js';
import type { ReportResults } from './report_data.js';

const EVIL = '<b>"x&y</b>';
const SCRIPTY = '</script><script>alert(1)</script>';

function method(auc: number | null, pointing: number, cosine: number, spearman = cosine, topkIoU = cosine) {
  return { auc, pointing, nCounted: 10, nMissed: 2, agreement: { cosine, spearman, topkIoU, n: 9 } };
}

/** Five models: the teacher wins mAP, kd+wcam wins agreement (the teacher's 1.0 does not count). */
const RESULTS: ReportResults = {
  dataset: 'shapes', split: 'test', preset: 'unit', seed: 7, apc: '0.1.0', backend: 'cpu', date: '2024-05-01T12:00:00.000Z',
  models: [
    { name: 'teacher', compression: 'none', match: 'none', beta: 0, stochastic: 0, params: 1000, flops: 2e6, sparsity: 0, bytes: 4096, mAP: 80, f1: 70,
      attribution: { gradcam: method(0.91, 0.6, 1), lrp: method(0.8, 0.5, 1) } },
    { name: 'kd', compression: 'kd', match: 'none', beta: 0, stochastic: 0, params: 300, flops: 5e5, sparsity: 0, bytes: 1200, mAP: 60, f1: 50,
      attribution: { gradcam: method(0.92, 0.7, 0.8, 0.85, 0.5), lrp: method(0.7, 0.4, 0.6) } },
    { name: 'kd+wcam', compression: 'kd', match: 'wcam', beta: 1, stochastic: 0, params: 300, flops: 5e5, sparsity: 0, bytes: 1200, mAP: 62, f1: 49,
      attribution: { gradcam: method(0.95, 0.7, 0.9, 0.8, 0.55), lrp: method(0.75, 0.45, 0.7) } },
    { name: EVIL, compression: 'kd', match: 'ewa', beta: 1, stochastic: 0, params: 300, mAP: 61.04, f1: 40,
      attribution: { gradcam: method(null, 0.2, 0.85) } },
    { name: SCRIPTY, compression: 'kd', match: 'wcam', beta: 1, stochastic: 0.3, mAP: 10 },
  ],
  stages: [{ name: 'teacher', seconds: 125 }, { name: 'kd', seconds: 3.2 }, { name: 'evaluate', seconds: null }],
};

function writePng(path: string, w = 4, h = 4): void {
  const png = new PNG({ width: w, height: h });
  png.data.fill(200);
  writeFileSync(path, PNG.sync.write(png));
}

/** A study directory with results.json, a manifest for 2 images × 2 methods × the first 4 models, and the PNGs. */
function studyDir(opts: { dropOne?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'apc-report-'));
  writeFileSync(join(dir, 'results.json'), JSON.stringify(RESULTS));
  const root = join(dir, HEATMAP_DIR);
  const models = RESULTS.models.slice(0, 4).map((m, k) => ({ name: m.name, dir: safeDirName(m.name), logits: [1.5 - k, -0.5], flat: { gradcam: [false, k === 1] } }));
  const manifest: HeatmapManifest = {
    version: 1, dataset: 'shapes', split: 'test', seed: 7, height: 4, width: 4, colormap: 'turbo', alpha: 0.5,
    images: [0, 1].map((i) => ({ index: 10 + i, id: `shapes-test-${i}`, classIndex: i, className: i ? 'square' : 'circle', file: `input/${i}.png` })),
    methods: ['gradcam', 'lrp'], models,
  };
  mkdirSync(join(root, 'input'), { recursive: true });
  for (const im of manifest.images) writePng(join(root, im.file));
  for (const m of manifest.methods) {
    for (const mm of models) {
      mkdirSync(join(root, m, mm.dir), { recursive: true });
      for (let i = 0; i < 2; i++) writePng(join(root, heatmapFile(m, mm.dir, i)));
    }
  }
  writeFileSync(join(root, MANIFEST_FILE), JSON.stringify(manifest));
  if (opts.dropOne) unlinkSync(join(root, heatmapFile('lrp', 'kd', 1)));
  return dir;
}

const dirs: string[] = [];
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function summaryBody(html: string): string {
  const m = /<table class="summary"[^>]*>[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/.exec(html);
  assert.ok(m, 'summary table present');
  return m[1];
}

/** Cells of the summary row of `model` (escaped name) as key → {cls, text}. */
function cells(html: string, escapedName: string): Map<string, { cls: string; text: string }> {
  const row = new RegExp(`<tr data-model="${escapedName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"[^>]*>(.*?)</tr>`).exec(summaryBody(html));
  assert.ok(row, `row ${escapedName}`);
  const out = new Map<string, { cls: string; text: string }>();
  for (const c of row[1].matchAll(/<td data-col="([^"]+)"(?: class="([^"]*)")?[^>]*>(.*?)<\/td>/g)) out.set(c[1], { cls: c[2] ?? '', text: c[3] });
  return out;
}

function bestOf(html: string, key: string): string[] {
  const names: string[] = [];
  for (const r of summaryBody(html).matchAll(/<tr data-model="([^"]*)"[^>]*>(.*?)<\/tr>/g)) {
    const c = new RegExp(`<td data-col="${key.replace('.', '\\.')}" class="([^"]*)"`).exec(r[2]);
    if (c && c[1].split(' ').includes('best')) names.push(r[1]);
  }
  return names;
}

test('one summary row per model, in comparison order (teacher, then without/with matching per compression)', async () => {
  const dir = studyDir(); dirs.push(dir);
  const html = readFileSync(await writeReport(dir), 'utf8');
  const rows = [...summaryBody(html).matchAll(/<tr data-model="([^"]*)"/g)].map((m) => m[1]);
  assert.equal(rows.length, RESULTS.models.length);
  assert.deepEqual(rows.slice(0, 3), ['teacher', 'kd', 'kd+wcam']);
});

test('best value per column is marked on the right cells', () => {
  const html = renderReport({ results: RESULTS, imageSrc: () => undefined, generated: new Date(0) });
  const evil = '&lt;b&gt;&quot;x&amp;y&lt;/b&gt;';
  assert.deepEqual(bestOf(html, 'mAP'), ['teacher']);
  assert.deepEqual(bestOf(html, 'f1'), ['teacher']);
  assert.deepEqual(bestOf(html, 'params').sort(), [evil, 'kd', 'kd+wcam'].sort(), 'lowest wins; ties all marked');
  assert.deepEqual(bestOf(html, 'bytes').sort(), ['kd', 'kd+wcam']);
  assert.deepEqual(bestOf(html, 'sparsity'), [], 'all equal: nothing marked');
  assert.deepEqual(bestOf(html, 'gradcam.auc'), ['kd+wcam']);
  assert.deepEqual(bestOf(html, 'gradcam.pointing').sort(), ['kd', 'kd+wcam'], 'tie at the shown precision');
  assert.deepEqual(bestOf(html, 'gradcam.cosine'), ['kd+wcam'], 'the teacher (1.0) is not a candidate for agreement');
  assert.deepEqual(bestOf(html, 'gradcam.spearman').sort(), [evil, 'kd'].sort());
  assert.deepEqual(bestOf(html, 'gradcam.topkIoU'), [evil]);
  assert.deepEqual(bestOf(html, 'lrp.auc'), ['teacher'], 'the teacher is a candidate for localisation');
  assert.deepEqual(bestOf(html, 'lrp.cosine'), ['kd+wcam']);
  const kdw = cells(html, 'kd+wcam');
  assert.equal(kdw.get('gradcam.cosine')!.text, '0.900');
  assert.equal(kdw.get('gradcam.pointing')!.text, '70.0 %');
  assert.equal(kdw.get('beta')!.text, '1');
  assert.equal(cells(html, 'kd').get('beta')!.text, '–', 'no matching: no β');
});

test('bestRows compares values as displayed', () => {
  const col = summaryColumns([]).find((c) => c.key === 'mAP')!;
  assert.deepEqual([...bestRows([{ name: 'a', mAP: 61.04 }, { name: 'b', mAP: 61.0 }, { name: 'c', mAP: 3 }], col)].sort(), [0, 1]);
  assert.deepEqual([...bestRows([{ name: 'a', mAP: 5 }], col)], [], 'a single candidate is not marked');
});

test('missing and non-finite values print as –', () => {
  const html = renderReport({ results: RESULTS, imageSrc: () => undefined, generated: new Date(0) });
  const evil = cells(html, '&lt;b&gt;&quot;x&amp;y&lt;/b&gt;');
  assert.equal(evil.get('gradcam.auc')!.text, '–', 'null AUC');
  assert.equal(evil.get('flops')!.text, '–');
  assert.equal(evil.get('lrp.cosine')!.text, '–', 'method absent on this row');
  const s = cells(html, '&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
  for (const k of ['params', 'flops', 'sparsity', 'bytes', 'gradcam.auc', 'gradcam.cosine']) assert.equal(s.get(k)!.text, '–', k);
  assert.match(html, /<dt>run date<\/dt><dd>2024-05-01 12:00:00 UTC<\/dd>/);
  assert.match(html, /<td class="left">evaluate<\/td><td class="num">–<\/td>/);
});

test('names, ids and labels are escaped: no injected markup', () => {
  const html = renderReport({ results: RESULTS, imageSrc: () => undefined, generated: new Date(0) });
  assert.ok(!html.includes(EVIL) && !html.includes(SCRIPTY));
  assert.ok(html.includes('&lt;b&gt;&quot;x&amp;y&lt;/b&gt;'));
  assert.equal((html.match(/<script>/g) ?? []).length, 1, 'only the page\'s own script');
  assert.equal((html.match(/<b>/g) ?? []).length, (html.match(/<\/b>/g) ?? []).length);
});

test('every <img> src is an existing file under the study directory; a missing picture is a placeholder', async () => {
  const dir = studyDir({ dropOne: true }); dirs.push(dir);
  const html = readFileSync(await writeReport(dir), 'utf8');
  const srcs = [...html.matchAll(/<img [^>]*src="([^"]*)"/g)].map((m) => m[1]);
  // 2 methods × 2 images × (input + 4 models) − the deleted picture
  assert.equal(srcs.length, 2 * 2 * 5 - 1);
  for (const s of srcs) {
    assert.ok(!s.startsWith('/') && !s.includes('..'), `relative: ${s}`);
    assert.ok(existsSync(join(dir, ...s.split('/').map(decodeURIComponent))), `exists: ${s}`);
  }
  assert.ok(srcs.some((s) => s.includes('kd%2Bwcam')), 'path segments are URL-encoded');
  assert.match(html, /class="missing"[^>]*title="lrp · kd · image 1: picture missing"/);
  assert.equal((html.match(/data-grid-method="/g) ?? []).length, 2);
  assert.match(html, /data-grid-method="gradcam">/, 'Grad-CAM grid visible by default');
  assert.match(html, /data-grid-method="lrp" hidden>/);
  assert.match(html, /<option value="lrp">lrp<\/option>/);
  assert.equal((html.match(/>flat<\/span>/g) ?? []).length, 1, 'constant maps are labelled');
});

test('inline: every picture is a data URL', async () => {
  const dir = studyDir(); dirs.push(dir);
  const html = readFileSync(await writeReport(dir, { inline: true }), 'utf8');
  const srcs = [...html.matchAll(/<img [^>]*src="([^"]*)"/g)].map((m) => m[1]);
  assert.equal(srcs.length, 20);
  for (const s of srcs) assert.match(s, /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
});

test('an old results.json without heat-maps, series or sweeps still renders and says what is absent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'apc-report-old-')); dirs.push(dir);
  writeFileSync(join(dir, 'results.json'), JSON.stringify({ models: [{ name: 'teacher', compression: 'none', mAP: 50 }, { name: 'kd', compression: 'kd', match: 'none', mAP: null }] }));
  const html = readFileSync(await writeReport(dir), 'utf8');
  assert.equal([...summaryBody(html).matchAll(/<tr data-model=/g)].length, 2);
  assert.match(html, /No heat-maps: heatmaps\/manifest\.json not found/);
  assert.match(html, /id="no-pruning-plot"/);
  assert.match(html, /id="no-beta-plot"/);
  assert.match(html, /No stage timings/);
  assert.doesNotMatch(html, /<img /);
});

test('a β sweep and per-round pruning rows produce plots; intermediate rounds are plotted, not listed', () => {
  const rows = [
    ...RESULTS.models.slice(0, 3),
    { name: 'kd+wcam-b10', compression: 'kd', match: 'wcam', beta: 10, stochastic: 0, params: 300, flops: 5e5, sparsity: 0, bytes: 1200, mAP: 58, attribution: { gradcam: method(0.9, 0.6, 0.93) } },
    ...[1, 2, 3].map((round) => ({ name: `unstructured r${round}`, compression: 'unstructured', match: 'none', round, sparsity: 1 - 0.8 ** round, mAP: 70 - round, attribution: { gradcam: method(0.9, 0.6, 1 - round / 10) } })),
  ];
  const html = renderReport({ results: { ...RESULTS, models: rows }, imageSrc: () => undefined, generated: new Date(0) });
  const listed = [...summaryBody(html).matchAll(/<tr data-model="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(listed.filter((n) => n.startsWith('unstructured')), ['unstructured r3']);
  assert.match(html, /2 intermediate pruning rounds are plotted below/);
  assert.doesNotMatch(html, /id="no-pruning-plot"/);
  assert.match(html, /<svg [^>]*aria-label="mAP vs sparsity"/);
  assert.match(html, /data-sweep="kd\+wcam"/);
  assert.match(html, /aria-label="kd\+wcam: gradcam agreement vs β"/);
  assert.doesNotMatch(html, /class="error-bar"|Bars: 95 %/, 'no intervals recorded: no bars');
  // with intervals on the sweep's rows, the β plots draw them as error bars and say what they are
  const withCi = rows.map((r) => (r.name.startsWith('kd+wcam') ? { ...r, ci95: { mAP: [r.mAP! - 2, r.mAP! + 3], 'gradcam.cosine': [0.8, 0.95] } } : r));
  const html2 = renderReport({ results: { ...RESULTS, models: withCi }, imageSrc: () => undefined, generated: new Date(0) });
  const sweep = /<div class="plots" data-sweep="kd\+wcam">([\s\S]*?)<\/div><p class="note">([^<]*)<\/p>/.exec(html2)!;
  assert.equal((sweep[1].match(/class="error-bar"/g) ?? []).length, 4, 'mAP and cosine at both β');
  assert.match(sweep[2], /Bars: 95 % bootstrap intervals over test images/);
});

test('number formats', () => {
  assert.equal(formatSi(2.5e6), '2.5 M');
  assert.equal(formatSi(123456), '123 k');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(3 * 1024 * 1024), '3.00 MiB');
  assert.equal(formatSeconds(3.21), '3.2 s');
  assert.equal(formatSeconds(125), '2 min 05 s');
  assert.equal(formatSeconds(7300), '2 h 01 min');
});

test('apc report --results DIR writes the page and prints its path; a missing results.json is a one-line error', () => {
  const dir = studyDir(); dirs.push(dir);
  const main = new URL('../cli/main.ts', import.meta.url).pathname;
  const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { encoding: 'utf8' });
  const ok = run(['report', '--results', dir, '--inline']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, `report: ${join(dir, 'report.html')}\n`);
  assert.match(readFileSync(join(dir, 'report.html'), 'utf8'), /src="data:image\/png;base64,/);
  const empty = mkdtempSync(join(tmpdir(), 'apc-report-empty-')); dirs.push(empty);
  const bad = run(['report', '--results', empty]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /apc: error: .*results\.json not found: run 'apc run --out/);
});

test('provenance shows the full backend line when results.json records it, else the backend name', () => {
  const detail = 'wasm (SIMD on, 2 threads; auto: 1.9 of 2 cores idle), 7 apc kernels';
  const withDetail = renderReport({ results: { ...RESULTS, backend: 'wasm', backendDetail: detail }, imageSrc: () => undefined, generated: new Date(0) });
  assert.ok(withDetail.includes(detail), 'backendDetail shown');
  const old = renderReport({ results: { ...RESULTS, backend: 'cpu' }, imageSrc: () => undefined, generated: new Date(0) });
  assert.match(old, /backend<\/[a-z]+>\s*<[a-z]+[^>]*>cpu</);
});

test('provenance names the architecture and lists what the study skipped, escaped', () => {
  const skipped = [{ what: 'lrp', reason: "need a plain VGG-style chain; node 'layer1.0.add' (add) <b>" }, { what: 'structured', reason: 'not yet' }];
  const html = renderReport({ results: { ...RESULTS, arch: 'resnet18', skipped }, imageSrc: () => undefined, generated: new Date(0) });
  assert.match(html, /<dt>architecture<\/dt><dd>resnet18<\/dd>/);
  assert.match(html, /<li><b>lrp<\/b>: need a plain VGG-style chain; node &#39;layer1\.0\.add&#39; \(add\) &lt;b&gt;<\/li>/);
  assert.match(html, /<li><b>structured<\/b>: not yet<\/li>/);
  assert.doesNotMatch(renderReport({ results: RESULTS, imageSrc: () => undefined, generated: new Date(0) }), /<h3>Skipped<\/h3>/);
});

/** Faithfulness of one model: curves fall/rise linearly between the given end values. */
function faith(deletionAuc: number, insertionAuc: number, steps = 4) {
  const curve = (a: number, b: number) => Array.from({ length: steps + 1 }, (_, k) => a + ((b - a) * k) / steps);
  return { deletionAuc, insertionAuc, steps, baseline: 'blur', nPairs: 8, deletionCurve: curve(0.9, 0.1), insertionCurve: curve(0.1, 0.9) };
}

/** RESULTS with faithfulness on three rows (kd+wcam best at deletion, kd at insertion) and a sanity check where lrp fails. */
const WITH_FAITH: ReportResults = {
  ...RESULTS,
  models: RESULTS.models.map((m, i) => (i > 2 || !m.attribution ? m : {
    ...m, attribution: { ...m.attribution, gradcam: { ...m.attribution.gradcam, faithfulness: faith([0.2, 0.25, 0.1][i], [0.7, 0.8, 0.75][i]) } },
  })),
  sanity: {
    gradcam: { layers: [{ layer: 'fc', spearman: 0.6 }, { layer: 'conv1_1', spearman: 0.1 }], passed: true, threshold: 0.5, nImages: 4 },
    lrp: { layers: [{ layer: 'fc', spearman: 0.95 }, { layer: 'conv1_1', spearman: 0.9 }], passed: false, threshold: 0.5, nImages: 4 },
  },
};

function faithfulnessBody(html: string): string {
  const m = /<table class="summary" id="faithfulness-table">[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/.exec(html);
  assert.ok(m, 'faithfulness table present');
  return m[1];
}

test('faithfulness: deletion/insertion AUC per method × model, best marked (deletion lowest, insertion highest), curves plotted per model', () => {
  const html = renderReport({ results: WITH_FAITH, imageSrc: () => undefined, generated: new Date(0) });
  const body = faithfulnessBody(html);
  const best = (key: string) => [...body.matchAll(/<tr data-model="([^"]*)"[^>]*>(.*?)<\/tr>/g)]
    .filter((r) => new RegExp(`<td data-col="${key.replace('.', '\\.')}" class="[^"]*\\bbest\\b`).test(r[2])).map((r) => r[1]);
  assert.deepEqual(best('gradcam.deletionAuc'), ['kd+wcam']);
  assert.deepEqual(best('gradcam.insertionAuc'), ['kd']);
  assert.match(body, /<td data-col="gradcam\.deletionAuc" class="[^"]*" title="8 pairs, 4 steps, blur baseline">0\.200<\/td>/);
  assert.doesNotMatch(body, /lrp\.deletionAuc/, 'a method without faithfulness gets no columns');
  // one deletion and one insertion plot for gradcam, a series per model with curves (teacher, kd, kd+wcam)
  const plots = /<div class="plots" data-faithfulness-method="gradcam">([\s\S]*?)<\/div>/.exec(html);
  assert.ok(plots);
  assert.equal([...plots[1].matchAll(/<svg /g)].length, 2);
  assert.deepEqual([...plots[1].matchAll(/<g class="series" data-label="([^"]*)"/g)].map((m) => m[1]),
    ['teacher', 'kd', 'kd+wcam', 'teacher', 'kd', 'kd+wcam']);
  assert.match(html, /4 steps, blur baseline, up to 8 pairs/);
});

test('sanity check: Spearman-vs-layer plot with the threshold; a failing method is marked in the legend and the table', () => {
  const html = renderReport({ results: WITH_FAITH, imageSrc: () => undefined, generated: new Date(0) });
  const section = /<h3>Sanity check[\s\S]*?<\/section>/.exec(html)?.[0] ?? '';
  assert.match(section, /data-label="gradcam ✓"/);
  assert.match(section, /data-label="lrp ✗ fails"/);
  assert.match(section, /data-label="pass threshold 0\.5"/);
  assert.match(section, /<tr data-method="lrp" class="fail">.*FAILS/);
  assert.match(section, /<tr data-method="gradcam"><th[^>]*>gradcam<\/th><td class="num">0\.100<\/td><td class="left">passes<\/td>/);
  assert.match(section, />conv1_1</, 'layer names label the x axis');
});

test('results without faithfulness or sanity render and say so', () => {
  const html = renderReport({ results: RESULTS, imageSrc: () => undefined, generated: new Date(0) });
  assert.match(html, /id="no-faithfulness"/);
  assert.match(html, /id="no-sanity"/);
  assert.doesNotMatch(html, /id="faithfulness-table"/);
});

test('bootstrap intervals: [lo, hi] in small grey text under each value that has one, and the note says which interval', () => {
  const [teacher, kd, kdWcam, ...rest] = RESULTS.models;
  const results: ReportResults = {
    ...RESULTS,
    ciMethod: { kind: 'percentile bootstrap over test images', level: 0.95, resamples: 1000, seed: 7 },
    models: [
      { ...teacher, ci95: { mAP: [77.5, 82.25], 'gradcam.pointing': [0.55, 0.65] } },
      // malformed or reversed entries are ignored, not shown
      { ...kd, ci95: { mAP: [58, 'x'], f1: [52, 48], 'gradcam.auc': null, 'gradcam.cosine': [0.75, 0.85] } },
      { ...kdWcam, ci95: 'broken' as unknown as Record<string, unknown> },
      ...rest,
    ],
  };
  const html = renderReport({ results, imageSrc: () => undefined, generated: new Date(0) });
  const t = cells(html, 'teacher');
  assert.equal(t.get('mAP')!.text, '80.0<span class="ci">[77.5, 82.3]</span>');
  assert.equal(t.get('gradcam.pointing')!.text, '60.0 %<span class="ci">[55.0, 65.0 %]</span>');
  assert.equal(t.get('f1')!.text, '70.0', 'no interval recorded: the value alone');
  const k = cells(html, 'kd');
  assert.equal(k.get('gradcam.cosine')!.text, '0.800<span class="ci">[0.750, 0.850]</span>');
  for (const key of ['mAP', 'f1', 'gradcam.auc']) assert.ok(!k.get(key)!.text.includes('class="ci"'), key);
  assert.ok(!summaryBody(html).match(/data-model="kd\+wcam"[^\n]*class="ci"/), 'a non-object ci95 shows nothing');
  assert.deepEqual(bestOf(html, 'mAP'), ['teacher'], 'highlighting still compares the values');
  const note = /<section id="summary-section">[\s\S]*?<p class="note">([\s\S]*?)<\/p>/.exec(html)![1];
  assert.match(note, /95 % percentile bootstrap interval over the test images \(1000 resamples, seed 7;/);
  assert.match(note, /test-set sampling only, not training-seed variation/);
  // results without intervals: no interval markup and no note
  const old = renderReport({ results: RESULTS, imageSrc: () => undefined, generated: new Date(0) });
  assert.ok(!summaryBody(old).includes('class="ci"'));
  assert.ok(!old.includes('bootstrap'));
});

test('formatInterval writes a shared unit once', () => {
  assert.equal(formatInterval((v) => `${(100 * v).toFixed(1)} %`, [0.5, 0.625]), '[50.0, 62.5 %]');
  assert.equal(formatInterval((v) => v.toFixed(3), [-0.25, 0.5]), '[-0.250, 0.500]');
});
