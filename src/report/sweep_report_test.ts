import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarize } from '../sweep/statistics.js';
import type { SweepResults } from '../sweep/sweep_results.js';
import { errorBarPlot } from './error_bar_plot.js';
import { formatSweepMarkdown, formatSweepTable, meanCi, renderSweepReport, rowName } from './sweep_report.js';

const kd = { dataset: 'shapes', arch: 'vgg16', compression: 'kd', match: 'none', beta: 0, stochastic: 0 } as const;

test('rows are named by what differs; mean ± the interval\'s half width, or the mean alone for one seed', () => {
  assert.equal(rowName({ ...kd, compression: 'none' }), 'teacher');
  assert.equal(rowName({ ...kd, match: 'wcam', beta: 10 }), 'kd+wcam β 10');
  assert.equal(rowName({ ...kd, compression: 'structured', rate: 0.5, rounds: 1, match: 'wcam', beta: 1, stochastic: 0.3 }, true), 'shapes vgg16 · structured p 0.5+wcam β 1 (stochastic 0.3)');
  // 1, 2, 3: mean 2, sd 1, half width t(0.975, 2)/√3 = 4.303/1.732 = 2.484
  assert.equal(meanCi(summarize([1, 2, 3]), 2), '2.00 ± 2.48');
  assert.equal(meanCi(summarize([5]), 1), '5.0');
  // NaN comes back from JSON as null
  assert.equal(meanCi(JSON.parse(JSON.stringify(summarize([5]))), 1), '5.0');
});

test('error-bar plot: one point per setting, a bar per finite interval on each axis', () => {
  const svg = errorBarPlot({ title: 't', xLabel: 'x', yLabel: 'y', points: [
    { label: 'β 0', x: 0.5, y: 50, xCi: [0.4, 0.6], yCi: [45, 55] },
    { label: 'β 1', x: 0.7, y: 48, xCi: [NaN, NaN], yCi: [40, 56] },
    { label: 'β 10', x: NaN, y: 30 },
  ] });
  assert.equal(svg.match(/class="point"/g)?.length, 2);
  assert.equal(svg.match(/class="error-bar"/g)?.length, 3);
  assert.match(errorBarPlot({ title: 't', xLabel: 'x', yLabel: 'y', points: [] }), /no data/);
});

test('error-bar plot on categories: the ticks carry the category labels, the points none, and the end points keep off the frame', () => {
  const svg = errorBarPlot({ title: 't', xLabel: 'β', yLabel: 'y', pointLabels: false,
    xTicks: [{ value: 0, label: '0' }, { value: 1, label: '0.3' }, { value: 2, label: '100' }],
    points: [{ label: 'β 0', x: 0, y: 1 }, { label: 'β 0.3', x: 1, y: 2 }, { label: 'β 100', x: 2, y: 3 }] });
  assert.match(svg, />0\.3<\/text>/);
  assert.match(svg, />100<\/text>/);
  assert.doesNotMatch(svg, />β 100<\/text>/);
  const cx = [...svg.matchAll(/<circle cx="([\d.]+)"/g)].map((m) => Number(m[1]));
  const frame = svg.match(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/)!;
  const [left, right] = [Number(frame[1]), Number(frame[1]) + Number(frame[2])];
  assert.equal(cx.length, 3);
  assert.ok(cx[0] > left + 10 && cx[2] < right - 10, `points ${cx} inside ${left}–${right}`);
  assert.ok(Math.abs((cx[1] - cx[0]) - (cx[2] - cx[1])) < 0.2, 'categories at equal steps');
});

