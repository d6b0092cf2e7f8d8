/**
 * ONNX models exported by PyTorch → apc's graph (graph.md §2): an `ImportedModel` whose graph is
 * NHWC with HWIO kernels and whose weights carry apc's names.
 *
 * What changes on the way in:
 *  - layout: NCHW activations become NHWC; conv weights OIHW → HWIO, depthwise [C·m, 1, kh, kw] →
 *    [kh, kw, C, m]; Conv/pool pads [top, left, bottom, right] → [top, bottom, left, right];
 *    Gemm weights become dense kernels [in, out];
 *  - flatten order: PyTorch flattens a map as (C, H, W), apc as (H, W, C), so the dense layer
 *    that reads a flattened map larger than 1×1 gets its rows permuted (the value carries the
 *    map's C×H×W through element-wise ops until a dense consumes it);
 *  - eval-mode exports fold BatchNorm into the conv before it: every conv not followed by a
 *    BatchNormalization gets a BN that is exactly the identity, so the model can be fine-tuned;
 *  - constant subgraphs (Constant, Shape, Gather, Unsqueeze, Squeeze, Concat, Cast of constants)
 *    are folded: old torchvision's `Shape → Gather → Unsqueeze → Concat → Reshape` is a flatten;
 *  - no-ops vanish: a 1×1/1 AveragePool, a Flatten of globally pooled values (apc's global
 *    average pool already gives [C]);
 *  - a trailing Softmax / LogSoftmax / Sigmoid is stripped (apc works on logits) and recorded.
 *
 * Names: a node with a PyTorch parameter (`features.0.weight`) is named after its module
 * (`features.0`); others after the module path in torch's node name (`/layer1/layer1.0/relu_1/Relu`
 * → `layer1.0.relu_1`, a functional op in a container module gets the op: `layer1.0.add`), made
 * valid and unique.
 *
 * Every failure is a `ModelFileError`, one line: the file, the node and its op type, and what was
 * expected (an unsupported op lists the supported ones).
 */
import { basename, extname } from 'node:path';
import { Graph } from '../graph/graph.js';
import {
  type GraphSpec, INPUT, type InputNormalization, InputNormalizationSchema, type NodeSpec, type OpKind, parseGraphSpec,
} from '../graph/graph_spec.js';
import type { Shape } from '../graph/op.js';
import { OPS } from '../graph/ops/index.js';
import { windowOutput } from '../graph/padding.js';
import { describeThrown, ModelFileError, quote } from './errors.js';
import type { ImportedModel, ImportedWeight } from './imported_model.js';
import { findAttribute, type OnnxModel, type OnnxNode, type OnnxTensor, readOnnxModel } from './onnx_model.js';

export interface OnnxImportOptions {
  /** The file the model came from: named in messages and in `config.source.file`. */
  readonly file: string;
  /**
   * The pixels the network expects. Default: what an apc export recorded in the file's metadata,
   * else RGB [0, 1] pixels with mean 0 and std 1.
   */
  readonly normalization?: InputNormalization;
}

/** The metadata key apc's ONNX export stores the input normalization under (JSON). */
export const ONNX_NORMALIZATION_KEY = 'apc.input_normalization';

/** ONNX op types the importer reads (messages list them). */
export const SUPPORTED_ONNX_OPS = [
  'Conv', 'BatchNormalization', 'Relu', 'Clip', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Pad', 'Add', 'Sum', 'Concat',
  'Flatten', 'Reshape', 'Squeeze', 'Transpose', 'Gemm', 'MatMul', 'Dropout', 'Identity', 'Constant', 'Shape', 'Gather',
  'Unsqueeze', 'Cast',
] as const;
const STRIPPABLE = ['Softmax', 'LogSoftmax', 'Sigmoid'];
const SUPPORTED_TEXT = `${SUPPORTED_ONNX_OPS.join(', ')}, and a last ${STRIPPABLE.join('/')} (stripped)`;

/** The identity BN inserted after a conv whose BN was folded away (PyTorch's defaults). */
const IDENTITY_BN_EPSILON = 1e-5;
const IDENTITY_BN_MOMENTUM = 0.1;
/** 1 − ε in float32: with ε in float32 the sum is exactly 1, so the BN is exactly the identity. */
const IDENTITY_BN_VARIANCE = Math.fround(1 - Math.fround(IDENTITY_BN_EPSILON));

/** The largest float32: stands for ±∞ in clip bounds and pad values (JSON has no ∞). */
const FLOAT32_MAX = 3.4028234663852886e38;

// ---------------------------------------------------------------------------------------------
// Values flowing through the ONNX graph

/** A symbolic batch size (from Shape of an activation) among constant integers. */
type Sym = number | 'N';

interface ConstValue {
  readonly kind: 'const';
  readonly dims: readonly number[];
  /** Float32Array for float tensors; numbers (and 'N') for integer tensors and folded shapes. */
  readonly data: Float32Array | readonly Sym[];
  /** True when it came from a Shape of an activation (a folded shape chain). */
  readonly fromShape?: boolean;
}

/** C×H×W of a map whose flattened values are in apc's (h, w, c) order, not PyTorch's (c, h, w). */
export type Chw = readonly [number, number, number];

interface ActValue {
  readonly kind: 'act';
  /** The apc node that computes it (`input` for the graph input). */
  readonly node: string;
  /** apc's per-sample shape: [H, W, C] or [F]. */
  readonly shape: Shape;
  /** ONNX's per-sample dims (no batch): [C, H, W], [C, 1, 1] after global pooling, [F]. */
  readonly onnx: readonly number[];
  readonly chw?: Chw;
  /** ONNX Transpose(0, 2, 3, 1) of a map: ONNX's dims are [H, W, C]; only a flatten may read it. */
  readonly nhwc?: boolean;
}

type Value = ConstValue | ActValue;

/** A problem with the node being converted (the caller prefixes file and node). */
class Problem extends Error {}

const product = (dims: readonly number[]): number => dims.reduce((p, d) => p * d, 1);
const dimsText = (dims: readonly (number | string | null)[]): string => `[${dims.map((d) => (d === null ? '?' : d)).join(', ')}]`;

// ---------------------------------------------------------------------------------------------
// Entry points

/** Converts a decoded ONNX model (see `onnx_model.ts`) to apc's graph and weights. */
export function importOnnx(model: OnnxModel, opts: OnnxImportOptions): ImportedModel {
  return new OnnxImporter(model, opts).run();
}

/** Reads an .onnx file and converts it (`importOnnx`). */
export async function importOnnxFile(path: string, opts: Partial<OnnxImportOptions> = {}): Promise<ImportedModel> {
  const model = await readOnnxModel(path);
  return importOnnx(model, { file: opts.file ?? path, ...(opts.normalization ? { normalization: opts.normalization } : {}) });
}

// ---------------------------------------------------------------------------------------------
// Attributes

function intAttr(node: OnnxNode, name: string, def: number): number {
  const a = findAttribute(node, name);
  if (!a) return def;
  if (a.type !== 'int') throw new Problem(`attribute '${name}' is of type ${a.type}, expected an int`);
  return Number(a.value);
}

