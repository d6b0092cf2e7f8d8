/**
 * The VGG family as a graph: every conv 3×3/1 (pads 1, i.e. 'same') + bias → BatchNorm → ReLU,
 * a 2×2/2 max-pool after each block, then flatten (NHWC) → dropout → dense. Node names are the
 * paper's (conv{b}_{i}, bn{b}_{i}, relu{b}_{i}, pool{b}, flatten, dropout, fc), so checkpoints
 * written before the graph model load unchanged.
 */
import type { GraphSpec, NodeSpecInput } from '../graph/graph_spec.js';
import { parseGraphSpec } from '../graph/graph_spec.js';
import { type VggConfig, vggLayout } from '../vgg_config.js';

export function vggGraph(cfg: VggConfig): GraphSpec {
  const layout = vggLayout(cfg);
  const nodes: NodeSpecInput[] = [];
  let prev = 'input';
  let ci = 0;
  cfg.blocks.forEach((block, bi) => {
    for (let i = 0; i < block.length; i++) {
      const c = layout.convs[ci++];
      nodes.push(
        { op: 'conv2d', name: c.name, inputs: [prev], filters: c.outChannels, kernelSize: [3, 3], pads: [1, 1, 1, 1] },
        { op: 'batchNorm', name: c.bn, inputs: [c.name], epsilon: cfg.bnEpsilon, momentum: cfg.bnMomentum },
        { op: 'relu', name: c.relu, inputs: [c.bn] },
      );
      prev = c.relu;
    }
    const pool = layout.pools[bi].name;
    nodes.push({ op: 'maxPool', name: pool, inputs: [prev], poolSize: [2, 2], strides: [2, 2] });
    prev = pool;
  });
  nodes.push(
    { op: 'flatten', name: 'flatten', inputs: [prev] },
    { op: 'dropout', name: 'dropout', inputs: ['flatten'], rate: cfg.dropout },
    { op: 'dense', name: 'fc', inputs: ['dropout'], units: cfg.numClasses },
  );
  return parseGraphSpec({
    kind: 'graph', name: 'vgg', input: { shape: [cfg.inputSize[0], cfg.inputSize[1], 3], ...(cfg.normalization ? { normalization: cfg.normalization } : {}) }, nodes, output: 'fc',
  }, 'vgg graph');
}
