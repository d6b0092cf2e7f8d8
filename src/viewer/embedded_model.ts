/**
 * A model as the viewer page carries it: everything `loadNet` reads from a checkpoint (the config
 * of apc.json, the float32 weights of weights.bin as base64) plus what `apc explain` would look up
 * in Node (class names, the input normalisation), in one JSON-able object. The page cannot fetch
 * files when opened from disk (`file://`), so `apc viewer` writes these into a script
 * (`models.js`) that assigns them to a global. Browser-safe: no Node imports.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GraphNet } from '../models/graph/graph_net.js';
import { parseModelConfig } from '../models/model_config.js';
import type { Normalization } from '../report/explain.js';

export interface EmbeddedModel {
  /** Short name shown above the model's column (`checkpointLabel`). */
  readonly label: string;
  /** Where it came from (the --models argument), for the page's footnote. */
  readonly source: string;
  /** apc.json's `config`: rebuilds the network. */
  readonly config: unknown;
  /** One name per output. */
  readonly classNames: readonly string[];
  /** What `apc explain --image` normalises with when the model has no input metadata of its own. */
  readonly normalization: Normalization;
  readonly weightSpecs: tf.io.WeightsManifestEntry[];
  /** The weights' bytes (tf.io.encodeWeights), base64. */
  readonly weights: string;
}

/** Global the models script assigns to (window.APC_VIEWER_MODELS). */
export const MODELS_GLOBAL = 'APC_VIEWER_MODELS';

function base64Bytes(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** The network of an embedded model, as `loadNet` builds it from the checkpoint (errors name the label). */
export function embeddedNet(m: EmbeddedModel): GraphNet {
  const config = parseModelConfig(m.config, `${m.label}: config`);
  const weights = tf.io.decodeWeights(base64Bytes(m.weights).buffer as ArrayBuffer, m.weightSpecs);
  try {
    return GraphNet.fromWeights(config, weights);
  } catch (err) {
    throw new Error(`${m.label}: the weights do not match the config: ${(err as Error).message}`);
  } finally {
    tf.dispose(Object.values(weights));
  }
}
