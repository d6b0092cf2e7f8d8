/**
 * Conversion between our VggNet and a TF.js layers model, which is the checkpoint format
 * (`model.json` + weights) any TF.js user can load with `tf.loadLayersModel`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { VggNet, vggWeightNames } from './vgg.js';
import { type VggConfig, vggLayout } from './vgg_config.js';

/** Builds the equivalent Sequential model (same layer names) holding copies of the weights. */
export function toLayersModel(net: VggNet): tfl.LayersModel {
  const cfg = net.config;
  const model = tfl.sequential({ name: 'apc_vgg' });
  let first = true;
  let ci = 0;
  const layout = net.layout;
  cfg.blocks.forEach((block, bi) => {
    for (let i = 0; i < block.length; i++) {
      const c = layout.convs[ci++];
      model.add(tfl.layers.conv2d({
        name: c.name, filters: c.outChannels, kernelSize: 3, strides: 1, padding: 'same', useBias: true,
        ...(first ? { inputShape: [cfg.inputSize[0], cfg.inputSize[1], 3] } : {}),
      }));
      first = false;
      // Keras momentum is the weight of the old value: PyTorch momentum 0.1 ↔ Keras 0.9.
      model.add(tfl.layers.batchNormalization({ name: c.bn, axis: -1, epsilon: cfg.bnEpsilon, momentum: 1 - cfg.bnMomentum }));
      model.add(tfl.layers.activation({ name: c.relu, activation: 'relu' }));
    }
    model.add(tfl.layers.maxPooling2d({ name: layout.pools[bi].name, poolSize: 2, strides: 2, padding: 'valid' }));
  });
  model.add(tfl.layers.flatten({ name: 'flatten' }));
  model.add(tfl.layers.dropout({ name: 'dropout', rate: cfg.dropout }));
  model.add(tfl.layers.dense({ name: 'fc', units: cfg.numClasses }));
  const values = new Map<string, tf.Tensor>();
  for (const [k, v] of net.weights) values.set(k, v);
  // Per layer: model.setWeights orders trainable before non-trainable weights model-wide.
  for (const layer of model.layers) {
    const list = layer.weights.map((w) => {
      const key = `${layer.name}/${w.originalName.split('/').pop()}`;
      const t = values.get(key);
      if (!t) throw new Error(`no weight for layers-model variable '${key}'`);
      return t;
    });
    if (list.length) layer.setWeights(list);
  }
  return model;
}

/** Reads a layers model built by `toLayersModel` (or the same layout) into a VggNet. */
export function fromLayersModel(model: tfl.LayersModel, config: VggConfig): VggNet {
  const layout = vggLayout(config);
  const tensors: tf.NamedTensorMap = {};
  for (const layer of model.layers) {
    for (const w of layer.weights) tensors[`${layer.name}/${w.originalName.split('/').pop()}`] = w.read();
  }
  const names = vggWeightNames(layout);
  const missing = [...names.trainable, ...names.moving].filter((n) => !tensors[n]);
  if (missing.length) throw new Error(`layers model lacks weights ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ' …' : ''} for the config in apc.json`);
  return VggNet.fromWeights(config, tensors);
}
