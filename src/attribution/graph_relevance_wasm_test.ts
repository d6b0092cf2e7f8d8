/**
 * The graph relevance pass on wasm (where studies run) equals cpu: depthwise and strided conv input
 * gradients with explicit pads, overlapping max-pool routing and average pools go through wasm
 * kernels (apc's pack supplies the depthwise and pooling gradients tfjs-backend-wasm lacks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { memorySnapshot, relErr, useBackend } from '../engine/kernels/testing.js';
import { ResNetConfigSchema } from '../models/families/resnet.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { archPreset } from '../models/model_config.js';
import { makeAttribution } from './registry.js';
import { randomImages } from './test_nets.js';

const CONFIGS = [
  ['mobilenetv2', archPreset({ arch: 'mobilenetv2', width: 8, imageSize: 32, numClasses: 4 })],
  // ImageNet stem: 7×7/2 conv with pads 3, 3×3/2 max-pool with pads 1
  ['resnet, ImageNet stem', ResNetConfigSchema.parse({ kind: 'resnet', blocks: [1, 1], widths: [8, 12], stem: 'imagenet', inputSize: [48, 48], numClasses: 4 })],
] as const;

function maps(): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, cfg] of CONFIGS) {
    const net = GraphNet.create(cfg, 1);
    const x = randomImages(net, 2, 2);
    for (const m of ['lrp', 'rap', 'ebp']) {
      const r = makeAttribution(m).attribute(net, x, [0, 3]);
      out.set(`${name} ${m}`, Float32Array.from(r.maps.dataSync()));
      tf.dispose([r.maps, r.native ?? []]);
    }
    x.dispose();
    net.dispose();
  }
  return out;
}

test('LRP, RAP and EBP on MobileNetV2 and a ResNet with the ImageNet stem: wasm maps equal cpu (≤ 1e-5 relative), no leaks', async () => {
  await useBackend('cpu');
  const cpu = maps();
  await useBackend('wasm');
  maps(); // warm-up: kernels may cache constants on first use
  const before = memorySnapshot();
  const wasm = maps();
  assert.deepEqual(memorySnapshot(), before);
  for (const [key, ref] of cpu) assert.ok(relErr(wasm.get(key)!, ref) <= 1e-5, `${key}: ${relErr(wasm.get(key)!, ref)}`);
  await useBackend('cpu');
});
