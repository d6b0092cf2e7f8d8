/**
 * Explicit per-side padding and its TensorFlow forms. PyTorch pads symmetrically; TF 'same' puts
 * the extra pixel at the bottom/right (graph.md §1), so a PyTorch model is 'same' only where the
 * two agree. tfjs takes 'valid', 'same' or explicit pads; the first two are preferred because
 * every backend kernel (and apc's wasm kernels) has them on its fast path.
 */
export type Pads = readonly [number, number, number, number];

/** Output length of a window op over `size` with explicit pads. */
export function windowOutput(size: number, kernel: number, stride: number, dilation: number, padBefore: number, padAfter: number): number {
  return Math.floor((size + padBefore + padAfter - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** TF's 'same' padding [before, after] for one axis. */
export function samePads(size: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** Explicit pads that TF 'same' would use for an [h, w] input. */
export function samePads2d(h: number, w: number, kernel: readonly [number, number], strides: readonly [number, number],
  dilations: readonly [number, number] = [1, 1]): Pads {
  const [t, b] = samePads(h, kernel[0], strides[0], dilations[0]);
  const [l, r] = samePads(w, kernel[1], strides[1], dilations[1]);
  return [t, b, l, r];
}

export type TfPadding = 'valid' | 'same' | [[number, number], [number, number], [number, number], [number, number]];

/** The tfjs form of explicit pads for an [h, w] input: 'valid', 'same' or NHWC explicit pads. */
export function tfPadding(pads: Pads, h: number, w: number, kernel: readonly [number, number], strides: readonly [number, number],
  dilations: readonly [number, number] = [1, 1]): TfPadding {
  if (pads.every((p) => p === 0)) return 'valid';
  const same = samePads2d(h, w, kernel, strides, dilations);
  if (same.every((p, i) => p === pads[i])) return 'same';
  return [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]];
}

export function isZeroPads(pads: Pads): boolean {
  return pads.every((p) => p === 0);
}
