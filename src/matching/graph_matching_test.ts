/**
 * The matching term on non-VGG graphs: any node can be matched (WCAM through the explicit
 * backward, EWA from the activation), the explicit path reproduces the closed form before global
 * average pooling, and a training step through it neither leaks tensors nor changes the nets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the gradient functions
import { Rng } from '../engine/random.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { archPreset } from '../models/model_config.js';
import { graphSensitivity } from './graph_backward.js';
import { type MatchingConfig, closedFormApplies, matchedLayers, matchingCaptures, matchingLoss, parseMatchingConfig, teacherTarget } from './matching_term.js';
import { swaChannelWeights } from './swa_map.js';

await tf.setBackend('cpu');

const B = 4;
const resnet = (width: number, seed: number) => GraphNet.create(archPreset({ arch: 'resnet18', width, imageSize: 16, numClasses: 3, dropout: 0.3 }), seed);
const mobilenet = (width: number, seed: number) => GraphNet.create(archPreset({ arch: 'mobilenetv2', width, imageSize: 16, numClasses: 3 }), seed);
function input(seed: number, size = 16): tf.Tensor4D {
  return tf.tensor4d(new Rng(seed).uniformArray(B * size * size * 3, -1, 1), [B, size, size, 3]);
}

test('any feature map of a ResNet is matchable; unknown names and vectors are refused with the valid names', () => {
  const net = resnet(16, 1);
  const swa = (layer: string) => parseMatchingConfig({ kind: 'swa', layer });
  assert.deepEqual(matchedLayers(swa('layer3.1.relu2'), net), ['layer3.1.relu2']);
  assert.ok(!closedFormApplies(net, 'layer3.1.relu2') && closedFormApplies(net, 'layer4.1.relu2'));
  assert.deepEqual(matchingCaptures(swa('layer4.1.relu1'), net, false).sort(), ['layer4.1.relu1', 'layer4.1.relu2']);
  assert.deepEqual(matchingCaptures(parseMatchingConfig({ kind: 'ewa', layer: 'layer2.0.add' }), net, true), ['layer2.0.add']);
  assert.throws(() => matchedLayers(swa('pool5'), net), /matching config field 'layer': unknown layer 'pool5'; layers of this graph: conv1, bn1, relu, maxpool/);
  assert.throws(() => matchedLayers(swa('fc'), net), /'fc' is not a feature map/);
  net.dispose();
});

test('explicit path at the layer global average pooling reads reproduces the closed form α = D·K[·, c] (1e-5)', () => {
  const net = resnet(16, 2);
  tf.tidy(() => {
    const x = input(3);
    const mask = net.dropoutMask(B, new Rng(4));
    const layer = net.matchLayer;
    const { activations } = net.forward(x, { training: true, dropoutMask: mask, capture: [layer] });
    const classes = tf.tensor1d([2, 0, 1, 2], 'int32');
    const seed = tf.cast(tf.oneHot(classes, 3), 'float32') as tf.Tensor2D;
    const g = graphSensitivity(net, activations, layer, seed, { training: true, dropoutMask: mask });
    const explicit = tf.sum(g, [1, 2]);
    const c = net.activationShape(layer)[2];
    const closed = swaChannelWeights(net.weight('fc/kernel') as tf.Tensor2D, [1, 1, c], classes, mask);
    const err = tf.max(tf.abs(tf.sub(explicit, closed))).dataSync()[0] / tf.max(tf.abs(closed)).dataSync()[0];
    assert.ok(err <= 1e-5, `rel err ${err}`);
  });
  net.dispose();
});

const CASES = [
  { name: 'resnet18', make: resnet, layer: 'layer2.1.relu1', head: 'fc/kernel', above: 'layer3.0.conv1/kernel' },
  { name: 'mobilenetv2', make: mobilenet, layer: 'features.4.conv.1.2', head: 'classifier.1/kernel', above: 'features.5.conv.1.0/depthwise_kernel' },
] as const;
for (const { name, make, layer, head, above } of CASES) {
  test(`${name}: a training step with WCAM/EWA at ${layer} leaks no tensors, changes neither net and reaches the weights above the layer`, () => {
    const teacher = make(8, 5), student = make(16, 6);
    const x = input(7);
    const mask = student.dropoutMask(B, new Rng(8));
    const before = [teacher, student].map((n) => n.snapshot());
    const configs: MatchingConfig[] = [
      parseMatchingConfig({ kind: 'swa', layer }),
      parseMatchingConfig({ kind: 'swa', layer, matchClasses: 'teacherPositive', stochastic: 0.3 }),
      parseMatchingConfig({ kind: 'ewa', layer }),
    ];
    const vars = student.trainableVariables();
    for (const cfg of configs) {
      const step = (): Record<string, number> => {
        const t = tf.tidy(() => {
          const r = teacher.forward(x, { capture: matchingCaptures(cfg, teacher, false) });
          return { logits: r.logits, activations: r.activations };
        });
        const target = teacherTarget(cfg, { net: teacher, ...t, training: false }, new Rng(9));
        tf.dispose([t.logits, ...Object.values(t.activations)]);
        const { value, grads } = tf.variableGrads(() => {
          const r = student.forward(x, { training: true, dropoutMask: mask, capture: matchingCaptures(cfg, student, true) });
          return matchingLoss(target, { net: student, activations: r.activations, training: true, dropoutMask: r.dropoutMask });
        }, vars);
        const norms: Record<string, number> = {};
        for (const [k, g] of Object.entries(grads)) norms[k] = tf.tidy(() => tf.norm(g).dataSync()[0]);
        tf.dispose([value, ...Object.values(grads)]);
        target.dispose();
        return norms;
      };
      step(); // warm-up
      const n0 = tf.memory().numTensors;
      const norms = step();
      assert.equal(tf.memory().numTensors, n0, `${cfg.kind} ${cfg.matchClasses}: tensors leaked`);
      // WCAM's sensitivity depends on the head kernel and on the weights above the layer (the
      // second-order part); EWA's map on neither
      for (const w of [head, above]) {
        const norm = norms[student.weight(w).name] ?? 0;
        if (cfg.kind === 'swa') assert.ok(norm > 0, `${w} reaches WCAM through the sensitivity`);
        else assert.equal(norm, 0, `${w} does not reach EWA`);
      }
    }
    [teacher, student].forEach((n, i) => {
      for (const [k, v] of n.weights) assert.deepEqual(v.dataSync(), before[i][k].dataSync(), k);
    });
    tf.dispose(before.flatMap((m) => Object.values(m)));
    teacher.dispose(); student.dispose(); x.dispose(); mask.dispose();
  });
}
