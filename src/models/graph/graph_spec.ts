/**
 * The graph model's serialisable description (`apc.json`'s `config` for imported models): an input
 * with its metadata and a list of named nodes in topological order, each with one output.
 *
 * Conventions (../shared/spec/graph.md §1): NHWC activations; conv kernels HWIO, depthwise
 * kernels [kh, kw, C, multiplier]; padding explicit per side [top, bottom, left, right]; BN momentum
 * in PyTorch's sense (weight of the new batch statistic, 0.1); a node's weights are named
 * `<node>/<suffix>` as Keras names them (`conv1/kernel`, `bn1/moving_mean`, `fc/bias`).
 */
import { z } from 'zod';

/**
 * Node names: letters, digits, '_', '.', '-' (what TF.js accepts in weight names; '/' separates a
 * node from its weight suffix). Importers rewrite other characters.
 */
const NodeName = z.string().min(1).max(200).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'node names are letters, digits, "_", "." and "-", starting with a letter or digit');
const Pair = z.tuple([z.number().int().positive(), z.number().int().positive()]);
const Pads = z.tuple([z.number().int().min(0), z.number().int().min(0), z.number().int().min(0), z.number().int().min(0)]);
const ZERO_PADS: [number, number, number, number] = [0, 0, 0, 0];

const base = { name: NodeName, inputs: z.array(NodeName).length(1) };

export const Conv2dNodeSchema = z.object({
  ...base, op: z.literal('conv2d'),
  /** Output channels. */
  filters: z.number().int().positive(),
  kernelSize: Pair,
  strides: Pair.default([1, 1]),
  dilations: Pair.default([1, 1]),
  /** [top, bottom, left, right] zero padding. */
  pads: Pads.default(ZERO_PADS),
  /** 1 (dense conv) or the input channel count (depthwise; filters = groups · multiplier). */
  groups: z.number().int().positive().default(1),
  /**
   * Marks a depthwise conv over a single channel, where groups = 1 would otherwise read as a dense
   * conv (set when structured pruning or a narrower student leaves a depthwise conv one channel).
   */
  depthwise: z.literal(true).optional(),
  useBias: z.boolean().default(true),
}).strict();

export const BatchNormNodeSchema = z.object({
  ...base, op: z.literal('batchNorm'),
  epsilon: z.number().positive().default(1e-5),
  /** Weight of the new batch statistic in the moving average (PyTorch 0.1 = Keras 0.9). */
  momentum: z.number().gt(0).lte(1).default(0.1),
}).strict();

export const ReluNodeSchema = z.object({ ...base, op: z.literal('relu') }).strict();

export const ClipNodeSchema = z.object({
  ...base, op: z.literal('clip'),
  min: z.number(),
  max: z.number(),
}).strict().refine((n) => n.min < n.max, { message: 'clip needs min < max', path: ['max'] });

const poolFields = {
  poolSize: Pair,
  strides: Pair,
  /** [top, bottom, left, right]; max-pool pads with −∞, never 0 (graph.md §1). */
  pads: Pads.default(ZERO_PADS),
};
export const MaxPoolNodeSchema = z.object({ ...base, op: z.literal('maxPool'), ...poolFields }).strict();
export const AvgPoolNodeSchema = z.object({
  ...base, op: z.literal('avgPool'), ...poolFields,
  /** PyTorch's count_include_pad (its default, true); TF 'same' pooling counts only real pixels (false). */
  countIncludePad: z.boolean().default(true),
}).strict();
export const GlobalAvgPoolNodeSchema = z.object({ ...base, op: z.literal('globalAvgPool') }).strict();
export const PadNodeSchema = z.object({
  ...base, op: z.literal('pad'),
  pads: Pads,
  value: z.number().default(0),
}).strict();
export const AddNodeSchema = z.object({ name: NodeName, inputs: z.array(NodeName).min(2), op: z.literal('add') }).strict();
/** Concatenation along channels (the last axis). */
export const ConcatNodeSchema = z.object({ name: NodeName, inputs: z.array(NodeName).min(2), op: z.literal('concat') }).strict();
/** NHWC flatten: [H, W, C] → [H·W·C] in (h, w, c) order (not PyTorch's (c, h, w)). */
export const FlattenNodeSchema = z.object({ ...base, op: z.literal('flatten') }).strict();
export const DenseNodeSchema = z.object({
  ...base, op: z.literal('dense'),
  units: z.number().int().positive(),
  useBias: z.boolean().default(true),
}).strict();
export const DropoutNodeSchema = z.object({
  ...base, op: z.literal('dropout'),
  /** Probability of dropping (PyTorch/Keras convention). */
  rate: z.number().min(0).max(0.95),
}).strict();
export const IdentityNodeSchema = z.object({ ...base, op: z.literal('identity') }).strict();

const NODE_SCHEMAS = [
  Conv2dNodeSchema, BatchNormNodeSchema, ReluNodeSchema, ClipNodeSchema, MaxPoolNodeSchema, AvgPoolNodeSchema,
  GlobalAvgPoolNodeSchema, PadNodeSchema, AddNodeSchema, ConcatNodeSchema, FlattenNodeSchema, DenseNodeSchema,
  DropoutNodeSchema, IdentityNodeSchema,
] as const;

