/** Shared pieces of the ops' Keras exports: explicit pads as ZeroPadding2D + 'valid'. */
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import type { Shape } from './op.js';
import { type Pads, tfPadding } from './padding.js';

/**
 * Keras's padding for a window op: 'same' / 'valid' when they equal the explicit pads, else the
 * input zero-padded by a `<name>_pad` ZeroPadding2D layer and 'valid'. `zeroPadOk` false refuses
 * the explicit case (a max-pool over values that can be negative pads with −∞, not 0).
 */
export function kerasPadding(name: string, x: SymbolicTensor, shape: Shape, pads: Pads, kernel: readonly [number, number],
  strides: readonly [number, number], dilations: readonly [number, number], zeroPadOk: boolean, why: string): { x: SymbolicTensor; padding: 'same' | 'valid' } {
  const p = tfPadding(pads, shape[0], shape[1], kernel, strides, dilations);
  if (p === 'same' || p === 'valid') return { x, padding: p };
  if (!zeroPadOk) throw new Error(`node '${name}': ${why}`);
  const padded = tfl.layers.zeroPadding2d({ name: `${name}_pad`, padding: [[pads[0], pads[1]], [pads[2], pads[3]]] }).apply(x) as SymbolicTensor;
  return { x: padded, padding: 'valid' };
}

export function pair(v: readonly [number, number]): [number, number] {
  return [v[0], v[1]];
}
