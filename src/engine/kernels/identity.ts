/**
 * `Identity` for wasm that shares the data bucket (refcount) instead of copying it, as the cpu
 * backend does. tfjs clones every tensor a gradient needs (`saveTensorsForBackwardMode`,
 * customGrad's `save`) through Identity, so with the shipped copying kernel a VGG training step
 * memcpy'd each saved activation (≈140 copies per step). Tensor data is immutable in tfjs
 * (variables swap data ids on assign) and the wasm kernels never write to their inputs, so
 * sharing is safe; string tensors keep the original kernel.
 */
import { getKernel, Identity } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { runConfig, type BackendWasm } from './wasm_util.js';

let original: KernelConfig | undefined;

function identityWasm(args: { inputs: { x: TensorInfo }; backend: BackendWasm }): TensorInfo {
  const { inputs: { x }, backend } = args;
  if (x.dtype === 'string') {
    if (!original) throw new Error('Identity (apc): original wasm kernel unavailable');
    return runConfig(original, backend, { x });
  }
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export function makeIdentityWasmConfig(): KernelConfig {
  if (!original) {
    const current = getKernel(Identity, 'wasm');
    if (current && current.kernelFunc !== (identityWasm as unknown as KernelFunc)) original = current;
  }
  const setup = original?.setupFunc;
  return { kernelName: Identity, backendName: 'wasm', kernelFunc: identityWasm as unknown as KernelFunc, ...(setup ? { setupFunc: setup } : {}) };
}
