/**
 * PyTorch state dicts (safetensors) onto built-in templates with torchvision's parameter names:
 * `apc import FILE.safetensors --template torchvision:vgg16_bn [--width k] --out DIR`, then
 * `apc train --init DIR` starts the VOC protocol from ImageNet weights (voc-protocol.md §6.3–6.4).
 *
 * A template is an apc family config whose feature weights correspond one to one to torchvision
 * keys. Every feature key must be in the file with exactly the template's shape, and the file may
 * hold no other feature keys; the classifier (`classifier.*`, `fc.*`) and `num_batches_tracked`
 * are ignored: the head is a new `numClasses`-way dense layer with PyTorch's default
 * initialisation, as the protocol does. Conversions: conv [O, I, kh, kw] → HWIO; depthwise
 * [C·m, 1, kh, kw] → [kh, kw, C, m]; BN weight/bias/running_mean/running_var → gamma/beta/
 * moving_mean/moving_variance. The input metadata defaults to torchvision's ImageNet statistics.
 */
import type { InputNormalization } from '../graph/graph_spec.js';
import { type ModelConfig, archPreset, graphOf } from '../model_config.js';
import { VGG16_BLOCKS, VggConfigSchema } from '../vgg_config.js';
import { ModelFileError } from './errors.js';
import type { ImportedModel, ImportedWeight } from './imported_model.js';
import type { SafetensorsFile } from './safetensors.js';

/** torchvision's ImageNet input statistics (RGB [0, 1] pixels). */
export const IMAGENET_NORMALIZATION: InputNormalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], channelOrder: 'rgb' };

export const TEMPLATES = ['torchvision:vgg16_bn', 'torchvision:resnet18', 'torchvision:resnet34', 'torchvision:mobilenet_v2'] as const;

export interface TemplateOptions {
  /** Width divisor of every channel count (a reduced-width copy of the architecture). Default 1. */
  readonly width?: number;
  /** Input height and width. Default 224. */
  readonly imageSize?: number;
  readonly numClasses: number;
  /** Dropout before the new head (VGG default 0.5, as the protocol). */
  readonly dropout?: number;
  /** Default: ImageNet statistics. */
  readonly normalization?: InputNormalization;
}

interface Template {
  readonly config: ModelConfig;
  /** apc node → torchvision module path, for every node with weights except the head. */
  readonly modules: ReadonlyMap<string, string>;
  /** The new head's node and the torchvision prefixes that are ignored. */
  readonly head: string;
  readonly ignoredPrefixes: readonly string[];
}

/** torchvision's vgg16_bn `features` indices of the convs (each BN at +1). */
const VGG16_CONV_INDICES = [0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40];

export function templateFor(name: string, opts: TemplateOptions): Template {
  const width = opts.width ?? 1;
  const imageSize = opts.imageSize ?? 224;
  const normalization = opts.normalization ?? IMAGENET_NORMALIZATION;
  const common = { numClasses: opts.numClasses, inputSize: [imageSize, imageSize] as [number, number], normalization };
  if (!Number.isInteger(width) || width < 1) throw new Error(`--width must be a positive integer divisor, got ${width}`);
  switch (name) {
    case 'torchvision:vgg16_bn': {
      // always torchvision's five blocks (the small-image 4-block layout would leave keys unmatched)
      const config = VggConfigSchema.parse({
        kind: 'vgg', blocks: VGG16_BLOCKS.map((b) => b.map((c) => Math.max(1, Math.floor(c / width)))), ...common, dropout: opts.dropout ?? 0.5,
      });
      const modules = new Map<string, string>();
      let i = 0;
      config.blocks.forEach((block, bi) => block.forEach((_, ci) => {
        const at = VGG16_CONV_INDICES[i++];
        modules.set(`conv${bi + 1}_${ci + 1}`, `features.${at}`);
        modules.set(`bn${bi + 1}_${ci + 1}`, `features.${at + 1}`);
      }));
      return { config, modules, head: 'fc', ignoredPrefixes: ['classifier.'] };
    }
    case 'torchvision:resnet18':
    case 'torchvision:resnet34':
    case 'torchvision:mobilenet_v2': {
      const arch = name === 'torchvision:mobilenet_v2' ? 'mobilenetv2' : name.slice('torchvision:'.length);
      // the ImageNet layout whatever the input size: its stem is what the weights were trained with
      const base = archPreset({ arch, width, imageSize: Math.max(imageSize, 128), numClasses: opts.numClasses, dropout: opts.dropout });
      const config = { ...base, ...common } as ModelConfig;
      const graph = graphOf(config);
      const head = graph.outputName;
      // apc's node names in these families are torchvision's module paths
      const modules = new Map(graph.nodes.filter((n) => n.name !== head && (n.op === 'conv2d' || n.op === 'batchNorm')).map((n) => [n.name, n.name]));
      return { config, modules, head, ignoredPrefixes: [arch === 'mobilenetv2' ? 'classifier.' : 'fc.'] };
    }
    default:
      throw new Error(`unknown --template '${name}'; known: ${TEMPLATES.join(', ')}`);
  }
}

