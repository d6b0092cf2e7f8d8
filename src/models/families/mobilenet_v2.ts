/**
 * The MobileNetV2 family (inverted residuals with ReLU6 and depthwise 3×3 convs) as a graph with
 * torchvision's module names (features.0.0, features.3.conv.1.0, classifier.1 …). The first
 * block (expansion 1) has no expand conv. For inputs below 128 px `archPreset` runs the 64- and
 * 160-channel stages at stride 1, so a 64 px input ends in an 8×8 map instead of ImageNet's 2×2
 * (a stride-1 stem would keep more resolution too, at 4× the cost of every early layer).
 */
import { z } from 'zod';
import type { GraphSpec, NodeSpecInput } from '../graph/graph_spec.js';
import { parseGraphSpec } from '../graph/graph_spec.js';
import { familyFields, MAX_STAGE_REPEATS } from './family_fields.js';

const BlockSchema = z.object({
  /** Expansion factor t (hidden channels = t · input channels). */
  expansion: z.number().int().positive(),
  channels: z.number().int().positive(),
  repeats: z.number().int().positive().max(MAX_STAGE_REPEATS),
  /** Stride of the first repeat. */
  stride: z.union([z.literal(1), z.literal(2)]),
});

export const MobileNetV2ConfigSchema = z.object({
  kind: z.literal('mobilenetv2'),
  stemChannels: z.number().int().positive(),
  stemStride: z.union([z.literal(1), z.literal(2)]),
  blocks: z.array(BlockSchema).min(1),
  /** Channels of the last 1×1 conv (torchvision: 1280). */
  lastChannels: z.number().int().positive(),
  ...familyFields(0.2),
});
export type MobileNetV2Config = z.infer<typeof MobileNetV2ConfigSchema>;

/** torchvision's inverted-residual setting [t, c, n, s]. */
export const MOBILENET_V2_SETTING: readonly (readonly [number, number, number, 1 | 2])[] = [
  [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
];

export function mobilenetV2Graph(cfg: MobileNetV2Config): GraphSpec {
  const nodes: NodeSpecInput[] = [];
  const convBn = (prefix: string, input: string, filters: number, k: number, stride: number, groups: number, relu6: boolean): string => {
    const p = (k - 1) >> 1;
    nodes.push(
      { op: 'conv2d', name: `${prefix}.0`, inputs: [input], filters, kernelSize: [k, k], strides: [stride, stride], pads: [p, p, p, p], groups, useBias: false },
      { op: 'batchNorm', name: `${prefix}.1`, inputs: [`${prefix}.0`], epsilon: cfg.bnEpsilon, momentum: cfg.bnMomentum },
    );
    if (!relu6) return `${prefix}.1`;
    nodes.push({ op: 'clip', name: `${prefix}.2`, inputs: [`${prefix}.1`], min: 0, max: 6 });
    return `${prefix}.2`;
  };
  let prev = convBn('features.0', 'input', cfg.stemChannels, 3, cfg.stemStride, 1, true);
  let channels = cfg.stemChannels;
  let index = 1;
  for (const block of cfg.blocks) {
    for (let r = 0; r < block.repeats; r++) {
      const stride = r === 0 ? block.stride : 1;
      const hidden = channels * block.expansion;
      const p = `features.${index}.conv`;
      let h = prev;
      let i = 0;
      if (block.expansion !== 1) h = convBn(`${p}.${i++}`, h, hidden, 1, 1, 1, true);
      h = convBn(`${p}.${i++}`, h, hidden, 3, stride, hidden, true);
      // the projection is a bare conv + BN: torchvision names them conv.{i} and conv.{i+1}
      nodes.push(
        { op: 'conv2d', name: `${p}.${i}`, inputs: [h], filters: block.channels, kernelSize: [1, 1], useBias: false },
        { op: 'batchNorm', name: `${p}.${i + 1}`, inputs: [`${p}.${i}`], epsilon: cfg.bnEpsilon, momentum: cfg.bnMomentum },
      );
      h = `${p}.${i + 1}`;
      if (stride === 1 && channels === block.channels) {
        nodes.push({ op: 'add', name: `features.${index}.add`, inputs: [prev, h] });
        h = `features.${index}.add`;
      }
      prev = h;
      channels = block.channels;
      index++;
    }
  }
  prev = convBn(`features.${index}`, prev, cfg.lastChannels, 1, 1, 1, true);
  nodes.push({ op: 'globalAvgPool', name: 'avgpool', inputs: [prev] },
    { op: 'dropout', name: 'classifier.0', inputs: ['avgpool'], rate: cfg.dropout },
    { op: 'dense', name: 'classifier.1', inputs: ['classifier.0'], units: cfg.numClasses });
  return parseGraphSpec({ kind: 'graph', name: 'mobilenetv2', input: { shape: [cfg.inputSize[0], cfg.inputSize[1], 3], ...(cfg.normalization ? { normalization: cfg.normalization } : {}) }, nodes, output: 'classifier.1' }, 'mobilenetv2 graph');
}