/** Every op kind, for messages ("supported: …"). */
export const OP_KINDS = [
  'conv2d', 'batchNorm', 'relu', 'clip', 'maxPool', 'avgPool', 'globalAvgPool', 'pad', 'add', 'concat', 'flatten',
  'dense', 'dropout', 'identity',
] as const;
export type OpKind = typeof OP_KINDS[number];

export const NodeSpecSchema = z.union(NODE_SCHEMAS);
export type Conv2dNode = z.infer<typeof Conv2dNodeSchema>;
export type BatchNormNode = z.infer<typeof BatchNormNodeSchema>;
export type ReluNode = z.infer<typeof ReluNodeSchema>;
export type ClipNode = z.infer<typeof ClipNodeSchema>;
export type MaxPoolNode = z.infer<typeof MaxPoolNodeSchema>;
export type AvgPoolNode = z.infer<typeof AvgPoolNodeSchema>;
export type GlobalAvgPoolNode = z.infer<typeof GlobalAvgPoolNodeSchema>;
export type PadNode = z.infer<typeof PadNodeSchema>;
export type AddNode = z.infer<typeof AddNodeSchema>;
export type ConcatNode = z.infer<typeof ConcatNodeSchema>;
export type FlattenNode = z.infer<typeof FlattenNodeSchema>;
export type DenseNode = z.infer<typeof DenseNodeSchema>;
export type DropoutNode = z.infer<typeof DropoutNodeSchema>;
export type IdentityNode = z.infer<typeof IdentityNodeSchema>;
export type NodeSpec = z.infer<typeof NodeSpecSchema>;
/** A node spec before defaults are filled in (what builders and importers write). */
export type NodeSpecInput = z.input<typeof NodeSpecSchema>;
export type NodeOf<K extends OpKind> = Extract<NodeSpec, { op: K }>;

/** How [0, 1] pixels become network input: x = (u[order] − mean) / std per channel. */
export const InputNormalizationSchema = z.object({
  mean: z.array(z.number()).min(1),
  std: z.array(z.number().positive()).min(1),
  /** 'bgr': the network expects channels reversed (Keras ResNet50, caffe style). */
  channelOrder: z.enum(['rgb', 'bgr']).default('rgb'),
}).strict();
export type InputNormalization = z.infer<typeof InputNormalizationSchema>;

export const InputSpecSchema = z.object({
  /** Per-sample input shape [H, W, C] (NHWC without the batch axis). */
  shape: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]),
  /**
   * Metadata of the pixels the network expects. Absent: the dataset's own statistics normalise
   * the input (apc's built-in families trained on a dataset); present, the model decides.
   */
  normalization: InputNormalizationSchema.optional(),
}).strict();
export type InputSpec = z.infer<typeof InputSpecSchema>;

/** The reserved name of the graph's input tensor. */
export const INPUT = 'input';

export const GraphSpecSchema = z.object({
  kind: z.literal('graph'),
  /** Free-form model name (e.g. the imported file's). */
  name: z.string().optional(),
  input: InputSpecSchema,
  nodes: z.array(NodeSpecSchema).min(1),
  /** Name of the node whose output are the logits [K]. */
  output: NodeName,
  /** Where the graph came from and what the importer changed (e.g. a stripped softmax). */
  source: z.record(z.unknown()).optional(),
}).strict();
export type GraphSpec = z.infer<typeof GraphSpecSchema>;
export type GraphSpecInput = z.input<typeof GraphSpecSchema>;

/** Validates a graph description; the error names the first bad field (`nodes.3.kernelSize: …`). */
export function parseGraphSpec(raw: unknown, where = 'graph'): GraphSpec {
  const r = GraphSpecSchema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  let detail = issue.message;
  if (issue.code === z.ZodIssueCode.invalid_union && Array.isArray(issue.path) && issue.path[0] === 'nodes') {
    const node = (raw as { nodes?: unknown[] }).nodes?.[issue.path[1] as number] as { op?: unknown; name?: unknown } | undefined;
    const op = node?.op;
    detail = typeof op === 'string' && !(OP_KINDS as readonly string[]).includes(op)
      ? `unsupported op '${op}' (node '${String(node?.name)}'); supported: ${OP_KINDS.join(', ')}`
      : `invalid ${typeof op === 'string' ? op : ''} node '${String(node?.name)}': ${firstUnionIssue(issue, node?.op)}`;
  }
  throw new Error(`${where}: ${issue.path.join('.') || '(root)'}: ${detail}`);
}

function firstUnionIssue(issue: z.ZodIssue, op: unknown): string {
  if (issue.code !== z.ZodIssueCode.invalid_union) return issue.message;
  // the member whose 'op' literal matched tells the real problem
  for (const e of issue.unionErrors) {
    const real = e.issues.filter((i) => !(i.path[i.path.length - 1] === 'op' && i.code === z.ZodIssueCode.invalid_literal));
    if (real.length && e.issues.every((i) => i.path[i.path.length - 1] !== 'op')) return real.map((i) => `${i.path.slice(2).join('.')}: ${i.message}`).join('; ');
  }
  return `op ${String(op)} has invalid fields`;
}
