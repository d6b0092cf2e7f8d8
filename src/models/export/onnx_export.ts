/**
 * apc network → ONNX (opset 13), the form PyTorch exports: NCHW input `input` [batch, C, H, W]
 * with a symbolic batch, output `logits` [batch, K], inference-mode ops, float32 initializers named
 * `<node>.weight`, `<node>.bias`, `<node>.running_mean` … as PyTorch names parameters. A pruned
 * network keeps its zeros (plain float32 initializers, no sparse tensors).
 *
 * Op mapping: conv2d → Conv (OIHW weights; depthwise [C·m, 1, kh, kw] with group C; pads
 * [top, left, bottom, right]); batchNorm → BatchNormalization (momentum in ONNX's sense, 1 − apc's);
 * relu → Relu; clip → Clip with min/max initializers; maxPool/avgPool → MaxPool/AveragePool
 * (count_include_pad); globalAvgPool → GlobalAveragePool + Flatten (apc's pool gives [C]); pad →
 * Pad (constant mode); add → Add (Sum for more than two inputs); concat → Concat on channels
 * (axis 1); dense → Gemm with transB 1 and [out, in] weights; dropout and identity are omitted
 * (inference), an Identity only where one produces the logits.
 *
 * Flatten: apc flattens a map as (H, W, C), ONNX's Flatten of NCHW as (C, H, W). When every path
 * from the flatten (through relu, clip, dropout, identity) ends in dense layers, those layers'
 * rows are permuted to (C, H, W) order and the flatten is a plain Flatten, exactly what PyTorch
 * writes for VGG; otherwise the map is Transpose(0, 2, 3, 1)'d to NHWC before the Flatten.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphNet } from '../graph/graph_net.js';
import { INPUT, type NodeSpec } from '../graph/graph_spec.js';
import { isDepthwise } from '../graph/ops/conv2d.js';
import { describeThrown, ModelFileError } from '../import/errors.js';
import {
  encodeOnnxModel, float32Tensor, int64Tensor, type OnnxAttribute, type OnnxModel, type OnnxNode, type OnnxTensor,
  ONNX_EXPORT_IR_VERSION, ONNX_EXPORT_OPSET, writeOnnxModel,
} from '../import/onnx_model.js';
import { type Chw, ONNX_NORMALIZATION_KEY } from '../import/onnx_import.js';
import { APC_VERSION } from '../../version.js';

/**
 * How learned weights are stored: float32, or float16 initializers each Cast to float32 (exact
 * widening, so the model computes with the same numbers as a `--quantize float16` TF.js export;
 * input, activations and output stay float32). uint8 is not offered: ONNX's DequantizeLinear
 * computes (q − zero_point)·scale in float32 with an integer zero point, which cannot reproduce
 * TF.js's un-nudged float64 min and scale bit for bit.
 */
export type OnnxWeightType = 'float32' | 'float16';

/** The symbolic batch dimension of the exported input and output. */
export const ONNX_BATCH_DIM = 'batch';

/** HWIO → OIHW; a depthwise [kh, kw, C, m] kernel is HWIO with I = 1, O = C·m. */
export function hwioToOihw(k: Float32Array, [kh, kw, i, o]: readonly number[]): Float32Array {
  const out = new Float32Array(k.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let b = 0; b < i; b++) {
        for (let a = 0; a < o; a++) out[((a * i + b) * kh + y) * kw + x] = k[((y * kw + x) * i + b) * o + a];
      }
    }
  }
  return out;
}

/** Gemm's B [out, in] from a dense kernel [in, out]; with `chw` the rows go to PyTorch's (c, h, w) order. */
function gemmWeight(k: Float32Array, inF: number, out: number, chw: Chw | undefined): Float32Array {
  const b = new Float32Array(inF * out);
  for (let t = 0; t < inF; t++) {
    let r = t;
    if (chw) {
      const [c, h, w] = chw;
      const hw = t % (h * w);
      r = hw * c + (t - hw) / (h * w);
    }
    for (let o = 0; o < out; o++) b[o * inF + t] = k[r * out + o];
  }
  return b;
}

