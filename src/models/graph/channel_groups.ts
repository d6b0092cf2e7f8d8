/**
 * Channel groups (graph.md §3), in the spirit of Torch-Pruning's dependency graph: the channels of
 * a graph that must change together. A conv (groups 1) or dense layer starts a new channel space
 * for its output; depthwise conv (multiplier 1), BN, activations, pooling, pad, dropout and
 * identity pass their input's space through; `add` merges the spaces of all its inputs with its
 * output's (a ResNet stage becomes one group); `concat` lays its inputs' spaces side by side (its
 * output is no new space: each part stays in its own group); flatten keeps the space (an NHWC
 * flatten reads channel r mod C at row r). Spaces that touch the network input or the logits are
 * frozen.
 *
 * Used for students of imported graphs (every free group's width divided); the groups are what
 * dependency-grouped structured pruning on any graph will cut.
 */
import type { Graph } from './graph.js';
import { type GraphSpec, INPUT, type NodeSpec, parseGraphSpec } from './graph_spec.js';

export interface ChannelGroup {
  /** Smallest member index in node order (stable id). */
  readonly id: number;
  /** Channels of the group. */
  readonly width: number;
  /** Nodes whose output channels start this group (convs with groups 1, dense layers). */
  readonly producers: readonly string[];
  /** Nodes whose output lies in this group's space (producers and pass-through nodes). */
  readonly members: readonly string[];
  /** Why the group may not change width ('input', 'logits'), if frozen. */
  readonly frozen?: 'input' | 'logits';
}

/** A node's output channel layout: a single space, or (after concat) a list of segments. */
type Layout = { space: number } | { segments: { space: number; width: number }[] };

class UnionFind {
  private readonly parent: number[] = [];
  make(): number {
    this.parent.push(this.parent.length);
    return this.parent.length - 1;
  }
  find(a: number): number {
    while (this.parent[a] !== a) {
      this.parent[a] = this.parent[this.parent[a]];
      a = this.parent[a];
    }
    return a;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

/** Passes a node's input channel layout through (the ops that keep channels). */
const PASS_THROUGH = new Set<NodeSpec['op']>(['batchNorm', 'relu', 'clip', 'maxPool', 'avgPool', 'globalAvgPool', 'pad', 'dropout', 'identity', 'flatten']);

/** The channel groups of a graph, ordered by their first node. */
export function channelGroups(graph: Graph): ChannelGroup[] {
  const uf = new UnionFind();
  const spaceWidth: number[] = [];
  const layouts = new Map<string, Layout>();
  const producerOf = new Map<number, string>();
  const newSpace = (width: number, producer?: string) => {
    const s = uf.make();
    spaceWidth[s] = width;
    if (producer) producerOf.set(s, producer);
    return s;
  };
  const inputSpace = newSpace(graph.inputShape[2]);
  layouts.set(INPUT, { space: inputSpace });
  const channels = (name: string) => graph.shape(name)[graph.shape(name).length - 1];
  for (const node of graph.nodes) {
    const inLayout = layouts.get(node.inputs[0])!;
    let out: Layout;
    if (node.op === 'conv2d' && node.groups === 1) out = { space: newSpace(node.filters, node.name) };
    else if (node.op === 'dense') out = { space: newSpace(node.units, node.name) };
    else if (node.op === 'conv2d') {
      // depthwise: multiplier 1 keeps the space; a multiplier m > 1 makes a space tied to it
      out = node.filters === channels(node.inputs[0]) ? inLayout : { space: newSpace(node.filters) };
      if (!('space' in inLayout)) out = { space: newSpace(node.filters) };
    } else if (node.op === 'add') {
      const spaces = node.inputs.map((i) => layouts.get(i)!);
      const first = spaces[0];
      if ('space' in first) for (const s of spaces) if ('space' in s) uf.union(first.space, s.space);
      out = first;
    } else if (node.op === 'concat') {
      out = {
        segments: node.inputs.flatMap((i) => {
          const l = layouts.get(i)!;
          return 'space' in l ? [{ space: l.space, width: channels(i) }] : l.segments;
        }),
      };
    } else if (PASS_THROUGH.has(node.op)) out = inLayout;
    else throw new Error(`channelGroups: no rule for op '${node.op}' (node '${node.name}')`);
    layouts.set(node.name, out);
  }
  const frozen = new Map<number, 'input' | 'logits'>();
  frozen.set(uf.find(inputSpace), 'input');
  const outLayout = layouts.get(graph.outputName)!;
  if ('space' in outLayout) frozen.set(uf.find(outLayout.space), frozen.get(uf.find(outLayout.space)) ?? 'logits');
  const groups = new Map<number, { width: number; producers: string[]; members: string[]; first: number }>();
  graph.nodes.forEach((node, index) => {
    const l = layouts.get(node.name)!;
    const spaces = 'space' in l ? [l.space] : l.segments.map((s) => s.space);
    for (const s of spaces) {
      const root = uf.find(s);
      let g = groups.get(root);
      if (!g) { g = { width: spaceWidth[s], producers: [], members: [], first: index }; groups.set(root, g); }
      if (!g.members.includes(node.name)) g.members.push(node.name);
      if (producerOf.get(s) === node.name) g.producers.push(node.name);
    }
  });
  return [...groups.entries()].sort((a, b) => a[1].first - b[1].first).map(([root, g]) => ({
    id: g.first, width: g.width, producers: g.producers, members: g.members,
    ...(frozen.has(root) ? { frozen: frozen.get(root)! } : {}),
  }));
}

/**
 * The graph with every free channel group's width divided by `k` (rounded up, at least 1): a
 * narrower student of the same topology (weights are initialised afresh by the caller).
 */
export function dividedGraph(graph: Graph, k: number): GraphSpec {
  if (!Number.isInteger(k) || k < 1) throw new Error(`--width must be a positive integer divisor, got ${k}`);
  const width = new Map<string, number>();
  for (const g of channelGroups(graph)) {
    const w = g.frozen ? g.width : Math.max(1, Math.ceil(g.width / k));
    for (const p of g.producers) width.set(p, w);
  }
  const inC = new Map<string, number>([[INPUT, graph.inputShape[2]]]);
  const nodes = graph.nodes.map((node): NodeSpec => {
    let out: NodeSpec = node;
    if (node.op === 'conv2d' && node.groups === 1) out = { ...node, filters: width.get(node.name)! };
    else if (node.op === 'dense') out = { ...node, units: width.get(node.name)! };
    else if (node.op === 'conv2d') {
      const c = inC.get(node.inputs[0])!;
      out = { ...node, groups: c, filters: c * (node.filters / node.groups) };
    }
    const c = out.op === 'conv2d' ? out.filters : out.op === 'dense' ? out.units
      : out.op === 'concat' ? out.inputs.reduce((s, i) => s + inC.get(i)!, 0) : inC.get(node.inputs[0])!;
    inC.set(node.name, c);
    return out;
  });
  return parseGraphSpec({ ...graph.spec, nodes }, 'student graph');
}
