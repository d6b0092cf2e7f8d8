/**
 * Pointing game (evaluation spec §2.5) and the map peak shared with the agreement metrics.
 *
 * Peak = the first pixel in row-major order whose value equals the map's maximum. Hit iff the
 * mask label at the peak is exactly k+1 (a peak on void, background or another class is a
 * miss). A constant map has no peak and is a miss.
 */

export interface Peak {
  /** Flat row-major index. */
  readonly index: number;
  readonly row: number;
  readonly col: number;
}

/**
 * The peak of a row-major map of the given width, or null when the map is constant (or empty).
 * Throws RangeError on NaN (non-finite maps are filtered by the protocol before this).
 */
export function mapPeak(map: ArrayLike<number>, width: number): Peak | null {
  if (!Number.isInteger(width) || width <= 0) throw new RangeError(`mapPeak: bad width ${width}`);
  const n = map.length;
  if (n === 0) return null;
  let best = 0;
  let max = map[0];
  let min = map[0];
  for (let p = 0; p < n; p++) {
    const v = map[p];
    if (v !== v) throw new RangeError(`mapPeak: NaN at index ${p}`);
    if (v > max) {
      max = v;
      best = p;
    } else if (v < min) {
      min = v;
    }
  }
  if (max === min) return null;
  return { index: best, row: Math.floor(best / width), col: best % width };
}

export interface MapShape {
  readonly height: number;
  readonly width: number;
}

export interface PointingOptions {
  /**
   * Hit if any pixel of class k lies within this Euclidean distance (in pixels) of the peak.
   * Default 0 = the exact peak pixel (reference behaviour, quirk E9). 15 reproduces the original
   * pointing game's tolerance.
   */
  readonly tolerancePx?: number;
  /**
   * Compat (reference quirk E6): a constant map gets its peak at (0,0), which may then hit.
   * Default false: a constant map is a miss.
   */
  readonly constantMapPeakAtOrigin?: boolean;
}

export interface PointingResult {
  readonly hit: boolean;
  /** The peak used; null for a constant map (unless `constantMapPeakAtOrigin`). */
  readonly peak: Peak | null;
  /** True when the map is constant. */
  readonly constant: boolean;
}

/**
 * Pointing game for class k (0-based classification index) on an H×W map and class-index mask
 * (0 background, k+1 class k, 255 void).
 */
export function pointingGame(
  map: ArrayLike<number>,
  mask: Uint8Array,
  classIndex: number,
  shape: MapShape,
  options: PointingOptions = {},
): PointingResult {
  const { height, width } = shape;
  if (map.length !== height * width || mask.length !== height * width) {
    throw new RangeError(
      `pointingGame: map ${map.length} / mask ${mask.length} pixels, shape ${height}×${width}`,
    );
  }
  const tolerance = options.tolerancePx ?? 0;
  if (!(tolerance >= 0) || !Number.isFinite(tolerance)) {
    throw new RangeError(`pointingGame: bad tolerancePx ${tolerance}`);
  }
  const target = classIndex + 1;
  let peak = mapPeak(map, width);
  const constant = peak === null;
  if (peak === null) {
    if (options.constantMapPeakAtOrigin !== true || map.length === 0) {
      return { hit: false, peak: null, constant };
    }
    peak = { index: 0, row: 0, col: 0 };
  }
  if (mask[peak.index] === target) return { hit: true, peak, constant };
  if (tolerance === 0) return { hit: false, peak, constant };

  const reach = Math.floor(tolerance);
  const tol2 = tolerance * tolerance;
  const r0 = Math.max(0, peak.row - reach);
  const r1 = Math.min(height - 1, peak.row + reach);
  const c0 = Math.max(0, peak.col - reach);
  const c1 = Math.min(width - 1, peak.col + reach);
  for (let r = r0; r <= r1; r++) {
    const dr = r - peak.row;
    for (let c = c0; c <= c1; c++) {
      const dc = c - peak.col;
      if (dr * dr + dc * dc <= tol2 && mask[r * width + c] === target) {
        return { hit: true, peak, constant };
      }
    }
  }
  return { hit: false, peak, constant };
}
