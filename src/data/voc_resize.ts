/**
 * The VOC protocol's resamplers (voc-protocol.md §4–§5), on the CPU for exact parity with the
 * reference's image library:
 *
 * - `resizeBilinearAntialias`: separable bilinear whose kernel widens by the shrink factor
 *   (a triangle of half-width max(n_in/n_out, 1)), horizontal pass first and rounded to uint8,
 *   then the vertical pass; 22-bit fixed-point weights. `tf.image.resizeBilinear` does not widen
 *   the kernel, so it would alias when shrinking a 500×375 photo to 227×227.
 * - `resizeNearestIndex`: nearest neighbour with the reference's source-index rule (repeated
 *   float64 addition), for class-index masks (never mixes labels; 255 void stays void).
 */

const PRECISION_BITS = 22;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

/** Fixed-point filter taps of one axis: output o reads input[lo[o] .. lo[o] + count[o]) with weights k. */
export interface AxisCoefficients {
  readonly lo: Int32Array;
  readonly count: Int32Array;
  /** Row-major [nOut, taps] integer weights (sum ≈ 2^22 per output). */
  readonly k: Float64Array;
  readonly taps: number;
}

/** Bilinear taps for resampling an axis of length nIn to nOut (voc-protocol.md §4). */
export function bilinearAxisCoefficients(nIn: number, nOut: number): AxisCoefficients {
  if (!(Number.isInteger(nIn) && nIn > 0 && Number.isInteger(nOut) && nOut > 0)) {
    throw new RangeError(`bilinearAxisCoefficients: lengths must be positive integers, got ${nIn} → ${nOut}`);
  }
  const scale = nIn / nOut;
  const fs = Math.max(scale, 1);
  const support = fs; // bilinear support 1, widened by the filter scale
  const taps = Math.ceil(support) * 2 + 1;
  const lo = new Int32Array(nOut);
  const count = new Int32Array(nOut);
  const k = new Float64Array(nOut * taps);
  const w = new Float64Array(taps);
  for (let o = 0; o < nOut; o++) {
    const centre = (o + 0.5) * scale;
    const a = Math.max(Math.trunc(centre - support + 0.5), 0);
    const b = Math.min(Math.trunc(centre + support + 0.5), nIn);
    const n = b - a;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const t = Math.abs((i + a - centre + 0.5) / fs);
      const v = t < 1 ? 1 - t : 0;
      w[i] = v;
      sum += v;
    }
    for (let i = 0; i < n; i++) {
      const v = sum !== 0 ? w[i] / sum : 0;
      k[o * taps + i] = v < 0 ? Math.trunc(v * ONE - 0.5) : Math.trunc(v * ONE + 0.5);
    }
    lo[o] = a;
    count[o] = n;
  }
  return { lo, count, k, taps };
}

function clampU8(acc: number): number {
  if (acc >= 256 * ONE) return 255;
  if (acc <= 0) return 0;
  return Math.floor(acc / ONE);
}

/**
 * Antialiased bilinear resize of an interleaved uint8 image (`channels` per pixel, row-major),
 * `width`×`height` → `outWidth`×`outHeight`. A pass is skipped when its dimension does not
 * change, so an identity resize returns a copy of the input.
 */
export function resizeBilinearAntialias(src: Uint8Array, width: number, height: number, channels: number,
  outWidth: number, outHeight: number): Uint8Array {
  if (src.length !== width * height * channels) {
    throw new RangeError(`resizeBilinearAntialias: ${src.length} values for ${width}×${height}×${channels}`);
  }
  let cur = src;
  let curW = width;
  if (outWidth !== width) {
    const c = bilinearAxisCoefficients(width, outWidth);
    const out = new Uint8Array(outWidth * height * channels);
    for (let y = 0; y < height; y++) {
      const rowIn = y * width * channels;
      const rowOut = y * outWidth * channels;
      for (let o = 0; o < outWidth; o++) {
        const base = o * c.taps;
        const n = c.count[o];
        const x0 = c.lo[o];
        for (let ch = 0; ch < channels; ch++) {
          let acc = HALF;
          for (let i = 0; i < n; i++) acc += cur[rowIn + (x0 + i) * channels + ch] * c.k[base + i];
          out[rowOut + o * channels + ch] = clampU8(acc);
        }
      }
    }
    cur = out;
    curW = outWidth;
  }
  if (outHeight !== height) {
    const c = bilinearAxisCoefficients(height, outHeight);
    const stride = curW * channels;
    const out = new Uint8Array(outHeight * stride);
    for (let o = 0; o < outHeight; o++) {
      const base = o * c.taps;
      const n = c.count[o];
      const y0 = c.lo[o];
      const rowOut = o * stride;
      for (let j = 0; j < stride; j++) {
        let acc = HALF;
        for (let i = 0; i < n; i++) acc += cur[(y0 + i) * stride + j] * c.k[base + i];
        out[rowOut + j] = clampU8(acc);
      }
    }
    cur = out;
  }
  return cur === src ? src.slice() : cur;
}

/** Source index of each output index for nearest-neighbour resampling (voc-protocol.md §5). */
export function nearestIndices(nIn: number, nOut: number): Int32Array {
  if (!(Number.isInteger(nIn) && nIn > 0 && Number.isInteger(nOut) && nOut > 0)) {
    throw new RangeError(`nearestIndices: lengths must be positive integers, got ${nIn} → ${nOut}`);
  }
  const a = nIn / nOut;
  const idx = new Int32Array(nOut);
  let acc = a / 2;
  for (let o = 0; o < nOut; o++) {
    idx[o] = Math.min(Math.trunc(acc), nIn - 1);
    acc += a;
  }
  return idx;
}

/** Nearest-neighbour resize of a single-channel uint8 map (class indices). */
export function resizeNearestIndex(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  if (src.length !== width * height) throw new RangeError(`resizeNearestIndex: ${src.length} values for ${width}×${height}`);
  const xs = nearestIndices(width, outWidth);
  const ys = nearestIndices(height, outHeight);
  const out = new Uint8Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const row = ys[y] * width;
    for (let x = 0; x < outWidth; x++) out[y * outWidth + x] = src[row + xs[x]];
  }
  return out;
}
