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

/**
 * The imported model as a network (its own variables; the caller disposes it). With `initSeed`,
 * weights the import does not supply (a template's new head) get PyTorch's default
 * initialisation from that seed; without it every weight must be supplied.
 */
export function importedNet(m: ImportedModel, opts: { initSeed?: number } = {}): GraphNet {
  const tensors: tf.NamedTensorMap = {};
  const fresh = opts.initSeed !== undefined ? GraphNet.create(m.config, opts.initSeed) : undefined;
  try {
    for (const [name, w] of m.weights) tensors[name] = tf.tensor(w.data, [...w.shape], 'float32');
    if (fresh) for (const [name, v] of fresh.weights) if (!tensors[name]) tensors[name] = v;
    return GraphNet.fromWeights(m.config, tensors);
  } finally {
    tf.dispose(Object.values(tensors).filter((t) => !fresh || ![...fresh.weights.values()].includes(t as tf.Variable)));
    fresh?.dispose();
  }
}
