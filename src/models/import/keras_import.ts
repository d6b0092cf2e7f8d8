/**
 * Keras / TF.js layers models into apc's graph: `model.json` (+ weights files) as TF.js writes it
 * and as tensorflowjs_converter writes it from a Keras H5 file, Sequential or functional, Keras 2
 * or Keras 3 configs (keras_import_topology.ts reads both).
 *
 * Each Keras layer becomes the graph node of the same name (names rewritten to letters, digits,
 * '_', '.', '-' and made unique); a fused activation (`Conv2D(activation='relu')`) becomes an extra
 * node `<layer>_relu`. Padding 'same' becomes TF's explicit pads for the model's input size
 * (graph.md §1: the extra pixel at the bottom/right), so the graph holds for that size only. A
 * softmax or sigmoid on the very last layer is stripped (apc works on logits, graph.md §2) and
 * recorded in the graph's `source` and the notes.
 *
 * Anything without an exact apc form is refused as a whole, with one line naming the layer, its
 * class and what is supported: the result is the model, or nothing.
 */
import { Graph } from '../graph/graph.js';
import { type GraphSpec, INPUT, type InputNormalization, InputNormalizationSchema, type NodeSpecInput, NodeSpecSchema, parseGraphSpec } from '../graph/graph_spec.js';
import { OPS } from '../graph/ops/index.js';
import type { Shape } from '../graph/op.js';
import { samePads2d } from '../graph/padding.js';
import { describeThrown, ModelFileError, quote } from './errors.js';
import { APC_INPUT_METADATA_KEY } from '../layers_export.js';
import type { ImportedModel, ImportedWeight } from './imported_model.js';
import { readKerasFiles } from './keras_import_files.js';
import { isObject, type KerasTopology, type LayerCall, readTopology } from './keras_import_topology.js';

export interface KerasImportOptions {
  /**
   * How [0, 1] pixels become the model's input. Default: the model takes RGB [0, 1] pixels
   * (mean 0, std 1), which the notes say.
   */
  readonly normalization?: InputNormalization;
  /** [H, W] for a model whose config leaves the input size free (`batch_input_shape` [null, null, null, 3]). */
  readonly inputSize?: readonly [number, number];
}

/** The Keras layer classes apc imports (aliases Keras also writes are accepted). */
export const SUPPORTED_KERAS_LAYERS = [
  'InputLayer', 'Conv2D', 'DepthwiseConv2D', 'BatchNormalization', 'ReLU', 'Activation', 'MaxPooling2D', 'AveragePooling2D',
  'GlobalAveragePooling2D', 'ZeroPadding2D', 'Add', 'Concatenate', 'Flatten', 'Dense', 'Dropout', 'Softmax (last layer only)',
] as const;

const ALIASES: Record<string, string> = {
  Convolution2D: 'Conv2D', MaxPool2D: 'MaxPooling2D', AvgPool2D: 'AveragePooling2D', GlobalAvgPool2D: 'GlobalAveragePooling2D',
  BatchNormalizationV1: 'BatchNormalization', BatchNormalizationV2: 'BatchNormalization',
};

/** A model.json (or the folder holding it) and its weights files, imported. */
export async function importKerasFile(modelJsonPath: string, opts: KerasImportOptions = {}): Promise<ImportedModel> {
  const files = await readKerasFiles(modelJsonPath);
  return importKeras(files.modelJson, files.weights, { ...opts, file: files.path });
}

/**
 * A parsed model.json (its `modelTopology`; the manifest is not read) with its weights by
 * manifest name (`conv1/kernel`). `opts.file` names the model in errors and in `source`.
 */
export function importKeras(modelJson: unknown, weights: ReadonlyMap<string, ImportedWeight>, opts: KerasImportOptions & { readonly file: string }): ImportedModel {
  // apc's own TF.js export records the input metadata there (layers_export.ts)
  const recorded = isObject(modelJson) && isObject(modelJson.userDefinedMetadata) ? modelJson.userDefinedMetadata[APC_INPUT_METADATA_KEY] : undefined;
  if (!opts.normalization && recorded !== undefined) {
    const r = InputNormalizationSchema.safeParse(recorded);
    if (r.success) opts = { ...opts, normalization: r.data };
  }
  const file = opts.file;
  const topologyRaw = isObject(modelJson) && 'modelTopology' in modelJson ? modelJson.modelTopology : modelJson;
  const topology = readTopology(topologyRaw, file);
  return new Converter(topology, weights, opts).run();
}

