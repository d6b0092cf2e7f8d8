/**
 * VGG architecture configs: a list of conv blocks (each followed by a 2×2/2 'valid' max-pool),
 * every conv 3×3/1 'same' + bias → BatchNorm → ReLU, then flatten (NHWC) → Dropout → Dense.
 * Layer names follow the paper's VGG16 naming (conv{b}_{i}, bn{b}_{i}, relu{b}_{i}, pool{b}, fc)
 * so later stages can address the Grad-CAM layer (last ReLU) and the matched layer (last pool).
 */
import { z } from 'zod';
import { familyFields } from './families/family_fields.js';

export const VggConfigSchema = z.object({
  kind: z.literal('vgg'),
  /** Conv widths per block; a max-pool follows every block. */
  blocks: z.array(z.array(z.number().int().positive()).min(1)).min(1),
  ...familyFields(0.5),
});
export type VggConfig = z.infer<typeof VggConfigSchema>;

/** VGG16 block layout of the paper (13 convs, 5 pools). */
export const VGG16_BLOCKS: readonly (readonly number[])[] = [
  [64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512],
];

export interface VggPresetOptions {
  /** 'vgg16' (5 blocks, the reference) or 'vgg16s' (first 4 blocks, for small images). */
  arch?: string;
  /** Width divisor: 1 = full VGG16, 2, 4, 8 … (the paper's /2, /4, /8 students). */
  width?: number;
  imageSize?: number;
  numClasses?: number;
  dropout?: number;
}

/**
 * Builds a config for a named architecture. `vgg16` at an image size below 128 uses the
 * small-image 4-block layout (`vgg16s`): with 5 pools a 64×64 input would leave a 2×2 map,
 * too coarse to match or to explain; with 4 the last conv block is 8×8 and pool4 is 4×4.
 */
export function vggPreset(opts: VggPresetOptions = {}): VggConfig {
  const arch = opts.arch ?? 'vgg16';
  const width = opts.width ?? 1;
  const imageSize = opts.imageSize ?? 227;
  if (!Number.isInteger(width) || width < 1) throw new Error(`--width must be a positive integer divisor, got ${width}`);
  let blocks: (readonly number[])[];
  if (arch === 'vgg16') blocks = imageSize < 128 ? VGG16_BLOCKS.slice(0, 4) : [...VGG16_BLOCKS];
  else if (arch === 'vgg16s') blocks = VGG16_BLOCKS.slice(0, 4);
  else if (arch === 'vgg11') blocks = [[64], [128], [256, 256], [512, 512], [512, 512]].slice(0, imageSize < 128 ? 4 : 5);
  else throw new Error(`unknown --arch '${arch}'; known: vgg16, vgg16s, vgg11`);
  const divided = blocks.map((b) => b.map((c) => Math.max(1, Math.floor(c / width))));
  const pools = divided.length;
  if (imageSize >> pools < 1) throw new Error(`--image-size ${imageSize} is too small for ${pools} pooling stages`);
  return VggConfigSchema.parse({
    kind: 'vgg', blocks: divided, inputSize: [imageSize, imageSize],
    numClasses: opts.numClasses ?? 20, dropout: opts.dropout ?? 0.5,
  });
}

export interface ConvLayerInfo {
  /** e.g. 'conv3_2' */
  readonly name: string;
  readonly bn: string;
  readonly relu: string;
  readonly block: number;
  readonly inChannels: number;
  readonly outChannels: number;
  /** Spatial size of this conv's input and output ('same' padding keeps it). */
  readonly height: number;
  readonly width: number;
}

export interface VggLayout {
  readonly convs: readonly ConvLayerInfo[];
  /** Pool names and output sizes, one per block. */
  readonly pools: readonly { name: string; height: number; width: number; channels: number }[];
  /** The last conv block's ReLU: Grad-CAM / EBP read-out layer. */
  readonly gradCamLayer: string;
  /** The last pool, which feeds flatten → dropout → dense: the matched layer. */
  readonly matchLayer: string;
  /** Length of the flattened feature vector entering the dense layer. */
  readonly denseIn: number;
}

/** Derived, named geometry of a config: every later stage reads layer names and shapes here. */
export function vggLayout(cfg: VggConfig): VggLayout {
  let [h, w] = cfg.inputSize;
  let cin = 3;
  const convs: ConvLayerInfo[] = [];
  const pools: { name: string; height: number; width: number; channels: number }[] = [];
  cfg.blocks.forEach((block, bi) => {
    block.forEach((cout, ci) => {
      const id = `${bi + 1}_${ci + 1}`;
      convs.push({ name: `conv${id}`, bn: `bn${id}`, relu: `relu${id}`, block: bi + 1,
        inChannels: cin, outChannels: cout, height: h, width: w });
      cin = cout;
    });
    h = Math.floor(h / 2);
    w = Math.floor(w / 2);
    pools.push({ name: `pool${bi + 1}`, height: h, width: w, channels: cin });
  });
  const last = pools[pools.length - 1];
  return {
    convs, pools, gradCamLayer: convs[convs.length - 1].relu, matchLayer: last.name,
    denseIn: last.height * last.width * last.channels,
  };
}

/** Trainable parameter count (conv kernels+biases, BN γ/β, dense), as the compression spec counts. */
export function vggParamCount(cfg: VggConfig): number {
  const layout = vggLayout(cfg);
  let n = 0;
  for (const c of layout.convs) n += 9 * c.inChannels * c.outChannels + c.outChannels + 2 * c.outChannels;
  return n + layout.denseIn * cfg.numClasses + cfg.numClasses;
}