function intsAttr(node: OnnxNode, name: string): number[] | undefined {
  const a = findAttribute(node, name);
  if (!a) return undefined;
  if (a.type !== 'ints') throw new Problem(`attribute '${name}' is of type ${a.type}, expected ints`);
  return a.value.map(Number);
}

function floatAttr(node: OnnxNode, name: string, def: number): number {
  const a = findAttribute(node, name);
  if (!a) return def;
  if (a.type === 'float') return a.value;
  if (a.type === 'int') return Number(a.value);
  throw new Problem(`attribute '${name}' is of type ${a.type}, expected a float`);
}

function stringAttr(node: OnnxNode, name: string, def: string): string {
  const a = findAttribute(node, name);
  if (!a) return def;
  if (a.type !== 'string') throw new Problem(`attribute '${name}' is of type ${a.type}, expected a string`);
  return a.value;
}

/** A 2-D attribute (kernel_shape, strides, dilations), or `def`. */
function pairAttr(node: OnnxNode, name: string, def: [number, number] | undefined): [number, number] {
  const v = intsAttr(node, name);
  if (!v) {
    if (!def) throw new Problem(`attribute '${name}' is missing`);
    return def;
  }
  if (v.length !== 2 || v.some((x) => !Number.isInteger(x) || x < 1)) throw new Problem(`${name} ${quote(v)} are not two positive integers (2-D ops only)`);
  return [v[0], v[1]];
}

/** The shortest decimal that is the same float32 (ONNX stores ε and momentum as float32). */
function tidyFloat32(x: number): number {
  const f = Math.fround(x);
  for (let p = 1; p <= 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === f) return y;
  }
  return x;
}

// ---------------------------------------------------------------------------------------------
// Constants

function constOf(t: OnnxTensor, what: string): ConstValue {
  const dims = [...t.dims];
  switch (t.dataType) {
    case 'FLOAT': case 'FLOAT16': case 'BFLOAT16': return { kind: 'const', dims, data: t.data };
    case 'DOUBLE': return { kind: 'const', dims, data: Float32Array.from(t.data) };
    case 'INT64': case 'UINT64': return { kind: 'const', dims, data: Array.from(t.data, (v) => Number(v)) };
    case 'STRING': throw new Problem(`${what} is a STRING tensor, expected numbers`);
    default: return { kind: 'const', dims, data: Array.from(t.data as ArrayLike<number>) };
  }
}

/** The values as a Float32Array of their own (weights must not share the decoded model's buffers). */
function floats(c: ConstValue, what: string): Float32Array {
  if (c.data instanceof Float32Array) return c.data.slice();
  if (c.data.some((v) => v === 'N')) throw new Problem(`${what} depends on the batch size, expected a constant`);
  return Float32Array.from(c.data as number[]);
}

function syms(c: ConstValue): Sym[] {
  return c.data instanceof Float32Array ? Array.from(c.data) : [...c.data];
}

function scalar(c: ConstValue, what: string): number {
  if (product(c.dims) !== 1) throw new Problem(`${what} has dims ${dimsText(c.dims)}, expected a single value`);
  const v = syms(c)[0];
  if (v === 'N') throw new Problem(`${what} is the batch size, expected a constant`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Layout conversions

/** OIHW → HWIO; a depthwise [C·m, 1, kh, kw] kernel lands as [kh, kw, C, m] (same memory order). */
export function oihwToHwio(w: Float32Array, [o, i, kh, kw]: readonly number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let a = 0; a < o; a++) {
    for (let b = 0; b < i; b++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) out[((y * kw + x) * i + b) * o + a] = w[((a * i + b) * kh + y) * kw + x];
      }
    }
  }
  return out;
}

/**
 * Index in PyTorch's (c, h, w) flatten order of apc's (h, w, c) row `r` of a C×H×W map
 * (the identity without a map).
 */
export function torchFlatIndex(r: number, chw: Chw | undefined): number {
  if (!chw) return r;
  const [c, h, w] = chw;
  const ch = r % c;
  return ch * h * w + (r - ch) / c;
}

/** Dense kernel [in, out] from Gemm's B ([out, in] when `transB`), rows in apc's order. */
function denseKernel(b: Float32Array, inF: number, out: number, transB: boolean, chw: Chw | undefined): Float32Array {
  const k = new Float32Array(inF * out);
  for (let r = 0; r < inF; r++) {
    const t = torchFlatIndex(r, chw);
    for (let o = 0; o < out; o++) k[r * out + o] = transB ? b[o * inF + t] : b[t * out + o];
  }
  return k;
}

/** [top, bottom, left, right] from ONNX's [x1_begin, x2_begin, x1_end, x2_end] or its auto_pad. */
function windowPads(node: OnnxNode, [h, w]: readonly number[], kernel: readonly [number, number], strides: readonly [number, number],
  dilations: readonly [number, number]): [number, number, number, number] {
  const auto = stringAttr(node, 'auto_pad', 'NOTSET');
  if (auto === 'VALID') return [0, 0, 0, 0];
  if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    const side = (size: number, k: number, s: number, d: number): [number, number] => {
      const total = Math.max((Math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0);
      const small = Math.floor(total / 2);
      return auto === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
    };
    const [t, b] = side(h, kernel[0], strides[0], dilations[0]);
    const [l, r] = side(w, kernel[1], strides[1], dilations[1]);
    return [t, b, l, r];
  }
  if (auto !== 'NOTSET') throw new Problem(`auto_pad '${auto}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER`);
  const p = intsAttr(node, 'pads') ?? [0, 0, 0, 0];
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0)) throw new Problem(`pads ${quote(p)} are not four non-negative integers (2-D ops only)`);
  return [p[0], p[2], p[1], p[3]];
}

// ---------------------------------------------------------------------------------------------
// Names

/** Module path and op of a torch ≥ 1.13 node name (`/layer1/layer1.0/conv1/Conv`), if it is one. */
function torchScope(name: string): { path: string; op: string } | undefined {
  if (!name.startsWith('/')) return undefined;
  const segments = name.slice(1).split('/');
  const op = segments.pop()!;
  if (!op || segments.some((s) => !s)) return undefined;
  // each segment is a module's name from its last non-numeric atom on ('features.0', 'conv1'):
  // its last atom is the attribute under the parent module
  let path = '';
  for (const s of segments) path = path ? `${path}.${s.split('.').pop()}` : s;
  return { path, op };
}

function validName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[^A-Za-z0-9]+/, '').slice(0, 180);
}

// ---------------------------------------------------------------------------------------------
// The converter

class OnnxImporter {
  private readonly file: string;
  private readonly opset: number;
  private readonly values = new Map<string, Value>();
  private readonly nodes: NodeSpec[] = [];
  private readonly shapes = new Map<string, Shape>([]);
  private readonly weights = new Map<string, ImportedWeight>();
  private readonly notes: string[] = [];
  private readonly used = new Set<string>([INPUT]);
  private readonly consumers = new Map<string, OnnxNode[]>();
  /** torch module paths that contain other nodes' modules. */
  private readonly containers = new Set<string>();
  /** ONNX value → the bias-less dense a MatMul made (an Add of a constant may become its bias). */
  private readonly matmuls = new Map<string, NodeSpec & { op: 'dense' }>();
  private readonly insertedBns: string[] = [];
  private staticBatch: number | undefined;
  private stripped: string | undefined;

