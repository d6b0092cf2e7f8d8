import { test } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-backend-cpu';
import { archPreset, graphOf } from '../model_config.js';
import { Graph } from './graph.js';
import { channelGroups, dividedGraph } from './channel_groups.js';

const resnet = graphOf(archPreset({ arch: 'resnet18', width: 8, imageSize: 64, numClasses: 10 }));
const mobilenet = graphOf(archPreset({ arch: 'mobilenetv2', width: 4, imageSize: 64, numClasses: 10 }));

test('ResNet-18: each stage is one group (add merges the block outputs and the downsample), block-inner convs their own', () => {
  const groups = channelGroups(resnet);
  const find = (node: string) => groups.find((g) => g.members.includes(node))!;
  // stage 1: the stem conv, every block's conv2 and the adds share one space
  const s1 = find('conv1');
  for (const n of ['bn1', 'relu', 'maxpool', 'layer1.0.conv2', 'layer1.0.bn2', 'layer1.0.add', 'layer1.1.conv2', 'layer1.1.relu2']) assert.ok(s1.members.includes(n), n);
  assert.deepEqual(s1.producers, ['conv1', 'layer1.0.conv2', 'layer1.1.conv2']);
  const s2 = find('layer2.0.downsample.0');
  assert.deepEqual(s2.producers, ['layer2.0.conv2', 'layer2.0.downsample.0', 'layer2.1.conv2']);
  // a block's first conv: its own group (conv1 → bn1 → relu1)
  assert.deepEqual(find('layer3.1.conv1').members, ['layer3.1.conv1', 'layer3.1.bn1', 'layer3.1.relu1']);
  // the last stage reaches global pooling and the head's input, not the logits
  const s4 = find('layer4.1.relu2');
  assert.ok(s4.members.includes('avgpool') && s4.members.includes('dropout') && !s4.frozen);
  assert.equal(find('fc').frozen, 'logits');
  assert.equal(groups.filter((g) => g.frozen === 'input').length, 0, 'the input space has no node member');
  assert.equal(groups.length, 4 + 8 + 1); // 4 stages, 8 block-inner groups, the logits
});

test('MobileNetV2: an expansion group holds the expand conv, its BN, the depthwise conv, its BN and ReLU6; block 1 has none', () => {
  const groups = channelGroups(mobilenet);
  const find = (node: string) => groups.find((g) => g.members.includes(node))!;
  const e = find('features.2.conv.0.0');
  assert.deepEqual(e.producers, ['features.2.conv.0.0']);
  assert.deepEqual(e.members, ['features.2.conv.0.0', 'features.2.conv.0.1', 'features.2.conv.0.2', 'features.2.conv.1.0', 'features.2.conv.1.1', 'features.2.conv.1.2']);
  // block 1 (expansion 1): its depthwise conv is in the stem's group
  assert.ok(find('features.0.0').members.includes('features.1.conv.0.0'));
  // residual blocks: the projection joins the block input's group
  assert.ok(find('features.2.conv.3').members.includes('features.3.add'));
  assert.deepEqual(find('features.3.conv.3').producers, ['features.2.conv.2', 'features.3.conv.2']);
});

test('dividedGraph: every free group divided by k (rounded up), frozen ones kept, depthwise groups follow their input', () => {
  const small = new Graph(dividedGraph(resnet, 3));
  const w = (g: Graph, n: string) => g.shape(n)[g.shape(n).length - 1];
  for (const n of ['conv1', 'layer2.0.conv1', 'layer4.1.relu2']) assert.equal(w(small, n), Math.ceil(w(resnet, n) / 3), n);
  assert.equal(small.numClasses, 10);
  const m = new Graph(dividedGraph(mobilenet, 2));
  const dw = m.node('features.2.conv.1.0');
  assert.ok(dw.op === 'conv2d' && dw.groups === dw.filters && dw.filters === Math.ceil(w(mobilenet, 'features.2.conv.0.0') / 2));
  assert.throws(() => dividedGraph(resnet, 0), /--width must be a positive integer/);
});
