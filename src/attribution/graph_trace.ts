/**
 * One cached inference-mode forward over any GraphNet graph, for the top-down relevance passes:
 * every node's output by name (the network's own node-by-node forward: capturing a node turns the
 * fused conv→BN path off for it, so every value is exactly the plain sequence's), and per node its
 * input tensors and whether each is ≥ 0 by construction (`Graph.nonNegative`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphNet } from '../models/graph/graph_net.js';
import { INPUT, type NodeSpec } from '../models/graph/graph_spec.js';

/** What a rule sees of one node: its spec, its inputs' and output's values, its weights. */
export interface NodeTrace {
  readonly node: NodeSpec;
  /** Values of `node.inputs`, in order. */
  readonly inputs: readonly tf.Tensor[];
  readonly output: tf.Tensor;
  /** Per input: true when it is ≥ 0 by construction (after a ReLU, through pools …). */
  readonly inputNonNegative: readonly boolean[];
  /** The node's weight `<node>/<suffix>` (a view of the network's variable). */
  weight(suffix: string): tf.Tensor;
  /** True when the node owns the weight `<node>/<suffix>`. */
  hasWeight(suffix: string): boolean;
}

export class GraphTrace {
  private constructor(
    readonly net: GraphNet,
    readonly input: tf.Tensor4D,
    private readonly values: ReadonlyMap<string, tf.Tensor>,
    readonly logits: tf.Tensor2D,
  ) {}

  /** Inference-mode forward of `net` on `x`, keeping every node's output. */
  static run(net: GraphNet, x: tf.Tensor4D): GraphTrace {
    const names = net.graph.nodes.map((n) => n.name);
    const { logits, activations } = net.forward(x, { capture: names });
    const values = new Map<string, tf.Tensor>([[INPUT, x], ...Object.entries(activations)]);
    return new GraphTrace(net, x, values, logits);
  }

  /** Output of a node (or the input, 'input'). */
  value(name: string): tf.Tensor {
    const v = this.values.get(name);
    if (!v) throw new Error(`graph trace: no value for '${name}'`);
    return v;
  }

  nodeTrace(node: NodeSpec): NodeTrace {
    const g = this.net.graph;
    return {
      node,
      inputs: node.inputs.map((i) => this.value(i)),
      output: this.value(node.name),
      inputNonNegative: node.inputs.map((i) => g.nonNegative(i)),
      weight: (suffix) => this.net.weight(`${node.name}/${suffix}`),
      hasWeight: (suffix) => this.net.weights.has(`${node.name}/${suffix}`),
    };
  }

  /** Disposes the recorded values (never the input or the network's weights). */
  dispose(): void {
    const gone = new Set<tf.Tensor>([this.input]);
    for (const t of this.values.values()) {
      if (!gone.has(t)) { gone.add(t); t.dispose(); }
    }
  }
}