/** A tensor during conversion: the apc node (or INPUT) holding it and its per-sample shape. */
interface Value {
  readonly node: string;
  readonly shape: Shape;
}

type Layer = LayerCall & { readonly apcName: string };

class Converter {
  private readonly file: string;
  private readonly nodes: NodeSpecInput[] = [];
  private readonly taken = new Set<string>([INPUT]);
  private readonly out = new Map<string, ImportedWeight>();
  private readonly used = new Set<string>();
  private readonly notes: string[] = [];
  private stripped: { layer: string; activation: string } | undefined;
  private renamed = 0;

  constructor(private readonly t: KerasTopology, private readonly weights: ReadonlyMap<string, ImportedWeight>, private readonly opts: KerasImportOptions & { readonly file: string }) {
    this.file = opts.file;
  }

  private fail(problem: string): never {
    throw new ModelFileError(this.file, problem);
  }

  run(): ImportedModel {
    const shape = this.inputShape();
    const layers = this.order();
    const values = new Map<string, Value>([[this.t.input, { node: INPUT, shape }]]);
    for (const layer of layers) {
      if (layer.name === this.t.input) continue;
      const ins = layer.inputs.map((r) => values.get(r.layer)!);
      values.set(layer.name, this.layer(layer, ins, layer.name === this.t.output.layer));
    }
    const result = values.get(this.t.output.layer)!;
    if (result.node === INPUT) this.fail('the model output is its input; there is nothing to import');
    if (result.shape.length !== 1) {
      this.fail(`the model output '${this.t.output.layer}' has per-sample shape [${result.shape}]; apc needs one logits vector [N, K] (end the model with Dense, or GlobalAveragePooling2D / Flatten before it)`);
    }
    return this.finish(shape, result.node);
  }

  /** [H, W, C] of the input, free sizes filled from `opts.inputSize`. */
  private inputShape(): [number, number, number] {
    const s = this.t.inputShape;
    if (s.length !== 3) this.fail(`the input '${this.t.input}' has per-sample shape ${quote(s)}; apc imports image models with an [H, W, C] input`);
    const [h, w, c] = s;
    if (c === null || c < 1) this.fail(`the input '${this.t.input}' has ${quote(c)} channels; the channel count must be fixed (channels_last)`);
    const size = this.opts.inputSize;
    if (size && ((h !== null && h !== size[0]) || (w !== null && w !== size[1]))) {
      this.fail(`the model's input is ${h}×${w}, inputSize ${size[0]}×${size[1]} was given`);
    }
    const hh = h ?? size?.[0];
    const ww = w ?? size?.[1];
    if (!hh || !ww || !Number.isInteger(hh) || !Number.isInteger(ww) || hh < 1 || ww < 1) {
      this.fail(`the input '${this.t.input}' has a free size [${quote(h)}, ${quote(w)}]; give the image size (inputSize [H, W])`);
    }
    return [hh, ww, c];
  }

