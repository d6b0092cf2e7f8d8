/**
 * SGD with momentum and coupled weight decay, PyTorch semantics (voc-protocol §7):
 * g ← ∇L + wd·θ; (optional) g ← g ⊙ M; v ← μ·v + g; θ ← θ − lr·v; (optional) θ ← θ ⊙ M.
 * TF.js optimisers have no weight decay and order the momentum update differently, hence ours.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface SgdOptions {
  lr: number;
  momentum: number;
  weightDecay: number;
}

export class SgdMomentum {
  private readonly velocity = new Map<string, tf.Variable>();
  /** Binary masks by variable name: masked entries, their gradients and momentum stay 0. */
  readonly masks = new Map<string, tf.Tensor>();

  constructor(public options: SgdOptions) {}

  /** Applies one update; `grads` is keyed by variable name (as `tf.variableGrads` returns). */
  step(vars: readonly tf.Variable[], grads: tf.NamedTensorMap): void {
    const { lr, momentum, weightDecay } = this.options;
    tf.tidy(() => {
      for (const v of vars) {
        const grad = grads[v.name];
        if (!grad) continue;
        let g = weightDecay !== 0 ? tf.add(grad, tf.mul(v, weightDecay)) : grad;
        const mask = this.masks.get(v.name);
        if (mask) g = tf.mul(g, mask);
        let update = g;
        if (momentum !== 0) {
          let buf = this.velocity.get(v.name);
          if (!buf) {
            buf = tf.variable(tf.zerosLike(v), false);
            this.velocity.set(v.name, buf);
          }
          update = tf.add(tf.mul(buf, momentum), g);
          buf.assign(update);
        }
        let next = tf.sub(v, tf.mul(update, lr));
        if (mask) next = tf.mul(next, mask);
        v.assign(next);
      }
    });
  }

  /** Momentum buffers in the order of `vars` (zeros where none yet), for checkpoints. */
  state(vars: readonly tf.Variable[]): tf.Tensor[] {
    return vars.map((v) => tf.clone(this.velocity.get(v.name) ?? tf.zerosLike(v)));
  }

  setState(vars: readonly tf.Variable[], buffers: readonly tf.Tensor[]): void {
    if (buffers.length !== vars.length) throw new Error(`optimizer state has ${buffers.length} buffers, the model ${vars.length} variables`);
    vars.forEach((v, i) => {
      if (buffers[i].shape.join() !== v.shape.join()) throw new Error(`optimizer buffer ${i} has shape [${buffers[i].shape}], variable '${v.name}' [${v.shape}]`);
      this.velocity.get(v.name)?.dispose();
      this.velocity.set(v.name, tf.variable(buffers[i], false));
    });
  }

  dispose(): void {
    for (const b of this.velocity.values()) b.dispose();
    this.velocity.clear();
  }
}

/** Step schedule: lr × gamma^(number of milestones ≤ epoch); milestones are 0-based epochs. */
export function stepLr(baseLr: number, milestones: readonly number[], gamma = 0.1): (epoch: number) => number {
  return (epoch) => baseLr * gamma ** milestones.filter((m) => epoch >= m).length;
}
