/**
 * The apc kernel pack: kernels that make training a VGG-with-BatchNorm or a MobileNet fast on the
 * `wasm` backend (and the BatchNorm kernels on `cpu`). All are checked against the cpu backend in
 * the *_test.ts files beside them (mobilenet_ops_test.ts: the remaining ops a MobileNet needs).
 *
 *   wasm  Conv2DBackpropFilter   missing in tfjs-backend-wasm; per-tap XNNPACK GEMMs
 *         Conv2DBackpropInput    replaces the scalar C++ kernel (≈10× faster, XNNPACK conv)
 *         DepthwiseConv2dNativeBackpropInput   missing; stride 1: XNNPACK depthwise conv of dy with the
 *                                reversed filter; strided: a WebAssembly SIMD gather (wasm_simd.ts) that
 *                                skips the zeros — both about as fast as the forward conv
 *         DepthwiseConv2dNativeBackpropFilter  missing; WebAssembly SIMD row kernel, all taps' sums in
 *                                registers (no GEMM in it for XNNPACK; a JS loop was 3–4× slower)
 *         ApcBatchNormTrain(Grad) fused training BN, optionally with the ReLU fused in (ops/batch_norm_train.ts)
 *         AvgPoolGrad            XNNPACK as a transposed depthwise conv with a constant filter, or a JS scatter
 *                                for window sizes XNNPACK has no fast kernel for (the shipped scalar kernel:
 *                                12.6 ms on 16×32²×96 2×2/2, ours 1.9; the forward pool takes 0.9)
 *         Conv2D, FusedConv2D,   'same' padding passed as explicit padding: the shipped kernels' XNNPACK
 *         DepthwiseConv2dNative, computes negative 'same' padding unsigned (e.g. 1×3 stride 2 on an even
 *         FusedDepthwiseConv2D   size) and returned garbage (same_padding.ts)
 *         Identity               shares data instead of copying (every saved-for-gradient clone)
 *         Slice, SplitV, Unpack  copy only the slice (the shipped Slice copied its whole input into a fresh
 *                                ArrayBuffer first, per output for split/unstack: the tf.concat and tf.pad
 *                                gradients, GC pauses)
 *         MaxPoolGrad            JS loop (≈4× faster than the shipped kernel; the 2×2/2 case branch-free, ≈2× more)
 *         Sum                    leading-axes sums without the transpose (bias gradients)
 *         ApcRelu6Grad           ReLU6's gradient dy·[0 < x ≤ 6] in one pass (tfjs: LessEqual, Step, Cast,
 *                                Multiply — ≈25 % of a MobileNetV2 train step; ops/relu6.ts)
 *   cpu   ApcBatchNormTrain(Grad), ApcRelu6Grad
 *
 * MobileNet depthwise train step (tf.grads of depthwiseConv2d: forward + dx + dW, batch 16,
 * 32×32×96, 3×3 'same'; `npm run bench` prints it): wasm + this pack 10.4 ms at stride 1 and
 * 3.7 ms at stride 2, the cpu backend 3.5 s and 0.69 s (≈340× and ≈190×); each of the three
 * kernels takes about what the forward conv takes (2.7–2.8 ms, 1.0–1.2 ms). Without the pack the
 * step threw on wasm (no depthwise gradient kernels). Min of 30 on a busy shared 2-core VM.
 *
 * Training step, VGG [16,16,P,32,32,P,64,64,64,P,128,128,128,P] 64×64, batch 16, 20 logits,
 * Node 20 single thread (shared 2-core VM, so ±20%): tfjs cpu 277 s; wasm with only a backprop-
 * filter kernel and composite BN ≈2.0 s; wasm + this pack ≈0.36 s. Convolutions (forward, both
 * backprops, all XNNPACK-bound) are then ≈75% of the step.
 *
 * With GraphNet's fused paths (models/vgg.ts: bias-free conv → BN+ReLU kernel in training, BN folded
 * into FusedConv2D + ReLU in inference) the vgg16s/8 @64 batch-16 step measured 107 ms against
 * PyTorch 1.13's 63 ms on the same 2 cores (`npm run bench -- --vs-torch`); per kernel, one step:
 * Conv2DBackpropFilter ≈33 ms, Conv2D ≈21, Conv2DBackpropInput ≈18, BN+ReLU fwd+bwd ≈18.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { avgPoolGradWasmConfig } from './avg_pool_grad.js';
import { conv2DBackpropFilterWasmConfig } from './conv2d_backprop_filter.js';
import { makeConv2DBackpropInputWasmConfig } from './conv2d_backprop_input.js';
import { batchNormKernelConfigs } from './batch_norm.js';
import { depthwiseConv2dBackpropFilterWasmConfig } from './depthwise_conv2d_backprop_filter.js';
import { depthwiseConv2dBackpropInputWasmConfig } from './depthwise_conv2d_backprop_input.js';
import { makeIdentityWasmConfig } from './identity.js';
import { maxPoolGradWasmConfig } from './max_pool_grad.js';
import { makeSamePaddingWasmConfigs } from './same_padding.js';
import { makeSliceWasmConfigs } from './slice.js';
import { makeSumWasmConfig } from './sum.js';
import { relu6GradConfig } from './relu6_grad.js';

function packFor(backendName: string): KernelConfig[] {
  switch (backendName) {
    case 'wasm':
      // Nothing until @tensorflow/tfjs-backend-wasm is loaded: its import would re-register (and
      // so override) the kernels we replace, and we need its originals as fallbacks.
      if (tf.getKernel('Conv2D', 'wasm') == null) return [];
      return [
        conv2DBackpropFilterWasmConfig,
        makeConv2DBackpropInputWasmConfig(),
        ...batchNormKernelConfigs('wasm'),
        depthwiseConv2dBackpropFilterWasmConfig,
        depthwiseConv2dBackpropInputWasmConfig,
        makeIdentityWasmConfig(),
        maxPoolGradWasmConfig,
        avgPoolGradWasmConfig,
        makeSumWasmConfig(),
        ...makeSamePaddingWasmConfigs(),
        ...makeSliceWasmConfigs(),
        relu6GradConfig('wasm'),
      ];
    case 'cpu':
      return [...batchNormKernelConfigs('cpu'), relu6GradConfig('cpu')];
    default:
      return [];
  }
}

/**
 * Registers the pack's kernels for `backendName` (replacing a kernel tfjs registered under the
 * same name; the replaced config is kept where a kernel falls back to it). Idempotent. Returns
 * the names of the pack's kernels now registered for that backend ([] for backends without a
 * pack, e.g. tensorflow or webgl, and for wasm before @tensorflow/tfjs-backend-wasm is imported).
 * Call it after the backend package is imported (before or after tf.setBackend).
 */
