/**
 * 'same' padding made explicit for the wasm convolution kernels (Conv2D, FusedConv2D,
 * DepthwiseConv2dNative, FusedDepthwiseConv2D).
 *
 * tfjs-backend-wasm 4.22 hands 'same' to XNNPACK as its TensorFlow-SAME flag, and the result is
 * wrong when the total padding (out−1)·stride + kernel − in is negative — a kernel side smaller
 * than the stride on a size the stride divides, e.g. a 1×3 kernel with stride 2 on 10 rows: relErr
 * ≈ 1 against cpu for depthwise and dense convs alike, fused or not (1×1 kernels came out right).
 * It looks like that XNNPACK computes the padding unsigned and it wraps around. tfjs clamps it at
 * 0 in `computeConv2DInfo`, so passing its top/bottom/left/right as explicit padding gives the
 * right result and costs nothing (XNNPACK takes both forms through the same padding fields).
 */
import { backend_util, Conv2D, DepthwiseConv2dNative, FusedConv2D, FusedDepthwiseConv2D, getKernel } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { runConfig, type BackendWasm } from './wasm_util.js';

const KERNELS = [Conv2D, FusedConv2D, DepthwiseConv2dNative, FusedDepthwiseConv2D] as const;
type Name = (typeof KERNELS)[number];

const originals = new Map<Name, KernelConfig>();
const funcs = new Map<Name, KernelFunc>();

interface ConvAttrs {
  strides: number | [number, number];
  pad: unknown;
  dilations?: number | [number, number];
  dataFormat?: string;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function makeFunc(name: Name): KernelFunc {
  const depthwise = name === DepthwiseConv2dNative || name === FusedDepthwiseConv2D;
  const fn = (args: { inputs: Record<string, TensorInfo>; backend: BackendWasm; attrs: ConvAttrs }): TensorInfo => {
    const { inputs, backend } = args;
    let attrs = args.attrs;
    const original = originals.get(name);
    if (!original) throw new Error(`${name} (apc): original wasm kernel unavailable`);
    // NCHW is rejected by the original kernels anyway; leave it to them.
    if (attrs.pad === 'same' && attrs.dataFormat !== 'NCHW') {
      const { x, filter } = inputs;
      const c = backend_util.computeConv2DInfo(x.shape as [number, number, number, number],
        filter.shape as [number, number, number, number], attrs.strides, attrs.dilations ?? 1, 'same', undefined, depthwise);
      const p = c.padInfo;
      attrs = { ...attrs, pad: [[0, 0], [p.top, p.bottom], [p.left, p.right], [0, 0]] };
    }
    return runConfig(original, backend, inputs, attrs as unknown as Record<string, unknown>);
  };
  return fn as unknown as KernelFunc;
}

/** Configs replacing the four registered wasm kernels (originals kept, their setupFuncs chained). */
export function makeSamePaddingWasmConfigs(): KernelConfig[] {
  const configs: KernelConfig[] = [];
  for (const name of KERNELS) {
    let fn = funcs.get(name);
    if (!fn) {
      fn = makeFunc(name);
      funcs.set(name, fn);
    }
    if (!originals.has(name)) {
      const current = getKernel(name, 'wasm');
      if (current && current.kernelFunc !== fn) originals.set(name, current);
    }
    const original = originals.get(name);
    if (!original) continue; // kernel missing from this tfjs-backend-wasm build: nothing to fix
    const setup = original.setupFunc;
    configs.push({ kernelName: name, backendName: 'wasm', kernelFunc: fn, ...(setup ? { setupFunc: setup } : {}) });
  }
  return configs;
}
