/**
 * Colormaps for heat-maps: t ∈ [0,1] → sRGB bytes. The perceptual maps come from
 * d3-scale-chromatic (turbo, viridis, inferno); each is sampled once into a 256-entry lookup
 * table, so rendering a map costs one table read per pixel. 'gray' is the identity ramp.
 */
import { interpolateInferno, interpolateTurbo, interpolateViridis } from 'd3-scale-chromatic';

export const COLORMAPS = ['turbo', 'viridis', 'inferno', 'gray'] as const;
export type ColormapName = (typeof COLORMAPS)[number];

/** The default for `apc explain --colormap` and the HTML report. */
export const DEFAULT_COLORMAP: ColormapName = 'turbo';

const INTERPOLATORS: Record<ColormapName, (t: number) => string> = {
  turbo: interpolateTurbo,
  viridis: interpolateViridis,
  inferno: interpolateInferno,
  gray: (t) => { const v = Math.round(255 * t); return `rgb(${v}, ${v}, ${v})`; },
};

/** Parses d3's colour strings: `rgb(r, g, b)` or `#rrggbb`. */
export function parseCssRgb(s: string): [number, number, number] {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(s);
  if (hex) return [parseInt(hex[1], 16), parseInt(hex[2], 16), parseInt(hex[3], 16)];
  const rgb = /^rgb\(\s*(\d+),\s*(\d+),\s*(\d+)\s*\)$/.exec(s);
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  throw new Error(`colormap: cannot parse colour '${s}'`);
}

const luts = new Map<ColormapName, Uint8Array>();

/** The 256×3 lookup table of a colormap (entry i = colour at t = i/255); built once. */
export function colormapLut(name: string): Uint8Array {
  const cm = checkColormap(name);
  let lut = luts.get(cm);
  if (!lut) {
    lut = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) lut.set(parseCssRgb(INTERPOLATORS[cm](i / 255)), 3 * i);
    luts.set(cm, lut);
  }
  return lut;
}

export function isColormap(name: string): name is ColormapName {
  return (COLORMAPS as readonly string[]).includes(name);
}

/** Validates a colormap name; the error lists the known ones. */
function checkColormap(name: string): ColormapName {
  if (!isColormap(name)) throw new Error(`unknown colormap '${name}'; known: ${COLORMAPS.join(', ')}`);
  return name;
}

/** Colour of t (clamped to [0,1]; NaN → 0) as [r, g, b] bytes, from the 256-entry table. */
export function colormapRgb(name: ColormapName, t: number): [number, number, number] {
  const lut = colormapLut(name);
  const i = 3 * lutIndex(t);
  return [lut[i], lut[i + 1], lut[i + 2]];
}

/** Table index of t: round(255·clamp(t)). */
export function lutIndex(t: number): number {
  if (!(t > 0)) return 0; // also NaN
  if (t >= 1) return 255;
  return Math.round(255 * t);
}
