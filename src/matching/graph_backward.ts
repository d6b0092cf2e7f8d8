/**
 * Explicit backward pass from the logits down to any named feature map of any graph (method spec
 * §2.5, graph.md §4): the sensitivity G = ∂(Σ dLogits ⊙ z)/∂F as an ordinary differentiable
 * expression of the weights and captured activations, so a loss built from it can be
 * differentiated once more (double back-propagation) with one `tf.variableGrads`.
 *
 * One reverse-topological pass over the nodes between the layer and the output, keyed by tensor:
 * each node's rule (`op_backward.ts`) turns its output gradient into input gradients, and a tensor
 * read by several nodes (a residual fan-out) receives the sum of what comes back. Inputs that do
 * not depend on the layer (a shortcut from below it) are not followed.
 *
 * apc's VGG networks keep their own chain (`explicit_backward.ts`), whose numbers this must not change.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Graph } from '../models/graph/graph.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import type { NodeSpec } from '../models/graph/graph_spec.js';
import type { ExplicitBackwardOptions } from './explicit_backward.js';
import { type BackwardContext, OP_BACKWARD } from './op_backward.js';
import { constantOf } from './window_backward.js';

/**
 * The multiplier a training-mode dropout applied, from its input x and output y = x·m: y/x where
 * x ≠ 0. Where x = 0 the multiplier is not observable and 0 is used; the gradient there is then
 * 0 instead of dY·m, which matters only when nothing upstream zeroes it (after a ReLU, whose mask
 * is 0 at x = 0, it is exact). A constant for differentiation, as the mask is.
 */
export function recoveredDropoutMask(x: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return constantOf(x, (input) => {
    const nonZero = tf.notEqual(input, 0);
    return tf.where(nonZero, tf.div(y, tf.where(nonZero, input, tf.onesLike(input))), tf.zerosLike(input));
  });
}

/** Node names whose outputs are feature maps [H, W, C] on a path to the output: the layers apc can match. */
export function matchableLayers(graph: Graph): string[] {
  const reaches = ancestorsOfOutput(graph);
  return graph.nodes.filter((n) => graph.shape(n.name).length === 3 && reaches.has(n.name)).map((n) => n.name);
}

/** Throws unless `layer` is a matchable layer of `graph`, listing the valid names. */
export function checkMatchLayer(graph: Graph, layer: string, what = 'matching config field \'layer\''): void {
  const valid = matchableLayers(graph);
  if (valid.includes(layer)) return;
  const why = !graph.has(layer) ? `unknown layer '${layer}'`
    : graph.shape(layer).length !== 3 ? `'${layer}' is not a feature map (its output is [${graph.shape(layer)}])`
      : `'${layer}' does not reach the logits`;
  throw new Error(`${what}: ${why}; layers of this graph: ${valid.join(', ')}`);
}

function ancestorsOfOutput(graph: Graph): Set<string> {
  const seen = new Set<string>();
  const stack = [graph.outputName];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n) || !graph.has(n)) continue;
    seen.add(n);
    stack.push(...graph.node(n).inputs);
  }
  return seen;
}

/** The nodes strictly after `layer` on a path from it to the output, in topological order. */
export function backwardPath(graph: Graph, layer: string): NodeSpec[] {
  checkMatchLayer(graph, layer, 'backwardPath');
  const below = new Set<string>([layer]);
  for (const n of graph.nodes) if (n.inputs.some((i) => below.has(i))) below.add(n.name);
  const onPath = new Set<string>();
  const stack = [graph.outputName];
  while (stack.length) {
    const n = stack.pop()!;
    if (n === layer || onPath.has(n) || !below.has(n)) continue;
    onPath.add(n);
    stack.push(...graph.node(n).inputs);
  }
  return graph.nodes.filter((n) => onPath.has(n.name));
}

/**
 * Activations the forward must capture for `graphSensitivity` at `layer`: the layer itself (the
 * map multiplies it), each ReLU/clip output and max-pool input on the way, and in training mode
 * each BN input (batch statistics). Capturing a conv's output runs its conv–BN chain unfused.
 */
export function graphBackwardCaptures(graph: Graph, layer: string, training: boolean): string[] {
  const names = new Set<string>([layer]);
  for (const node of backwardPath(graph, layer)) {
    const rule = OP_BACKWARD[node.op];
    for (const n of rule.captures?.(node as never, training) ?? []) names.add(n);
  }
  return [...names];
}

/**
 * G = ∂(Σ_{b,c} dLogits[b,c]·z_{b,c}) / ∂F at `layer` for any graph (see `explicitSensitivity`
 * for the semantics: with a training-mode BN in between, rows couple through batch statistics).
 *
 * @param activations captured by `net.forward` (at least `graphBackwardCaptures(...)`); run that
 *   forward inside the tape to differentiate the result w.r.t. the weights.
 * @param dLogits [B, classes] seed (a constant).
 * @param opts `dropoutMask`: the head dropout's multiplier, applied whenever given (absent = D ≡ 1);
 *   `dropoutMasks`: those of other dropout nodes on the way (training mode; absent, each is
 *   recovered from the captured input and output, see `recoveredDropoutMask`).
 * @returns G with the layer's shape [B, H, W, C].
 */
export function graphSensitivity(net: GraphNet, activations: Readonly<Record<string, tf.Tensor>>, layer: string,
  dLogits: tf.Tensor2D, opts: ExplicitBackwardOptions & { readonly dropoutMasks?: Readonly<Record<string, tf.Tensor>> }): tf.Tensor4D {
  const graph = net.graph;
  const path = backwardPath(graph, layer);
  if (dLogits.rank !== 2 || dLogits.shape[1] !== net.numClasses) throw new Error(`graphSensitivity: dLogits must be [B, ${net.numClasses}], got [${dLogits.shape}]`);
  const onPath = new Set(path.map((n) => n.name));
  const head = net.headDropout;
  return tf.tidy(() => {
    const grads = new Map<string, tf.Tensor>([[graph.outputName, dLogits]]);
    for (let i = path.length - 1; i >= 0; i--) {
      const node = path[i];
      const dy = grads.get(node.name)!;
      const activation = (name: string): tf.Tensor => {
        const t = activations[name];
        if (!t) throw new Error(`graphSensitivity: activation '${name}' was not captured; capture graphBackwardCaptures(graph, '${layer}', ${opts.training})`);
        return t;
      };
      const ctx: BackwardContext = {
        training: opts.training,
        inputShapes: graph.inputShapes(node),
        weight: (suffix) => net.forwardWeight(`${node.name}/${suffix}`),
        activation,
        dropoutMask() {
          if (node.op !== 'dropout' || node.rate === 0) return null;
          // the head's mask whenever given, as the closed form and VGG's chain apply it (an
          // inference-mode student may still weight α with a fixed mask, method spec §8.2)
          if (node.name === head?.name) return opts.dropoutMask ?? null;
          if (!opts.training) return null;
          return opts.dropoutMasks?.[node.name] ?? recoveredDropoutMask(activation(node.inputs[0]), activation(node.name));
        },
      };
      const inputGrads = OP_BACKWARD[node.op].backward(node as never, dy, ctx);
      node.inputs.forEach((name, k) => {
        if (name !== layer && !onPath.has(name)) return;
        const prev = grads.get(name);
        grads.set(name, prev ? tf.add(prev, inputGrads[k]) : inputGrads[k]);
      });
    }
    return grads.get(layer) as tf.Tensor4D;
  });
}
