/**
 * Channel groups (graph.md §3), in the spirit of Torch-Pruning's dependency graph: the channels of
 * a graph that must change together. Each op's `channels` rule (ops/*.ts) says how its output
 * channels relate to its inputs': a conv (groups 1) or dense layer starts a new channel space;
 * depthwise conv (multiplier 1), BN, activations, pooling, pad, dropout and identity pass their
 * input's space through; `add` merges the spaces of all its inputs with its output's (a ResNet
 * stage becomes one group); `concat` lays its inputs' spaces side by side (each part stays in its
 * own group, at an offset); an NHWC flatten keeps the space (row r reads channel r mod C). Spaces
 * that touch the network input or the logits are frozen, and so are those around an op no rule
 * covers (a depthwise multiplier > 1).
 *
 * A group lists every weight axis its channels index: on the producer side the kernel
 * out-channels, biases, BN vectors and depthwise channels (`outputs`), on the consumer side the
 * next convs' input channels and dense rows (`consumers`). Structured pruning cuts exactly these
 * (compress/group_prune.ts); `resizedGraph` gives the architecture for new group widths.
 */
import type { Graph } from './graph.js';
import { type GraphSpec, INPUT, type NodeSpec, parseGraphSpec } from './graph_spec.js';
import type { ChannelAxis } from './op.js';
import { OPS } from './ops/index.js';

/** One weight axis indexed by a group's channels. */
export interface ChannelCut {
  /** Weight name `<node>/<suffix>`. */
  readonly weight: string;
  readonly axis: number;
  /** Index of the group's first channel along the axis (non-zero where a concat puts groups side by side). */
  readonly offset: number;
  /** Dense rows after an NHWC flatten of `period` channels: row r holds channel r mod period. */
  readonly period?: number;
}

export interface ChannelGroup {
  /** Smallest member index in node order (stable id; equal for graphs of the same topology). */
  readonly id: number;
  /** Channels of the group. */
  readonly width: number;
  /** Nodes whose output channels start this group (convs with groups 1, dense layers). */
  readonly producers: readonly string[];
  /** Nodes whose output lies in this group's space (producers and pass-through nodes). */
  readonly members: readonly string[];
  /** Weight axes indexed by the group's channels as outputs: kernel out-channels, biases, BN vectors, depthwise channels. */
  readonly outputs: readonly ChannelCut[];
  /** Weight axes that read the group's channels as inputs: the next convs' in-channels, dense rows. */
  readonly consumers: readonly ChannelCut[];
  /** Why the group may not change width, if frozen. */
  readonly frozen?: 'input' | 'logits' | 'opaque';
}

/** Part of a node's output channels lying in one space. */
interface Segment { readonly space: number; readonly width: number }

/** The groups of a graph and, per node, its output channels as segments of group ids. */
export interface ChannelLayout {
  readonly groups: readonly ChannelGroup[];
  /** Node (or 'input') → its output channels, in order, as [group id, width] segments. */
  readonly segments: ReadonlyMap<string, readonly (readonly [number, number])[]>;
}

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

const sameWidths = (a: readonly Segment[], b: readonly Segment[]) => a.length === b.length && a.every((s, i) => s.width === b[i].width);

