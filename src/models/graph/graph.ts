/**
 * A validated graph: nodes in topological order with their input and output shapes, who consumes
 * each tensor, and the weights every node owns. Built once per model from a `GraphSpec`; pure
 * geometry, no tensors.
 */
import { type GraphSpec, INPUT, type NodeSpec, parseGraphSpec } from './graph_spec.js';
import type { Shape, WeightDef } from './op.js';
import { OPS } from './ops/index.js';

export interface GraphWeight extends WeightDef {
  /** `<node>/<suffix>` */
  readonly name: string;
  readonly node: string;
}

export class Graph {
  readonly nodes: readonly NodeSpec[];
  private readonly byName = new Map<string, NodeSpec>();
  private readonly shapes = new Map<string, Shape>();
  private readonly consumerMap = new Map<string, string[]>();
  /** All weights in node order (checkpoint, initialisation and optimiser order). */
  readonly weights: readonly GraphWeight[];

  constructor(readonly spec: GraphSpec) {
    this.nodes = spec.nodes;
    this.shapes.set(INPUT, spec.input.shape);
    this.consumerMap.set(INPUT, []);
    const weights: GraphWeight[] = [];
    spec.nodes.forEach((node, i) => {
      const where = `node ${i} '${node.name}' (${node.op})`;
      if (node.name === INPUT) throw new Error(`${where}: the name '${INPUT}' is reserved for the graph input`);
      if (this.byName.has(node.name)) throw new Error(`${where}: a node with this name comes earlier`);
      const inShapes = node.inputs.map((name) => {
        const s = this.shapes.get(name);
        if (!s) throw new Error(`${where}: input '${name}' is not the graph input or an earlier node (nodes must be in topological order)`);
        return s;
      });
      const op = OPS[node.op];
      let out: Shape;
      try {
        out = op.outputShape(node as never, inShapes);
        for (const w of op.weights?.(node as never, inShapes) ?? []) weights.push({ ...w, name: `${node.name}/${w.suffix}`, node: node.name });
      } catch (err) {
        throw new Error(`${where}: ${(err as Error).message}`);
      }
      this.byName.set(node.name, node);
      this.shapes.set(node.name, out);
      this.consumerMap.set(node.name, []);
      for (const name of node.inputs) this.consumerMap.get(name)!.push(node.name);
    });
    const out = this.shapes.get(spec.output);
    if (!out || spec.output === INPUT) throw new Error(`output '${spec.output}' is not a node of the graph`);
    if (out.length !== 1) throw new Error(`output '${spec.output}' must give logits [K], it gives [${out}]`);
    this.weights = weights;
  }

  /** Validates `raw` (zod) and builds the graph; errors name the field or node. */
  static parse(raw: unknown, where = 'graph'): Graph {
    const spec = parseGraphSpec(raw, where);
    try {
      return new Graph(spec);
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`);
    }
  }

  get inputShape(): readonly [number, number, number] {
    return this.spec.input.shape;
  }

  get numClasses(): number {
    return this.shape(this.spec.output)[0];
  }

  get outputName(): string {
    return this.spec.output;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  node(name: string): NodeSpec {
    const n = this.byName.get(name);
    if (!n) throw new Error(`the graph has no node '${name}'; nodes: ${this.nodeNameList()}`);
    return n;
  }

  /** Per-sample output shape of a node (or of 'input'). */
  shape(name: string): Shape {
    const s = this.shapes.get(name);
    if (!s) throw new Error(`the graph has no node '${name}'; nodes: ${this.nodeNameList()}`);
    return s;
  }

  inputShapes(node: NodeSpec): Shape[] {
    return node.inputs.map((n) => this.shape(n));
  }

  /** Names of the nodes that read `name`'s output. */
  consumers(name: string): readonly string[] {
    return this.consumerMap.get(name) ?? [];
  }

  /** The single consumer of `name`, or undefined when there are none or several. */
  soleConsumer(name: string): NodeSpec | undefined {
    const c = this.consumers(name);
    return c.length === 1 ? this.byName.get(c[0]) : undefined;
  }

  /** Nodes the output (and the `extra` names) depend on, given tensors supplied for `cut` nodes. */
  requiredNodes(extra: readonly string[] = [], cut: ReadonlySet<string> = new Set()): Set<string> {
    const need = new Set<string>();
    const stack = [this.spec.output, ...extra];
    while (stack.length) {
      const n = stack.pop()!;
      if (n === INPUT || need.has(n)) continue;
      need.add(n);
      if (!cut.has(n)) stack.push(...this.node(n).inputs);
    }
    return need;
  }

  /**
   * The layer matched by default (method spec: the last pool before the head): walking back from
   * the output along first inputs, the last node whose output is a feature map [H, W, C] (VGG:
   * the last pool; ResNet, MobileNetV2: the activation that global average pooling reads).
   */
  get matchLayer(): string {
    let name = this.spec.output;
    while (name !== INPUT && this.shape(name).length !== 3) name = this.node(name).inputs[0];
    if (name === INPUT) throw new Error('the graph has no feature-map layer before its output');
    return name;
  }

  /**
   * The layer Grad-CAM and EBP explain by default: the last activation before the final pooling
   * (from `matchLayer` back through max/average pools; VGG: the last ReLU).
   */
  get gradCamLayer(): string {
    let name = this.matchLayer;
    for (;;) {
      const node = this.node(name);
      if ((node.op !== 'maxPool' && node.op !== 'avgPool') || node.inputs[0] === INPUT) return name;
      name = node.inputs[0];
    }
  }

  /** True when every value reaching `name` is ≥ 0 by construction (after a ReLU, through pools …). */
  nonNegative(name: string): boolean {
    if (name === INPUT) return false;
    const node = this.node(name);
    const op = OPS[node.op];
    if (op.outputNonNegative?.(node as never)) return true;
    return !!op.keepsNonNegative?.(node as never) && node.inputs.every((i) => this.nonNegative(i));
  }

  private nodeNameList(): string {
    const names = this.nodes.map((n) => n.name);
    return names.length > 12 ? `${names.slice(0, 12).join(', ')} … (${names.length})` : names.join(', ');
  }
}
