/**
 * The TF.js layers format (Keras) of a network: the checkpoint's `model.json` topology and the
 * `apc export --format tfjs` model, loadable by `tf.loadLayersModel` in Node and in a browser.
 * Each op writes its own layers (`OpDef.keras`); weights keep their names (`conv1_1/kernel`).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { GraphNet } from './graph/graph_net.js';
import { INPUT } from './graph/graph_spec.js';
import { OPS } from './graph/ops/index.js';
import { type ModelConfig, graphOf } from './model_config.js';

/** `userDefinedMetadata` key under which an exported model.json carries the input metadata. */
export const APC_INPUT_METADATA_KEY = 'apcInputNormalization';

/**
 * Builds the equivalent functional model (same layer and weight names) holding copies of the
 * weights; the model's input metadata, if any, goes into model.json's `userDefinedMetadata`.
 */
export function toLayersModel(net: GraphNet): tfl.LayersModel {
  const model = buildLayersModel(net.config);
  try {
    const n = net.graph.spec.input.normalization;
    if (n) model.setUserDefinedMetadata({ [APC_INPUT_METADATA_KEY]: n });
    // per layer: model.setWeights orders trainable before non-trainable weights model-wide
    for (const layer of model.layers) {
      const list = layer.weights.map((w) => {
        const key = `${layer.name}/${w.originalName.split('/').pop()}`;
        const t = net.weights.get(key);
        if (!t) throw new Error(`no weight for layers-model variable '${key}'`);
        return t;
      });
      if (list.length) layer.setWeights(list);
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/** The functional model of a config with freshly initialised weights; throws naming a node without a Keras form. */
export function buildLayersModel(config: ModelConfig): tfl.LayersModel {
  const graph = graphOf(config);
  const input = tfl.input({ shape: [...graph.inputShape], name: INPUT });
  const values = new Map<string, SymbolicTensor>([[INPUT, input]]);
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((n) => values.get(n)!);
    const out = OPS[node.op].keras(node as never, inputs, {
      inputShapes: graph.inputShapes(node),
      nonNegativeInput: (i) => graph.nonNegative(node.inputs[i]),
    });
    values.set(node.name, out);
  }
  return tfl.model({ inputs: input, outputs: values.get(graph.outputName)!, name: `apc_${config.kind}` });
}

const topologies = new WeakMap<object, { topology: tf.io.ModelJSON['modelTopology'] } | { error: string }>();

/**
 * The Keras topology JSON of a config, or why it has none (cached per config object: it depends
 * only on the graph, and building it instantiates every layer).
 */
export function kerasTopology(config: ModelConfig): { topology: tf.io.ModelJSON['modelTopology'] } | { error: string } {
  let t = topologies.get(config);
  if (!t) {
    try {
      const model = buildLayersModel(config);
      t = { topology: model.toJSON(null, false) as tf.io.ModelJSON['modelTopology'] };
      model.dispose();
    } catch (err) {
      t = { error: (err as Error).message };
    }
    topologies.set(config, t);
  }
  return t;
}

/** Reads a layers model whose layer names are the graph's nodes (as `toLayersModel` writes) into a network. */
export function fromLayersModel(model: tfl.LayersModel, config: ModelConfig): GraphNet {
  const tensors: tf.NamedTensorMap = {};
  for (const layer of model.layers) {
    for (const w of layer.weights) tensors[`${layer.name}/${w.originalName.split('/').pop()}`] = w.read();
  }
  return GraphNet.fromWeights(config, tensors);
}