  /**
   * The layers the output depends on, in topological order (config order where it allows), with
   * their apc names. Names of every layer are reserved first, so a generated `<layer>_relu` never
   * takes a later layer's name.
   */
  private order(): Layer[] {
    const byName = new Map(this.t.layers.map((l) => [l.name, l]));
    const needed = new Set<string>();
    const stack = [this.t.output.layer];
    while (stack.length) {
      const n = stack.pop()!;
      if (needed.has(n)) continue;
      const l = byName.get(n);
      if (!l) this.fail(`a layer reads '${n}', which is not a layer of the model`);
      needed.add(n);
      for (const r of l.inputs) stack.push(r.layer);
    }
    if (!needed.has(this.t.input)) this.fail(`the output '${this.t.output.layer}' does not depend on the input '${this.t.input}'`);
    const unused = this.t.layers.filter((l) => !needed.has(l.name)).map((l) => l.name);
    if (unused.length) this.notes.push(`ignored ${unused.length} layer(s) the output does not depend on: ${unused.slice(0, 8).join(', ')}${unused.length > 8 ? ' …' : ''}`);
    const named = new Map<string, Layer>();
    for (const l of this.t.layers) {
      if (!needed.has(l.name) || l.name === this.t.input) continue;
      named.set(l.name, { ...l, apcName: this.reserve(l.name) });
    }
    // Kahn's algorithm, taking the first ready layer in config order
    const done = new Set<string>([this.t.input]);
    const result: Layer[] = [];
    const pending = [...named.values()];
    while (pending.length) {
      const i = pending.findIndex((l) => l.inputs.every((r) => done.has(r.layer)));
      if (i < 0) this.fail(`the layers ${pending.slice(0, 4).map((l) => `'${l.name}'`).join(', ')} form a cycle`);
      const [l] = pending.splice(i, 1);
      done.add(l.name);
      result.push(l);
    }
    return result;
  }