/** The channel groups of a graph (ordered by their first node) and every node's channel segments. */
export function channelLayout(graph: Graph): ChannelLayout {
  const uf = new UnionFind();
  const spaceWidth: number[] = [];
  const layouts = new Map<string, Segment[]>();
  const producerOf = new Map<number, string>();
  const frozenSpaces: [number, 'input' | 'logits' | 'opaque'][] = [];
  const newSpace = (width: number, producer?: string) => {
    const s = uf.make();
    spaceWidth[s] = width;
    if (producer) producerOf.set(s, producer);
    return s;
  };
  const channels = (name: string) => graph.shape(name)[graph.shape(name).length - 1];
  const inputSpace = newSpace(graph.inputShape[2]);
  frozenSpaces.push([inputSpace, 'input']);
  layouts.set(INPUT, [{ space: inputSpace, width: graph.inputShape[2] }]);
  for (const node of graph.nodes) {
    const ins = node.inputs.map((i) => layouts.get(i)!);
    const rule = OPS[node.op].channels(node as never);
    let out: Segment[];
    switch (rule.output) {
      case 'new': out = [{ space: newSpace(channels(node.name), node.name), width: channels(node.name) }]; break;
      case 'pass':
      case 'flatten':
        out = ins[0];
        for (const other of ins.slice(1)) {
          if (sameWidths(out, other)) out.forEach((s, i) => uf.union(s.space, other[i].space));
          else for (const s of [...out, ...other]) frozenSpaces.push([s.space, 'opaque']); // an add of differently split inputs
        }
        break;
      case 'concat': out = ins.flat(); break;
      case 'opaque':
        for (const s of ins.flat()) frozenSpaces.push([s.space, 'opaque']);
        out = [{ space: newSpace(channels(node.name)), width: channels(node.name) }];
        frozenSpaces.push([out[0].space, 'opaque']);
        break;
    }
    layouts.set(node.name, out);
  }
  for (const s of layouts.get(graph.outputName)!) frozenSpaces.push([s.space, 'logits']);
  const frozen = new Map<number, 'input' | 'logits' | 'opaque'>();
  for (const [s, why] of frozenSpaces) if (!frozen.has(uf.find(s))) frozen.set(uf.find(s), why);

  interface Building { width: number; producers: string[]; members: string[]; outputs: ChannelCut[]; consumers: ChannelCut[]; first: number }
  const building = new Map<number, Building>();
  const group = (space: number, index: number) => {
    const root = uf.find(space);
    let g = building.get(root);
    if (!g) { g = { width: spaceWidth[space], producers: [], members: [], outputs: [], consumers: [], first: index }; building.set(root, g); }
    return g;
  };
  const cuts = (name: string, axes: readonly ChannelAxis[], offset: number, period?: number): ChannelCut[] =>
    axes.map((a) => ({ weight: `${name}/${a.suffix}`, axis: a.axis, offset, ...(period ? { period } : {}) }));
  graph.nodes.forEach((node, index) => {
    const rule = OPS[node.op].channels(node as never);
    let offset = 0;
    for (const s of layouts.get(node.name)!) {
      const g = group(s.space, index);
      if (!g.members.includes(node.name)) g.members.push(node.name);
      if (producerOf.get(s.space) === node.name) g.producers.push(node.name);
      g.outputs.push(...cuts(node.name, rule.outAxes, offset));
      offset += s.width;
    }
  });
  // consumers after all members, so a group first seen as an input keeps its member-based id
  graph.nodes.forEach((node) => {
    const rule = OPS[node.op].channels(node as never);
    if (!rule.inAxes.length) return;
    const input = layouts.get(node.inputs[0])!;
    const total = input.reduce((a, s) => a + s.width, 0);
    const rows = graph.shape(node.inputs[0]);
    // a dense layer after an NHWC flatten of C channels: row r holds channel r mod C
    const period = rows.length === 1 && rows[0] !== total ? total : undefined;
    let offset = 0;
    for (const s of input) {
      building.get(uf.find(s.space))?.consumers.push(...cuts(node.name, rule.inAxes, offset, period));
      offset += s.width;
    }
  });
  const ids = new Map<number, number>();
  const groups = [...building.entries()].sort((a, b) => a[1].first - b[1].first).map(([root, g]): ChannelGroup => {
    ids.set(root, g.first);
    return {
      id: g.first, width: g.width, producers: g.producers, members: g.members, outputs: g.outputs, consumers: g.consumers,
      ...(frozen.has(root) ? { frozen: frozen.get(root)! } : {}),
    };
  });
  // the input space has no member node: it is not listed, its channels stay (id −1)
  const segments = new Map<string, (readonly [number, number])[]>();
  for (const [name, l] of layouts) segments.set(name, l.map((s) => [ids.get(uf.find(s.space)) ?? -1, s.width] as const));
  return { groups, segments };
}

/** The channel groups of a graph, ordered by their first node. */
export function channelGroups(graph: Graph): ChannelGroup[] {
  return [...channelLayout(graph).groups];
}

/**
 * The graph with each channel group at a new width (`width(group)`; frozen groups and the input
 * keep theirs): every node's channel fields rewritten by its op's `resize`. Weights are not
 * touched (new networks are initialised, or cut by structured pruning's surgery).
 */
export function resizedGraph(graph: Graph, width: (group: ChannelGroup) => number, where = 'resized graph'): GraphSpec {
  const { groups, segments } = channelLayout(graph);
  const widths = new Map<number, number>();
  for (const g of groups) {
    const w = g.frozen ? g.width : width(g);
    if (!Number.isInteger(w) || w < 1 || w > g.width) throw new Error(`${where}: group ${g.id} (${g.producers.join(', ')}) must keep 1 … ${g.width} channels, got ${w}`);
    widths.set(g.id, w);
  }
  const channelsOf = (name: string) => segments.get(name)!.reduce((a, [id, w]) => a + (widths.get(id) ?? w), 0);
  const shapes = new Map<string, readonly number[]>([[INPUT, graph.inputShape]]);
  const nodes = graph.nodes.map((node): NodeSpec => {
    const resize = OPS[node.op].resize;
    const inputs = node.inputs.map((i) => shapes.get(i)!);
    const out = resize ? resize(node as never, inputs, channelsOf(node.name)) as NodeSpec : node;
    shapes.set(node.name, OPS[out.op].outputShape(out as never, inputs));
    return out;
  });
  return parseGraphSpec({ ...graph.spec, nodes }, where);
}

/**
 * The graph with every free channel group's width divided by `k` (rounded up, at least 1): a
 * narrower student of the same topology (weights are initialised afresh by the caller).
 */
export function dividedGraph(graph: Graph, k: number): GraphSpec {
  if (!Number.isInteger(k) || k < 1) throw new Error(`--width must be a positive integer divisor, got ${k}`);
  return resizedGraph(graph, (g) => Math.max(1, Math.ceil(g.width / k)), 'student graph');
}