const ints = (name: string, value: number[]): OnnxAttribute => ({ name, type: 'ints', value });
const int = (name: string, value: number): OnnxAttribute => ({ name, type: 'int', value });
const float = (name: string, value: number): OnnxAttribute => ({ name, type: 'float', value });

/** Element-wise ops that keep a flattened vector's order (a flatten may look through them). */
const ELEMENTWISE = new Set(['relu', 'clip', 'dropout', 'identity']);
/** Ops that exist for training only or change nothing: their ONNX value is their input's. */
const OMITTED = new Set(['dropout', 'identity']);

class OnnxExporter {
  private readonly nodes: OnnxNode[] = [];
  private readonly initializers: OnnxTensor[] = [];
  /** Value and initializer names (one namespace in ONNX); node names are another. */
  private readonly names = new Set<string>([INPUT, 'logits']);
  private readonly nodeNames = new Set<string>();
  /** apc node (or 'input') → the ONNX value holding its output. */
  private readonly values = new Map<string, string>([[INPUT, INPUT]]);
  /** Dense nodes whose input is a flattened C×H×W map exported as a plain (C, H, W) Flatten. */
  private readonly permuted = new Map<string, Chw>();

  constructor(private readonly net: GraphNet, private readonly weightType: OnnxWeightType = 'float32') {}

  run(): OnnxModel {
    const graph = this.net.graph;
    const spec = graph.spec;
    for (const node of graph.nodes) this.node(node);
    let logits = this.values.get(graph.outputName)!;
    if (logits !== 'logits') {
      this.emit('logits', 'Identity', [logits], ['logits']);
      logits = 'logits';
    }
    const [h, w, c] = graph.inputShape;
    const norm = spec.input.normalization;
    return {
      irVersion: ONNX_EXPORT_IR_VERSION,
      opsetImports: [{ domain: '', version: ONNX_EXPORT_OPSET }],
      producerName: 'apc',
      producerVersion: APC_VERSION,
      docString: `apc ${this.net.config.kind} network: NCHW float32 input, logits output (no softmax)`,
      ...(norm ? { metadataProps: [{ key: ONNX_NORMALIZATION_KEY, value: JSON.stringify(norm) }] } : {}),
      graph: {
        name: spec.name ?? this.net.config.kind,
        nodes: this.nodes,
        initializers: this.initializers,
        inputs: [{ name: INPUT, type: { kind: 'tensor', elemType: 'FLOAT', shape: [ONNX_BATCH_DIM, c, h, w] } }],
        outputs: [{ name: logits, type: { kind: 'tensor', elemType: 'FLOAT', shape: [ONNX_BATCH_DIM, graph.numClasses] } }],
        valueInfo: [],
      },
    };
  }

  private unique(base: string, names = this.names): string {
    let name = base;
    for (let i = 1; names.has(name); i++) name = `${base}_${i}`;
    names.add(name);
    return name;
  }

  private data(node: string, suffix: string): Float32Array {
    // a copy (some backends hand out their own buffer) of the weight as the forward reads it: a
    // QAT checkpoint's as its uint8 model has them
    return tf.tidy(() => Float32Array.from(this.net.forwardWeight(`${node}/${suffix}`).dataSync() as Float32Array));
  }

  private init(name: string, dims: number[], data: Float32Array): string {
    const n = this.unique(name);
    this.initializers.push(float32Tensor(n, dims, data));
    return n;
  }

  /** A learned weight: float32, or (float16 export) a FLOAT16 initializer Cast to float32. */
  private weight(name: string, dims: number[], data: Float32Array): string {
    if (this.weightType === 'float32') return this.init(name, dims, data);
    const half = this.unique(`${name}_fp16`);
    this.initializers.push({ name: half, dims: [...dims], dataType: 'FLOAT16', data });
    const n = this.unique(name);
    this.emit(`${name}_cast`, 'Cast', [half], [n], [int('to', 1)]); // 1 = FLOAT
    return n;
  }

