/**
 * A model that carries input metadata (imported models, ImageNet templates) decides how pixels are
 * normalised; the dataset loaders only hand out [0, 1] pixels. Built-in families trained on a
 * dataset carry none and use the dataset's statistics, as before.
 */
import type { Dataset } from '../data/dataset.js';
import type { InputNormalization } from './graph/graph_spec.js';
import type { ModelConfig } from './model_config.js';
import type { GraphNet } from './graph/graph_net.js';

/** The model's own input normalization, if it has one. */
export function modelNormalization(net: Pick<GraphNet, 'graph'>): InputNormalization | undefined {
  return net.graph.spec.input.normalization;
}

/**
 * `data` seen through the model's normalization: the same samples, with `info.mean`, `info.std`
 * and `info.channelOrder` replaced when the model carries them (else `data` itself).
 */
export function datasetForModel(data: Dataset, net: Pick<GraphNet, 'graph'>): Dataset {
  const n = modelNormalization(net);
  if (!n) return data;
  if (n.mean.length !== 3 || n.std.length !== 3) {
    throw new Error(`the model's input normalization has ${n.mean.length} means and ${n.std.length} stds; RGB datasets need 3 of each`);
  }
  const info = { ...data.info, mean: [n.mean[0], n.mean[1], n.mean[2]] as const, std: [n.std[0], n.std[1], n.std[2]] as const, channelOrder: n.channelOrder };
  // a view: the dataset's own methods (which read their state through `this`) stay in place
  return Object.create(data, { info: { value: info, enumerable: true } }) as Dataset;
}

/**
 * The config with `n` as its input metadata (a family config's `normalization`, a graph's
 * `input.normalization`). Used to make a model trained on a dataset carry that dataset's statistics
 * when it leaves apc (export), where the dataset is no longer at hand.
 */
export function withNormalization(config: ModelConfig, n: InputNormalization): ModelConfig {
  return config.kind === 'graph' ? { ...config, input: { ...config.input, normalization: n } } : { ...config, normalization: n };
}

/** One line for logs: where the model's input normalization comes from. */
export function describeNormalization(net: Pick<GraphNet, 'graph'>): string {
  const n = modelNormalization(net);
  if (!n) return 'input normalised with the dataset\'s statistics';
  const f = (v: readonly number[]) => v.map((x) => Number(x.toFixed(4))).join(', ');
  return `input normalised as the model says: ${n.channelOrder.toUpperCase()} [0, 1] pixels, mean (${f(n.mean)}), std (${f(n.std)})`;
}
