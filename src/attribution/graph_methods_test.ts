/**
 * Attribution and matching on residual and depthwise graphs (ResNet-18, MobileNetV2 families):
 * known answers where the head gives one (global average pooling → dense), independent autodiff
 * references elsewhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { registerKernelPack } from '../engine/kernels/register.js';
import { Rng } from '../engine/random.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { archPreset } from '../models/model_config.js';
import { closedFormHead, matchingCaptures, matchingLoss, parseMatchingConfig, teacherTarget } from '../matching/matching_term.js';
import { makeAttribution, unsupportedReason } from './registry.js';

await tf.setBackend('cpu');
registerKernelPack('cpu');

const resnet = GraphNet.create(archPreset({ arch: 'resnet18', width: 16, imageSize: 32, numClasses: 4, dropout: 0.5 }), 1);
const mobilenet = GraphNet.create(archPreset({ arch: 'mobilenetv2', width: 8, imageSize: 32, numClasses: 4 }), 2);
const x = tf.tensor4d(new Rng(7).uniformArray(2 * 32 * 32 * 3, -2, 2), [2, 32, 32, 3]);
const classes = [1, 3];

function maxRel(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(1e-12, tf.max(tf.abs(b)).dataSync()[0]));
}

test('Grad-CAM on a ResNet: the map is ReLU(Σ_k K[k, c]·A_k) at the last activation (global average pooling → dense)', () => {
  const r = makeAttribution('gradcam').attribute(resnet, x, classes);
  const layer = resnet.gradCamLayer;
  const want = tf.tidy(() => {
    const a = resnet.forward(x, { capture: [layer] }).activations[layer] as tf.Tensor4D;
    const k = resnet.weight('fc/kernel') as tf.Tensor2D; // [C, K]
    const alpha = tf.transpose(tf.gather(k, classes, 1)); // [N, C]
    return tf.relu(tf.sum(tf.mul(a, tf.reshape(alpha, [2, 1, 1, -1])), 3));
  });
  assert.ok(maxRel(r.native!, want) < 1e-5, `${maxRel(r.native!, want)}`);
  assert.deepEqual(r.maps.shape, [2, 32, 32]);
  tf.dispose([r.maps, r.native!, want]);
});

for (const [name, net] of [['resnet18', resnet], ['mobilenetv2', mobilenet]] as const) {
  test(`${name}: Gradient × Input equals Σ_ch x·∂z_c/∂x by tf.grad; IG and SmoothGrad give finite maps of the input's size`, () => {
    const r = makeAttribution('gradxinput').attribute(net, x, classes);
    const want = tf.tidy(() => {
      const oneHot = tf.cast(tf.oneHot(tf.tensor1d(classes, 'int32'), 4), 'float32');
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(net.forward(t as tf.Tensor4D).logits, oneHot)))(x);
      return tf.sum(tf.mul(x, g), 3);
    });
    assert.ok(maxRel(r.maps, want) < 1e-4, `${maxRel(r.maps, want)}`);
    tf.dispose([r.maps, want]);
    for (const m of ['ig', 'smoothgrad']) {
      const a = makeAttribution(m, m === 'ig' ? { steps: 4 } : { samples: 3 }).attribute(net, x, classes);
      assert.deepEqual(a.maps.shape, [2, 32, 32]);
      assert.ok(tf.tidy(() => tf.all(tf.isFinite(a.maps)).dataSync()[0]) === 1);
      tf.dispose([a.maps, a.native ?? []]);
    }
    const cam = makeAttribution('gradcam').attribute(net, x, classes);
    assert.deepEqual(cam.native!.shape.slice(1), net.activationShape(net.gradCamLayer).slice(0, 2));
    tf.dispose([cam.maps, cam.native!]);
  });

  test(`${name}: LRP, RAP and EBP are supported (graph relevance rules, graph_relevance_test.ts)`, () => {
    for (const m of ['lrp', 'rap', 'ebp', 'gradcam']) assert.equal(unsupportedReason(m, net), undefined);
  });
}

test('WCAM at the layer global average pooling reads has the closed form α_k = K[k, c] (with the head dropout mask)', () => {
  const head = closedFormHead(resnet, resnet.matchLayer);
  assert.deepEqual(head, { shape: [1, 1, resnet.activationShape(resnet.matchLayer)[2]], kernel: 'fc/kernel' });
  assert.equal(closedFormHead(resnet, 'layer3.1.relu2'), undefined);
  const cfg = parseMatchingConfig({ kind: 'swa', beta: 1 });
  const teacher = GraphNet.create(resnet.config, 5);
  const student = resnet;
  // the matching loss equals the normalised MSE of the two Grad-CAM-style maps computed by hand
  const loss = tf.tidy(() => {
    const t = teacher.forward(x, { capture: matchingCaptures(cfg, teacher, false) });
    const target = teacherTarget(cfg, { net: teacher, activations: t.activations, logits: t.logits, training: false });
    const s = student.forward(x, { capture: matchingCaptures(cfg, student, false) });
    const l = matchingLoss(target, { net: student, activations: s.activations, training: false });
    const top = Array.from(tf.argMax(t.logits, 1).dataSync());
    const mapOf = (net: GraphNet, acts: tf.Tensor) => {
      const k = net.weight('fc/kernel') as tf.Tensor2D;
      const alpha = tf.transpose(tf.gather(k, top, 1));
      const m = tf.reshape(tf.relu(tf.sum(tf.mul(acts, tf.reshape(alpha, [2, 1, 1, -1])), 3)), [2, -1]);
      return tf.div(m, tf.maximum(tf.norm(m, 2, 1, true), 1e-12));
    };
    const a = mapOf(teacher, t.activations[teacher.matchLayer]);
    const b = mapOf(student, s.activations[student.matchLayer]);
    target.dispose();
    return [l.dataSync()[0], tf.mean(tf.square(tf.sub(a, b))).dataSync()[0]]; // (1/(B·H·W))·Σ‖â^T − â^S‖²
  });
  assert.ok(Math.abs(loss[0] - loss[1]) <= 1e-5 * Math.max(1, loss[1]), `${loss[0]} vs ${loss[1]}`);
  // an inner layer of a ResNet is matched through the explicit backward (src/matching/graph_backward_test.ts)
  assert.ok(matchingCaptures(parseMatchingConfig({ kind: 'swa', layer: 'layer3.1.relu2' }), resnet, false).includes('layer3.1.relu2'));
  teacher.dispose();
});
