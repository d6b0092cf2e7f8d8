/**
 * One reverse-topological pass of relevance over any graph (graph.md §4): relevance is keyed by
 * tensor (node name), each node's rule (`GRAPH_RELEVANCE_RULES`) maps the relevance at its output
 * to its inputs, and where a tensor fans out the relevances coming back are summed. A node's
 * relevance is complete when the pass reaches it, since all its consumers come later in the
 * topological order.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphNet } from '../models/graph/graph_net.js';
import { INPUT, OP_KINDS } from '../models/graph/graph_spec.js';
import { GRAPH_RELEVANCE_RULES, type GraphRuleContext } from './graph_rules.js';

export interface GraphPassOptions {
  /** Stop once the relevance at this node's output is complete (default: propagate to the input). */
  readonly until?: string;
  /** Also return the relevance at every tensor reached, keyed by node name ('input' for the input). */
  readonly record?: boolean;
}

export interface GraphPassResult {
  /** Relevance at the stop point (the input, or the output of `until`); zeros when none reaches it. */
  readonly relevance: tf.Tensor;
  /** With `record`: relevance per tensor (node name, 'input'). */
  readonly perTensor?: ReadonlyMap<string, tf.Tensor>;
}

/**
 * Propagates `start` (relevance at the logits, [N, K]) down the trace with the rules of
 * `ctx.method`. Tensors returned belong to the enclosing scope (call inside `tf.tidy`);
 * intermediate relevances are freed as soon as they are used (unless recorded).
 */
export function graphRelevancePass(ctx: GraphRuleContext, start: tf.Tensor2D, opts: GraphPassOptions = {}): GraphPassResult {
  const { trace } = ctx;
  const graph = trace.net.graph;
  if (opts.until !== undefined) graph.node(opts.until); // unknown names fail here, listing the nodes
  const rel = new Map<string, tf.Tensor>([[graph.outputName, start]]);
  // how many entries of `rel` hold each tensor (a pass-through rule hands its input on unchanged)
  const holders = new Map<tf.Tensor, number>([[start, 1]]);
  const release = (t: tf.Tensor) => {
    const n = (holders.get(t) ?? 0) - 1;
    if (n > 0) { holders.set(t, n); return; }
    holders.delete(t);
    if (t !== start && !opts.record) t.dispose();
  };
  const record = opts.record ? new Map<string, tf.Tensor>() : undefined;
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i];
    const r = rel.get(node.name);
    if (node.name === opts.until) return { relevance: r ?? tf.zerosLike(trace.value(node.name)), perTensor: record };
    if (!r) continue; // no relevance reaches this node
    record?.set(node.name, r);
    const t = trace.nodeTrace(node);
    const outs = tf.tidy(() => GRAPH_RELEVANCE_RULES[node.op](t, r, ctx));
    rel.delete(node.name);
    node.inputs.forEach((name, k) => {
      const o = outs[k];
      const prev = rel.get(name);
      let next = o;
      if (prev) {
        next = tf.add(prev, o);
        release(prev);
        if (!holders.has(o) && o !== r && !opts.record) o.dispose();
      }
      rel.set(name, next);
      holders.set(next, (holders.get(next) ?? 0) + 1);
    });
    release(r);
  }
  if (opts.until !== undefined) throw new Error(`relevance pass: '${opts.until}' was not reached`);
  const atInput = rel.get(INPUT) ?? tf.zerosLike(trace.input);
  record?.set(INPUT, atInput);
  return { relevance: atInput, perTensor: record };
}

/**
 * Why LRP, RAP or EBP cannot explain `net` (undefined when they can): an op kind without a
 * relevance rule. Every op kind of the graph model has one today; this guards future kinds.
 */
export function graphRelevanceGap(net: GraphNet): string | undefined {
  const known = new Set<string>(Object.keys(GRAPH_RELEVANCE_RULES));
  const missing = net.graph.nodes.find((n) => !known.has(n.op));
  if (missing) return `relevance methods (LRP, RAP, EBP) have no rule for node '${missing.name}' (${missing.op}); covered: ${OP_KINDS.filter((k) => known.has(k)).join(', ')}`;
  return undefined;
}