  constructor(private readonly model: OnnxModel, private readonly opts: OnnxImportOptions) {
    this.file = opts.file;
    const opset = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
    if (!opset) this.fail(`imports no default ONNX operator set (opset imports: ${quote(model.opsetImports)})`);
    this.opset = opset.version;
  }

  private fail(problem: string): never {
    throw new ModelFileError(this.file, problem);
  }

  run(): ImportedModel {
    const g = this.model.graph;
    for (const t of g.initializers) this.values.set(t.name, constOf(t, `initializer '${t.name}'`));
    for (const n of g.nodes) {
      for (const i of n.inputs) if (i) (this.consumers.get(i) ?? this.consumers.set(i, []).get(i)!).push(n);
    }
    this.collectContainers();
    const input = this.readInput();
    const outputName = this.readOutputName();

    g.nodes.forEach((node, index) => {
      if (node.opType === this.stripped && node.outputs[0] === g.outputs[0].name) return;
      try {
        this.convert(node);
      } catch (err) {
        const what = `node ${node.name ? `'${node.name}'` : `#${index}`} (${node.opType})`;
        if (err instanceof Problem) this.fail(`${what}: ${err.message}`);
        if (err instanceof ModelFileError) throw err;
        this.fail(`${what}: ${describeThrown(err)}`);
      }
    });

    const out = this.values.get(outputName);
    if (!out) this.fail(`the graph output '${outputName}' is not computed by any node`);
    if (out.kind !== 'act' || out.node === INPUT) this.fail(`the graph output '${outputName}' is ${out.kind === 'const' ? 'a constant' : 'the input'}, expected logits`);
    if (out.shape.length !== 1 || out.nhwc) this.fail(`the graph output '${outputName}' has dims [N, ${out.onnx.join(', ')}], expected logits [N, K]`);
    if (out.chw) this.fail(`the graph output '${outputName}' is a flattened ${out.chw.join('×')} map, whose order apc cannot keep; expected logits [N, K]`);
    const declared = g.outputs[0].type?.kind === 'tensor' ? g.outputs[0].type.shape : null;
    if (declared && (declared.length !== 2 || (typeof declared[1] === 'number' && declared[1] !== out.shape[0]))) {
      this.fail(`the graph output '${outputName}' is declared ${dimsText(declared)}, the converted graph gives [N, ${out.shape[0]}]`);
    }

    if (this.insertedBns.length) {
      const list = this.insertedBns.length > 4 ? `${this.insertedBns.slice(0, 4).join(', ')} … (${this.insertedBns.length})` : this.insertedBns.join(', ');
      this.notes.push(`BatchNorm was folded into ${this.insertedBns.length} conv(s) by the export: inserted identity BatchNorms (γ 1, β 0, mean 0, variance 1 − ε, ε 1e-5, momentum 0.1) after them so the model can be fine-tuned; they leave the outputs unchanged: ${list}`);
    }
    const producer = [this.model.producerName, this.model.producerVersion].filter(Boolean).join(' ') || 'unknown';
    const raw: GraphSpec = {
      kind: 'graph',
      name: basename(this.file, extname(this.file)) || this.model.graph.name || 'onnx',
      input: { shape: input.shape as [number, number, number], normalization: this.normalization() },
      nodes: this.nodes,
      output: out.node,
      source: { format: 'onnx', file: this.file, producer, opset: this.opset, ...(this.stripped ? { strippedActivation: this.stripped } : {}) },
    };
    let config: GraphSpec;
    let graph: Graph;
    try {
      config = parseGraphSpec(raw, 'converted graph');
      graph = new Graph(config);
    } catch (err) {
      this.fail(describeThrown(err));
    }
    for (const def of graph.weights) {
      const w = this.weights.get(def.name);
      if (!w) this.fail(`the converted graph needs weight '${def.name}' [${def.shape}], which the conversion did not produce`);
      if (w.shape.join() !== def.shape.join()) this.fail(`weight '${def.name}' is [${w.shape}], the converted graph needs [${def.shape}]`);
    }
    if (graph.weights.length !== this.weights.size) this.fail(`the conversion produced ${this.weights.size} weights, the converted graph has ${graph.weights.length}`);
    return { config, weights: this.weights, notes: this.notes };
  }

  // -- graph input / output ------------------------------------------------------------------

  private readInput(): ActValue {
    const g = this.model.graph;
    const inputs = g.inputs.filter((v) => !this.values.has(v.name));
    if (inputs.length !== 1) this.fail(`has ${inputs.length} graph inputs (${inputs.map((v) => `'${v.name}'`).join(', ')}), expected one image batch [N, 3, H, W]`);
    const v = inputs[0];
    const t = v.type;
    if (t?.kind !== 'tensor' || t.elemType !== 'FLOAT') this.fail(`graph input '${v.name}' is ${t ? `${t.kind} ${'elemType' in t ? t.elemType : ''}` : 'untyped'}, expected a FLOAT tensor [N, 3, H, W]`);
    const s = t.shape;
    const fixed = (d: number | string | null | undefined): d is number => typeof d === 'number' && d > 0;
    if (!s || s.length !== 4 || s[1] !== 3 || !fixed(s[2]) || !fixed(s[3])) {
      this.fail(`graph input '${v.name}' has shape ${s ? dimsText(s) : 'unknown'}, expected [N, 3, H, W] with fixed H and W (NCHW RGB images)`);
    }
    if (typeof s[0] === 'number') {
      this.staticBatch = s[0];
      this.notes.push(`the ONNX input has a fixed batch of ${s[0]}; apc runs any batch size`);
    }
    const act: ActValue = { kind: 'act', node: INPUT, shape: [s[2], s[3], 3], onnx: [3, s[2], s[3]] };
    this.values.set(v.name, act);
    this.shapes.set(INPUT, act.shape);
    return act;
  }

  /** The name of the value that holds the logits (before a stripped softmax). */
  private readOutputName(): string {
    const g = this.model.graph;
    if (g.outputs.length !== 1) this.fail(`has ${g.outputs.length} graph outputs, expected one (logits [N, K])`);
    const name = g.outputs[0].name;
    const producer = g.nodes.find((n) => n.outputs.includes(name));
    if (producer && STRIPPABLE.includes(producer.opType) && !producer.domain) {
      this.stripped = producer.opType;
      this.notes.push(`stripped the final ${producer.opType} ('${producer.name || name}'): apc works on logits`);
      return producer.inputs[0];
    }
    return name;
  }

