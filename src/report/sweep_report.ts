/**
 * The HTML report of a sweep (`apc report --results DIR` when DIR holds sweep.json): each row as
 * mean ± 95 % interval over seeds, the paired matching − no-matching differences with p and whether
 * they are significant at 0.05, and per β sweep the accuracy/agreement trade-off with error bars.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../engine/files.js';
import type { RowConfig } from '../sweep/jobs.js';
import type { Summary } from '../sweep/statistics.js';
import type { BetaCurve, SweepResults } from '../sweep/sweep_results.js';
import { type ErrorBarPoint, errorBarPlot } from './error_bar_plot.js';
import { escapeXml } from './svg_plot.js';

export const SWEEP_FILE = 'sweep.json';

/** 'teacher', 'kd', 'kd+wcam β 10', 'structured p 0.5+wcam β 1 (stochastic 0.3)'; dataset/arch first when the sweep has several. */
export function rowName(c: RowConfig, withSetting = false): string {
  const base = c.compression === 'none' ? 'teacher' : `${c.compression}${c.rate !== undefined ? ` p ${c.rate}` : ''}`;
  const match = c.match === 'none' ? '' : `+${c.match} β ${c.beta}${c.stochastic ? ` (stochastic ${c.stochastic})` : ''}`;
  return `${withSetting ? `${c.dataset}${c.imageSize ? ` ${c.imageSize} px` : ''} ${c.arch} · ` : ''}${base}${match}`;
}

/** '51.3 ± 2.1' (the interval's half width; '51.3' for one seed). */
export function meanCi(s: Summary | undefined, digits: number): string {
  if (!s || !Number.isFinite(s.mean)) return '–';
  const [lo, hi] = s.ci95;
  return Number.isFinite(lo) && Number.isFinite(hi) ? `${s.mean.toFixed(digits)} ± ${((hi - lo) / 2).toFixed(digits)}` : s.mean.toFixed(digits);
}

/** JSON turns NaN into null: both print as '–'. */
const fixed = (v: number | null | undefined, digits = 4) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '–');

const COLUMNS: { metric: (m: string) => string; label: (m: string) => string; digits: number }[] = [
  { metric: () => 'mAP', label: () => 'mAP', digits: 1 },
  { metric: () => 'F1', label: () => 'F1', digits: 1 },
  { metric: (m) => `${m}.auc`, label: (m) => `${m} AUC`, digits: 3 },
  { metric: (m) => `${m}.pointing`, label: (m) => `${m} pointing`, digits: 3 },
  { metric: (m) => `${m}.cosine`, label: (m) => `${m} cosine`, digits: 3 },
  { metric: (m) => `${m}.spearman`, label: (m) => `${m} spearman`, digits: 3 },
];

/** Whether rows need their dataset and arch in their names (the sweep has several). */
const severalSettings = (r: SweepResults) => new Set(r.configs.map((c) => `${c.config.dataset} ${c.config.imageSize ?? ''} ${c.config.arch}`)).size > 1;
/** The paired table keeps mAP, F1, AUC and cosine. */
const shownInPairedTable = (p: SweepResults['paired'][number]) => /^(mAP|F1)$|\.(cosine|auc)$/.test(p.metric);

