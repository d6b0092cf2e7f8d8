/**
 * What `apc.json`'s `config` holds: a built-in family's config (VGG, ResNet, MobileNetV2), from
 * which the graph is rebuilt, or an explicit graph (imported models, pruned graphs). Also the
 * `--arch` presets.
 */
import { z } from 'zod';
import { quote } from './import/errors.js';
import { Graph } from './graph/graph.js';
import { type GraphSpec, GraphSpecSchema } from './graph/graph_spec.js';
import { MOBILENET_V2_SETTING, type MobileNetV2Config, MobileNetV2ConfigSchema, mobilenetV2Graph } from './families/mobilenet_v2.js';
import { RESNET_DEPTHS, RESNET_WIDTHS, type ResNetConfig, ResNetConfigSchema, resnetGraph } from './families/resnet.js';
import { vggGraph } from './families/vgg.js';
import { type VggConfig, VggConfigSchema, vggPreset } from './vgg_config.js';

export const ModelConfigSchema = z.union([VggConfigSchema, ResNetConfigSchema, MobileNetV2ConfigSchema, GraphSpecSchema]);
export type ModelConfig = VggConfig | ResNetConfig | MobileNetV2Config | GraphSpec;
export type ModelKind = ModelConfig['kind'];

/** The graph spec of a config (families are built; a graph is itself). */
export function graphSpecOf(config: ModelConfig): GraphSpec {
  switch (config.kind) {
    case 'vgg': return vggGraph(config);
    case 'resnet': return resnetGraph(config);
    case 'mobilenetv2': return mobilenetV2Graph(config);
    case 'graph': return config;
  }
}

/** Validates a config read from a file; the error names the field. */
export function parseModelConfig(raw: unknown, where = 'config'): ModelConfig {
  const kind = (raw as { kind?: unknown } | null)?.kind;
  const schema = kind === 'vgg' ? VggConfigSchema : kind === 'resnet' ? ResNetConfigSchema
    : kind === 'mobilenetv2' ? MobileNetV2ConfigSchema : kind === 'graph' ? GraphSpecSchema : undefined;
  if (!schema) throw new Error(`${where}: 'kind' is ${quote(kind)}, expected one of vgg, resnet, mobilenetv2, graph`);
  let r: ReturnType<typeof schema.safeParse>;
  try {
    r = schema.safeParse(raw);
  } catch (err) {
    if (err instanceof RangeError) throw new Error(`${where}: nested too deeply to be a model config`);
    throw err;
  }
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`${where}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return r.data as ModelConfig;
}

const graphCache = new WeakMap<object, Graph>();

/** The validated graph of a config (cached per config object). */
export function graphOf(config: ModelConfig): Graph {
  let g = graphCache.get(config);
  if (!g) {
    g = new Graph(graphSpecOf(config));
    graphCache.set(config, g);
  }
  return g;
}

/** `--arch` names of the built-in families. */
export const ARCHS = ['vgg16', 'vgg16s', 'vgg11', 'resnet18', 'resnet34', 'mobilenetv2'] as const;

export interface ArchPresetOptions {
  /** One of `ARCHS`. */
  arch?: string;
  /** Width divisor: every channel count of the family is divided by it (at least 1 channel). */
  width?: number;
  imageSize?: number;
  numClasses?: number;
  dropout?: number;
}

/** The family of an `--arch` name. */
export function archFamily(arch: string): 'vgg' | 'resnet' | 'mobilenetv2' {
  if (arch.startsWith('vgg')) return 'vgg';
  if (arch in RESNET_DEPTHS) return 'resnet';
  if (arch === 'mobilenetv2') return 'mobilenetv2';
  throw new Error(`unknown --arch '${arch}'; known: ${ARCHS.join(', ')}`);
}

const divide = (c: number, width: number) => Math.max(1, Math.floor(c / width));

/**
 * Config of a named architecture. Small images (< 128 px) get each family's small-input layout:
 * VGG16 keeps 4 blocks (4×4 at 64 px), ResNet a 3×3/1 stem (4×4), MobileNetV2 stride-1 64- and
 * 160-channel stages (8×8).
 */
export function archPreset(opts: ArchPresetOptions = {}): ModelConfig {
  const arch = opts.arch ?? 'vgg16';
  const family = archFamily(arch);
  if (family === 'vgg') return vggPreset(opts);
  const width = opts.width ?? 1;
  if (!Number.isInteger(width) || width < 1) throw new Error(`--width must be a positive integer divisor, got ${width}`);
  const imageSize = opts.imageSize ?? 227;
  const small = imageSize < 128;
  const common = { inputSize: [imageSize, imageSize] as [number, number], numClasses: opts.numClasses ?? 20 };
  if (family === 'resnet') {
    return ResNetConfigSchema.parse({
      kind: 'resnet', blocks: [...RESNET_DEPTHS[arch]], widths: RESNET_WIDTHS.map((c) => divide(c, width)),
      stem: small ? 'small' : 'imagenet', ...common, dropout: opts.dropout ?? 0,
    });
  }
  // small inputs: the 64- and 160-channel stages keep their input size (stride 1 instead of 2), so
  // the last map is 8×8 at 64 px; the early, expensive high-resolution stages keep torchvision's
  // strides. At 4×4 the teacher's Grad-CAM localised poorly (AUC 0.846 at val mAP 71); at 8×8 it
  // reached AUC 0.949 at val mAP 45 (README, MobileNetV2 recipes).
  return MobileNetV2ConfigSchema.parse({
    kind: 'mobilenetv2', stemChannels: divide(32, width), stemStride: 2,
    blocks: MOBILENET_V2_SETTING.map(([t, c, n, s], i) => ({ expansion: t, channels: divide(c, width), repeats: n, stride: small && (i === 3 || i === 5) ? 1 : s })),
    lastChannels: divide(1280, width), ...common, dropout: opts.dropout ?? 0.2,
  });
}

/** The `--arch` name a built-in config was made from (for students of the same family). */
export function archOf(config: ModelConfig): string | undefined {
  switch (config.kind) {
    case 'vgg': return config.blocks.length === 4 ? 'vgg16s' : 'vgg16';
    case 'resnet': return Object.entries(RESNET_DEPTHS).find(([, d]) => d.join() === config.blocks.join())?.[0];
    case 'mobilenetv2': return 'mobilenetv2';
    case 'graph': return undefined;
  }
}
