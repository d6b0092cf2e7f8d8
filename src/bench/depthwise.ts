/**
 * The depthwise-convolution train step of a MobileNet block, timed on the bench's backend and on
 * the pure-JS cpu backend in the same run: forward depthwiseConv2d plus both gradients (tf.grads
 * with a given dy, so exactly DepthwiseConv2dNative + …BackpropInput + …BackpropFilter), per
 * stride. On wasm these are XNNPACK (forward, input gradient) and apc's JS filter-gradient kernel
 * (engine/kernels/depthwise_conv2d_backprop_*.ts); tfjs-backend-wasm alone has no gradient kernels
 * for this op, so there the step threw.
 */
import * as tf from '@tensorflow/tfjs-core';
import { profileKernels, registerKernelPack } from '../engine/kernels/register.js';
import { Rng } from '../engine/random.js';
import { median } from './vs_torch.js';

export interface DepthwiseRow {
  label: string;
  /** Median step (forward + dx + dW) on the bench backend, ms. */
  stepMs: number;
  /** Per kernel, from one profiled step on the bench backend: forward, input grad, filter grad. */
  fwdMs: number;
  dxMs: number;
  dwMs: number;
  cpuStepMs?: number;
  /** cpu time / bench-backend time. */
  speedup?: number;
}

interface Shape { batch: number; size: number; channels: number; stride: 1 | 2 }

/** The step's tensors: x, the 3×3 filter, and dy of the forward output's shape. */
function makeInputs(s: Shape): { x: tf.Tensor4D; w: tf.Tensor4D; dy: tf.Tensor4D; dispose: () => void } {
  const rng = new Rng(3);
  const out = Math.ceil(s.size / s.stride);
  const x = tf.tensor4d(rng.uniformArray(s.batch * s.size * s.size * s.channels, -1, 1), [s.batch, s.size, s.size, s.channels]);
  const w = tf.tensor4d(rng.uniformArray(9 * s.channels, -0.5, 0.5), [3, 3, s.channels, 1]);
  const dy = tf.tensor4d(rng.uniformArray(s.batch * out * out * s.channels, -1, 1), [s.batch, out, out, s.channels]);
  return { x, w, dy, dispose: () => tf.dispose([x, w, dy]) };
}

function step(x: tf.Tensor4D, w: tf.Tensor4D, dy: tf.Tensor4D, stride: 1 | 2): tf.Tensor[] {
  return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, 'same'))([x, w], dy);
}

/** Median of `reps` steps; with `profile`, a warm-up first and a per-kernel profile after (cpu skips both: it is slow). */
async function timeSteps(s: Shape, reps: number, profile: boolean): Promise<{ stepMs: number; kernels: Map<string, number> }> {
  const { x, w, dy, dispose } = makeInputs(s);
  const once = async () => {
    const t0 = performance.now();
    const gs = step(x, w, dy, s.stride);
    // Wait for completion by reading one value per output: reading the whole 6 MB dx back would
    // allocate a fresh ArrayBuffer per step, and V8's external-memory GCs then dominate the timing.
    const firsts = tf.tidy(() => gs.map((g) => tf.slice(tf.reshape(g, [-1]), 0, 1)));
    await Promise.all(firsts.map((f) => f.data()));
    tf.dispose([...gs, ...firsts]);
    return performance.now() - t0;
  };
  if (profile) await once(); // warm-up (XNNPACK set-up, JIT)
  const times: number[] = [];
  for (let i = 0; i < reps; i++) times.push(await once());
  const kernels = new Map<string, number>();
  if (profile) for (const k of (await profileKernels(() => { tf.dispose(step(x, w, dy, s.stride)); })).kernels) kernels.set(k.kernel, k.ms);
  dispose();
  return { stepMs: median(times), kernels };
}

/**
 * Rows for batch `batch`, 32×32×96, 3×3 'same', strides 1 and 2: `reps` steps on `backendName`,
 * `cpuReps` on cpu (0: skip cpu). Leaves `backendName` active.
 */
export async function depthwiseStepRows(backendName: string, batch: number, reps: number, cpuReps: number): Promise<DepthwiseRow[]> {
  const rows: DepthwiseRow[] = [];
  for (const stride of [1, 2] as const) {
    const s: Shape = { batch, size: 32, channels: 96, stride };
    await tf.setBackend(backendName);
    const main = await timeSteps(s, reps, true);
    let cpu: number | undefined;
    if (cpuReps > 0 && backendName !== 'cpu') {
      await tf.setBackend('cpu');
      registerKernelPack('cpu');
      cpu = (await timeSteps(s, cpuReps, false)).stepMs;
    }
    const k = (name: string) => main.kernels.get(name) ?? NaN;
    rows.push({
      label: `depthwise 3×3/${stride} ${batch}×32×32×96`, stepMs: main.stepMs,
      fwdMs: k('DepthwiseConv2dNative'), dxMs: k('DepthwiseConv2dNativeBackpropInput'), dwMs: k('DepthwiseConv2dNativeBackpropFilter'),
      cpuStepMs: cpu, speedup: cpu !== undefined ? cpu / main.stepMs : undefined,
    });
  }
  await tf.setBackend(backendName);
  return rows;
}
