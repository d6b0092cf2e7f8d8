/**
 * A small, dependency-free line chart rendered to an SVG string, for the study report
 * (`html_report.ts`). Enough for the report's plots (a few series of a few points, linear or log
 * x axis, dashed reference lines) and nothing more: no interaction, no layout engine, no DOM.
 *
 * Every text that reaches the markup goes through `escapeXml`; non-finite points are dropped (a
 * series with no finite point is listed in the legend as "(no data)").
 */

/** One polyline with markers. */
export interface PlotSeries {
  readonly label: string;
  /** `yCi`: an interval of y drawn as a vertical bar through the marker (skipped unless both ends are finite). */
  readonly points: readonly { readonly x: number; readonly y: number; readonly yCi?: readonly [number, number] }[];
  /** CSS colour (default: the palette, in order). */
  readonly color?: string;
  /** Dashed line without markers, e.g. a baseline. */
  readonly dashed?: boolean;
  /** Marker shape (default 'circle'); tell series apart where they overlap. */
  readonly marker?: 'circle' | 'square';
}

export interface LinePlotOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly PlotSeries[];
  /** 'log' needs positive x (non-positive points are dropped). Default 'linear'. */
  readonly xScale?: 'linear' | 'log';
  /** Axis ranges; default: the data range, padded to nice ticks. */
  readonly xDomain?: readonly [number, number];
  readonly yDomain?: readonly [number, number];
  readonly xFormat?: (v: number) => string;
  readonly yFormat?: (v: number) => string;
  /** Outer size in CSS pixels (default: 280 high, 340 + the legend's width wide); the SVG scales down with its container. */
  readonly width?: number;
  readonly height?: number;
}

/** Colour-blind-friendly categorical palette (Tableau 10). */
export const PALETTE: readonly string[] = [
  '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac',
];

/** Escapes text for XML/HTML element content and double- or single-quoted attributes. */
export function escapeXml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Round tick values (steps of 1, 2 or 5 × 10^k) covering [min, max], about `count` of them. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    return niceTicks(min - pad, max + pad, count);
  }
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const lo = Math.floor(min / step + 1e-9);
  const hi = Math.ceil(max / step - 1e-9);
  const ticks: number[] = [];
  for (let k = lo; k <= hi; k++) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

/** Powers of ten covering [min, max] (both > 0); one decade at least. */
export function logTicks(min: number, max: number): number[] {
  if (!(min > 0) || !(max > 0)) return [];
  const lo = Math.floor(Math.log10(Math.min(min, max)) + 1e-9);
  let hi = Math.ceil(Math.log10(Math.max(min, max)) - 1e-9);
  if (hi === lo) hi = lo + 1;
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) ticks.push(Number((10 ** e).toPrecision(12)));
  return ticks;
}