test('sweep report: the paired table says significant only for p < 0.05, and the β plot has one point per β', () => {
  const s = (xs: number[]) => summarize(xs);
  const results: SweepResults = {
    apc: 'test', grid: {} as SweepResults['grid'], root: '/r', executor: 'local', counts: { total: 9, done: 9, failed: 0, blocked: 0 }, jobs: [],
    configs: [
      { key: 'a', config: kd, n: 3, seeds: [0, 1, 2], metrics: { mAP: s([50, 51, 52]), 'gradcam.cosine': s([0.5, 0.6, 0.7]) } },
      { key: 'b', config: { ...kd, match: 'wcam', beta: 1 }, n: 3, seeds: [0, 1, 2], metrics: { mAP: s([49, 50, 51]), 'gradcam.auc': s([0.7, 0.7, 0.7]), 'gradcam.cosine': s([0.7, 0.8, 0.9]) } },
    ],
    paired: [
      { with: 'b', without: 'a', metric: 'mAP', n: 3, meanDiff: -1, ci95: [-1, -1], p: 0.2 },
      { with: 'b', without: 'a', metric: 'gradcam.cosine', n: 3, meanDiff: 0.2, ci95: [0.1, 0.3], p: 0.01 },
    ],
    betaCurves: [{ config: { dataset: 'shapes', arch: 'vgg16', compression: 'kd', match: 'wcam', stochastic: 0 }, agreementMetric: 'gradcam.cosine',
      points: [{ beta: 0, key: 'a', n: 3, mAP: s([50, 51, 52]), agreement: s([0.5, 0.6, 0.7]) }, { beta: 1, key: 'b', n: 3, mAP: s([49, 50, 51]), agreement: s([0.7, 0.8, 0.9]) }] }],
  };
  const html = renderSweepReport(results);
  assert.match(html, /<td>kd\+wcam β 1 − no matching<\/td><td>mAP<\/td><td>3<\/td><td>-1\.0000<\/td><td>\[-1\.0000, -1\.0000\]<\/td><td>0\.200<\/td><td>no<\/td>/);
  assert.match(html, /<td>gradcam\.cosine<\/td><td>3<\/td><td>0\.2000<\/td><td>\[0\.1000, 0\.3000\]<\/td><td>0\.0100<\/td><td>yes<\/td>/);
  // four panels per β curve: trade-off, mAP, agreement (a point per β each), paired gain (β 0 at 0, no bar)
  const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
  assert.equal(svgs.length, 4);
  assert.deepEqual(svgs.map((x) => x.match(/class="point"/g)?.length), [2, 2, 2, 2]);
  assert.deepEqual(svgs.map((x) => x.match(/class="error-bar"/g)?.length ?? 0), [4, 2, 2, 1]);
  assert.match(svgs[3], /class="reference"/);
  assert.match(svgs[3], /<title>β 1: 1, 0\.2<\/title>/, 'the gain panel plots the paired mean difference');
  assert.match(html, /<td>kd<\/td><td>3<\/td><td>51\.0 ± 2\.5<\/td>/);
  // the terminal table: t(0.975, 2) · 1/√3 = 2.48 for mAP, 0.248 for the cosine
  assert.match(formatSweepTable(results), /kd\+wcam β 1\s+3\s+50\.0 ± 2\.5\s+–\s+0\.700 ± 0\.000\s+0\.800 ± 0\.248/);
});

test('sweep Markdown: one table line per row, the paired differences with p and a yes only below 0.05, one line per β', () => {
  const s = (xs: number[]) => summarize(xs);
  const results: SweepResults = {
    apc: 'test', grid: {} as SweepResults['grid'], root: '/r', executor: 'local', counts: { total: 9, done: 9, failed: 0, blocked: 0 }, jobs: [],
    configs: [
      { key: 'a', config: kd, n: 3, seeds: [0, 1, 2], metrics: { mAP: s([50, 51, 52]), 'gradcam.auc': s([0.8, 0.8, 0.8]), 'gradcam.cosine': s([0.5, 0.6, 0.7]) } },
      { key: 'b', config: { ...kd, match: 'wcam', beta: 1 }, n: 3, seeds: [0, 1, 2], metrics: { mAP: s([49, 50, 51]), 'gradcam.auc': s([0.7, 0.7, 0.7]), 'gradcam.cosine': s([0.7, 0.8, 0.9]) } },
    ],
    paired: [
      { with: 'b', without: 'a', metric: 'mAP', n: 3, meanDiff: -1, ci95: [-1, -1], p: 0.2 },
      { with: 'b', without: 'a', metric: 'gradcam.cosine', n: 3, meanDiff: 0.2, ci95: [0.1, 0.3], p: 0.01 },
      { with: 'b', without: 'a', metric: 'gradcam.spearman', n: 3, meanDiff: 0.2, ci95: [0.1, 0.3], p: 0.01 },
    ],
    betaCurves: [{ config: { dataset: 'shapes', arch: 'vgg16', compression: 'kd', match: 'wcam', stochastic: 0 }, agreementMetric: 'gradcam.cosine',
      points: [{ beta: 0, key: 'a', n: 3, mAP: s([50, 51, 52]), agreement: s([0.5, 0.6, 0.7]) }, { beta: 1, key: 'b', n: 3, mAP: s([49, 50, 51]), agreement: s([0.7, 0.8, 0.9]) }] }],
  };
  const md = formatSweepMarkdown(results);
  assert.match(md, /^\| kd \| 3 \| 51\.0 ± 2\.5 \| – \| 0\.800 ± 0\.000 \| – \| 0\.600 ± 0\.248 \|$/m);
  assert.match(md, /^\| kd\+wcam β 1 − no matching \| mAP \| 3 \| -1\.0000 \| \[-1\.0000, -1\.0000\] \| 0\.200 \| no \|$/m);
  assert.match(md, /^\| kd\+wcam β 1 − no matching \| gradcam\.cosine \| 3 \| 0\.2000 \| \[0\.1000, 0\.3000\] \| 0\.0100 \| yes \|$/m);
  assert.doesNotMatch(md, /spearman/, 'the paired table keeps mAP, F1, AUC and cosine');
  assert.match(md, /^\| 0 \| 3 \| 51\.0 ± 2\.5 \| 0\.600 ± 0\.248 \|$/m);
  assert.match(md, /^\| 1 \| 3 \| 50\.0 ± 2\.5 \| 0\.800 ± 0\.248 \|$/m);
});