export function registerKernelPack(backendName: string): string[] {
  const names: string[] = [];
  for (const config of packFor(backendName)) {
    const current = tf.getKernel(config.kernelName, backendName);
    if (current?.kernelFunc !== config.kernelFunc) {
      if (current) tf.unregisterKernel(config.kernelName, backendName);
      tf.registerKernel(config);
    }
    names.push(config.kernelName);
  }
  return names;
}

export interface KernelTime {
  kernel: string;
  /** Total wall time in this kernel over the profiled call, ms. */
  ms: number;
  count: number;
}

/**
 * Runs `f` under tf.profile and sums the time per kernel name, largest first. Nested kernels
 * (a kernel calling another from its kernelFunc) are not seen by the profiler: they count in
 * their caller. On wasm/cpu kernel times are synchronous wall times.
 */
export async function profileKernels(f: () => tf.TensorContainer | void): Promise<{ wallMs: number; kernels: KernelTime[] }> {
  const t0 = performance.now();
  const info = await tf.profile(() => {
    const r = f();
    return (r ?? []) as tf.TensorContainer;
  });
  const wallMs = performance.now() - t0;
  const by = new Map<string, KernelTime>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = by.get(k.name) ?? { kernel: k.name, ms: 0, count: 0 };
    e.ms += ms;
    e.count += 1;
    by.set(k.name, e);
  }
  return { wallMs, kernels: [...by.values()].sort((a, b) => b.ms - a.ms) };
}