/** Compact default tick label: up to 3 significant digits, no trailing zeros. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(3)));
}

const r1 = (v: number) => Math.round(v * 10) / 10;

/** The chart as a standalone `<svg>` element string. */
export function linePlot(opts: LinePlotOptions): string {
  const H = opts.height ?? 280;
  const log = opts.xScale === 'log';
  const fx = opts.xFormat ?? formatTick;
  const fy = opts.yFormat ?? formatTick;
  const series = opts.series.map((s, i) => ({
    ...s,
    color: s.color ?? PALETTE[i % PALETTE.length],
    points: s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!log || p.x > 0)).slice().sort((a, b) => a.x - b.x),
  }));
  const all = series.flatMap((s) => s.points);
  const hasCi = (p: (typeof all)[number]): p is (typeof all)[number] & { yCi: readonly [number, number] } =>
    !!p.yCi && Number.isFinite(p.yCi[0]) && Number.isFinite(p.yCi[1]);

  const legendW = Math.min(240, 30 + 6.6 * Math.max(6, ...series.map((s) => s.label.length + (s.points.length ? 0 : 10))));
  const W = opts.width ?? Math.round(340 + legendW); // the plot area keeps its width whatever the legend
  const m = { top: 30, right: legendW + 12, bottom: 44, left: 54 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="plot" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeXml(opts.title)}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="11">`);
  parts.push(`<title>${escapeXml(opts.title)}</title>`);
  parts.push(`<text x="${m.left}" y="18" font-size="13" font-weight="600" fill="#222">${escapeXml(opts.title)}</text>`);

  const legend = () => {
    const lx = m.left + pw + 14;
    series.forEach((s, i) => {
      const ly = m.top + 8 + i * 18;
      const dash = s.dashed ? ' stroke-dasharray="5 4"' : '';
      parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${escapeXml(s.color)}" stroke-width="2"${dash}/>`);
      if (!s.dashed && s.marker === 'square') parts.push(`<rect x="${lx + 6}" y="${ly - 3}" width="6" height="6" fill="${escapeXml(s.color)}"/>`);
      else if (!s.dashed) parts.push(`<circle cx="${lx + 9}" cy="${ly}" r="3" fill="${escapeXml(s.color)}"/>`);
      parts.push(`<text x="${lx + 24}" y="${ly + 4}" fill="#222">${escapeXml(s.label)}${s.points.length ? '' : ' (no data)'}</text>`);
    });
  };

  if (all.length === 0) {
    parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="#fafafa" stroke="#ddd"/>`);
    parts.push(`<text x="${m.left + pw / 2}" y="${m.top + ph / 2}" text-anchor="middle" fill="#888">no data</text>`);
    legend();
    parts.push('</svg>');
    return parts.join('');
  }

  const xs = all.map((p) => p.x);
  const ys = all.flatMap((p) => (hasCi(p) ? [p.y, p.yCi[0], p.yCi[1]] : [p.y]));
  const xTicks = log
    ? logTicks(opts.xDomain?.[0] ?? Math.min(...xs), opts.xDomain?.[1] ?? Math.max(...xs))
    : niceTicks(opts.xDomain?.[0] ?? Math.min(...xs), opts.xDomain?.[1] ?? Math.max(...xs), 5);
  const yTicks = niceTicks(opts.yDomain?.[0] ?? Math.min(...ys), opts.yDomain?.[1] ?? Math.max(...ys), 5);
  const [x0, x1] = opts.xDomain ?? [xTicks[0], xTicks[xTicks.length - 1]];
  const [y0, y1] = opts.yDomain ?? [yTicks[0], yTicks[yTicks.length - 1]];
  const tx = log ? (v: number) => Math.log10(v) : (v: number) => v;
  const inset = 8; // keeps markers on the domain's ends off the frame
  const sx = (v: number) => r1(m.left + inset + ((tx(v) - tx(x0)) / (tx(x1) - tx(x0) || 1)) * (pw - 2 * inset));
  const sy = (v: number) => r1(m.top + ph - ((v - y0) / (y1 - y0 || 1)) * ph);

  // grid and axes
  parts.push(`<g stroke="#e6e6e6" stroke-width="1">`);
  for (const t of yTicks) if (t >= y0 && t <= y1) parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${sy(t)}" y2="${sy(t)}"/>`);
  for (const t of xTicks) if (t >= x0 && t <= x1) parts.push(`<line x1="${sx(t)}" x2="${sx(t)}" y1="${m.top}" y2="${m.top + ph}"/>`);
  parts.push('</g>');
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  parts.push('<g fill="#444">');
  for (const t of yTicks) if (t >= y0 && t <= y1) parts.push(`<text x="${m.left - 6}" y="${sy(t) + 4}" text-anchor="end">${escapeXml(fy(t))}</text>`);
  for (const t of xTicks) if (t >= x0 && t <= x1) parts.push(`<text x="${sx(t)}" y="${m.top + ph + 15}" text-anchor="middle">${escapeXml(fx(t))}</text>`);
  parts.push('</g>');
  parts.push(`<text x="${m.left + pw / 2}" y="${H - 8}" text-anchor="middle" fill="#222">${escapeXml(opts.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" fill="#222">${escapeXml(opts.yLabel)}</text>`);

  // data
  // a series that a later one covers exactly is drawn wider, so it stays visible underneath
  const key = (s: (typeof series)[number]) => JSON.stringify(s.points.map((p) => [p.x, p.y]));
  for (const [i, s] of series.entries()) {
    if (s.points.length === 0) continue;
    const covered = !s.dashed && series.slice(i + 1).some((t) => !t.dashed && key(t) === key(s));
    const width = covered ? 5 : 2;
    const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p.x)} ${sy(p.y)}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="5 4"' : '';
    parts.push(`<g class="series" data-label="${escapeXml(s.label)}">`);
    parts.push(`<path d="${d}" fill="none" stroke="${escapeXml(s.color)}" stroke-width="${width}" stroke-linejoin="round"${dash}/>`);
    if (!s.dashed) {
      for (const p of s.points) {
        if (hasCi(p)) parts.push(`<line class="error-bar" x1="${sx(p.x)}" x2="${sx(p.x)}" y1="${sy(p.yCi[0])}" y2="${sy(p.yCi[1])}" stroke="${escapeXml(s.color)}" stroke-width="1.2"/>`);
        const tip = `<title>${escapeXml(`${s.label}: ${fx(p.x)} → ${fy(p.y)}`)}</title>`;
        const r = 2.2 + width / 2;
        parts.push(s.marker === 'square'
          ? `<rect class="marker" x="${r1(sx(p.x) - r)}" y="${r1(sy(p.y) - r)}" width="${r1(2 * r)}" height="${r1(2 * r)}" fill="${escapeXml(s.color)}" stroke="#fff" stroke-width="1">${tip}</rect>`
          : `<circle class="marker" cx="${sx(p.x)}" cy="${sy(p.y)}" r="${r1(r)}" fill="${escapeXml(s.color)}" stroke="#fff" stroke-width="1">${tip}</circle>`);
      }
    }
    parts.push('</g>');
  }

  legend();
  parts.push('</svg>');
  return parts.join('');
}
