/**
 * What every importer (ONNX, Keras / TF.js layers, safetensors onto a template) produces: a graph
 * with its input metadata, float32 weights under apc's names, and notes on what the importer
 * changed (a stripped softmax, identity BatchNorms inserted after folded convs, chains folded).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GraphNet } from '../graph/graph_net.js';
import type { ModelConfig } from '../model_config.js';

export interface ImportedWeight {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface ImportedModel {
  /** The architecture: an explicit graph (kind 'graph') or a built-in family's config (templates). */
  readonly config: ModelConfig;
  /** Weights by apc name (`<node>/<suffix>`, kernels HWIO, dense [in, out]). */
  readonly weights: ReadonlyMap<string, ImportedWeight>;
  /** One line per thing a user should know about the conversion. */
  readonly notes: readonly string[];
}

/** The imported model as a network (its own variables; the caller disposes it). */
export function importedNet(m: ImportedModel): GraphNet {
  const tensors: tf.NamedTensorMap = {};
  for (const [name, w] of m.weights) tensors[name] = tf.tensor(w.data, [...w.shape], 'float32');
  try {
    return GraphNet.fromWeights(m.config, tensors);
  } finally {
    tf.dispose(Object.values(tensors));
  }
}
