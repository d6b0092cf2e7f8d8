/**
 * Faster `Conv2DBackpropInput` for the wasm backend. The shipped kernel is a scalar C++ loop
 * (≈10× slower than the forward conv); here dx is computed by XNNPACK's forward convolution:
 *
 *   dx = conv2d(dy′, F, stride 1, pad (KH−1−padTop, …)),  F[kh,kw,co,ci] = W[KH−1−kh, KW−1−kw, ci, co]
 *
 * where dy′ = dy for stride 1, and for stride s > 1 dy dilated with s−1 zeros between pixels
 * (s² more multiply-adds, still faster than the original kernel on the shapes measured). Cases
 * the rewrite does not cover (negative transposed padding, NCHW, non-float32) go to the original
 * wasm kernel, whose config is kept before it is replaced.
 */
import { backend_util, Conv2DBackpropInput, getKernel, util } from '@tensorflow/tfjs-core';
import type { Conv2DBackpropInputAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { callKernel, disposeAll, heapF32, runConfig, type BackendWasm } from './wasm_util.js';

export type BackpropInputStrategy = 'auto' | 'conv' | 'original';

let forced: BackpropInputStrategy = 'auto';
/** For measurements and tests: force one implementation ('auto' restores the default choice). */
export function setBackpropInputStrategy(s: BackpropInputStrategy): void {
  forced = s;
}

let original: KernelConfig | undefined;

/** The wasm kernel this one replaces (captured on first call of `makeConv2DBackpropInputWasmConfig`). */
export function originalConv2DBackpropInputWasm(): KernelConfig | undefined {
  return original;
}

function viaConv(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, c: backend_util.Conv2DInfo): TensorInfo | null {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW } = c;
  const { filterHeight: KH, filterWidth: KW, outChannels: Co, strideHeight: sh, strideWidth: sw } = c;
  const OHd = (OH - 1) * sh + 1;
  const OWd = (OW - 1) * sw + 1;
  const pt = KH - 1 - c.padInfo.top;
  const pl = KW - 1 - c.padInfo.left;
  const pb = H - OHd - pt + KH - 1;
  const pr = W - OWd - pl + KW - 1;
  if (pt < 0 || pl < 0 || pb < 0 || pr < 0) return null;
  // Rotated, in/out-swapped filter [KH,KW,Co,Ci].
  const f = backend.makeOutput([KH, KW, Co, Ci], 'float32');
  let dyIn = dy;
  if (sh > 1 || sw > 1) {
    dyIn = backend.makeOutput([N, OHd, OWd, Co], 'float32');
    const dv = heapF32(backend, dy);
    const zv = heapF32(backend, dyIn);
    zv.fill(0);
    let src = 0;
    for (let n = 0; n < N; n++) {
      for (let oh = 0; oh < OH; oh++) {
        let dst = ((n * OHd + oh * sh) * OWd) * Co;
        for (let ow = 0; ow < OW; ow++, dst += sw * Co, src += Co) zv.set(dv.subarray(src, src + Co), dst);
      }
    }
  }
  {
    const wv = heapF32(backend, filter);
    const fv = heapF32(backend, f);
    let o = 0;
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        const base = ((KH - 1 - kh) * KW + (KW - 1 - kw)) * Ci * Co;
        for (let co = 0; co < Co; co++) {
          for (let ci = 0; ci < Ci; ci++) fv[o++] = wv[base + ci * Co + co];
        }
      }
    }
  }
  const out = callKernel('Conv2D', 'wasm', backend, { x: dyIn, filter: f }, {
    strides: [1, 1], pad: [[0, 0], [pt, pb], [pl, pr], [0, 0]], dataFormat: 'NHWC', dilations: [1, 1],
    dimRoundingMode: undefined,
  });
  disposeAll(backend, f);
  if (dyIn !== dy) disposeAll(backend, dyIn);
  out.shape = [N, H, W, Ci];
  return out;
}

export function conv2DBackpropInputWasm(args: {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: BackendWasm;
  attrs: Conv2DBackpropInputAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  const orig = () => {
    if (!original) throw new Error('Conv2DBackpropInput (apc): original wasm kernel unavailable');
    return runConfig(original, backend, inputs, attrs as unknown as Record<string, unknown>);
  };
  const usable = forced !== 'original' && attrs.dataFormat !== 'NCHW' && dy.dtype === 'float32' && filter.dtype === 'float32';
  if (!usable) return orig();
  const c = backend_util.computeConv2DInfo(attrs.inputShape, filter.shape as [number, number, number, number],
    attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  util.assert(util.arraysEqual(dy.shape, c.outShape),
    () => `Conv2DBackpropInput: dy shape ${dy.shape} does not match the forward output ${c.outShape}`);
  return viaConv(backend, dy, filter, c) ?? orig();
}

/**
 * Config replacing the registered wasm kernel. Call before `unregisterKernel` so the original is
 * kept for the fallback; its setupFunc is chained so a later backend (re)initialisation still
 * prepares the original's wasm function.
 */
export function makeConv2DBackpropInputWasmConfig(): KernelConfig {
  if (!original) {
    const current = getKernel(Conv2DBackpropInput, 'wasm');
    if (current && current.kernelFunc !== (conv2DBackpropInputWasm as unknown as KernelFunc)) original = current;
  }
  const setup = original?.setupFunc;
  return {
    kernelName: Conv2DBackpropInput,
    backendName: 'wasm',
    kernelFunc: conv2DBackpropInputWasm as unknown as KernelFunc,
    ...(setup ? { setupFunc: setup } : {}),
  };
}
