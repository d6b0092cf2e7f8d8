import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeXml, formatTick, linePlot, logTicks, niceTicks } from './svg_plot.js';

test('niceTicks: steps of 1, 2 or 5 × 10^k covering the range', () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(28.6, 61.2, 5), [20, 30, 40, 50, 60, 70]);
  assert.deepEqual(niceTicks(28.6, 61.2, 8), [25, 30, 35, 40, 45, 50, 55, 60, 65]);
  assert.deepEqual(niceTicks(0.56, 1, 5), [0.5, 0.6, 0.7, 0.8, 0.9, 1]);
  assert.deepEqual(niceTicks(3, 3, 5), [2.6, 2.8, 3, 3.2, 3.4], 'a single value gets a padded range');
  assert.deepEqual(niceTicks(NaN, 1), []);
  const t = niceTicks(-0.013, 0.41, 4);
  assert.ok(t[0] <= -0.013 && t[t.length - 1] >= 0.41);
});

test('logTicks: powers of ten, at least one decade', () => {
  assert.deepEqual(logTicks(1, 100), [1, 10, 100]);
  assert.deepEqual(logTicks(0.3, 20), [0.1, 1, 10, 100]);
  assert.deepEqual(logTicks(5, 5), [1, 10]);
  assert.deepEqual(logTicks(0, 10), []);
});

test('formatTick: short labels', () => {
  assert.equal(formatTick(0), '0');
  assert.equal(formatTick(0.30000000000000004), '0.3');
  assert.equal(formatTick(1e5), '1e5');
  assert.equal(formatTick(12.5), '12.5');
});

test('escapeXml escapes markup and both quote kinds', () => {
  assert.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

test('linePlot: one path per series with finite points, escaped labels, dashed baselines without markers', () => {
  const svg = linePlot({
    title: 'mAP <vs> β', xLabel: 'β', yLabel: 'mAP', xScale: 'log',
    series: [
      { label: 'kd+wcam & co', points: [{ x: 10, y: 2 }, { x: 1, y: 1 }, { x: 100, y: NaN }, { x: 0, y: 5 }] },
      { label: 'baseline', dashed: true, points: [{ x: 1, y: 1.5 }, { x: 100, y: 1.5 }] },
      { label: 'empty', points: [{ x: 1, y: NaN }] },
    ],
  });
  assert.match(svg, /^<svg [^>]*viewBox="0 0 \d+ \d+"/);
  assert.ok(svg.endsWith('</svg>'));
  assert.ok(svg.includes('mAP &lt;vs&gt; β') && !svg.includes('<vs>'));
  assert.ok(svg.includes('data-label="kd+wcam &amp; co"'));
  assert.equal((svg.match(/<path /g) ?? []).length, 2, 'the empty series draws nothing');
  assert.equal((svg.match(/<circle class="marker"/g) ?? []).length, 2, 'NaN and x ≤ 0 (log axis) are dropped; the dashed series has no markers');
  assert.match(svg, /stroke-dasharray/);
  assert.match(svg, /empty \(no data\)/);
  const d = /<path d="([^"]+)"/.exec(svg)![1];
  const xs = [...d.matchAll(/[ML]([\d.]+) /g)].map((m) => Number(m[1]));
  assert.ok(xs[0] < xs[1], 'points are sorted by x');
});

test('linePlot without any finite point says "no data"', () => {
  const svg = linePlot({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ label: 'a', points: [] }] });
  assert.match(svg, />no data</);
  assert.doesNotMatch(svg, /<path /);
});

test('linePlot: a series exactly covered by a later one is drawn wider, so both stay visible', () => {
  const points = [{ x: 0, y: 1 }, { x: 1, y: 2 }];
  const svg = linePlot({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ label: 'a', points }, { label: 'b', points, marker: 'square' }, { label: 'c', points: [{ x: 0, y: 0 }] }] });
  assert.deepEqual([...svg.matchAll(/<path [^>]*stroke-width="(\d+)"/g)].map((m) => m[1]), ['5', '2', '2']);
  assert.equal((svg.match(/<rect class="marker"/g) ?? []).length, 2);
});

test('linePlot: a point with a finite yCi gets a vertical error bar, inside the y range', () => {
  const svg = linePlot({ title: 't', xLabel: 'x', yLabel: 'y', series: [
    { label: 'a', points: [{ x: 0, y: 1, yCi: [0.5, 3] }, { x: 1, y: 2 }, { x: 2, y: 2, yCi: [NaN, 2.5] }] },
    { label: 'ref', dashed: true, points: [{ x: 0, y: 1, yCi: [0, 9] }, { x: 2, y: 1 }] },
  ] });
  const bars = [...svg.matchAll(/<line class="error-bar" x1="([\d.]+)" x2="[\d.]+" y1="([\d.]+)" y2="([\d.]+)"/g)];
  assert.equal(bars.length, 1, 'only the finite interval of the marked series');
  const [, , yLo, yHi] = bars[0].map(Number);
  const marker = /<circle class="marker" cx="[\d.]+" cy="([\d.]+)"/.exec(svg)!;
  assert.ok(yHi < Number(marker[1]) && Number(marker[1]) < yLo, 'the bar runs through its marker (SVG y grows downwards)');
  // 3 (the bar's top) sets the axis: a tick at or above it
  const ticks = [...svg.matchAll(/<text x="[\d.]+" y="[\d.]+" text-anchor="end">([^<]+)</g)].map((m) => Number(m[1]));
  assert.ok(Math.max(...ticks) >= 3, `${ticks}`);
});
