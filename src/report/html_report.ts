/**
 * `OUT/report.html`: one page that shows a study — the summary table of every model, heat-map grids
 * per attribution method, plots (pruning curves, β sweeps) and provenance.
 *
 * The page is self-contained (inline CSS, a few lines of inline JS, inline SVG plots). The
 * heat-map pictures are referenced as relative files under OUT/heatmaps by default: they exist
 * anyway (the study writes them), so the HTML stays small and loads fast, and moving the whole run
 * directory keeps the page working. `inline: true` (`apc report --inline`) embeds them as data
 * URLs instead, for a single file to mail or attach.
 *
 * Everything is read from JSON records (results.json, heatmaps/manifest.json); missing or
 * non-finite values print as '–', so results of older and newer studies render alike.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../engine/files.js';
import { colormapRgb, DEFAULT_COLORMAP, isColormap } from './colormap.js';
import {
  betaSweeps, finalRows, hasMatching, headlineMethod, isTeacher, metricInterval, num, orderForComparison, parseReportResults,
  pruningSeries, type ReportResults, type ReportRow, type ReportSanity, resultMethods, sparsityFraction,
} from './report_data.js';
import { HEATMAP_DIR, heatmapFile, type HeatmapManifest, MANIFEST_FILE } from './heatmap_manifest.js';
import { escapeXml as esc, linePlot, PALETTE, type PlotSeries } from './svg_plot.js';

export const REPORT_FILE = 'report.html';
export const RESULTS_FILE = 'results.json';

const DASH = '–';

// ---------------------------------------------------------------------------------------------
// number formats
// ---------------------------------------------------------------------------------------------

const fixed = (d: number) => (v: number) => v.toFixed(d);
const percent = (d: number) => (v: number) => `${(100 * v).toFixed(d)} %`;
export function formatCount(v: number): string {
  return Math.round(v).toLocaleString('en-US');
}
/** 3 significant digits with an SI prefix: 1.23 G, 45.6 M, 789 k. */
export function formatSi(v: number): string {
  const a = Math.abs(v);
  for (const [p, s] of [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']] as const) if (a >= p) return `${Number((v / p).toPrecision(3))} ${s}`;
  return String(Number(v.toPrecision(3)));
}
export function formatBytes(v: number): string {
  if (v >= 1024 * 1024) return `${(v / 1024 / 1024).toFixed(2)} MiB`;
  if (v >= 1024) return `${(v / 1024).toFixed(1)} KiB`;
  return `${Math.round(v)} B`;
}
export function formatSeconds(s: number): string {
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60), r = Math.round(s - 60 * m);
  if (m < 60) return `${m} min ${String(r).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

// ---------------------------------------------------------------------------------------------
// summary table
// ---------------------------------------------------------------------------------------------

export interface SummaryColumn {
  /** Stable key, also the cell's `data-col` ('mAP', 'gradcam.cosine' …). */
  readonly key: string;
  readonly label: string;
  /** Header group ('size', 'prediction', or a method name). */
  readonly group: string;
  readonly value: (r: ReportRow) => number | undefined;
  readonly format: (v: number) => string;
  /** Which end is best; the best cells (ties at display precision included) are marked. */
  readonly better: 'high' | 'low';
  /** The teacher's value is not a candidate (agreement with itself is trivially 1). */
  readonly excludeTeacher?: boolean;
  readonly tooltip?: (r: ReportRow) => string | undefined;
  /** Header tooltip: what the column shows. */
  readonly title?: string;
}

export function summaryColumns(methods: readonly string[]): SummaryColumn[] {
  const cols: SummaryColumn[] = [
    { key: 'params', label: 'params', group: 'size', value: (r) => num(r.nonZeroParams) ?? num(r.params), format: formatCount, better: 'low',
      title: 'non-zero parameters when recorded (pruned weights excluded), else all', tooltip: (r) => (num(r.params) === undefined ? undefined : `dense: ${formatCount(num(r.params)!)}`) },
    { key: 'flops', label: 'FLOPs', group: 'size', value: (r) => num(r.flopsEffective) ?? num(r.flops), format: formatSi, better: 'low',
      title: 'effective FLOPs (only non-zero conv weights count) when recorded, else dense', tooltip: (r) => (num(r.flops) === undefined ? undefined : `dense: ${formatSi(num(r.flops)!)}`) },
    { key: 'sparsity', label: 'sparsity', group: 'size', value: (r) => sparsityFraction(num(r.sparsity)), format: percent(1), better: 'high', title: 'fraction of zero conv-kernel weights' },
    { key: 'bytes', label: 'file size', group: 'size', value: (r) => num(r.bytes), format: formatBytes, better: 'low',
      title: 'checkpoint on disk (model.json + weights.bin)', tooltip: (r) => (num(r.bytesGzip) === undefined ? undefined : `weights.bin gzipped: ${formatBytes(num(r.bytesGzip)!)}`) },
    { key: 'mAP', label: 'mAP', group: 'prediction', value: (r) => num(r.mAP), format: fixed(1), better: 'high' },
    { key: 'f1', label: 'F1', group: 'prediction', value: (r) => num(r.f1), format: fixed(1), better: 'high' },
  ];
  for (const m of methods) {
    const a = (r: ReportRow) => r.attribution?.[m] ?? undefined;
    const pairs = (r: ReportRow) => {
      const n = num(a(r)?.nCounted), missed = num(a(r)?.nMissed);
      return n === undefined ? undefined : `${n} counted pairs${missed === undefined ? '' : `, ${missed} missed (z_c ≤ 0)`}`;
    };
    const agreePairs = (r: ReportRow) => (num(a(r)?.agreement?.n) === undefined ? undefined : `${num(a(r)?.agreement?.n)} pairs`);
    cols.push(
      { key: `${m}.auc`, label: 'AUC', group: m, value: (r) => num(a(r)?.auc), format: fixed(3), better: 'high', tooltip: pairs },
      { key: `${m}.pointing`, label: 'pointing', group: m, value: (r) => num(a(r)?.pointing), format: percent(1), better: 'high', tooltip: pairs },
      { key: `${m}.cosine`, label: 'cosine', group: m, value: (r) => num(a(r)?.agreement?.cosine), format: fixed(3), better: 'high', excludeTeacher: true, tooltip: agreePairs },
      { key: `${m}.spearman`, label: 'Spearman', group: m, value: (r) => num(a(r)?.agreement?.spearman), format: fixed(3), better: 'high', excludeTeacher: true, tooltip: agreePairs },
      { key: `${m}.topkIoU`, label: 'top-15 % IoU', group: m, value: (r) => num(a(r)?.agreement?.topkIoU), format: fixed(3), better: 'high', excludeTeacher: true, tooltip: agreePairs },
    );
  }
  return cols;
}

/**
 * Row indices holding the best value of a column: compared as displayed (so ties at display
 * precision are all marked), and only when the candidates show at least two different values.
 */
export function bestRows(rows: readonly ReportRow[], col: SummaryColumn): Set<number> {
  const cands = rows.map((r, i) => ({ i, v: col.excludeTeacher && isTeacher(r) ? undefined : col.value(r) }))
    .filter((c): c is { i: number; v: number } => c.v !== undefined);
  const shown = new Set(cands.map((c) => col.format(c.v)));
  if (shown.size < 2) return new Set();
  const best = cands.reduce((b, c) => ((col.better === 'high' ? c.v > b.v : c.v < b.v) ? c : b));
  const label = col.format(best.v);
  return new Set(cands.filter((c) => col.format(c.v) === label).map((c) => c.i));
}

/** `[lo, hi]` in a column's format; a unit both ends share ('%') is written once, after hi. */
export function formatInterval(format: (v: number) => string, [lo, hi]: readonly [number, number]): string {
  const a = format(lo), b = format(hi);
  const unit = /\s*[^\d\s.,−-]+$/.exec(b)?.[0];
  return `[${unit && a.endsWith(unit) ? a.slice(0, -unit.length) : a}, ${b}]`;
}

/** The summary note's sentence on intervals (none when no row records one: older results render as before). */
function intervalNote(results: ReportResults, rows: readonly ReportRow[]): string {
  if (!rows.some((r) => r.ci95 && typeof r.ci95 === 'object' && Object.keys(r.ci95).length > 0)) return '';
  const m = results.ciMethod ?? undefined;
  const level = num(m?.level), resamples = num(m?.resamples), seed = num(m?.seed);
  const kind = m?.kind === 'percentile bootstrap over test images' || m?.kind === undefined
    ? `percentile bootstrap interval over the test images (${resamples === undefined ? '' : `${resamples} resamples, `}seed ${seed ?? DASH}; mAP and F1 recomputed on each resample, localisation and agreement means with all pairs of an image together)`
    : m.kind;
  return ` <span class="ci">[lo, hi]</span> under a value: its ${esc(level === undefined ? 95 : 100 * level)} % ${esc(kind)}. It reflects test-set sampling only, not training-seed variation (<code>apc sweep</code> gives intervals over seeds); highlighting compares the values, not their intervals.`;
}

function matchingLabel(r: ReportRow): string {
  if (isTeacher(r)) return DASH;
  const m = r.match ?? DASH;
  const s = num(r.stochastic) ?? 0;
  return s > 0 ? `${m} (stoch. ${s})` : m;
}

function summaryTable(rows: readonly ReportRow[], methods: readonly string[], cols = summaryColumns(methods), id = 'summary'): string {
  const best = cols.map((c) => bestRows(rows, c));
  const groups: { name: string; span: number }[] = [];
  for (const c of cols) {
    const last = groups[groups.length - 1];
    if (last && last.name === c.group) last.span++;
    else groups.push({ name: c.group, span: 1 });
  }
  const out: string[] = [];
  out.push(`<div class="table-wrap"><table class="summary" id="${esc(id)}"><thead>`);
  out.push(`<tr><th colspan="4" class="group">model</th>${groups.map((g) => `<th colspan="${g.span}" class="group${methods.includes(g.name) ? ' method' : ''}">${esc(g.name)}</th>`).join('')}</tr>`);
  out.push(`<tr><th class="left">name</th><th class="left">compression</th><th class="left">matching</th><th>β</th>${cols.map((c, i) => `<th data-col="${esc(c.key)}"${i > 0 && cols[i - 1].group !== c.group ? ' class="group-start"' : ''}${c.title ? ` title="${esc(c.title)}"` : ''}>${esc(c.label)}</th>`).join('')}</tr>`);
  out.push('</thead><tbody>');
  rows.forEach((r, ri) => {
    const beta = hasMatching(r) ? num(r.beta) : undefined;
    const cells = [
      `<th scope="row" class="left name">${esc(r.name)}</th>`,
      `<td class="left">${esc(isTeacher(r) ? 'teacher' : r.compression ?? DASH)}${num(r.round) !== undefined ? ` <span class="muted">round ${esc(num(r.round))}</span>` : ''}</td>`,
      `<td class="left">${esc(matchingLabel(r))}</td>`,
      `<td data-col="beta">${beta === undefined ? DASH : esc(String(beta))}</td>`,
    ];
    cols.forEach((c, ci) => {
      const v = c.value(r);
      const cls = ['num', ...(best[ci].has(ri) ? ['best'] : []), ...(ci > 0 && cols[ci - 1].group !== c.group ? ['group-start'] : [])];
      const tip = c.tooltip?.(r);
      const interval = v === undefined ? undefined : metricInterval(r, c.key);
      const shown = interval ? `<span class="ci">${esc(formatInterval(c.format, interval))}</span>` : '';
      cells.push(`<td data-col="${esc(c.key)}" class="${cls.join(' ')}"${tip ? ` title="${esc(tip)}"` : ''}>${v === undefined ? DASH : esc(c.format(v))}${shown}</td>`);
    });
    out.push(`<tr data-model="${esc(r.name)}"${isTeacher(r) ? ' class="teacher"' : ''}>${cells.join('')}</tr>`);
  });
  out.push('</tbody></table></div>');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// heat-map grids
// ---------------------------------------------------------------------------------------------

function colorbar(colormap: string): string {
  const name = isColormap(colormap) ? colormap : DEFAULT_COLORMAP;
  const stops = Array.from({ length: 11 }, (_, i) => {
    const [r, g, b] = colormapRgb(name, i / 10);
    return `rgb(${r},${g},${b}) ${i * 10}%`;
  });
  return `<span class="colorbar-wrap"><span class="muted">low</span><span class="colorbar" style="background:linear-gradient(to right, ${stops.join(', ')})"></span><span class="muted">high</span></span>`;
}

/** Ordered grid columns: the manifest's models, in the summary's comparison order. */
function gridModels(manifest: HeatmapManifest, rows: readonly ReportRow[]): { m: HeatmapManifest['models'][number]; row?: ReportRow }[] {
  const byName = new Map(rows.map((r) => [r.name, r]));
  const known = manifest.models.filter((m) => byName.has(m.name));
  const order = orderForComparison(known.map((m) => byName.get(m.name)!)).map((r) => r.name);
  const cols = order.map((n) => ({ m: manifest.models.find((x) => x.name === n)!, row: byName.get(n) }));
  return [...cols, ...manifest.models.filter((m) => !byName.has(m.name)).map((m) => ({ m, row: undefined }))];
}

function img(src: string | undefined, alt: string, w: number, h: number): string {
  if (!src) return `<div class="missing" style="width:${w}px;height:${h}px" title="${esc(alt)}: picture missing">${DASH}</div>`;
  return `<img src="${esc(src)}" width="${w}" height="${h}" alt="${esc(alt)}" title="${esc(alt)}">`;
}

function heatmapSection(manifest: HeatmapManifest | undefined, problem: string | undefined, rows: readonly ReportRow[], imageSrc: ImageSrc): string {
  const out: string[] = ['<section id="heatmaps"><h2>Heat-maps</h2>'];
  if (!manifest) {
    out.push(`<p class="absent">${esc(problem ?? `No heat-maps: ${HEATMAP_DIR}/${MANIFEST_FILE} not found (apc run writes it).`)}</p></section>`);
    return out.join('\n');
  }
  const methods = manifest.methods;
  const selected = headlineMethod(methods);
  const cols = gridModels(manifest, rows);
  // a separator line before each new compression method (and after the teacher)
  const groupStarts = cols.map(({ row }, k) => {
    const prev = k > 0 ? cols[k - 1].row : undefined;
    return k > 0 && (!row || !prev || isTeacher(prev) || (row.compression ?? '') !== (prev.compression ?? ''));
  });
  // pictures shrink (never below 72 px) so that up to ~10 columns fit a 1440 px page without scrolling
  const w = Math.min(manifest.width, Math.max(72, Math.floor(1180 / (cols.length + 1)) - 16));
  const h = Math.round((manifest.height * w) / manifest.width);
  out.push(`<p>${manifest.images.length} test images of <b>${esc(manifest.dataset)}</b> (seeded choice, seed ${esc(manifest.seed)}), each explained for one ground-truth class (outlined on the input). Columns: the teacher, then each compressed model, without and with attribution matching side by side. Maps are min–max normalised per picture and blended over the image (opacity ${esc(manifest.alpha)}); <i>z</i> is the model's logit for the class (≤ 0: not predicted).</p>`);
  out.push(`<div class="controls"><label>Method <select id="method-select">${methods.map((m) => `<option value="${esc(m)}"${m === selected ? ' selected' : ''}>${esc(m)}</option>`).join('')}</select></label>${colorbar(manifest.colormap)}</div>`);
  for (const method of methods) {
    out.push(`<div class="grid-wrap" data-grid-method="${esc(method)}"${method === selected ? '' : ' hidden'}><table class="grid"><thead><tr><th>input · class</th>`);
    cols.forEach(({ m, row }, k) => {
      const groupStart = groupStarts[k];
      const sub = row && hasMatching(row) ? `${row.match}${num(row.beta) !== undefined ? `, β ${num(row.beta)}` : ''}` : row && !isTeacher(row) ? 'no matching' : '';
      // break long names after '+' so a column is as wide as its pictures
      const name = esc(m.name).replace(/\+/g, '+<wbr>');
      out.push(`<th${groupStart ? ' class="group-start"' : ''} style="max-width:${w + 12}px">${name}${sub ? `<br><span class="muted">${esc(sub)}</span>` : ''}</th>`);
    });
    out.push('</tr></thead><tbody>');
    manifest.images.forEach((im, i) => {
      const cells = [`<td><figure style="width:${w}px">${img(imageSrc(`${HEATMAP_DIR}/${im.file}`), `input ${i}: ${im.className}`, w, h)}<figcaption><b>${esc(im.className)}</b> <span class="muted">${esc(im.id)}</span></figcaption></figure></td>`];
      cols.forEach(({ m }, k) => {
        const groupStart = groupStarts[k];
        const z = num(m.logits?.[i]);
        const src = imageSrc(`${HEATMAP_DIR}/${heatmapFile(method, m.dir, i)}`);
        cells.push(`<td${groupStart ? ' class="group-start"' : ''}><figure style="width:${w}px">${img(src, `${method} · ${m.name} · image ${i}`, w, h)}<figcaption class="${z !== undefined && z > 0 ? '' : 'muted'}">${z === undefined ? DASH : `<i>z</i> = ${esc(z.toFixed(2))}`}${m.flat?.[method]?.[i] ? ' · <span title="constant map: no evidence to show">flat</span>' : ''}</figcaption></figure></td>`);
      });
      out.push(`<tr data-image="${i}">${cells.join('')}</tr>`);
    });
    out.push('</tbody></table></div>');
  }
  out.push('</section>');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// plots
// ---------------------------------------------------------------------------------------------

function plotSection(results: ReportResults, rows: readonly ReportRow[], methods: readonly string[]): string {
  const method = headlineMethod(methods) ?? 'gradcam';
  const out: string[] = ['<section id="plots"><h2>Plots</h2>', '<h3>Unstructured pruning: quality and agreement vs sparsity</h3>'];
  const series = pruningSeries(results, method);
  if (series.length === 0) {
    out.push('<p class="absent" id="no-pruning-plot">No unstructured-pruning rounds in this results.json, so there is no sparsity curve.</p>');
  } else {
    const color = (i: number, s: { matching: boolean }) => (series.length <= 2 ? (s.matching ? PALETTE[1] : PALETTE[0]) : PALETTE[i % PALETTE.length]);
    // the teacher's point (sparsity 0) alone is no curve: a series without pruned values shows as "no data"
    const pts = (key: 'mAP' | 'cosine') => series.map((s, i): PlotSeries => ({
      label: s.label, color: color(i, s), marker: s.matching ? 'square' : 'circle',
      points: s.points.some((p) => p.sparsity > 0 && p[key] !== undefined) ? s.points.map((p) => ({ x: 100 * p.sparsity, y: p[key] ?? NaN })) : [],
    }));
    const xFormat = (v: number) => `${Number(v.toPrecision(3))} %`;
    const maxSparsity = Math.max(...series.flatMap((s) => s.points.map((p) => 100 * p.sparsity)));
    const xDomain: [number, number] = [0, maxSparsity > 0 ? Math.max(10, Math.ceil(maxSparsity / 10) * 10) : 100];
    out.push('<div class="plots">');
    out.push(linePlot({ title: 'mAP vs sparsity', xLabel: 'sparsity of conv weights', yLabel: 'mAP', series: pts('mAP'), xFormat, xDomain }));
    out.push(linePlot({ title: `${method} agreement (cosine) vs sparsity`, xLabel: 'sparsity of conv weights', yLabel: 'cosine with teacher', series: pts('cosine'), xFormat, xDomain }));
    out.push('</div><p class="note">Each point is one pruning round; sparsity 0 is the teacher.</p>');
  }

  out.push('<h3>Attribution agreement vs β</h3>');
  const sweeps = betaSweeps(rows);
  if (sweeps.length === 0) {
    out.push('<p class="absent" id="no-beta-plot">No β sweep in this results.json (no rows that differ only by β), so there is no β plot.</p>');
  }
  for (const sw of sweeps) {
    const a = (r: ReportRow) => r.attribution?.[method]?.agreement;
    const metrics: [string, string, (r: ReportRow) => number | undefined][] = [
      ['cosine', 'cosine', (r) => num(a(r)?.cosine)], ['Spearman', 'spearman', (r) => num(a(r)?.spearman)], ['top-15 % IoU', 'topkIoU', (r) => num(a(r)?.topkIoU)],
    ];
    const betas = sw.rows.map((r) => num(r.beta)!);
    const xDomain: [number, number] = [Math.min(...betas), Math.max(...betas)];
    const base = sw.baseline;
    // each point with its recorded interval (an error bar), when the row has one
    const point = (r: ReportRow, y: number | undefined, key: string) => ({ x: num(r.beta)!, y: y ?? NaN, yCi: metricInterval(r, key) });
    const agreement: PlotSeries[] = metrics.map(([label, key, f], i) => ({ label, color: PALETTE[i], points: sw.rows.map((r) => point(r, f(r), `${method}.${key}`)) }));
    const mAP: PlotSeries[] = [{ label: 'mAP', color: PALETTE[0], points: sw.rows.map((r) => point(r, num(r.mAP), 'mAP')) }];
    if (base) {
      metrics.forEach(([label, , f], i) => {
        const v = f(base);
        if (v !== undefined) agreement.push({ label: `${label}, ${base.name}`, color: PALETTE[i], dashed: true, points: xDomain.map((x) => ({ x, y: v })) });
      });
      const m = num(base.mAP);
      if (m !== undefined) mAP.push({ label: base.name, color: PALETTE[0], dashed: true, points: xDomain.map((x) => ({ x, y: m })) });
    }
    out.push(`<div class="plots" data-sweep="${esc(sw.label)}">`);
    out.push(linePlot({ title: `${sw.label}: ${method} agreement vs β`, xLabel: 'β (log scale)', yLabel: 'agreement with teacher', series: agreement, xScale: 'log', xDomain }));
    out.push(linePlot({ title: `${sw.label}: mAP vs β`, xLabel: 'β (log scale)', yLabel: 'mAP', series: mAP, xScale: 'log', xDomain }));
    const bars = sw.rows.some((r) => metricInterval(r, 'mAP') || metrics.some(([, key]) => metricInterval(r, `${method}.${key}`)))
      ? ' Bars: 95 % bootstrap intervals over test images (test-set sampling, not training seeds).' : '';
    out.push(`</div><p class="note">Rows: ${esc(sw.rows.map((r) => `${r.name} (β ${num(r.beta)})`).join(', '))}${base ? `; dashed: ${esc(base.name)} without matching` : ''}.${bars}</p>`);
  }
  out.push('</section>');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// faithfulness and sanity check
// ---------------------------------------------------------------------------------------------

/** Deletion (lower is better) and insertion (higher is better) AUC columns for each method that has them. */
export function faithfulnessColumns(methods: readonly string[]): SummaryColumn[] {
  return methods.flatMap((m): SummaryColumn[] => {
    const f = (r: ReportRow) => r.attribution?.[m]?.faithfulness ?? undefined;
    const tip = (r: ReportRow) => {
      const x = f(r);
      return x && num(x.nPairs) !== undefined ? `${num(x.nPairs)} pairs, ${num(x.steps) ?? DASH} steps, ${x.baseline ?? DASH} baseline` : undefined;
    };
    return [
      { key: `${m}.deletionAuc`, label: 'deletion AUC', group: m, value: (r) => num(f(r)?.deletionAuc), format: fixed(3), better: 'low', tooltip: tip,
        title: 'area under σ(z_c) as the most relevant pixels are replaced by the baseline first (lower is better)' },
      { key: `${m}.insertionAuc`, label: 'insertion AUC', group: m, value: (r) => num(f(r)?.insertionAuc), format: fixed(3), better: 'high', tooltip: tip,
        title: 'area under σ(z_c) as the most relevant pixels are restored into the baseline first (higher is better)' },
    ];
  });
}

/** Methods whose faithfulness at least one row records. */
function faithfulnessMethods(rows: readonly ReportRow[], methods: readonly string[]): string[] {
  return methods.filter((m) => rows.some((r) => r.attribution?.[m]?.faithfulness));
}

function curveSeries(rows: readonly ReportRow[], method: string, which: 'deletionCurve' | 'insertionCurve'): PlotSeries[] {
  return rows.flatMap((r, i): PlotSeries[] => {
    const c = r.attribution?.[method]?.faithfulness?.[which];
    if (!Array.isArray(c) || c.length < 2) return [];
    const steps = c.length - 1;
    return [{ label: r.name, color: isTeacher(r) ? '#222' : PALETTE[i % PALETTE.length], marker: isTeacher(r) ? 'square' : 'circle',
      points: c.map((y, k) => ({ x: (100 * k) / steps, y: num(y) ?? NaN })) }];
  });
}

/** A method's label in the sanity plot and table: failing methods say so. */
function sanityLabel(method: string, s: ReportSanity): string {
  return s.passed === false ? `${method} ✗ fails` : s.passed === true ? `${method} ✓` : method;
}

function sanitySection(results: ReportResults): string {
  const out = ['<h3>Sanity check: cascading parameter randomisation (teacher)</h3>'];
  const entries = Object.entries(results.sanity ?? {}).filter((e): e is [string, ReportSanity] => !!e[1] && Array.isArray(e[1].layers));
  if (entries.length === 0) {
    out.push('<p class="absent" id="no-sanity">No sanity check in this results.json (older runs did not record one).</p>');
    return out.join('\n');
  }
  const layers = entries.reduce<string[]>((a, [, s]) => (s.layers!.length > a.length ? s.layers!.map((l) => String(l.layer ?? '')) : a), []);
  const threshold = num(entries[0][1].threshold);
  const series: PlotSeries[] = entries.map(([m, s], i) => ({
    label: sanityLabel(m, s), color: s.passed === false ? '#e15759' : PALETTE[(i + 3) % PALETTE.length], marker: s.passed === false ? 'square' : 'circle',
    points: s.layers!.map((l, k) => ({ x: k + 1, y: num(l.spearman) ?? NaN })),
  }));
  if (threshold !== undefined && layers.length > 0) {
    series.push({ label: `pass threshold ${threshold}`, color: '#888', dashed: true, points: [{ x: 1, y: threshold }, { x: layers.length, y: threshold }] });
  }
  const xFormat = (v: number) => (Number.isInteger(v) && v >= 1 && v <= layers.length ? layers[v - 1] : '');
  out.push('<div class="plots">');
  out.push(linePlot({ title: 'Spearman of maps before vs after randomising from the top', xLabel: 'randomised down to (cumulative)', yLabel: 'mean Spearman', series, xFormat,
    yDomain: [Math.min(-0.2, ...series.flatMap((s) => s.points.map((p) => p.y)).filter(Number.isFinite)), 1], width: 760 }));
  out.push('</div>');
  out.push('<table class="summary" id="sanity"><thead><tr><th class="left">method</th><th>Spearman, fully random</th><th class="left">result</th></tr></thead><tbody>');
  for (const [m, s] of entries) {
    const last = num(s.layers!.at(-1)?.spearman);
    const verdict = s.passed === undefined ? DASH : s.passed ? 'passes' : 'FAILS: its maps barely depend on the weights';
    out.push(`<tr data-method="${esc(m)}"${s.passed === false ? ' class="fail"' : ''}><th scope="row" class="left">${esc(m)}</th><td class="num">${last === undefined ? DASH : esc(last.toFixed(3))}</td><td class="left">${esc(verdict)}</td></tr>`);
  }
  out.push('</tbody></table>');
  out.push(`<p class="note">Blocks (each conv or dense node with its BatchNorm) are re-drawn from their initialisation one after the other, from the output layer down; after each step the maps of ${esc(num(entries[0][1].nImages) ?? DASH)} (image, class) pairs (those the teacher predicts first) are compared with the trained teacher's by rank correlation. A method passes when the Spearman with every block random is below ${esc(threshold ?? DASH)}.</p>`);
  return out.join('\n');
}

function faithfulnessSection(results: ReportResults, rows: readonly ReportRow[], methods: readonly string[]): string {
  const out: string[] = ['<section id="faithfulness"><h2>Faithfulness and sanity check</h2>'];
  const fm = faithfulnessMethods(rows, methods);
  if (fm.length === 0) {
    out.push('<p class="absent" id="no-faithfulness">No faithfulness in this results.json (older runs did not record it).</p>');
  } else {
    const f = rows.flatMap((r) => fm.map((m) => r.attribution?.[m]?.faithfulness)).find((x) => x);
    out.push(`<p class="note">Deletion: the pixels a map ranks highest are replaced by the baseline first; insertion: they are restored first into the baseline. The score is the class probability σ(z_c); the AUC is over the fraction of pixels, 0–1 (${esc(num(f?.steps) ?? DASH)} steps, ${esc(f?.baseline ?? DASH)} baseline, up to ${esc(num(f?.nPairs) ?? DASH)} pairs the model predicts). Lower deletion and higher insertion AUC mean the map follows what the model uses.</p>`);
    out.push(summaryTable(rows, fm, faithfulnessColumns(fm), 'faithfulness-table'));
    for (const m of fm) {
      out.push(`<div class="plots" data-faithfulness-method="${esc(m)}">`);
      const xFormat = (v: number) => `${Number(v.toPrecision(3))} %`;
      out.push(linePlot({ title: `${m}: deletion curve`, xLabel: 'pixels replaced by the baseline', yLabel: 'mean σ(z_c)', series: curveSeries(rows, m, 'deletionCurve'), xFormat, xDomain: [0, 100], yDomain: [0, 1] }));
      out.push(linePlot({ title: `${m}: insertion curve`, xLabel: 'pixels restored from the image', yLabel: 'mean σ(z_c)', series: curveSeries(rows, m, 'insertionCurve'), xFormat, xDomain: [0, 100], yDomain: [0, 1] }));
      out.push('</div>');
    }
  }
  out.push(sanitySection(results));
  out.push('</section>');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// provenance and page
// ---------------------------------------------------------------------------------------------

function provenanceSection(results: ReportResults, runDate: Date | undefined, generated: Date): string {
  const item = (k: string, v: unknown) => `<dt>${esc(k)}</dt><dd>${v === undefined || v === null || v === '' ? DASH : esc(v)}</dd>`;
  const out = ['<section id="provenance"><h2>Provenance</h2><dl class="prov">',
    item('apc version', results.apc), item('backend', results.backendDetail ?? results.backend), item('seed', results.seed),
    item('dataset', results.dataset === undefined ? undefined : `${results.dataset}${results.split ? ` (${results.split} split)` : ''}`),
    item('preset', results.preset), item('architecture', results.arch), item('run date', runDate ? runDate.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : undefined),
    item('report generated', generated.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')), '</dl>'];
  const skipped = (results.skipped ?? []).filter((s) => s && typeof s.what === 'string');
  if (skipped.length) {
    out.push('<h3>Skipped</h3><ul class="skipped">', ...skipped.map((s) => `<li><b>${esc(s.what)}</b>: ${esc(s.reason)}</li>`), '</ul>');
  }
  const stages = (results.stages ?? []).filter((s) => s && typeof s.name === 'string');
  if (stages.length === 0) {
    out.push('<p class="absent">No stage timings in this results.json.</p>');
  } else {
    const total = stages.reduce((s, x) => s + (num(x.seconds) ?? 0), 0);
    const max = Math.max(...stages.map((s) => num(s.seconds) ?? 0), 1e-9);
    out.push('<table class="stages"><thead><tr><th class="left">stage</th><th>wall time</th><th class="left"></th></tr></thead><tbody>');
    for (const s of stages) {
      const sec = num(s.seconds);
      out.push(`<tr><td class="left">${esc(s.name)}</td><td class="num">${sec === undefined ? DASH : esc(formatSeconds(sec))}</td><td class="bar-cell"><span class="bar" style="width:${sec === undefined ? 0 : Math.round((100 * sec) / max)}%"></span></td></tr>`);
    }
    out.push(`<tr class="total"><td class="left">total</td><td class="num">${esc(formatSeconds(total))}</td><td></td></tr></tbody></table>`);
    out.push('<p class="note">Stages resumed from a checkpoint report the time of this run, not of the original training.</p>');
  }
  out.push('</section>');
  return out.join('\n');
}

const CSS = `
:root { color-scheme: light; --fg: #1d1d1f; --muted: #6b6b70; --line: #dcdce0; --head: #f4f4f6; --best: #dff3e4; --accent: #4e79a7; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #fff; }
header, main { max-width: 1440px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 20px; border-bottom: 1px solid var(--line); padding-bottom: 10px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 8px; }
nav a { color: var(--accent); margin-right: 14px; text-decoration: none; }
.muted { color: var(--muted); font-weight: normal; }
.note, .absent { color: var(--muted); }
.absent { font-style: italic; }
.table-wrap, .grid-wrap { overflow-x: auto; }
table { border-collapse: collapse; }
table.summary { font-size: 13px; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.summary th, table.summary td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: right; }
table.summary thead tr:last-child th { white-space: normal; vertical-align: bottom; }
table.summary thead th { background: var(--head); position: sticky; top: 0; z-index: 1; font-weight: 600; }
table.summary thead tr:first-child th { text-align: center; border-bottom: 1px solid var(--line); }
table.summary thead th.method { color: var(--accent); }
table.summary .left { text-align: left; }
table.summary th.name { font-weight: 600; }
table.summary tr.teacher { background: #fafafa; }
table.summary tbody tr:hover { background: #f0f4fa; }
table.summary td.best { background: var(--best); font-weight: 700; }
table.summary td .ci { display: block; font-size: 11px; font-weight: normal; color: var(--muted); }
.note .ci { color: var(--muted); font-size: 12px; }
table.summary tr.fail { background: #fde8e8; color: #a4161a; font-weight: 600; }
.group-start { border-left: 1px solid var(--line); }
.controls { display: flex; align-items: center; gap: 24px; margin: 8px 0 12px; }
select { font: inherit; padding: 3px 6px; }
.colorbar-wrap { display: inline-flex; align-items: center; gap: 6px; }
.colorbar { display: inline-block; width: 160px; height: 12px; border: 1px solid var(--line); }
table.grid th { font-weight: 600; font-size: 13px; padding: 4px 6px; vertical-align: bottom; text-align: center; }
table.grid td { padding: 4px 6px; vertical-align: top; }
table.grid td.group-start, table.grid th.group-start { border-left: 2px solid var(--line); }
figure { margin: 0; text-align: center; }
figure img { display: block; border-radius: 2px; }
figcaption { font-size: 12px; margin-top: 2px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.missing { display: flex; align-items: center; justify-content: center; background: #f4f4f6; color: var(--muted); }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
.plots svg { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
dl.prov { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 12px; }
dl.prov dt { color: var(--muted); }
dl.prov dd { margin: 0; }
table.stages td, table.stages th { padding: 3px 10px; border-bottom: 1px solid var(--line); text-align: right; font-variant-numeric: tabular-nums; }
table.stages .left { text-align: left; }
table.stages tr.total td { font-weight: 600; }
td.bar-cell { width: 240px; }
.bar { display: block; height: 8px; background: var(--accent); opacity: .6; border-radius: 2px; }
footer { max-width: 1440px; margin: 32px auto 24px; padding: 0 24px; color: var(--muted); font-size: 12px; }
`;

const SCRIPT = `
(function () {
  var sel = document.getElementById('method-select');
  if (!sel) return;
  function show() {
    var grids = document.querySelectorAll('[data-grid-method]');
    for (var i = 0; i < grids.length; i++) grids[i].hidden = grids[i].getAttribute('data-grid-method') !== sel.value;
  }
  sel.addEventListener('change', show);
  show();
})();
`;

/** Resolves a path relative to the study directory to an `<img src>`, or undefined if missing. */
export type ImageSrc = (relPath: string) => string | undefined;

export interface RenderReportInput {
  readonly results: ReportResults;
  readonly manifest?: HeatmapManifest;
  /** Why there is no manifest (shown in the heat-map section). */
  readonly manifestProblem?: string;
  readonly imageSrc: ImageSrc;
  /** When the study ran (default results.date; `writeReport` falls back to results.json's modification time). */
  readonly runDate?: Date;
  readonly generated: Date;
}

/** The page as a string (pure; `writeReport` does the reading and writing). */
export function renderReport(input: RenderReportInput): string {
  const { results } = input;
  const all = results.models;
  const rows = orderForComparison(finalRows(all));
  const hidden = all.length - rows.length;
  const methods = resultMethods(rows);
  const title = `apc study · ${results.dataset ?? '?'} · ${results.preset ?? '?'} preset`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<div class="muted">${esc(rows.length)} models · ${methods.length ? esc(methods.join(', ')) : 'no attribution methods'} · apc ${esc(results.apc ?? DASH)}</div>
<nav><a href="#summary-section">Summary</a><a href="#heatmaps">Heat-maps</a><a href="#plots">Plots</a><a href="#faithfulness">Faithfulness</a><a href="#provenance">Provenance</a></nav>
</header>
<main>
<section id="summary-section"><h2>Summary</h2>
<p class="note">Prediction on the ${esc(results.split ?? 'test')} split (mAP and F1 ×100); per attribution method the localisation metrics (pixel ROC-AUC, pointing game) and the agreement of the model's maps with the teacher's (cosine, Spearman, top-15 % IoU). <span class="legend-best">Highlighted</span>: best value in its column (ties at the shown precision all marked; the teacher is not a candidate for agreement). ${DASH} = not measured.${intervalNote(results, rows)}${hidden > 0 ? ` ${esc(hidden)} intermediate pruning rounds are plotted below, not listed.` : ''}</p>
${summaryTable(rows, methods)}
</section>
${heatmapSection(input.manifest, input.manifestProblem, rows, input.imageSrc)}
${plotSection(results, rows, methods)}
${faithfulnessSection(results, rows, methods)}
${provenanceSection(results, input.runDate ?? recordedDate(results), input.generated)}
</main>
<footer>Generated by <code>apc report</code>. Regenerate with <code>apc report --results DIR</code>.</footer>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** results.date when it is a valid date. */
function recordedDate(results: ReportResults): Date | undefined {
  return typeof results.date === 'string' && !Number.isNaN(Date.parse(results.date)) ? new Date(results.date) : undefined;
}

function isManifest(v: unknown): v is HeatmapManifest {
  const m = v as HeatmapManifest;
  return typeof m === 'object' && m !== null && Array.isArray(m.images) && Array.isArray(m.methods) && Array.isArray(m.models)
    && typeof m.width === 'number' && typeof m.height === 'number';
}

export interface WriteReportOptions {
  /** The results to show (default: read OUT/results.json). */
  readonly results?: ReportResults;
  /** Embed the pictures as data URLs (one portable file) instead of linking OUT/heatmaps. */
  readonly inline?: boolean;
  /** Clock for the "generated" stamp (tests). */
  readonly now?: Date;
}

/** Writes OUT/report.html from OUT/results.json and OUT/heatmaps/manifest.json; returns its path. */
export async function writeReport(outDir: string, opts: WriteReportOptions = {}): Promise<string> {
  const resultsPath = join(outDir, RESULTS_FILE);
  let results: ReportResults;
  if (opts.results) {
    results = parseReportResults(opts.results, 'results');
  } else {
    let text: string;
    try { text = await readFile(resultsPath, 'utf8'); } catch { throw new Error(`${resultsPath} not found: run 'apc run --out ${outDir}' first`); }
    let raw: unknown;
    try { raw = JSON.parse(text); } catch (err) { throw new Error(`${resultsPath} is not valid JSON: ${(err as Error).message}`); }
    results = parseReportResults(raw, resultsPath);
  }
  const now = opts.now ?? new Date();
  // in-memory results come from a run that just ended; a results.json on disk dates from its mtime
  const runDate = recordedDate(results) ?? (opts.results ? now : await stat(resultsPath).then((s) => s.mtime, () => undefined));

  const manifestPath = join(outDir, HEATMAP_DIR, MANIFEST_FILE);
  let manifest: HeatmapManifest | undefined;
  let manifestProblem: string | undefined;
  if (existsSync(manifestPath)) {
    try {
      const raw: unknown = JSON.parse(await readFile(manifestPath, 'utf8'));
      if (isManifest(raw)) manifest = raw;
      else manifestProblem = `No heat-maps: ${HEATMAP_DIR}/${MANIFEST_FILE} lacks images, methods, models or the picture size.`;
    } catch (err) {
      manifestProblem = `No heat-maps: ${HEATMAP_DIR}/${MANIFEST_FILE} is not valid JSON (${(err as Error).message}).`;
    }
  }
  const imageSrc: ImageSrc = (rel) => {
    const file = join(outDir, ...rel.split('/'));
    if (!existsSync(file)) return undefined;
    if (opts.inline) return `data:image/png;base64,${readFileSync(file).toString('base64')}`;
    return rel.split('/').map(encodeURIComponent).join('/');
  };
  const html = renderReport({ results, manifest, manifestProblem, imageSrc, runDate, generated: now });
  const path = join(outDir, REPORT_FILE);
  await writeFileAtomic(path, html);
  return path;
}
