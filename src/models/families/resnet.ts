/**
 * The ResNet family (basic blocks, as torchvision's resnet18/34) as a graph. Node names follow
 * torchvision's modules (conv1, bn1, layer2.0.downsample.0, fc …) so a PyTorch state dict maps
 * onto them; each use of torchvision's shared ReLU module is its own node (layer1.0.relu1,
 * layer1.0.relu2). For inputs below 128 px the stem is a 3×3/1 conv + 3×3/2 max-pool (the
 * ImageNet stem's 7×7/2 conv + pool would leave a 2×2 map at 64 px); at 64 px the last map is 4×4.
 */
import { z } from 'zod';
import type { GraphSpec, NodeSpecInput } from '../graph/graph_spec.js';
import { parseGraphSpec } from '../graph/graph_spec.js';
import { familyFields, MAX_STAGE_REPEATS } from './family_fields.js';

export const ResNetConfigSchema = z.object({
  kind: z.literal('resnet'),
  /** Basic blocks per stage (resnet18: [2, 2, 2, 2], resnet34: [3, 4, 6, 3]). */
  blocks: z.array(z.number().int().positive().max(MAX_STAGE_REPEATS)).min(1),
  /** Channels per stage (torchvision: 64, 128, 256, 512); the stem has the first stage's. */
  widths: z.array(z.number().int().positive()).min(1),
  /** 'imagenet': 7×7/2 conv (pads 3) + 3×3/2 max-pool (pads 1); 'small': 3×3/1 conv + the same pool. */
  stem: z.enum(['imagenet', 'small']),
  ...familyFields(0),
}).refine((c) => c.blocks.length === c.widths.length, { message: 'blocks and widths need one entry per stage', path: ['widths'] });
export type ResNetConfig = z.infer<typeof ResNetConfigSchema>;

export const RESNET_DEPTHS: Readonly<Record<string, readonly number[]>> = { resnet18: [2, 2, 2, 2], resnet34: [3, 4, 6, 3] };
export const RESNET_WIDTHS: readonly number[] = [64, 128, 256, 512];

export function resnetGraph(cfg: ResNetConfig): GraphSpec {
  const nodes: NodeSpecInput[] = [];
  const bn = (name: string, input: string): NodeSpecInput =>
    ({ op: 'batchNorm', name, inputs: [input], epsilon: cfg.bnEpsilon, momentum: cfg.bnMomentum });
  const conv = (name: string, input: string, filters: number, k: number, stride: number): NodeSpecInput => ({
    op: 'conv2d', name, inputs: [input], filters, kernelSize: [k, k], strides: [stride, stride],
    pads: [(k - 1) >> 1, (k - 1) >> 1, (k - 1) >> 1, (k - 1) >> 1], useBias: false,
  });
  const stemK = cfg.stem === 'imagenet' ? 7 : 3;
  nodes.push(conv('conv1', 'input', cfg.widths[0], stemK, cfg.stem === 'imagenet' ? 2 : 1), bn('bn1', 'conv1'),
    { op: 'relu', name: 'relu', inputs: ['bn1'] },
    { op: 'maxPool', name: 'maxpool', inputs: ['relu'], poolSize: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  let prev = 'maxpool';
  let channels = cfg.widths[0];
  cfg.blocks.forEach((count, s) => {
    const width = cfg.widths[s];
    for (let b = 0; b < count; b++) {
      const p = `layer${s + 1}.${b}`;
      const stride = b === 0 && s > 0 ? 2 : 1;
      nodes.push(conv(`${p}.conv1`, prev, width, 3, stride), bn(`${p}.bn1`, `${p}.conv1`), { op: 'relu', name: `${p}.relu1`, inputs: [`${p}.bn1`] },
        conv(`${p}.conv2`, `${p}.relu1`, width, 3, 1), bn(`${p}.bn2`, `${p}.conv2`));
      let shortcut = prev;
      if (stride !== 1 || channels !== width) {
        nodes.push(conv(`${p}.downsample.0`, prev, width, 1, stride), bn(`${p}.downsample.1`, `${p}.downsample.0`));
        shortcut = `${p}.downsample.1`;
      }
      nodes.push({ op: 'add', name: `${p}.add`, inputs: [`${p}.bn2`, shortcut] }, { op: 'relu', name: `${p}.relu2`, inputs: [`${p}.add`] });
      prev = `${p}.relu2`;
      channels = width;
    }
  });
  nodes.push({ op: 'globalAvgPool', name: 'avgpool', inputs: [prev] },
    { op: 'dropout', name: 'dropout', inputs: ['avgpool'], rate: cfg.dropout },
    { op: 'dense', name: 'fc', inputs: ['dropout'], units: cfg.numClasses });
  return parseGraphSpec({ kind: 'graph', name: 'resnet', input: { shape: [cfg.inputSize[0], cfg.inputSize[1], 3], ...(cfg.normalization ? { normalization: cfg.normalization } : {}) }, nodes, output: 'fc' }, 'resnet graph');
}
