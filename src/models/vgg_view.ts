/**
 * The VGG-specific view of a network, for the code that still needs the VGG layout (structured
 * filter pruning, the explicit matching backward, the relevance methods' layer list). A graph of
 * another family is refused with a message that says so, never given a wrong answer.
 */
import type { GraphNet } from './graph/graph_net.js';
import { type VggConfig, type VggLayout, vggLayout } from './vgg_config.js';

export interface VggView {
  readonly config: VggConfig;
  readonly layout: VggLayout;
}

const layouts = new WeakMap<VggConfig, VggLayout>();

/** True when the network is a built-in VGG (`--arch vgg16|vgg16s|vgg11`). */
export function isVgg(net: Pick<GraphNet, 'config'>): boolean {
  return net.config.kind === 'vgg';
}

/** The VGG config and layout of `net`; throws `<what> …` for other graphs. */
export function vggView(net: Pick<GraphNet, 'config'>, what = 'this operation'): VggView {
  const config = net.config;
  if (config.kind !== 'vgg') {
    // the VGG-only paths kept bit-identical; every caller routes other graphs to the graph path first
    throw new Error(`${what}: this is the VGG-only path and the model is a ${config.kind === 'graph' ? 'imported graph' : config.kind}; use the graph path (group_prune.ts, graph_backward.ts)`);
  }
  let layout = layouts.get(config);
  if (!layout) { layout = vggLayout(config); layouts.set(config, layout); }
  return { config, layout };
}
