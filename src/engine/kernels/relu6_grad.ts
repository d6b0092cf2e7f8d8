/**
 * `ApcRelu6Grad` for wasm and cpu: dx = dy·[0 < x ≤ 6], the mask of tfjs's own Relu6 gradient
 * (Step · LessEqual), in one pass. tfjs builds that gradient from four kernels (LessEqual, Step,
 * Cast, Multiply) over the whole activation; on a MobileNetV2 train step they were ≈25 % of the
 * time (`--profile`), every one a full sweep of the activations.
 */
import { util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { f32Access } from './wasm_util.js';

export const ApcRelu6Grad = 'ApcRelu6Grad';

/** dx[i] = dy[i]·[0 < x[i] ≤ 6] (branch-free). */
export function relu6GradImpl(dy: Float32Array, x: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    dx[i] = dy[i] * (+(v > 0) & +(v <= 6));
  }
}

function kernel(backendName: 'wasm' | 'cpu'): KernelFunc {
  return ({ inputs, backend }) => {
    const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
    util.assert(dy.dtype === 'float32' && x.dtype === 'float32', () => `${ApcRelu6Grad}: float32 only`);
    util.assert(util.arraysEqual(dy.shape, x.shape), () => `${ApcRelu6Grad}: dy ${dy.shape} vs x ${x.shape}`);
    const io = f32Access(backend, backendName);
    const dx = io.out(x.shape);
    relu6GradImpl(io.f32(dy), io.f32(x), io.f32(dx));
    return dx;
  };
}

const configs = new Map<string, KernelConfig>();

export function relu6GradConfig(backendName: 'wasm' | 'cpu'): KernelConfig {
  let c = configs.get(backendName);
  if (!c) {
    c = { kernelName: ApcRelu6Grad, backendName, kernelFunc: kernel(backendName) };
    configs.set(backendName, c);
  }
  return c;
}