const TORCH_SUFFIX: Readonly<Record<string, string>> = {
  kernel: 'weight', depthwise_kernel: 'weight', bias: 'bias',
  gamma: 'weight', beta: 'bias', moving_mean: 'running_mean', moving_variance: 'running_var',
};

/** torchvision key → expected torch shape, for every template weight (the key table a test checks). */
export function templateKeys(t: Template): Map<string, { weight: string; shape: number[] }> {
  const graph = graphOf(t.config);
  const keys = new Map<string, { weight: string; shape: number[] }>();
  for (const w of graph.weights) {
    if (w.node === t.head) continue;
    const module = t.modules.get(w.node);
    if (!module) throw new Error(`template has no torchvision module for node '${w.node}'`);
    const s = w.shape;
    // HWIO [kh, kw, I, O] ↔ torch [O, I, kh, kw]; depthwise [kh, kw, C, m] ↔ [C·m, 1, kh, kw]
    const shape = w.suffix === 'kernel' ? [s[3], s[2], s[0], s[1]] : w.suffix === 'depthwise_kernel' ? [s[2] * s[3], 1, s[0], s[1]] : [...s];
    keys.set(`${module}.${TORCH_SUFFIX[w.suffix]}`, { weight: w.name, shape });
  }
  return keys;
}

/** torch [O, I, kh, kw] → HWIO; depthwise [C·m, 1, kh, kw] → [kh, kw, C, m] (same memory order as [kh, kw, C·m, 1]). */
function torchKernelToApc(data: Float32Array, torch: readonly number[], depthwise: boolean): Float32Array {
  const [o, i, kh, kw] = torch;
  const out = new Float32Array(data.length);
  for (let a = 0; a < o; a++) {
    for (let b = 0; b < i; b++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          const src = ((a * i + b) * kh + y) * kw + x;
          // HWIO index of (y, x, in b, out a); depthwise: (y, x, channel a, 0) with I = 1
          out[depthwise ? (y * kw + x) * o + a : ((y * kw + x) * i + b) * o + a] = data[src];
        }
      }
    }
  }
  return out;
}

/**
 * Maps a state dict onto a template. Throws one line naming the file and the first missing,
 * misshapen, non-float or unexpected key. The head's weights are absent from the result: the
 * caller initialises them (`importedNet(m, { initSeed })`).
 */
export function importTemplate(file: SafetensorsFile, path: string, templateName: string, opts: TemplateOptions): ImportedModel {
  const t = templateFor(templateName, opts);
  const keys = templateKeys(t);
  const weights = new Map<string, ImportedWeight>();
  const graph = graphOf(t.config);
  const shapeOf = new Map(graph.weights.map((w) => [w.name, w.shape]));
  for (const [key, want] of keys) {
    const got = file.tensors.get(key);
    if (!got) throw new ModelFileError(path, `has no '${key}' (the ${templateName} template${opts.width && opts.width > 1 ? ` at --width ${opts.width}` : ''} needs it, shape [${want.shape}])`);
    if (got.shape.join() !== want.shape.join()) {
      throw new ModelFileError(path, `'${key}' has shape [${got.shape}], the ${templateName} template${opts.width && opts.width > 1 ? ` at --width ${opts.width}` : ''} needs [${want.shape}]`);
    }
    if (!(got.data instanceof Float32Array)) throw new ModelFileError(path, `'${key}' is ${got.dtype}; weights must be floating point`);
    const suffix = want.weight.slice(want.weight.lastIndexOf('/') + 1);
    const data = suffix === 'kernel' || suffix === 'depthwise_kernel' ? torchKernelToApc(got.data, got.shape, suffix === 'depthwise_kernel') : got.data;
    weights.set(want.weight, { shape: shapeOf.get(want.weight)!, data });
  }
  const ignored: string[] = [];
  for (const key of file.tensors.keys()) {
    if (keys.has(key)) continue;
    if (key.endsWith('.num_batches_tracked') || t.ignoredPrefixes.some((p) => key.startsWith(p))) { ignored.push(key); continue; }
    throw new ModelFileError(path, `has '${key}', which the ${templateName} template does not have (a different architecture or width?)`);
  }
  const n = graph.spec.input.normalization!;
  return {
    config: t.config, weights,
    notes: [
      `${keys.size} tensors mapped onto ${templateName}${opts.width && opts.width > 1 ? ` /${opts.width}` : ''}; ${ignored.length} ignored (classifier and num_batches_tracked)`,
      `new ${opts.numClasses}-way head '${t.head}', PyTorch default initialisation`,
      `input: ${n.channelOrder.toUpperCase()} [0, 1] pixels, mean (${n.mean.join(', ')}), std (${n.std.join(', ')})${opts.normalization ? '' : ' (torchvision ImageNet statistics)'}`,
    ],
  };
}