  private normalization(): InputNormalization {
    if (this.opts.normalization) {
      const n = InputNormalizationSchema.parse(this.opts.normalization);
      if (n.mean.length !== 3 || n.std.length !== 3) this.fail(`the given normalization has ${n.mean.length} means and ${n.std.length} stds, expected 3 of each (RGB)`);
      this.notes.push(`input: ${n.channelOrder.toUpperCase()} [0, 1] pixels, mean (${n.mean.join(', ')}), std (${n.std.join(', ')}) (as given)`);
      return n;
    }
    const stored = this.model.metadataProps?.find((p) => p.key === ONNX_NORMALIZATION_KEY);
    if (stored) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(stored.value);
      } catch {
        parsed = undefined;
      }
      const r = InputNormalizationSchema.safeParse(parsed);
      if (!r.success || r.data.mean.length !== 3 || r.data.std.length !== 3) this.fail(`metadata '${ONNX_NORMALIZATION_KEY}' is ${quote(stored.value)}, expected {mean: [3 numbers], std: [3 numbers], channelOrder}`);
      this.notes.push(`input: ${r.data.channelOrder.toUpperCase()} [0, 1] pixels, mean (${r.data.mean.join(', ')}), std (${r.data.std.join(', ')}) (from the file's metadata)`);
      return r.data;
    }
    this.notes.push('input: assumed RGB [0, 1] pixels with mean 0 and std 1 (the file does not say); give the normalization the model was trained with if it differs');
    return { mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'rgb' };
  }

  // -- names -----------------------------------------------------------------------------------

  private collectContainers(): void {
    for (const n of this.model.graph.nodes) {
      const path = torchScope(n.name)?.path;
      if (!path) continue;
      for (let i = path.indexOf('.'); i > 0; i = path.indexOf('.', i + 1)) this.containers.add(path.slice(0, i));
    }
  }

  /** A readable, valid, unused node name for `node` (see the header). */
  private nameFor(node: OnnxNode, kind: OpKind, weight?: string): string {
    let base = '';
    const param = weight ? /^(.+)\.weight$/.exec(weight) : null;
    if (param) base = validName(param[1]);
    if (!base) {
      const scope = torchScope(node.name);
      if (scope) base = scope.path && (this.containers.has(scope.path) ? `${scope.path}.${scope.op.toLowerCase()}` : scope.path);
      else base = validName(node.name);
    }
    return this.unique(validName(base) || kind);
  }

  private unique(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  // -- value access ----------------------------------------------------------------------------

  private value(node: OnnxNode, i: number): Value {
    const name = node.inputs[i];
    if (name === undefined || name === '') throw new Problem(`input ${i} is missing`);
    const v = this.values.get(name);
    if (!v) throw new Problem(`input '${name}' is neither the graph input, an initializer nor an earlier node's output`);
    return v;
  }

  private optional(node: OnnxNode, i: number): Value | undefined {
    return node.inputs[i] ? this.value(node, i) : undefined;
  }

  private act(node: OnnxNode, i: number): ActValue {
    const v = this.value(node, i);
    if (v.kind !== 'act') throw new Problem(`input '${node.inputs[i]}' is a constant, expected an activation`);
    if (v.nhwc) throw new Problem(`input '${node.inputs[i]}' is a Transpose(0, 2, 3, 1) output, which only a Flatten or Reshape may read`);
    return v;
  }

  private map(node: OnnxNode, i: number): ActValue {
    const v = this.act(node, i);
    if (v.shape.length !== 3) {
      throw new Problem(v.onnx.length === 3
        ? `input '${node.inputs[i]}' is a global pool's [N, ${v.onnx.join(', ')}], which apc keeps as [N, ${v.shape[0]}]; expected a feature map (convolutions and pools after a global pool are not supported)`
        : `input '${node.inputs[i]}' has dims [N, ${v.onnx.join(', ')}], expected a feature map [N, C, H, W]`);
    }
    return v;
  }

  private flat(node: OnnxNode, i: number): ActValue {
    const v = this.act(node, i);
    if (v.shape.length !== 1) throw new Problem(`input '${node.inputs[i]}' has dims [N, ${v.onnx.join(', ')}], expected flat values [N, F] (a Flatten first)`);
    return v;
  }

  private constant(node: OnnxNode, i: number, what: string): ConstValue {
    const v = this.value(node, i);
    if (v.kind !== 'const') throw new Problem(`${what} '${node.inputs[i]}' is computed from the input, expected a constant (initializer or Constant)`);
    return v;
  }

  private setOutput(node: OnnxNode, v: Value): void {
    const name = node.outputs[0];
    if (!name) throw new Problem('has no output');
    this.values.set(name, v);
  }

  /** Registers an apc node; its shape comes from apc's own op table, its weights are checked against it. */
  private emit(spec: NodeSpec, weights: Record<string, ImportedWeight> = {}): Shape {
    const inShapes = spec.inputs.map((i) => this.shapes.get(i)!);
    const op = OPS[spec.op];
    let out: Shape;
    try {
      out = op.outputShape(spec as never, inShapes);
    } catch (err) {
      throw new Problem(`as apc ${spec.op} '${spec.name}': ${describeThrown(err)}`);
    }
    const defs = op.weights?.(spec as never, inShapes) ?? [];
    for (const d of defs) {
      const w = weights[d.suffix];
      if (!w) throw new Problem(`apc ${spec.op} '${spec.name}' needs weight '${d.suffix}' [${d.shape}]`);
      if (w.shape.join() !== d.shape.join()) throw new Problem(`weight '${spec.name}/${d.suffix}' would be [${w.shape}], apc's ${spec.op} needs [${d.shape}]`);
      if (w.data.length !== product(w.shape)) throw new Problem(`weight '${spec.name}/${d.suffix}' has ${w.data.length} values for [${w.shape}]`);
      this.weights.set(`${spec.name}/${d.suffix}`, w);
    }
    this.nodes.push(spec);
    this.shapes.set(spec.name, out);
    return out;
  }

  /** The activation of an apc node just emitted; ONNX dims follow from apc's unless given. */
  private actOf(name: string, shape: Shape, extra: Partial<ActValue> = {}): ActValue {
    const onnx = shape.length === 3 ? [shape[2], shape[0], shape[1]] : [...shape];
    return { kind: 'act', node: name, shape, onnx, ...extra };
  }

  /** An element-wise op (relu, clip, dropout, identity): flat values keep their order tag. */
  private elementwise(node: OnnxNode, x: ActValue, spec: NodeSpec): void {
    const shape = this.emit(spec);
    this.setOutput(node, { ...this.actOf(spec.name, shape), onnx: x.onnx, ...(x.chw ? { chw: x.chw } : {}) });
  }

  // -- ops -------------------------------------------------------------------------------------

  private convert(node: OnnxNode): void {
    if (node.domain && node.domain !== 'ai.onnx') throw new Problem(`op domain '${node.domain}' is not supported; supported: ${SUPPORTED_TEXT}`);
    switch (node.opType) {
      case 'Conv': return this.conv(node);
      case 'BatchNormalization': return this.batchNorm(node);
      case 'Relu': {
        const x = this.act(node, 0);
        return this.elementwise(node, x, { op: 'relu', name: this.nameFor(node, 'relu'), inputs: [x.node] });
      }
      case 'Clip': return this.clip(node);
      case 'MaxPool': case 'AveragePool': return this.pool(node);
      case 'GlobalAveragePool': return this.globalAvgPool(node);
      case 'Pad': return this.pad(node);
      case 'Add': return this.add(node);
      case 'Sum': return this.sum(node);
      case 'Concat': return this.concat(node);
      case 'Flatten': return this.flatten(node);
      case 'Reshape': return this.reshape(node);
      case 'Squeeze': return this.squeeze(node);
      case 'Transpose': return this.transpose(node);
      case 'Gemm': return this.gemm(node);
      case 'MatMul': return this.matmul(node);
      case 'Dropout': return this.dropout(node);
      case 'Identity': {
        const v = this.value(node, 0);
        if (v.kind === 'const') return this.setOutput(node, v);
        const x = this.act(node, 0);
        return this.elementwise(node, x, { op: 'identity', name: this.nameFor(node, 'identity'), inputs: [x.node] });
      }
      case 'Constant': return this.constantNode(node);
      case 'Shape': return this.shape(node);
      case 'Gather': return this.gather(node);
      case 'Unsqueeze': return this.unsqueeze(node);
      case 'Cast': return this.cast(node);
      default:
        throw new Problem(`unsupported op${STRIPPABLE.includes(node.opType) ? ' (apc strips it only as the last node)' : ''}; supported: ${SUPPORTED_TEXT}`);
    }
  }

  private conv(node: OnnxNode): void {
    const x = this.map(node, 0);
    const w = this.constant(node, 1, 'weight');
    if (w.dims.length !== 4) throw new Problem(`weight '${node.inputs[1]}' has dims ${dimsText(w.dims)}, expected [O, I, kh, kw] (2-D convolutions only)`);
    const [o, i, kh, kw] = w.dims;
    const [h, wd, c] = x.shape;
    const group = intAttr(node, 'group', 1);
    if (group === 1) {
      if (i !== c) throw new Problem(`weight '${node.inputs[1]}' has ${i} input channels, the input has ${c}`);
    } else if (group !== c || i !== 1 || o % c !== 0) {
      throw new Problem(`group ${group} with weight ${dimsText(w.dims)} on ${c} channels: only dense (group 1) and depthwise (group = channels) convolutions are supported`);
    }
    const kernelSize = pairAttr(node, 'kernel_shape', [kh, kw]);
    if (kernelSize[0] !== kh || kernelSize[1] !== kw) throw new Problem(`kernel_shape [${kernelSize}] disagrees with weight dims ${dimsText(w.dims)}`);
    const strides = pairAttr(node, 'strides', [1, 1]);
    const dilations = pairAttr(node, 'dilations', [1, 1]);
    const pads = windowPads(node, [h, wd], kernelSize, strides, dilations);
    const b = this.optional(node, 2);
    if (b && (b.kind !== 'const' || product(b.dims) !== o || b.dims.length !== 1)) throw new Problem(`bias '${node.inputs[2]}' must be a constant [${o}]`);
    const name = this.nameFor(node, 'conv2d', node.inputs[1]);
    const weights: Record<string, ImportedWeight> = {
      [group === 1 ? 'kernel' : 'depthwise_kernel']: {
        shape: group === 1 ? [kh, kw, i, o] : [kh, kw, c, o / c],
        data: oihwToHwio(floats(w, `weight '${node.inputs[1]}'`), w.dims),
      },
    };
    if (b) weights.bias = { shape: [o], data: floats(b as ConstValue, `bias '${node.inputs[2]}'`) };
    const shape = this.emit({
      op: 'conv2d', name, inputs: [x.node], filters: o, kernelSize, strides, dilations, pads, groups: group, useBias: !!b,
    }, weights);
    const next = this.consumers.get(node.outputs[0]) ?? [];
    if (next.length === 1 && next[0].opType === 'BatchNormalization' && next[0].inputs[0] === node.outputs[0]) {
      this.setOutput(node, this.actOf(name, shape));
      return;
    }
    // an eval-mode export folded this conv's BN into it: an exact identity BN makes it trainable again
    const bn = this.unique(`${name}.bn`);
    this.emit({ op: 'batchNorm', name: bn, inputs: [name], epsilon: IDENTITY_BN_EPSILON, momentum: IDENTITY_BN_MOMENTUM }, {
      gamma: { shape: [o], data: new Float32Array(o).fill(1) },
      beta: { shape: [o], data: new Float32Array(o) },
      moving_mean: { shape: [o], data: new Float32Array(o) },
      moving_variance: { shape: [o], data: new Float32Array(o).fill(IDENTITY_BN_VARIANCE) },
    });
    this.insertedBns.push(bn);
    this.setOutput(node, this.actOf(bn, shape));
  }

  private batchNorm(node: OnnxNode): void {
    const x = this.act(node, 0);
    if (x.chw) throw new Problem('normalises a flattened feature map, whose channel order apc does not keep; supported after a conv or a dense layer');
    if (node.outputs.slice(1).some(Boolean)) throw new Problem('has training-mode outputs (running mean/var); export the model in eval mode');
    if (intAttr(node, 'training_mode', 0) !== 0) throw new Problem('training_mode is 1; export the model in eval mode');
    if (intAttr(node, 'spatial', 1) !== 1) throw new Problem('spatial 0 (per-position statistics) is not supported');
    const c = x.onnx[0];
    const params = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((suffix, k) => {
      const t = this.constant(node, k + 1, suffix);
      if (t.dims.length !== 1 || t.dims[0] !== c) throw new Problem(`${suffix} '${node.inputs[k + 1]}' has dims ${dimsText(t.dims)}, expected [${c}]`);
      return [suffix, { shape: [c], data: floats(t, `${suffix} '${node.inputs[k + 1]}'`) }] as const;
    });
    const epsilon = tidyFloat32(floatAttr(node, 'epsilon', 1e-5));
    if (!(epsilon > 0)) throw new Problem(`epsilon ${epsilon} is not positive`);
    // ONNX momentum is Keras's (weight of the old value); apc's is PyTorch's (weight of the new batch)
    const onnxMomentum = floatAttr(node, 'momentum', 0.9);
    let momentum = tidyFloat32(1 - tidyFloat32(onnxMomentum));
    if (!(momentum > 0 && momentum <= 1)) {
      this.notes.push(`BatchNormalization '${node.name}' has momentum ${onnxMomentum} (ONNX sense), which leaves no PyTorch momentum in (0, 1]; fine-tuning uses 0.1`);
      momentum = 0.1;
    }
    const name = this.nameFor(node, 'batchNorm', node.inputs[1]);
    const shape = this.emit({ op: 'batchNorm', name, inputs: [x.node], epsilon, momentum }, Object.fromEntries(params));
    this.setOutput(node, { ...this.actOf(name, shape), onnx: x.onnx });
  }

  private clip(node: OnnxNode): void {
    const x = this.act(node, 0);
    let min: number | undefined;
    let max: number | undefined;
    if (this.opset < 11) {
      if (findAttribute(node, 'min')) min = floatAttr(node, 'min', 0);
      if (findAttribute(node, 'max')) max = floatAttr(node, 'max', 0);
    } else {
      const lo = this.optional(node, 1);
      const hi = this.optional(node, 2);
      if (lo) min = scalar(this.constant(node, 1, 'min'), `min '${node.inputs[1]}'`);
      if (hi) max = scalar(this.constant(node, 2, 'max'), `max '${node.inputs[2]}'`);
    }
    const bound = (v: number | undefined, inf: number): number => (v === undefined || !Number.isFinite(v) ? inf : v);
    const lo = bound(min, -FLOAT32_MAX);
    const hi = bound(max, FLOAT32_MAX);
    if (lo >= hi) throw new Problem(`min ${lo} is not below max ${hi}`);
    const inputs = [x.node];
    if (lo === 0 && hi === FLOAT32_MAX) return this.elementwise(node, x, { op: 'relu', name: this.nameFor(node, 'relu'), inputs });
    if (lo === -FLOAT32_MAX && hi === FLOAT32_MAX) return this.elementwise(node, x, { op: 'identity', name: this.nameFor(node, 'identity'), inputs });
    this.elementwise(node, x, { op: 'clip', name: this.nameFor(node, 'clip'), inputs, min: lo, max: hi });
  }

  private pool(node: OnnxNode): void {
    const max = node.opType === 'MaxPool';
    const x = this.map(node, 0);
    if (node.outputs.slice(1).some(Boolean)) throw new Problem('the Indices output is not supported');
    const [h, w] = x.shape;
    const poolSize = pairAttr(node, 'kernel_shape', undefined);
    const strides = pairAttr(node, 'strides', [1, 1]);
    const dilations = pairAttr(node, 'dilations', [1, 1]);
    if (dilations[0] !== 1 || dilations[1] !== 1) throw new Problem(`dilations [${dilations}] are not supported (only 1)`);
    let pads = windowPads(node, [h, w], poolSize, strides, [1, 1]);
    if (intAttr(node, 'ceil_mode', 0) === 1) {
      // PyTorch's rule: round up, but the last window must start inside the input or its leading pad
      const ceil = (size: number, k: number, s: number, a: number, b: number) => {
        const out = Math.ceil((size + a + b - k) / s) + 1;
        return (out - 1) * s >= size + a ? out - 1 : out;
      };
      const floor = [windowOutput(h, poolSize[0], strides[0], 1, pads[0], pads[1]), windowOutput(w, poolSize[1], strides[1], 1, pads[2], pads[3])];
      const up = [ceil(h, poolSize[0], strides[0], pads[0], pads[1]), ceil(w, poolSize[1], strides[1], pads[2], pads[3])];
      if (up[0] !== floor[0] || up[1] !== floor[1]) {
        // a max-pool's extra windows overhang the end: pad there with −∞ (apc's max-pool padding), never read as a value
        if (!max) throw new Problem(`ceil_mode 1 gives a ${up.join('×')} output where apc's floor gives ${floor.join('×')}; an average pool over the overhang is not supported`);
        const extra = (o: number, size: number, k: number, s: number, a: number, b: number) => Math.max(0, (o - 1) * s + k - (size + a + b));
        pads = [pads[0], pads[1] + extra(up[0], h, poolSize[0], strides[0], pads[0], pads[1]), pads[2], pads[3] + extra(up[1], w, poolSize[1], strides[1], pads[2], pads[3])];
        this.notes.push(`'${node.name}': ceil_mode pooling as extra end padding (−∞)`);
      }
    }
    if (!max && poolSize.every((k) => k === 1) && strides.every((s) => s === 1) && pads.every((p) => p === 0)) {
      // a 1×1/1 average pool (AdaptiveAvgPool2d to the map's own size) is the identity
      this.setOutput(node, x);
      return;
    }
    const name = this.nameFor(node, max ? 'maxPool' : 'avgPool');
    const spec: NodeSpec = max
      ? { op: 'maxPool', name, inputs: [x.node], poolSize, strides, pads }
      : { op: 'avgPool', name, inputs: [x.node], poolSize, strides, pads, countIncludePad: intAttr(node, 'count_include_pad', 0) === 1 };
    this.setOutput(node, this.actOf(name, this.emit(spec)));
  }

  private globalAvgPool(node: OnnxNode): void {
    const x = this.map(node, 0);
    const name = this.nameFor(node, 'globalAvgPool');
    const shape = this.emit({ op: 'globalAvgPool', name, inputs: [x.node] });
    // ONNX keeps [N, C, 1, 1]; apc's global pool gives [C], so a later flatten is a no-op
    this.setOutput(node, this.actOf(name, shape, { onnx: [shape[0], 1, 1] }));
  }

  private pad(node: OnnxNode): void {
    const x = this.map(node, 0);
    const mode = stringAttr(node, 'mode', 'constant');
    if (mode !== 'constant') throw new Problem(`mode '${mode}' is not supported (only 'constant')`);
    let pads: number[];
    let value = 0;
    if (this.opset < 11) {
      pads = intsAttr(node, 'pads') ?? [];
      value = floatAttr(node, 'value', 0);
    } else {
      const p = this.constant(node, 1, 'pads');
      pads = syms(p).map((v) => (v === 'N' ? NaN : v));
      const cv = this.optional(node, 2);
      if (cv) value = scalar(this.constant(node, 2, 'constant_value'), `constant_value '${node.inputs[2]}'`);
      if (node.inputs[3]) throw new Problem('the axes input is not supported; give pads for all four axes');
    }
    if (pads.length !== 8 || pads.some((p) => !Number.isInteger(p) || p < 0)) throw new Problem(`pads ${quote(pads)} are not eight non-negative integers for [N, C, H, W]`);
    if (pads[0] || pads[1] || pads[4] || pads[5]) throw new Problem(`pads ${quote(pads)} pad the batch or channel axis; only spatial padding is supported`);
    if (!Number.isFinite(value)) value = Math.sign(value) * FLOAT32_MAX;
    const name = this.nameFor(node, 'pad');
    this.setOutput(node, this.actOf(name, this.emit({ op: 'pad', name, inputs: [x.node], pads: [pads[2], pads[6], pads[3], pads[7]], value })));
  }

  /** Sum (and Add) of activations of equal shapes: apc's add. */
  private sum(node: OnnxNode): void {
    const xs = node.inputs.map((_, i) => this.act(node, i));
    if (xs.length === 1) return this.setOutput(node, xs[0]);
    const chw = xs[0].chw?.join();
    if (xs.some((x) => x.chw?.join() !== chw)) throw new Problem('adds a flattened feature map to other values, whose order apc does not keep');
    const name = this.nameFor(node, 'add');
    const shape = this.emit({ op: 'add', name, inputs: xs.map((x) => x.node) });
    this.setOutput(node, { ...this.actOf(name, shape), onnx: xs[0].onnx, ...(xs[0].chw ? { chw: xs[0].chw } : {}) });
  }

  private add(node: OnnxNode): void {
    const a = this.value(node, 0);
    const b = this.value(node, 1);
    if (a.kind === 'act' && b.kind === 'act') return this.sum(node);
    // MatMul + Add of a constant: the dense layer's bias
    const actIndex = a.kind === 'act' ? 0 : 1;
    const c = (a.kind === 'act' ? b : a) as ConstValue;
    const dense = this.matmuls.get(node.inputs[actIndex]);
    const units = dense?.units ?? 0;
    if (!dense || (this.consumers.get(node.inputs[actIndex]) ?? []).length !== 1 || dense.useBias || product(c.dims) !== units || (c.dims.length > 1 && c.dims.slice(0, -1).some((d) => d !== 1))) {
      throw new Problem('adds a constant; apc supports that only as the bias [out] of the MatMul before it');
    }
    dense.useBias = true;
    this.weights.set(`${dense.name}/bias`, { shape: [units], data: floats(c, `bias '${node.inputs[1 - actIndex]}'`) });
    this.setOutput(node, this.value(node, actIndex));
  }

  private concat(node: OnnxNode): void {
    const inputs = node.inputs.map((_, i) => this.value(node, i));
    const axisAttr = intAttr(node, 'axis', 0);
    if (inputs.every((v) => v.kind === 'const')) {
      const consts = inputs as ConstValue[];
      if (consts.some((c) => c.dims.length !== 1) || (axisAttr !== 0 && axisAttr !== -1)) throw new Problem('folds only 1-D constants along axis 0');
      const data = consts.flatMap(syms);
      this.setOutput(node, { kind: 'const', dims: [data.length], data, fromShape: consts.some((c) => c.fromShape) });
      return;
    }
    const acts = node.inputs.map((_, i) => this.act(node, i));
    const rank = acts[0].onnx.length + 1;
    const axis = axisAttr < 0 ? axisAttr + rank : axisAttr;
    if (axis !== 1) throw new Problem(`axis ${axisAttr} of a rank-${rank} tensor is not supported (only channels, axis 1)`);
    if (acts.some((v) => v.chw)) throw new Problem('concatenates flattened feature maps, whose order apc does not keep');
    if (acts.some((v) => v.shape.length !== acts[0].shape.length || v.onnx.length !== acts[0].onnx.length)) throw new Problem('concatenates tensors of different ranks');
    if (acts.length === 1) return this.setOutput(node, acts[0]);
    const name = this.nameFor(node, 'concat');
    const shape = this.emit({ op: 'concat', name, inputs: acts.map((v) => v.node) });
    const onnx = acts[0].onnx.length === 3 && acts[0].shape.length === 1 ? [shape[0], 1, 1] : undefined;
    this.setOutput(node, this.actOf(name, shape, onnx ? { onnx } : {}));
  }

  /** [N, C, H, W] → [N, C·H·W] in PyTorch's sense. */
  private flattenValue(node: OnnxNode, x: ActValue): void {
    if (x.shape.length === 1) return this.setOutput(node, { ...x, onnx: [x.shape[0]] });
    const name = this.nameFor(node, 'flatten');
    const shape = this.emit({ op: 'flatten', name, inputs: [x.node] });
    const [h, w, c] = x.shape;
    // apc flattens (h, w, c); after Transpose(0, 2, 3, 1) so did the ONNX model
    this.setOutput(node, this.actOf(name, shape, !x.nhwc && h * w > 1 ? { chw: [c, h, w] } : {}));
  }

  private anyAct(node: OnnxNode, i: number): ActValue {
    const v = this.value(node, i);
    if (v.kind !== 'act') throw new Problem(`input '${node.inputs[i]}' is a constant, expected an activation`);
    return v;
  }

  private flatten(node: OnnxNode): void {
    const x = this.anyAct(node, 0);
    const rank = x.onnx.length + 1;
    const a = intAttr(node, 'axis', 1);
    if ((a < 0 ? a + rank : a) !== 1) throw new Problem(`axis ${a} is not supported (only 1: [N, C, H, W] → [N, C·H·W])`);
    this.flattenValue(node, x);
  }

  private reshape(node: OnnxNode): void {
    const x = this.anyAct(node, 0);
    const target = this.constant(node, 1, 'shape');
    const t = syms(target);
    const f = product(x.onnx);
    const allowZero = intAttr(node, 'allowzero', 0) === 1;
    const batchLike = (d: Sym) => d === 'N' || (d === 0 && !allowZero) || (this.staticBatch !== undefined && d === this.staticBatch);
    const ok = t.length === 2 && ((batchLike(t[0]) && (t[1] === -1 || t[1] === f)) || (t[0] === -1 && t[1] === f));
    if (!ok) throw new Problem(`reshapes [N, ${x.onnx.join(', ')}] to ${quote(t)}; only the flatten meaning [N, -1] is supported`);
    if (target.fromShape) this.notes.push(`folded the constant shape chain of Reshape '${node.name || node.outputs[0]}' (Shape → … → Concat) into a flatten`);
    this.flattenValue(node, x);
  }

  private axesOf(node: OnnxNode): number[] | undefined {
    if (this.opset < 13) return intsAttr(node, 'axes');
    const a = this.optional(node, 1);
    return a ? syms(this.constant(node, 1, 'axes')).map((v) => (v === 'N' ? NaN : v)) : undefined;
  }

  private squeeze(node: OnnxNode): void {
    const v = this.value(node, 0);
    const axes = this.axesOf(node);
    if (v.kind === 'const') {
      const rank = v.dims.length;
      const drop = new Set((axes ?? v.dims.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => (a < 0 ? a + rank : a)));
      if ([...drop].some((a) => v.dims[a] !== 1)) throw new Problem(`squeezes axes ${quote([...drop])} of a constant ${dimsText(v.dims)} that are not 1`);
      return this.setOutput(node, { ...v, dims: v.dims.filter((_, i) => !drop.has(i)) });
    }
    const x = this.anyAct(node, 0);
    const dims = [0, ...x.onnx];
    const drop = new Set((axes ?? dims.flatMap((d, i) => (i > 0 && d === 1 ? [i] : []))).map((a) => (a < 0 ? a + dims.length : a)));
    if (drop.has(0) || [...drop].some((a) => dims[a] !== 1) || dims.length - drop.size !== 2) {
      throw new Problem(`squeezes axes ${quote([...drop])} of [N, ${x.onnx.join(', ')}]; only squeezing [N, C, 1, 1] to [N, C] is supported`);
    }
    this.flattenValue(node, x);
  }

  private transpose(node: OnnxNode): void {
    const x = this.map(node, 0);
    const perm = intsAttr(node, 'perm');
    if (perm?.join() !== '0,2,3,1') throw new Problem(`perm ${quote(perm ?? 'reversed')} is not supported (only 0, 2, 3, 1 before a flatten, as apc's export writes)`);
    const [h, w, c] = x.shape;
    this.setOutput(node, { ...x, onnx: [h, w, c], nhwc: true });
  }

  /** Emits a dense layer for A·B (+ C); `transB`: B is [out, in]. */
  private dense(node: OnnxNode, x: ActValue, b: ConstValue, transB: boolean, bias: ConstValue | undefined): NodeSpec & { op: 'dense' } {
    if (b.dims.length !== 2) throw new Problem(`weight '${node.inputs[1]}' has dims ${dimsText(b.dims)}, expected a matrix`);
    const [inF, out] = transB ? [b.dims[1], b.dims[0]] : [b.dims[0], b.dims[1]];
    if (inF !== x.shape[0]) throw new Problem(`weight '${node.inputs[1]}' ${dimsText(b.dims)} takes ${inF} inputs, the input has ${x.shape[0]}`);
    const name = this.nameFor(node, 'dense', node.inputs[1]);
    const weights: Record<string, ImportedWeight> = { kernel: { shape: [inF, out], data: denseKernel(floats(b, `weight '${node.inputs[1]}'`), inF, out, transB, x.chw) } };
    if (bias) {
      if (product(bias.dims) !== out || (bias.dims.length > 1 && bias.dims.slice(0, -1).some((d) => d !== 1))) throw new Problem(`bias '${node.inputs[2]}' has dims ${dimsText(bias.dims)}, expected [${out}]`);
      weights.bias = { shape: [out], data: floats(bias, `bias '${node.inputs[2]}'`) };
    }
    const spec: NodeSpec & { op: 'dense' } = { op: 'dense', name, inputs: [x.node], units: out, useBias: !!bias };
    const shape = this.emit(spec, weights);
    if (x.chw) this.notes.push(`dense '${name}' reads a flattened ${x.chw.join('×')} (C×H×W) map: its rows were permuted from PyTorch's (C, H, W) order to apc's (H, W, C)`);
    this.setOutput(node, this.actOf(name, shape));
    return spec;
  }

  private gemm(node: OnnxNode): void {
    const x = this.flat(node, 0);
    if (intAttr(node, 'transA', 0) !== 0) throw new Problem('transA 1 is not supported');
    const alpha = floatAttr(node, 'alpha', 1);
    const beta = floatAttr(node, 'beta', 1);
    const c = this.optional(node, 2);
    if (alpha !== 1 || (c && beta !== 1)) throw new Problem(`alpha ${alpha} / beta ${beta} are not supported (only 1)`);
    if (c && c.kind !== 'const') throw new Problem(`bias '${node.inputs[2]}' is computed, expected a constant`);
    this.dense(node, x, this.constant(node, 1, 'weight'), intAttr(node, 'transB', 0) === 1, c as ConstValue | undefined);
  }

  private matmul(node: OnnxNode): void {
    const x = this.flat(node, 0);
    const spec = this.dense(node, x, this.constant(node, 1, 'weight'), false, undefined);
    this.matmuls.set(node.outputs[0], spec);
  }

  private dropout(node: OnnxNode): void {
    const x = this.act(node, 0);
    const mask = node.outputs[1];
    if (mask && (this.consumers.get(mask)?.length || this.model.graph.outputs.some((o) => o.name === mask))) throw new Problem('its mask output is used, which apc does not provide');
    let rate = 0.5;
    if (this.opset < 12) rate = floatAttr(node, 'ratio', 0.5);
    else if (this.optional(node, 1)) rate = scalar(this.constant(node, 1, 'ratio'), `ratio '${node.inputs[1]}'`);
    rate = tidyFloat32(rate);
    if (!(rate >= 0 && rate <= 0.95)) throw new Problem(`ratio ${rate} is outside apc's [0, 0.95]`);
    this.elementwise(node, x, { op: 'dropout', name: this.nameFor(node, 'dropout'), inputs: [x.node], rate });
  }

  // -- constant folding ------------------------------------------------------------------------

  private constantNode(node: OnnxNode): void {
    const a = node.attributes[0];
    if (!a || node.attributes.length !== 1) throw new Problem('needs exactly one value attribute');
    let v: ConstValue;
    switch (a.name) {
      case 'value':
        if (a.type !== 'tensor') throw new Problem(`attribute 'value' is of type ${a.type}, expected a tensor`);
        v = constOf(a.value, 'value');
        break;
      case 'value_float': v = { kind: 'const', dims: [], data: Float32Array.of(floatAttr(node, a.name, 0)) }; break;
      case 'value_floats': {
        if (a.type !== 'floats') throw new Problem(`attribute '${a.name}' is of type ${a.type}, expected floats`);
        v = { kind: 'const', dims: [a.value.length], data: Float32Array.from(a.value) };
        break;
      }
      case 'value_int': v = { kind: 'const', dims: [], data: [intAttr(node, a.name, 0)] }; break;
      case 'value_ints': {
        const ints = intsAttr(node, a.name)!;
        v = { kind: 'const', dims: [ints.length], data: ints };
        break;
      }
      default: throw new Problem(`attribute '${a.name}' is not supported (value, value_float(s), value_int(s))`);
    }
    this.setOutput(node, v);
  }

  private shape(node: OnnxNode): void {
    const v = this.value(node, 0);
    const full: Sym[] = v.kind === 'const' ? [...v.dims] : ['N', ...v.onnx];
    const n = full.length;
    const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
    const part = full.slice(clamp(intAttr(node, 'start', 0)), clamp(intAttr(node, 'end', n)));
    this.setOutput(node, { kind: 'const', dims: [part.length], data: part, fromShape: true });
  }

  private gather(node: OnnxNode): void {
    const data = this.constant(node, 0, 'data');
    const idx = this.constant(node, 1, 'indices');
    const axis = intAttr(node, 'axis', 0);
    if (data.dims.length !== 1 || (axis !== 0 && axis !== -1)) throw new Problem('folds only a gather from a 1-D constant (a shape)');
    const d = syms(data);
    const out = syms(idx).map((i) => {
      const k = i === 'N' ? NaN : i < 0 ? i + d.length : i;
      if (!(k >= 0 && k < d.length)) throw new Problem(`index ${i} is outside [0, ${d.length})`);
      return d[k];
    });
    this.setOutput(node, { kind: 'const', dims: [...idx.dims], data: out, fromShape: data.fromShape });
  }

  private unsqueeze(node: OnnxNode): void {
    const v = this.value(node, 0);
    if (v.kind !== 'const') throw new Problem('unsqueezes an activation; supported only on constants (shape chains)');
    const axes = this.axesOf(node);
    if (!axes) throw new Problem('has no axes');
    const rank = v.dims.length + axes.length;
    const norm = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
    const dims: number[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) dims.push(norm.has(i) ? 1 : v.dims[k++]);
    if (k !== v.dims.length || norm.size !== axes.length) throw new Problem(`axes ${quote(axes)} do not fit a rank-${v.dims.length} constant`);
    this.setOutput(node, { ...v, dims });
  }

  private cast(node: OnnxNode): void {
    const v = this.value(node, 0);
    if (v.kind !== 'const') throw new Problem('casts an activation; supported only on constants');
    const to = intAttr(node, 'to', 1);
    // FLOAT, FLOAT16, DOUBLE, BFLOAT16 stay floats; integer types truncate
    if ([1, 10, 11, 16].includes(to)) return this.setOutput(node, { ...v, data: floats(v, `input '${node.inputs[0]}'`) });
    this.setOutput(node, { ...v, data: syms(v).map((x) => (x === 'N' ? x : Math.trunc(x))) });
  }
}