  private output(node: NodeSpec): string {
    const name = node.name === this.net.graph.outputName ? 'logits' : this.unique(node.name);
    this.values.set(node.name, name);
    return name;
  }

  private emit(name: string, opType: string, inputs: string[], outputs: string[], attributes: OnnxAttribute[] = []): void {
    this.nodes.push({ name: this.unique(name, this.nodeNames), opType, inputs, outputs, attributes });
  }

  /** Where a flatten's values go: true when every path ends in dense layers (through element-wise ops). */
  private feedsOnlyDense(name: string, dense: string[]): boolean {
    const graph = this.net.graph;
    if (name === graph.outputName) return false;
    for (const c of graph.consumers(name)) {
      const n = graph.node(c);
      if (n.op === 'dense') dense.push(n.name);
      else if (!ELEMENTWISE.has(n.op) || !this.feedsOnlyDense(n.name, dense)) return false;
    }
    return true;
  }

  private node(node: NodeSpec): void {
    const graph = this.net.graph;
    const x = node.inputs.map((i) => this.values.get(i)!);
    const inShape = graph.shape(node.inputs[0]);
    if (OMITTED.has(node.op) && node.name !== graph.outputName) {
      this.values.set(node.name, x[0]);
      return;
    }
    switch (node.op) {
      case 'conv2d': {
        const c = inShape[2];
        const [kh, kw] = node.kernelSize;
        const depthwise = isDepthwise(node);
        const k = this.data(node.name, depthwise ? 'depthwise_kernel' : 'kernel');
        const w = this.weight(`${node.name}.weight`, [node.filters, depthwise ? 1 : c, kh, kw], hwioToOihw(k, [kh, kw, depthwise ? 1 : c, node.filters]));
        const inputs = [x[0], w];
        if (node.useBias) inputs.push(this.weight(`${node.name}.bias`, [node.filters], this.data(node.name, 'bias')));
        const [t, b, l, r] = node.pads;
        this.emit(node.name, 'Conv', inputs, [this.output(node)], [
          ints('dilations', [...node.dilations]), int('group', node.groups), ints('kernel_shape', [kh, kw]),
          ints('pads', [t, l, b, r]), ints('strides', [...node.strides]),
        ]);
        return;
      }
      case 'batchNorm': {
        const c = inShape[inShape.length - 1];
        const p = (suffix: string, torch: string) => this.weight(`${node.name}.${torch}`, [c], this.data(node.name, suffix));
        const inputs = [x[0], p('gamma', 'weight'), p('beta', 'bias'), p('moving_mean', 'running_mean'), p('moving_variance', 'running_var')];
        // ONNX momentum is the weight of the old value (Keras's); apc's is PyTorch's
        this.emit(node.name, 'BatchNormalization', inputs, [this.output(node)], [float('epsilon', node.epsilon), float('momentum', 1 - node.momentum)]);
        return;
      }
      case 'relu':
        this.emit(node.name, 'Relu', x, [this.output(node)]);
        return;
      case 'clip': {
        const lo = this.init(`${node.name}.min`, [], Float32Array.of(node.min));
        const hi = this.init(`${node.name}.max`, [], Float32Array.of(node.max));
        this.emit(node.name, 'Clip', [x[0], lo, hi], [this.output(node)]);
        return;
      }
      case 'maxPool':
      case 'avgPool': {
        const [t, b, l, r] = node.pads;
        const attrs = [ints('kernel_shape', [...node.poolSize]), ints('pads', [t, l, b, r]), ints('strides', [...node.strides])];
        if (node.op === 'avgPool') attrs.push(int('count_include_pad', node.countIncludePad ? 1 : 0));
        this.emit(node.name, node.op === 'maxPool' ? 'MaxPool' : 'AveragePool', x, [this.output(node)], attrs);
        return;
      }
      case 'globalAvgPool': {
        // ONNX keeps [N, C, 1, 1]; apc's global pool gives [C]
        const pooled = this.unique(`${node.name}.pooled`);
        this.emit(node.name, 'GlobalAveragePool', x, [pooled]);
        this.emit(`${node.name}.flatten`, 'Flatten', [pooled], [this.output(node)], [int('axis', 1)]);
        return;
      }
      case 'pad': {
        const [t, b, l, r] = node.pads;
        const pads = this.unique(`${node.name}.pads`);
        this.initializers.push(int64Tensor(pads, [8], [0, 0, t, l, 0, 0, b, r]));
        const value = this.init(`${node.name}.value`, [], Float32Array.of(node.value));
        this.emit(node.name, 'Pad', [x[0], pads, value], [this.output(node)], [{ name: 'mode', type: 'string', value: 'constant' }]);
        return;
      }
      case 'add':
        this.emit(node.name, x.length === 2 ? 'Add' : 'Sum', x, [this.output(node)]);
        return;
      case 'concat':
        this.emit(node.name, 'Concat', x, [this.output(node)], [int('axis', 1)]);
        return;
      case 'flatten': {
        if (inShape.length !== 3) {
          this.values.set(node.name, x[0]);
          if (node.name === graph.outputName) this.emit(node.name, 'Identity', x, [this.output(node)]);
          return;
        }
        const [h, w, c] = inShape;
        const dense: string[] = [];
        let input = x[0];
        if (h * w > 1) {
          if (this.feedsOnlyDense(node.name, dense)) {
            for (const d of dense) this.permuted.set(d, [c, h, w]);
          } else {
            input = this.unique(`${node.name}.nhwc`);
            this.emit(`${node.name}.transpose`, 'Transpose', x, [input], [ints('perm', [0, 2, 3, 1])]);
          }
        }
        this.emit(node.name, 'Flatten', [input], [this.output(node)], [int('axis', 1)]);
        return;
      }
      case 'dense': {
        const inF = inShape[0];
        const k = this.data(node.name, 'kernel');
        const inputs = [x[0], this.weight(`${node.name}.weight`, [node.units, inF], gemmWeight(k, inF, node.units, this.permuted.get(node.name)))];
        if (node.useBias) inputs.push(this.weight(`${node.name}.bias`, [node.units], this.data(node.name, 'bias')));
        this.emit(node.name, 'Gemm', inputs, [this.output(node)], [float('alpha', 1), float('beta', 1), int('transB', 1)]);
        return;
      }
      case 'dropout':
      case 'identity':
        // only reached when it produces the logits
        this.emit(node.name, 'Identity', x, [this.output(node)]);
        return;
      default:
        throw new Error(`node '${(node as NodeSpec).name}': op '${(node as NodeSpec).op}' has no ONNX export`);
    }
  }
}

/** The network as an ONNX model (opset 13; see the header for the op mapping). */
export function exportOnnx(net: GraphNet, weights: OnnxWeightType = 'float32'): OnnxModel {
  return new OnnxExporter(net, weights).run();
}

/** ONNX bytes of the network (`exportOnnx` encoded). */
export function encodeOnnx(net: GraphNet, label = 'ONNX export'): Uint8Array {
  return encodeOnnxModel(exportOnnx(net), label);
}

/**
 * Writes the network as an .onnx file (atomically).
 * @throws ModelFileError naming `path`.
 */
export async function writeOnnx(path: string, net: GraphNet, weights: OnnxWeightType = 'float32'): Promise<void> {
  let model: OnnxModel;
  try {
    model = exportOnnx(net, weights);
  } catch (err) {
    throw new ModelFileError(path, `cannot export the network: ${describeThrown(err)}`, { cause: err });
  }
  await writeOnnxModel(path, model);
}