export function renderSweepReport(r: SweepResults): string {
  const methods = [...new Set(r.configs.flatMap((c) => Object.keys(c.metrics).filter((k) => k.includes('.')).map((k) => k.split('.')[0])))];
  const several = severalSettings(r);
  const cols = COLUMNS.flatMap((c) => (c.metric('x') === 'mAP' || c.metric('x') === 'F1' ? [{ ...c, m: '' }] : methods.map((m) => ({ ...c, m }))));
  const byKey = new Map(r.configs.map((c) => [c.key, c]));
  const e = escapeXml;
  const rows = r.configs.map((c) => `<tr><td>${e(rowName(c.config, several))}</td><td>${c.n}</td>${cols.map((col) => `<td>${e(meanCi(c.metrics[col.metric(col.m)], col.digits))}</td>`).join('')}</tr>`);
  const paired = r.paired.filter(shownInPairedTable).map((p) => {
    const w = byKey.get(p.with);
    const sig = Number.isFinite(p.p) && p.p < 0.05;
    return `<tr><td>${e(w ? rowName(w.config, several) : p.with)} − no matching</td><td>${e(p.metric)}</td><td>${p.n}</td><td>${e(p.meanDiff.toFixed(4))}</td>`
      + `<td>[${fixed(p.ci95[0])}, ${fixed(p.ci95[1])}]</td><td>${Number.isFinite(p.p) ? e(p.p.toPrecision(3)) : '–'}</td><td>${sig ? 'yes' : 'no'}</td></tr>`;
  });
  const plots = r.betaCurves.map((curve) => betaPlots(r, curve, rowName({ ...curve.config, beta: 0, match: 'none' }, several)).join(''));
  const c = r.counts;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>apc sweep</title><style>
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:1rem 0}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}td:first-child,th:first-child{text-align:left}th{background:#f4f4f4}
.plots{display:flex;flex-wrap:wrap;gap:1rem}</style></head><body>
<h1>apc sweep</h1><p>${c.done} of ${c.total} jobs done${c.failed ? `, ${c.failed} failed` : ''}${c.blocked ? `, ${c.blocked} not run` : ''} · ${e(r.root)} · apc ${e(r.apc)} · ${e(r.executor)} executor.
Every figure is the mean ± the half width of its 95 % Student-t interval over the seeds (n).</p>
<h2>Rows</h2><table><thead><tr><th>row</th><th>n</th>${cols.map((col) => `<th>${e(col.label(col.m))}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>
<h2>Matching − no matching (paired on seed and teacher)</h2>
${paired.length ? `<table><thead><tr><th>comparison</th><th>metric</th><th>n</th><th>mean difference</th><th>95 % interval</th><th>p (paired t)</th><th>p &lt; 0.05</th></tr></thead><tbody>${paired.join('')}</tbody></table>` : '<p>No matched row has a no-matching partner on the same seeds.</p>'}
<h2>β trade-off</h2>${plots.length ? `<div class="plots">${plots.join('')}</div>` : '<p>The sweep has no row at two or more β values.</p>'}
</body></html>
`;
}

/**
 * One β curve as four panels: the agreement/mAP trade-off, mAP and agreement at each β (equal steps,
 * β 0 = no matching), and the paired agreement gain over no matching — the panel whose intervals
 * leave out the seed-to-seed spread of the teachers, so the one to read for "does β help".
 */
function betaPlots(r: SweepResults, curve: BetaCurve, base: string): string[] {
  const name = `${base}+${curve.config.match}`;
  const gain = (key: string) => r.paired.find((p) => p.with === key && p.metric === curve.agreementMetric);
  // the three panels against β share its categorical axis (equal steps, β 0 = no matching)
  const againstBeta = (title: string, yLabel: string, points: ErrorBarPoint[], referenceY?: number) => errorBarPlot({
    title: `${name}: ${title}`, xLabel: 'β (0 = no matching)', yLabel, points, referenceY, pointLabels: false,
    xTicks: curve.points.map((p, i) => ({ value: i, label: String(p.beta) })),
  });
  const at = (pick: (p: BetaCurve['points'][number]) => Summary) => curve.points.map((p, i) => ({ label: `β ${p.beta}`, x: i, y: pick(p).mean, yCi: pick(p).ci95 }));
  return [
    errorBarPlot({
      title: `${name}: β trade-off`, xLabel: `${curve.agreementMetric} (agreement with the teacher)`, yLabel: 'mAP',
      points: curve.points.map((p) => ({ label: `β ${p.beta}`, x: p.agreement.mean, y: p.mAP.mean, xCi: p.agreement.ci95, yCi: p.mAP.ci95 })),
    }),
    againstBeta('mAP against β', 'mAP', at((p) => p.mAP)),
    againstBeta('agreement against β', curve.agreementMetric, at((p) => p.agreement)),
    againstBeta('agreement gain (paired)', `Δ ${curve.agreementMetric}`, curve.points.flatMap((p, i) => {
      if (p.beta === 0) return [{ label: 'β 0', x: i, y: 0 }];
      const d = gain(p.key);
      return d ? [{ label: `β ${p.beta}`, x: i, y: d.meanDiff, yCi: d.ci95 }] : [];
    }), 0),
  ];
}

/** Plain-text rows for the terminal: mean ± 95 % half width of mAP, F1 and the first method's AUC and cosine. */
export function formatSweepTable(r: SweepResults): string {
  const method = r.configs.flatMap((c) => Object.keys(c.metrics)).find((k) => k.endsWith('.auc'))?.split('.')[0];
  const several = severalSettings(r);
  const header = ['row', 'n', 'mAP', 'F1', ...(method ? [`${method} AUC`, `${method} cosine`] : [])];
  const lines = r.configs.map((c) => [rowName(c.config, several), String(c.n), meanCi(c.metrics.mAP, 1), meanCi(c.metrics.F1, 1),
    ...(method ? [meanCi(c.metrics[`${method}.auc`], 3), meanCi(c.metrics[`${method}.cosine`], 3)] : [])]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
  return [fmt(header), ...lines.map(fmt)].join('\n');
}

/**
 * The sweep as Markdown (written next to the HTML report, for a README or a note): rows as
 * mean ± 95 % half width, the paired matching − no-matching differences with p, and the β curves.
 */
export function formatSweepMarkdown(r: SweepResults): string {
  const methods = [...new Set(r.configs.flatMap((c) => Object.keys(c.metrics).filter((k) => k.endsWith('.auc')).map((k) => k.split('.')[0])))];
  const several = severalSettings(r);
  const table = (header: string[], rows: string[][]) => [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...rows.map((cells) => `| ${cells.join(' | ')} |`)].join('\n');
  const byKey = new Map(r.configs.map((c) => [c.key, c]));
  const out = [`${r.counts.done} of ${r.counts.total} jobs done · every figure is mean ± the half width of its 95 % Student-t interval over n seeds.`, '',
    table(['row', 'n', 'mAP', 'F1', ...methods.flatMap((m) => [`${m} AUC`, `${m} pointing`, `${m} cosine`])],
      r.configs.map((c) => [rowName(c.config, several), String(c.n), meanCi(c.metrics.mAP, 1), meanCi(c.metrics.F1, 1),
        ...methods.flatMap((m) => [meanCi(c.metrics[`${m}.auc`], 3), meanCi(c.metrics[`${m}.pointing`], 3), meanCi(c.metrics[`${m}.cosine`], 3)])]))];
  const paired = r.paired.filter(shownInPairedTable);
  if (paired.length) {
    out.push('', 'Matching − no matching, paired on seed and teacher (paired t-test, n − 1 degrees of freedom):', '',
      table(['comparison', 'metric', 'n', 'mean difference', '95 % interval', 'p', 'p < 0.05'], paired.map((p) => {
        const w = byKey.get(p.with);
        return [`${w ? rowName(w.config, several) : p.with} − no matching`, p.metric, String(p.n), fixed(p.meanDiff),
          `[${fixed(p.ci95[0])}, ${fixed(p.ci95[1])}]`, Number.isFinite(p.p) ? p.p.toPrecision(3) : '–', Number.isFinite(p.p) && p.p < 0.05 ? 'yes' : 'no'];
      })));
  }
  for (const curve of r.betaCurves) {
    out.push('', `β trade-off of ${rowName({ ...curve.config, beta: 0, match: 'none' }, several)}+${curve.config.match} (β 0 = no matching):`, '',
      table(['β', 'n', 'mAP', curve.agreementMetric], curve.points.map((p) => [String(p.beta), String(p.n), meanCi(p.mAP, 1), meanCi(p.agreement, 3)])));
  }
  return `${out.join('\n')}\n`;
}

/**
 * Writes the HTML report of a sweep: DIR/report.html from DIR/sweep.json, or FILE.html next to a
 * named statistics file FILE.json (`apc sweep --name`); returns its path.
 */
export async function writeSweepReport(dirOrFile: string): Promise<string> {
  const named = dirOrFile.endsWith('.json');
  const path = named ? dirOrFile : join(dirOrFile, SWEEP_FILE);
  let results: SweepResults;
  try {
    results = JSON.parse(await readFile(path, 'utf8')) as SweepResults;
  } catch (err) {
    throw new Error(`${path}: cannot read the sweep results (${(err as Error).message})`);
  }
  if (!Array.isArray(results.configs) || !Array.isArray(results.paired)) throw new Error(`${path}: not an apc sweep.json (no configs or paired)`);
  const out = named ? `${dirOrFile.slice(0, -'.json'.length)}.html` : join(dirOrFile, 'report.html');
  const complete = { ...results, betaCurves: results.betaCurves ?? [] }; // older sweep.json files have no betaCurves
  await writeFileAtomic(out, renderSweepReport(complete));
  await writeFileAtomic(out.replace(/\.html$/, '.md'), formatSweepMarkdown(complete));
  return out;
}