  /** A node name for `base`: characters outside [A-Za-z0-9_.-] become '_', then unique. */
  private reserve(base: string): string {
    let name = base.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 180);
    if (!/^[A-Za-z0-9]/.test(name)) name = `n${name}`;
    if (name !== base) this.renamed++;
    let unique = name;
    for (let i = 1; this.taken.has(unique); i++) unique = `${name}_${i}`;
    this.taken.add(unique);
    return unique;
  }

  // ---------------------------------------------------------------------------------------------
  // Nodes and weights

  /** Appends a node (defaults filled by the schema) and returns its output. */
  private add(layer: Layer, spec: NodeSpecInput, inputs: readonly Value[]): Value {
    const r = NodeSpecSchema.safeParse(spec);
    if (!r.success) {
      const issue = r.error.issues[0];
      this.fail(`${where(layer)}: cannot be expressed as an apc ${spec.op} node (${issue.path.join('.')}: ${issue.message})`);
    }
    const node = r.data;
    const shapes = inputs.map((v) => v.shape);
    let shape: Shape;
    try {
      shape = OPS[node.op].outputShape(node as never, shapes);
    } catch (err) {
      this.fail(`${where(layer)}: ${describeThrown(err)}`);
    }
    this.nodes.push(spec);
    return { node: node.name, shape };
  }

  /**
   * The layer's Keras weight `<layer>/<suffix>` with the expected shape: by exact manifest name,
   * else the one name ending in `/<layer>/<suffix>` (a converter's model-name prefix), either
   * with or without TF's `:0`.
   */
  private weight(layer: Layer, suffix: string, shape: readonly number[]): ImportedWeight {
    const key = `${layer.name}/${suffix}`;
    let name = [key, `${key}:0`].find((k) => this.weights.has(k));
    if (!name) {
      const hits = [...this.weights.keys()].filter((k) => k.endsWith(`/${key}`) || k.endsWith(`/${key}:0`));
      if (hits.length > 1) this.fail(`${where(layer)}: weight '${key}' is ambiguous (${hits.slice(0, 3).join(', ')})`);
      name = hits[0];
    }
    if (!name) {
      const mine = [...this.weights.keys()].filter((k) => k.startsWith(`${layer.name}/`) || k.includes(`/${layer.name}/`));
      this.fail(`${where(layer)}: the weights have no '${key}' (expected shape [${shape}]; weights of this layer: ${mine.length ? mine.slice(0, 6).join(', ') : 'none'})`);
    }
    const w = this.weights.get(name)!;
    if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
      this.fail(`${where(layer)}: weight '${name}' has shape [${w.shape}], expected [${shape}]`);
    }
    if (w.data.length !== shape.reduce((a, b) => a * b, 1)) this.fail(`${where(layer)}: weight '${name}' holds ${w.data.length} values for shape [${shape}]`);
    this.used.add(name);
    return w;
  }

  private setWeight(node: string, suffix: string, w: ImportedWeight): void {
    this.out.set(`${node}/${suffix}`, w);
  }

  // ---------------------------------------------------------------------------------------------
  // Layers

  private layer(layer: Layer, ins: readonly Value[], isOutput: boolean): Value {
    const cls = ALIASES[layer.className] ?? layer.className;
    const c = layer.config;
    if (cls !== 'Add' && cls !== 'Concatenate' && ins.length !== 1) this.fail(`${where(layer)}: takes ${ins.length} inputs, expected 1`);
    const x = ins[0];
    this.checkDtype(layer);
    switch (cls) {
      case 'Conv2D': return this.conv(layer, x, isOutput);
      case 'DepthwiseConv2D': return this.conv(layer, x, isOutput);
      case 'BatchNormalization': return this.batchNorm(layer, x);
      case 'ReLU': {
        const max = c.max_value ?? null;
        const slope = c.negative_slope ?? c.alpha ?? 0;
        const threshold = c.threshold ?? 0;
        if (slope !== 0) this.unsupported(layer, `negative_slope ${quote(slope)} (a leaky ReLU)`);
        if (threshold !== 0) this.unsupported(layer, `threshold ${quote(threshold)}`);
        if (max === null) return this.add(layer, { op: 'relu', name: layer.apcName, inputs: [x.node] }, [x]);
        if (typeof max !== 'number' || !(max > 0)) this.unsupported(layer, `max_value ${quote(max)}`);
        return this.add(layer, { op: 'clip', name: layer.apcName, inputs: [x.node], min: 0, max }, [x]);
      }
      case 'Activation': {
        const act = activationName(c.activation);
        if (act === 'linear') return this.add(layer, { op: 'identity', name: layer.apcName, inputs: [x.node] }, [x]);
        if (act === 'relu') return this.add(layer, { op: 'relu', name: layer.apcName, inputs: [x.node] }, [x]);
        if (act === 'relu6') return this.add(layer, { op: 'clip', name: layer.apcName, inputs: [x.node], min: 0, max: 6 }, [x]);
        if ((act === 'softmax' || act === 'sigmoid') && isOutput) return this.strip(layer, act, x);
        return this.badActivation(layer, act, isOutput);
      }
      case 'Softmax': {
        const axis = c.axis ?? -1;
        if (!isOutput) this.unsupported(layer, 'a softmax before the last layer');
        if (axis !== -1 && !(Array.isArray(axis) && axis.length === 1 && axis[0] === -1) && axis !== x.shape.length) this.unsupported(layer, `axis ${quote(axis)}`);
        return this.strip(layer, 'softmax', x);
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': return this.pool(layer, x, cls === 'MaxPooling2D' ? 'maxPool' : 'avgPool');
      case 'GlobalAveragePooling2D': {
        this.channelsLast(layer);
        if (c.keepdims === true) this.unsupported(layer, 'keepdims true');
        this.map(layer, x);
        return this.add(layer, { op: 'globalAvgPool', name: layer.apcName, inputs: [x.node] }, [x]);
      }
      case 'ZeroPadding2D': {
        this.channelsLast(layer);
        this.map(layer, x);
        return this.add(layer, { op: 'pad', name: layer.apcName, inputs: [x.node], pads: this.zeroPads(layer, c.padding), value: 0 }, [x]);
      }
      case 'Add':
        if (ins.length < 2) this.fail(`${where(layer)}: takes ${ins.length} input(s), expected at least 2`);
        return this.add(layer, { op: 'add', name: layer.apcName, inputs: ins.map((v) => v.node) }, ins);
      case 'Concatenate': {
        if (ins.length < 2) this.fail(`${where(layer)}: takes ${ins.length} input(s), expected at least 2`);
        const axis = c.axis ?? -1;
        const rank = ins[0].shape.length + 1;
        if (axis !== -1 && axis !== rank - 1) this.unsupported(layer, `axis ${quote(axis)} (apc concatenates channels, the last axis)`);
        return this.add(layer, { op: 'concat', name: layer.apcName, inputs: ins.map((v) => v.node) }, ins);
      }
      case 'Flatten':
        this.channelsLast(layer);
        return this.add(layer, { op: 'flatten', name: layer.apcName, inputs: [x.node] }, [x]);
      case 'Dense': return this.dense(layer, x, isOutput);
      case 'Dropout': {
        const rate = c.rate ?? 0;
        if (typeof rate !== 'number' || rate < 0 || rate > 0.95) this.unsupported(layer, `rate ${quote(rate)} (apc's dropout takes 0 to 0.95)`);
        if (c.noise_shape != null) this.notes.push(`dropout '${layer.name}' has a noise_shape; apc drops elements independently when training (inference is the same)`);
        return this.add(layer, { op: 'dropout', name: layer.apcName, inputs: [x.node], rate }, [x]);
      }
      default:
        if (cls === 'InputLayer') this.fail(`${where(layer)}: a second input; apc imports single-input models`);
        if (cls === 'Sequential' || cls === 'Functional' || cls === 'Model') {
          this.fail(`${where(layer)}: a nested model is not supported (build one flat model in Keras, e.g. keras.Model(base.input, head(base.output))); supported layers: ${SUPPORTED_KERAS_LAYERS.join(', ')}`);
        }
        return this.fail(`${where(layer)} is not supported; supported layers: ${SUPPORTED_KERAS_LAYERS.join(', ')}`);
    }
  }

  private unsupported(layer: Layer, what: string): never {
    return this.fail(`${where(layer)}: ${what} is not supported`);
  }

  private badActivation(layer: Layer, act: string, isOutput: boolean): never {
    if ((act === 'softmax' || act === 'sigmoid') && !isOutput) {
      return this.fail(`${where(layer)}: activation '${act}' is supported only on the model's last layer (where it is stripped)`);
    }
    return this.fail(`${where(layer)}: activation ${quote(act)} is not supported; supported: linear, relu, relu6 (softmax, sigmoid on the last layer)`);
  }

  private strip(layer: Layer, activation: string, x: Value): Value {
    this.stripped = { layer: layer.name, activation };
    this.notes.push(`stripped the ${activation} of the output layer '${layer.name}': apc works on logits`);
    return x;
  }

  /** A layer's fused activation after its node (conv, dense). */
  private activation(layer: Layer, x: Value, isOutput: boolean): Value {
    const act = activationName(layer.config.activation ?? 'linear');
    switch (act) {
      case 'linear': return x;
      case 'relu': return this.add(layer, { op: 'relu', name: this.reserve(`${layer.apcName}_relu`), inputs: [x.node] }, [x]);
      case 'relu6': return this.add(layer, { op: 'clip', name: this.reserve(`${layer.apcName}_relu6`), inputs: [x.node], min: 0, max: 6 }, [x]);
      case 'softmax':
      case 'sigmoid':
        if (isOutput) return this.strip(layer, act, x);
        return this.badActivation(layer, act, isOutput);
      default: return this.badActivation(layer, act, isOutput);
    }
  }

  private checkDtype(layer: Layer): void {
    const d = layer.config.dtype;
    const name = isObject(d) ? (isObject(d.config) ? d.config.name : undefined) : d;
    if (name !== undefined && name !== null && name !== 'float32' && !this.notes.some((n) => n.startsWith('dtype policy'))) {
      this.notes.push(`dtype policy ${quote(name)} (layer '${layer.name}' and maybe others): apc computes in float32`);
    }
  }

  private channelsLast(layer: Layer): void {
    const f = layer.config.data_format;
    if (f !== undefined && f !== null && f !== 'channels_last') this.unsupported(layer, `data_format ${quote(f)} (apc is channels_last)`);
  }

  private map(layer: Layer, x: Value): void {
    if (x.shape.length !== 3) this.fail(`${where(layer)}: needs an [H, W, C] feature map, gets [${x.shape}]`);
  }

  private pair(layer: Layer, field: string, fallback: [number, number]): [number, number] {
    const v = layer.config[field] ?? fallback;
    const p = typeof v === 'number' ? [v, v] : v;
    if (!Array.isArray(p) || p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= 1)) this.fail(`${where(layer)}: ${field} ${quote(v)} is not one or two positive integers`);
    return [p[0], p[1]];
  }

  private padding(layer: Layer): 'same' | 'valid' {
    const p = typeof layer.config.padding === 'string' ? layer.config.padding.toLowerCase() : layer.config.padding;
    if (p !== 'same' && p !== 'valid') this.unsupported(layer, `padding ${quote(layer.config.padding)} (supported: 'same', 'valid')`);
    return p;
  }

  private conv(layer: Layer, x: Value, isOutput: boolean): Value {
    const c = layer.config;
    const depthwiseLayer = (ALIASES[layer.className] ?? layer.className) === 'DepthwiseConv2D';
    this.channelsLast(layer);
    this.map(layer, x);
    const [h, w, cin] = x.shape;
    const kernelSize = this.pair(layer, 'kernel_size', [1, 1]);
    const strides = this.pair(layer, 'strides', [1, 1]);
    const dilations = this.pair(layer, 'dilation_rate', [1, 1]);
    if (strides.some((s) => s > 1) && dilations.some((d) => d > 1)) this.unsupported(layer, 'strides and dilation_rate both > 1');
    const pads = this.padding(layer) === 'same' ? samePads2d(h, w, kernelSize, strides, dilations) : [0, 0, 0, 0] as const;
    const useBias = c.use_bias ?? true;
    if (typeof useBias !== 'boolean') this.fail(`${where(layer)}: use_bias ${quote(useBias)} is not a boolean`);
    const [kh, kw] = kernelSize;
    let filters: number;
    let groups: number;
    let kernel: ImportedWeight;
    if (depthwiseLayer) {
      const m = c.depth_multiplier ?? 1;
      if (!Number.isInteger(m) || (m as number) < 1) this.fail(`${where(layer)}: depth_multiplier ${quote(m)} is not a positive integer`);
      filters = cin * (m as number);
      groups = cin;
      kernel = this.weight(layer, 'depthwise_kernel', [kh, kw, cin, m as number]);
    } else {
      const f = c.filters;
      if (!Number.isInteger(f) || (f as number) < 1) this.fail(`${where(layer)}: filters ${quote(f)} is not a positive integer`);
      filters = f as number;
      groups = (c.groups ?? 1) as number;
      if (groups === 1) {
        kernel = this.weight(layer, 'kernel', [kh, kw, cin, filters]);
      } else if (groups === cin && filters % cin === 0) {
        // Keras's grouped kernel [kh, kw, 1, C·m] has output o = c·m + j, apc's depthwise [kh, kw, C, m] the same order: a reshape
        const k = this.weight(layer, 'kernel', [kh, kw, 1, filters]);
        kernel = { shape: [kh, kw, cin, filters / cin], data: k.data };
      } else {
        return this.unsupported(layer, `groups ${quote(groups)} over ${cin} channels (apc has dense and depthwise convolutions)`);
      }
    }
    // one input channel: a depthwise conv is a dense one with the same kernel layout
    if (groups === 1 || cin === 1) groups = 1;
    const v = this.add(layer, { op: 'conv2d', name: layer.apcName, inputs: [x.node], filters, kernelSize, strides, dilations, pads: [...pads], groups, useBias }, [x]);
    this.setWeight(layer.apcName, groups > 1 ? 'depthwise_kernel' : 'kernel', kernel);
    if (useBias) this.setWeight(layer.apcName, 'bias', this.weight(layer, 'bias', [filters]));
    return this.activation(layer, v, isOutput);
  }

  private batchNorm(layer: Layer, x: Value): Value {
    const c = layer.config;
    const rank = x.shape.length + 1;
    const axis = Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : c.axis ?? -1;
    if (axis !== -1 && axis !== rank - 1) this.unsupported(layer, `axis ${quote(c.axis)} (apc normalises channels, the last axis)`);
    if (c.renorm === true) this.unsupported(layer, 'renorm');
    if (c.virtual_batch_size != null) this.unsupported(layer, 'virtual_batch_size');
    const epsilon = c.epsilon ?? 1e-3;
    const momentum = c.momentum ?? 0.99;
    if (typeof epsilon !== 'number' || !(epsilon > 0)) this.fail(`${where(layer)}: epsilon ${quote(epsilon)} is not a positive number`);
    if (typeof momentum !== 'number' || !(momentum >= 0 && momentum < 1)) this.fail(`${where(layer)}: momentum ${quote(momentum)} is not in [0, 1)`);
    const ch = x.shape[x.shape.length - 1];
    const v = this.add(layer, {
      op: 'batchNorm', name: layer.apcName, inputs: [x.node], epsilon,
      // Keras's momentum weighs the old value, apc's (PyTorch's) the new batch (graph.md §1); 12 digits drop 1 − 0.99's float noise
      momentum: Number((1 - momentum).toPrecision(12)),
    }, [x]);
    const constant = (value: number): ImportedWeight => ({ shape: [ch], data: new Float32Array(ch).fill(value) });
    const scale = c.scale !== false;
    const center = c.center !== false;
    this.setWeight(layer.apcName, 'gamma', scale ? this.weight(layer, 'gamma', [ch]) : constant(1));
    this.setWeight(layer.apcName, 'beta', center ? this.weight(layer, 'beta', [ch]) : constant(0));
    this.setWeight(layer.apcName, 'moving_mean', this.weight(layer, 'moving_mean', [ch]));
    this.setWeight(layer.apcName, 'moving_variance', this.weight(layer, 'moving_variance', [ch]));
    if (!scale) this.notes.push(`batch norm '${layer.name}' has scale=false: γ = 1 (trainable in apc)`);
    if (!center) this.notes.push(`batch norm '${layer.name}' has center=false: β = 0 (trainable in apc)`);
    return v;
  }

  private pool(layer: Layer, x: Value, op: 'maxPool' | 'avgPool'): Value {
    this.channelsLast(layer);
    this.map(layer, x);
    const poolSize = this.pair(layer, 'pool_size', [2, 2]);
    const strides = layer.config.strides == null ? poolSize : this.pair(layer, 'strides', poolSize);
    const same = this.padding(layer) === 'same';
    const pads: [number, number, number, number] = same ? [...samePads2d(x.shape[0], x.shape[1], poolSize, strides)] : [0, 0, 0, 0];
    const spec: NodeSpecInput = op === 'maxPool'
      ? { op, name: layer.apcName, inputs: [x.node], poolSize, strides, pads }
      // TF's 'same' average counts only the real pixels of a window
      : { op, name: layer.apcName, inputs: [x.node], poolSize, strides, pads, ...(same ? { countIncludePad: false } : {}) };
    return this.add(layer, spec, [x]);
  }

  /** ZeroPadding2D's padding: p, [h, w] or [[top, bottom], [left, right]] → [top, bottom, left, right]. */
  private zeroPads(layer: Layer, p: unknown): [number, number, number, number] {
    const ok = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
    if (ok(p)) return [p, p, p, p];
    if (Array.isArray(p) && p.length === 2 && ok(p[0]) && ok(p[1])) return [p[0], p[0], p[1], p[1]];
    if (Array.isArray(p) && p.length === 2 && p.every((q) => Array.isArray(q) && q.length === 2 && q.every(ok))) {
      return [p[0][0], p[0][1], p[1][0], p[1][1]];
    }
    return this.fail(`${where(layer)}: padding ${quote(p)} is not p, [h, w] or [[top, bottom], [left, right]]`);
  }

  private dense(layer: Layer, x: Value, isOutput: boolean): Value {
    const c = layer.config;
    if (x.shape.length !== 1) {
      this.fail(`${where(layer)}: Dense on a [${x.shape}] tensor applies per position; apc supports Dense on vectors (put Flatten or GlobalAveragePooling2D before it)`);
    }
    const units = c.units;
    if (!Number.isInteger(units) || (units as number) < 1) this.fail(`${where(layer)}: units ${quote(units)} is not a positive integer`);
    const useBias = c.use_bias ?? true;
    if (typeof useBias !== 'boolean') this.fail(`${where(layer)}: use_bias ${quote(useBias)} is not a boolean`);
    const v = this.add(layer, { op: 'dense', name: layer.apcName, inputs: [x.node], units: units as number, useBias }, [x]);
    this.setWeight(layer.apcName, 'kernel', this.weight(layer, 'kernel', [x.shape[0], units as number]));
    if (useBias) this.setWeight(layer.apcName, 'bias', this.weight(layer, 'bias', [units as number]));
    return this.activation(layer, v, isOutput);
  }

  // ---------------------------------------------------------------------------------------------
  // The result

  private finish(inputShape: [number, number, number], output: string): ImportedModel {
    const channels = inputShape[2];
    let normalization = this.opts.normalization;
    if (normalization) {
      const r = InputNormalizationSchema.safeParse(normalization);
      if (!r.success) this.fail(`normalization: ${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message}`);
      normalization = r.data;
      if (normalization.mean.length !== channels || normalization.std.length !== channels) {
        this.fail(`normalization has ${normalization.mean.length} means and ${normalization.std.length} stds; the model's input has ${channels} channels`);
      }
    } else {
      normalization = { mean: new Array<number>(channels).fill(0), std: new Array<number>(channels).fill(1), channelOrder: 'rgb' };
      this.notes.push(`input normalization not given: assuming the model takes ${channels === 3 ? 'RGB' : `${channels}-channel`} [0, 1] pixels (mean 0, std 1); give the model's own (e.g. [-1, 1] or caffe-style BGR) if it expects another`);
    }
    if (this.renamed) this.notes.push(`${this.renamed} layer name(s) rewritten to letters, digits, '_', '.' and '-'`);
    const unused = [...this.weights.keys()].filter((k) => !this.used.has(k));
    if (unused.length) this.notes.push(`ignored ${unused.length} weight(s) no imported layer reads: ${unused.slice(0, 6).join(', ')}${unused.length > 6 ? ' …' : ''}`);
    const source: Record<string, unknown> = {
      format: 'keras', file: this.file, dialect: this.t.dialect, modelClass: this.t.modelClass,
      ...(this.t.kerasVersion !== undefined ? { kerasVersion: this.t.kerasVersion } : {}),
      ...(this.t.backend !== undefined ? { backend: this.t.backend } : {}),
      ...(this.stripped ? { strippedActivation: this.stripped } : {}),
    };
    const raw: GraphSpec | Record<string, unknown> = {
      kind: 'graph', ...(this.t.modelName !== undefined ? { name: this.t.modelName } : {}),
      input: { shape: inputShape, normalization }, nodes: this.nodes, output, source,
    };
    let spec: GraphSpec;
    let graph: Graph;
    try {
      spec = parseGraphSpec(raw, 'graph');
      graph = new Graph(spec);
    } catch (err) {
      return this.fail(`the imported graph is invalid: ${describeThrown(err)}`);
    }
    // every weight the graph needs, with its shape (a mismatch here is an importer bug, say so plainly)
    for (const def of graph.weights) {
      const w = this.out.get(def.name);
      if (!w || w.shape.join() !== def.shape.join()) {
        this.fail(`internal error: weight '${def.name}' is ${w ? `[${w.shape}]` : 'missing'}, the graph needs [${def.shape}]`);
      }
    }
    return { config: spec, weights: this.out, notes: this.notes };
  }
}

function where(layer: Layer): string {
  return `layer '${layer.name}' (${layer.className})`;
}

/** An activation given as a string, or (Keras 3, custom) a serialised object naming one. */
function activationName(a: unknown): string {
  if (a === null || a === undefined) return 'linear';
  if (typeof a === 'string') return a.toLowerCase();
  if (isObject(a)) {
    const n = isObject(a.config) && typeof a.config.name === 'string' ? a.config.name : a.class_name;
    if (typeof n === 'string') return n.toLowerCase();
  }
  return quote(a);
}
