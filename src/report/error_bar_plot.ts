/**
 * Points with 95 % intervals, as an SVG string, joined in order: a trade-off scatter with bars on
 * both axes and a label per point (the sweep report's agreement-against-mAP β plot), or a metric
 * against categories (mAP, agreement and the paired gain at each β). Dependency-free like
 * `svg_plot.ts`, whose ticks and escaping it reuses.
 */
import { escapeXml, formatTick, niceTicks, PALETTE } from './svg_plot.js';

export interface ErrorBarPoint {
  readonly label: string;
  readonly x: number;
  readonly y: number;
  /** 95 % intervals; non-finite ends draw no bar. */
  readonly xCi?: readonly [number, number];
  readonly yCi?: readonly [number, number];
}

export interface ErrorBarPlotOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly points: readonly ErrorBarPoint[];
  readonly color?: string;
  /** A categorical x axis (e.g. β 0, 0.3, 1 … at equal steps): the points' x are these values, labelled so. */
  readonly xTicks?: readonly { readonly value: number; readonly label: string }[];
  /** Write each point's label beside it (default true; the x ticks say it when they are categories). */
  readonly pointLabels?: boolean;
  /** Draw a dashed horizontal line at this y (e.g. 0 for a difference) when it lies in the plot. */
  readonly referenceY?: number;
  readonly width?: number;
  readonly height?: number;
}

const r1 = (v: number) => Math.round(v * 10) / 10;
const finite = (ci: readonly [number, number] | undefined): ci is readonly [number, number] => !!ci && Number.isFinite(ci[0]) && Number.isFinite(ci[1]);

export function errorBarPlot(opts: ErrorBarPlotOptions): string {
  const W = opts.width ?? 420;
  const H = opts.height ?? 300;
  const color = escapeXml(opts.color ?? PALETTE[0]);
  const pts = opts.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const m = { top: 30, right: 16, bottom: 44, left: 54 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" class="plot" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeXml(opts.title)}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="11">`,
    `<title>${escapeXml(opts.title)}</title>`, `<text x="${m.left}" y="18" font-size="13" font-weight="600" fill="#222">${escapeXml(opts.title)}</text>`];
  if (!pts.length) {
    parts.push(`<text x="${m.left + pw / 2}" y="${m.top + ph / 2}" text-anchor="middle" fill="#888">no data</text></svg>`);
    return parts.join('');
  }
  const xs = pts.flatMap((p) => [p.x, ...(finite(p.xCi) ? p.xCi : [])]);
  const ys = pts.flatMap((p) => [p.y, ...(finite(p.yCi) ? p.yCi : [])]);
  if (opts.referenceY !== undefined) ys.push(opts.referenceY);
  const categories = opts.xTicks?.length ? opts.xTicks : undefined;
  const xt = categories ? categories.map((t) => t.value) : niceTicks(Math.min(...xs), Math.max(...xs), 5);
  const yt = niceTicks(Math.min(...ys), Math.max(...ys), 5);
  // categories get half a step of room on either side so the end points' bars are not on the frame
  const [x0, x1] = categories ? [Math.min(...xt) - 0.5, Math.max(...xt) + 0.5] : [xt[0], xt.at(-1)!];
  const [y0, y1] = [yt[0], yt.at(-1)!];
  const xTickLabel = (t: number, i: number) => (categories ? categories[i].label : formatTick(t));
  const sx = (v: number) => r1(m.left + ((v - x0) / (x1 - x0 || 1)) * pw);
  const sy = (v: number) => r1(m.top + ph - ((v - y0) / (y1 - y0 || 1)) * ph);
  parts.push('<g stroke="#e6e6e6">');
  for (const t of yt) parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${sy(t)}" y2="${sy(t)}"/>`);
  for (const t of xt) parts.push(`<line x1="${sx(t)}" x2="${sx(t)}" y1="${m.top}" y2="${m.top + ph}"/>`);
  parts.push(`</g><rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/><g fill="#444">`);
  for (const t of yt) parts.push(`<text x="${m.left - 6}" y="${sy(t) + 4}" text-anchor="end">${escapeXml(formatTick(t))}</text>`);
  xt.forEach((t, i) => parts.push(`<text x="${sx(t)}" y="${m.top + ph + 15}" text-anchor="middle">${escapeXml(xTickLabel(t, i))}</text>`));
  parts.push(`</g><text x="${m.left + pw / 2}" y="${H - 8}" text-anchor="middle" fill="#222">${escapeXml(opts.xLabel)}</text>`,
    `<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" fill="#222">${escapeXml(opts.yLabel)}</text>`);
  if (opts.referenceY !== undefined) {
    parts.push(`<line class="reference" x1="${m.left}" x2="${m.left + pw}" y1="${sy(opts.referenceY)}" y2="${sy(opts.referenceY)}" stroke="#666" stroke-dasharray="4 3"/>`);
  }
  parts.push(`<path d="${pts.map((p, i) => `${i ? 'L' : 'M'}${sx(p.x)} ${sy(p.y)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="1.5" stroke-opacity="0.6"/>`);
  for (const p of pts) {
    parts.push(`<g class="point" data-label="${escapeXml(p.label)}" stroke="${color}" stroke-width="1.2">`);
    if (finite(p.xCi)) parts.push(`<line class="error-bar" x1="${sx(p.xCi[0])}" x2="${sx(p.xCi[1])}" y1="${sy(p.y)}" y2="${sy(p.y)}"/>`);
    if (finite(p.yCi)) parts.push(`<line class="error-bar" x1="${sx(p.x)}" x2="${sx(p.x)}" y1="${sy(p.yCi[0])}" y2="${sy(p.yCi[1])}"/>`);
    parts.push(`<circle cx="${sx(p.x)}" cy="${sy(p.y)}" r="3.5" fill="${color}" stroke="#fff"><title>${escapeXml(`${p.label}: ${formatTick(p.x)}, ${formatTick(p.y)}`)}</title></circle>`,
      opts.pointLabels === false ? '</g>' : `<text x="${sx(p.x) + 6}" y="${sy(p.y) - 6}" fill="#222" stroke="none">${escapeXml(p.label)}</text></g>`);
  }
  parts.push('</svg>');
  return parts.join('');
}
