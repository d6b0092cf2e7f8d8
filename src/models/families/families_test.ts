import { test } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-backend-cpu';
import { modelStats } from '../accounting.js';
import { archPreset, graphOf } from '../model_config.js';

test('full-size families have torchvision\'s parameter counts (weights, biases, BN γ/β; 1000 classes)', () => {
  // torchvision: sum(p.numel() for p in model.parameters())
  assert.equal(modelStats(archPreset({ arch: 'resnet18', imageSize: 224, numClasses: 1000 })).params, 11_689_512);
  assert.equal(modelStats(archPreset({ arch: 'resnet34', imageSize: 224, numClasses: 1000 })).params, 21_797_672);
  assert.equal(modelStats(archPreset({ arch: 'mobilenetv2', imageSize: 224, numClasses: 1000 })).params, 3_504_872);
  // the paper's VGG16-BN with its 20-way head (voc-protocol.md §6.1)
  assert.equal(modelStats(archPreset({ arch: 'vgg16', imageSize: 227, numClasses: 20 })).params, 15_224_916);
});

test('ImageNet layouts end in a 7×7 map at 224 px; small-input layouts in 4×4 (VGG, ResNet) or 8×8 (MobileNetV2) at 64 px', () => {
  const last = (arch: string, size: number) => {
    const g = graphOf(archPreset({ arch, width: 8, imageSize: size, numClasses: 10 }));
    return { shape: g.shape(g.matchLayer), cam: g.gradCamLayer, match: g.matchLayer };
  };
  assert.deepEqual(last('resnet18', 224).shape, [7, 7, 64]);
  assert.deepEqual(last('mobilenetv2', 224).shape, [7, 7, 160]);
  const r = last('resnet18', 64);
  assert.deepEqual(r.shape, [4, 4, 64]);
  assert.equal(r.cam, 'layer4.1.relu2');
  assert.equal(r.match, 'layer4.1.relu2');
  const m = last('mobilenetv2', 64);
  assert.deepEqual(m.shape, [8, 8, 160]);
  assert.equal(m.cam, 'features.18.2');
  const v = last('vgg16', 64);
  assert.deepEqual(v.shape, [4, 4, 64]);
  assert.equal(v.cam, 'relu4_3');
  assert.equal(v.match, 'pool4');
});

test('family graphs have torchvision\'s structure: downsample where the shape changes, residual adds, no expand conv in block 1', () => {
  const r = graphOf(archPreset({ arch: 'resnet18', width: 8, imageSize: 64, numClasses: 10 }));
  const names = r.nodes.map((n) => n.name);
  assert.ok(!names.includes('layer1.0.downsample.0'));
  for (const s of [2, 3, 4]) assert.ok(names.includes(`layer${s}.0.downsample.0`) && !names.includes(`layer${s}.1.downsample.0`));
  assert.equal(r.nodes.filter((n) => n.op === 'add').length, 8);
  const stem = r.node('conv1');
  assert.ok(stem.op === 'conv2d' && stem.kernelSize[0] === 3 && stem.strides[0] === 1);
  const m = graphOf(archPreset({ arch: 'mobilenetv2', width: 4, imageSize: 64, numClasses: 10 }));
  const dw = m.node('features.1.conv.0.0');
  assert.ok(dw.op === 'conv2d' && dw.groups === 8 && dw.filters === 8, 'block 1 starts with the depthwise conv');
  const expand = m.node('features.2.conv.0.0');
  assert.ok(expand.op === 'conv2d' && expand.kernelSize[0] === 1 && expand.groups === 1);
  // residual adds where stride 1 and channels agree: 10 in torchvision's setting
  assert.equal(m.nodes.filter((n) => n.op === 'add').length, 10);
  assert.equal(m.nodes.filter((n) => n.op === 'clip').length, 35);
});

test('archPreset validates: unknown arch and bad width name the flag', () => {
  assert.throws(() => archPreset({ arch: 'alexnet' }), /unknown --arch 'alexnet'; known: vgg16, vgg16s, vgg11, resnet18, resnet34, mobilenetv2/);
  assert.throws(() => archPreset({ arch: 'resnet18', width: 0 }), /--width/);
});
