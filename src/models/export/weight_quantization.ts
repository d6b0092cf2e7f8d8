/**
 * TF.js weight quantisation, as `tensorflowjs_converter --quantize_uint8 / --quantize_float16`
 * writes it into a weights manifest and as tfjs-core's `io.decodeWeights` reads it back:
 *
 *   uint8 (per tensor, affine): entry.quantization = { dtype: 'uint8', scale, min }, value = q·scale + min
 *   float16:                    entry.quantization = { dtype: 'float16' }, value = the binary16 number
 *
 * The uint8 range follows tensorflowjs/quantization.py: scale = (max − min)/255 and, when the
 * range holds 0, min is nudged to −round(−min/scale)·scale so that 0 is stored exactly (pruned
 * weights stay exactly 0 and all share one byte). The arithmetic is float64 (NumPy ≥ 2 keeps the
 * float64 min/scale; round = half to even, as np.round). Dequantisation is tfjs-core's loop,
 * `Float32Array[i] = q·scale + min` (float64 product and sum, one rounding to float32), so
 * `dequantizeUint8` is bit-for-bit what `tf.loadLayersModel` gives; a test checks it against
 * `tf.io.decodeWeights`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { float32ToHalfBitsArray, halfBitsToFloat32 } from '../import/half.js';

export type WeightQuantization = 'float16' | 'uint8';
export const WEIGHT_QUANTIZATIONS: readonly WeightQuantization[] = ['float16', 'uint8'];

export interface Uint8Quantized {
  readonly q: Uint8Array;
  readonly scale: number;
  readonly min: number;
}

/** np.round: nearest integer, ties to even. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** The affine uint8 code of one tensor's values (tensorflowjs `quantize_weights(data, np.uint8)`). */
export function quantizeUint8(values: ArrayLike<number>): Uint8Quantized {
  const n = values.length;
  const q = new Uint8Array(n);
  if (n === 0) return { q, scale: 1, min: 0 };
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (Number.isNaN(v) || !Number.isFinite(v)) throw new Error(`uint8 quantisation: value ${i} is ${v}; only finite weights can be quantised`);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  // a constant tensor is all zeros with scale 1 (as the converter does)
  if (lo === hi) return { q, scale: 1, min: lo };
  const scale = (hi - lo) / 255;
  let min = lo;
  let max = hi;
  if (lo <= 0 && 0 <= hi) {
    const zeroPoint = roundHalfEven((0 - lo) / scale);
    min = -zeroPoint * scale;
    max = 255 * scale + min;
  }
  for (let i = 0; i < n; i++) {
    const clipped = Math.min(Math.max(values[i], min), max);
    q[i] = roundHalfEven((clipped - min) / scale);
  }
  return { q, scale, min };
}

/** tfjs-core's decoding of a uint8-quantised float32 weight. */
export function dequantizeUint8(code: Uint8Quantized): Float32Array {
  const out = new Float32Array(code.q.length);
  for (let i = 0; i < out.length; i++) out[i] = code.q[i] * code.scale + code.min;
  return out;
}

/** The float32 values a uint8 export of `values` loads back as (what QAT trains through). */
export function fakeQuantizeUint8(values: ArrayLike<number>): Float32Array {
  return dequantizeUint8(quantizeUint8(values));
}

/** The float32 values a float16 export of `values` loads back as. */
export function fakeQuantizeFloat16(values: ArrayLike<number>): Float32Array {
  return halfBitsToFloat32(float32ToHalfBitsArray(values));
}

/**
 * Re-encodes the weights of a model's artifacts (float32 as `model.save` produces them) with
 * TF.js quantisation: every float32 entry gets its `quantization` block and stored bytes, in
 * manifest order; other dtypes are kept as they are. Returns new specs and one weight buffer.
 */
export function quantizeWeightData(specs: readonly tf.io.WeightsManifestEntry[], data: tf.io.WeightData, dtype: WeightQuantization):
  { weightSpecs: tf.io.WeightsManifestEntry[]; weightData: ArrayBuffer } {
  const whole = tf.io.CompositeArrayBuffer.join(data);
  const parts: Uint8Array[] = [];
  const out: tf.io.WeightsManifestEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.quantization) throw new Error(`weight '${spec.name}' is already quantised (${spec.quantization.dtype})`);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = size * (spec.dtype === 'bool' ? 1 : 4);
    if (spec.dtype === 'string' || spec.dtype === 'complex64') throw new Error(`weight '${spec.name}' has dtype ${spec.dtype}, which has no TF.js quantisation`);
    if (spec.dtype !== 'float32') {
      parts.push(new Uint8Array(whole.slice(offset, offset + bytes)));
      out.push({ ...spec });
    } else {
      const values = new Float32Array(whole.slice(offset, offset + bytes));
      if (dtype === 'float16') {
        const half = float32ToHalfBitsArray(values);
        parts.push(new Uint8Array(half.buffer, half.byteOffset, half.byteLength));
        out.push({ ...spec, quantization: { dtype: 'float16' } });
      } else {
        const code = quantizeUint8(values);
        parts.push(code.q);
        out.push({ ...spec, quantization: { dtype: 'uint8', scale: code.scale, min: code.min } });
      }
    }
    offset += bytes;
  }
  if (offset !== whole.byteLength) throw new Error(`weight data holds ${whole.byteLength} bytes but the specs describe ${offset}`);
  const total = parts.reduce((a, p) => a + p.byteLength, 0);
  const buf = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { buf.set(p, at); at += p.byteLength; }
  return { weightSpecs: out, weightData: buf.buffer };
}
