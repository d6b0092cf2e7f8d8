/**
 * Tiny signed-distance-field rasteriser for the procedural datasets.
 *
 * Every primitive is a function `(x, y) → signed distance in pixels` (negative inside), evaluated
 * at pixel centres (x + 0.5, y + 0.5). Anti-aliased coverage is `clamp(0.5 − d, 0, 1)`, so a pixel
 * is "owned" by a shape (coverage ≥ ½) exactly when d ≤ 0 — the same test the masks use.
 * Distance formulas follow Inigo Quilez's 2D SDF catalogue. `fillGradientNoise` is the background
 * fill both datasets start from.
 */

export type Sdf = (x: number, y: number) => number;

/** Integer pixel box, inclusive, already clipped to the image. */
export interface Box {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/** Box around a centre with a radius (plus one pixel of anti-aliasing), clipped to [0, size). */
export function boxAround(cx: number, cy: number, radius: number, width: number, height: number): Box {
  return {
    x0: Math.max(0, Math.floor(cx - radius - 1)),
    y0: Math.max(0, Math.floor(cy - radius - 1)),
    x1: Math.min(width - 1, Math.ceil(cx + radius + 1)),
    y1: Math.min(height - 1, Math.ceil(cy + radius + 1)),
  };
}

/** Coverage of a pixel whose centre is at signed distance d from the edge. */
export function coverage(d: number): number {
  return d <= -0.5 ? 1 : d >= 0.5 ? 0 : 0.5 - d;
}

// ---------------------------------------------------------------------------------------------
// Unit-space primitives (used through `placed`)

/** Disk of radius r at the origin. */
export function sdCircle(u: number, v: number, r: number): number {
  return Math.sqrt(u * u + v * v) - r;
}

/** Axis-aligned box with half-extents (bx, by) at the origin. */
export function sdBox(u: number, v: number, bx: number, by: number): number {
  const dx = Math.abs(u) - bx;
  const dy = Math.abs(v) - by;
  const ox = dx > 0 ? dx : 0;
  const oy = dy > 0 ? dy : 0;
  const inside = Math.max(dx, dy);
  return Math.sqrt(ox * ox + oy * oy) + (inside < 0 ? inside : 0);
}

/** Exact distance to a simple polygon (any winding), vertices as flat [x0, y0, x1, y1, …]. */
export function sdPolygon(u: number, v: number, pts: Float64Array): number {
  const n = pts.length >> 1;
  let dx = u - pts[0];
  let dy = v - pts[1];
  let d = dx * dx + dy * dy;
  let s = 1;
  for (let i = 0, j = n - 1; i < n; j = i, i++) {
    const vix = pts[2 * i];
    const viy = pts[2 * i + 1];
    const ex = pts[2 * j] - vix;
    const ey = pts[2 * j + 1] - viy;
    const wx = u - vix;
    const wy = v - viy;
    let h = (wx * ex + wy * ey) / (ex * ex + ey * ey);
    h = h < 0 ? 0 : h > 1 ? 1 : h;
    dx = wx - ex * h;
    dy = wy - ey * h;
    const dd = dx * dx + dy * dy;
    if (dd < d) d = dd;
    const c1 = v >= viy;
    const c2 = v < pts[2 * j + 1];
    const c3 = ex * wy > ey * wx;
    if ((c1 && c2 && c3) || (!c1 && !c2 && !c3)) s = -s;
  }
  return s * Math.sqrt(d);
}

/** Crescent: disk ra minus disk rb centred at (dist, 0). */
export function sdMoon(u: number, v: number, dist: number, ra: number, rb: number): number {
  const py = Math.abs(v);
  const a = (ra * ra - rb * rb + dist * dist) / (2 * dist);
  const b = Math.sqrt(Math.max(ra * ra - a * a, 0));
  if (dist * (u * b - py * a) > dist * dist * Math.max(b - py, 0)) {
    return Math.sqrt((u - a) * (u - a) + (py - b) * (py - b));
  }
  const outer = Math.sqrt(u * u + py * py) - ra;
  const inner = Math.sqrt((u - dist) * (u - dist) + py * py) - rb;
  return Math.max(outer, -inner);
}

/** Regular star polygon (n points, outer radius ro, inner radius ri), first point along −v (up). */
export function starPolygon(points: number, ro: number, ri: number): Float64Array {
  const out = new Float64Array(points * 4);
  for (let i = 0; i < points * 2; i++) {
    const r = i % 2 === 0 ? ro : ri;
    const a = -Math.PI / 2 + (i * Math.PI) / points;
    out[2 * i] = r * Math.cos(a);
    out[2 * i + 1] = r * Math.sin(a);
  }
  return out;
}

/**
 * Place a unit-space SDF in the image: centre (cx, cy), scale `scale` px per unit, rotation
 * `theta` (radians). Uniform scaling keeps distances exact: d_px = scale · d_unit.
 */
export function placed(cx: number, cy: number, scale: number, theta: number, f: (u: number, v: number) => number): Sdf {
  const c = Math.cos(theta) / scale;
  const s = Math.sin(theta) / scale;
  return (x, y) => {
    const dx = x - cx;
    const dy = y - cy;
    return scale * f(dx * c + dy * s, -dx * s + dy * c);
  };
}

// ---------------------------------------------------------------------------------------------
// Pixel-space primitives for clutter

/** Capsule (thick line segment) from a to b with half-width w. */
export function sdSegment(ax: number, ay: number, bx: number, by: number, w: number): Sdf {
  const ex = bx - ax;
  const ey = by - ay;
  const ee = ex * ex + ey * ey || 1;
  return (x, y) => {
    const px = x - ax;
    const py = y - ay;
    let h = (px * ex + py * ey) / ee;
    h = h < 0 ? 0 : h > 1 ? 1 : h;
    const dx = px - ex * h;
    const dy = py - ey * h;
    return Math.sqrt(dx * dx + dy * dy) - w;
  };
}

/** Circular arc stroke: centre, radius r, mid-direction `mid`, half-span `half` (rad), half-width w. */
export function sdArc(cx: number, cy: number, r: number, mid: number, half: number, w: number): Sdf {
  const c = Math.cos(mid);
  const s = Math.sin(mid);
  const ex = r * Math.cos(half);
  const ey = r * Math.sin(half);
  return (x, y) => {
    const dx = x - cx;
    const dy = y - cy;
    const u = dx * c + dy * s;
    const v = Math.abs(-dx * s + dy * c);
    const ang = Math.atan2(v, u);
    if (ang <= half) return Math.abs(Math.sqrt(u * u + v * v) - r) - w;
    return Math.sqrt((u - ex) * (u - ex) + (v - ey) * (v - ey)) - w;
  };
}

/** Approximate SDF of an ellipse with semi-axes (a, b) rotated by theta (good enough for AA). */
export function sdEllipse(cx: number, cy: number, a: number, b: number, theta: number): Sdf {
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  const m = Math.min(a, b);
  return (x, y) => {
    const dx = x - cx;
    const dy = y - cy;
    const u = (dx * c + dy * s) / a;
    const v = (-dx * s + dy * c) / b;
    return (Math.sqrt(u * u + v * v) - 1) * m;
  };
}

// ---------------------------------------------------------------------------------------------
// Painting

/** Evaluate an SDF at every pixel centre of a box (row-major within the box). */
export function evalBox(sdf: Sdf, box: Box): Float32Array {
  const w = box.x1 - box.x0 + 1;
  const out = new Float32Array(w * (box.y1 - box.y0 + 1));
  let k = 0;
  for (let y = box.y0; y <= box.y1; y++) {
    for (let x = box.x0; x <= box.x1; x++) out[k++] = sdf(x + 0.5, y + 0.5);
  }
  return out;
}

/** Alpha-blend a flat colour through an SDF's anti-aliased coverage into an H·W·3 image. */
export function paintSdf(
  img: Float32Array,
  width: number,
  sdf: Sdf,
  box: Box,
  r: number,
  g: number,
  b: number,
  alpha = 1,
): void {
  for (let y = box.y0; y <= box.y1; y++) {
    let o = (y * width + box.x0) * 3;
    for (let x = box.x0; x <= box.x1; x++, o += 3) {
      const d = sdf(x + 0.5, y + 0.5);
      if (d >= 0.5) continue;
      const a = (d <= -0.5 ? 1 : 0.5 - d) * alpha;
      img[o] += (r - img[o]) * a;
      img[o + 1] += (g - img[o + 1]) * a;
      img[o + 2] += (b - img[o + 2]) * a;
    }
  }
}

/** A sinusoidal grating added to every channel: amp·sin(kx·x + ky·y + phase) at pixel centres. */
export interface Grating {
  readonly kx: number;
  readonly ky: number;
  readonly phase: number;
  readonly amp: number;
}

/**
 * Fills an S×S×3 image with a background: a linear gradient from `c1` to `c2` along (gx, gy)
 * (per pixel, 0.5 at the centre, clamped to [0, 1]), plus low-frequency colour noise (smoothstep
 * bilinear interpolation of a (G+1)×(G+1) grid of RGB `nodes`), plus an optional `grating`.
 */
export function fillGradientNoise(img: Float32Array, S: number, c1: readonly number[], c2: readonly number[],
  gx: number, gy: number, nodes: ArrayLike<number>, G: number, grating?: Grating): void {
  const half = S / 2;
  for (let y = 0; y < S; y++) {
    const fy = ((y + 0.5) / S) * G;
    const iy = Math.min(G - 1, Math.floor(fy));
    let ty = fy - iy;
    ty = ty * ty * (3 - 2 * ty);
    for (let x = 0; x < S; x++) {
      const fx = ((x + 0.5) / S) * G;
      const ix = Math.min(G - 1, Math.floor(fx));
      let tx = fx - ix;
      tx = tx * tx * (3 - 2 * tx);
      let t = 0.5 + (x + 0.5 - half) * gx + (y + 0.5 - half) * gy;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const g = grating ? grating.amp * Math.sin((x + 0.5) * grating.kx + (y + 0.5) * grating.ky + grating.phase) : 0;
      const n00 = (iy * (G + 1) + ix) * 3;
      const n10 = n00 + (G + 1) * 3;
      const o = (y * S + x) * 3;
      for (let c = 0; c < 3; c++) {
        const a = nodes[n00 + c] + (nodes[n00 + 3 + c] - nodes[n00 + c]) * tx;
        const b = nodes[n10 + c] + (nodes[n10 + 3 + c] - nodes[n10 + c]) * tx;
        const v = c1[c] + (c2[c] - c1[c]) * t + a + (b - a) * ty;
        img[o + c] = grating ? v + g : v;
      }
    }
  }
}

/** HSV (all in [0,1]) to RGB, written into `out`. */
export function hsv(h: number, s: number, v: number, out: number[] = [0, 0, 0]): number[] {
  const h6 = (((h % 1) + 1) % 1) * 6;
  const i = Math.floor(h6);
  const f = h6 - i;
  const p = v * (1 - s);
  const q = v * (1 - s * f);
  const t = v * (1 - s * (1 - f));
  switch (i) {
    case 0: out[0] = v; out[1] = t; out[2] = p; break;
    case 1: out[0] = q; out[1] = v; out[2] = p; break;
    case 2: out[0] = p; out[1] = v; out[2] = t; break;
    case 3: out[0] = p; out[1] = q; out[2] = v; break;
    case 4: out[0] = t; out[1] = p; out[2] = v; break;
    default: out[0] = v; out[1] = p; out[2] = q; break;
  }
  return out;
}
