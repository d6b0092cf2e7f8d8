/** The table of op kinds: every consumer looks an op up here (never a switch over kinds). */
import type { OpKind } from '../graph_spec.js';
import type { OpDef } from '../op.js';
import { clipOp, dropoutOp, identityOp, reluOp } from './activations.js';
import { batchNormOp } from './batch_norm.js';
import { conv2dOp } from './conv2d.js';
import { denseOp } from './dense.js';
import { avgPoolOp, globalAvgPoolOp, maxPoolOp } from './pooling.js';
import { addOp, concatOp, flattenOp, padOp } from './structure.js';

export const OPS: { readonly [K in OpKind]: OpDef<K> } = {
  conv2d: conv2dOp, batchNorm: batchNormOp, relu: reluOp, clip: clipOp, maxPool: maxPoolOp, avgPool: avgPoolOp,
  globalAvgPool: globalAvgPoolOp, pad: padOp, add: addOp, concat: concatOp, flatten: flattenOp, dense: denseOp,
  dropout: dropoutOp, identity: identityOp,
};

export function opOf<K extends OpKind>(kind: K): OpDef<K> {
  return OPS[kind] as OpDef<K>;
}
