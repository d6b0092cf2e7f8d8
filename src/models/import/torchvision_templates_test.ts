import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { readFileSync } from 'node:fs';
import { readNpy } from '../../data/npy.js';
import { importedNet } from './imported_model.js';
import { readSafetensors } from './safetensors.js';
import { IMAGENET_NORMALIZATION, importTemplate, templateFor, templateKeys } from './torchvision_templates.js';
import { encodeSafetensors, decodeSafetensors } from './safetensors.js';

await tf.setBackend('cpu');
const fixtures = new URL('../../../test/fixtures/torch/', import.meta.url).pathname;

test('the torchvision:vgg16_bn template has exactly full-size torchvision vgg16_bn\'s feature keys and shapes', () => {
  const table = JSON.parse(readFileSync(`${fixtures}vgg16_bn_keys.json`, 'utf8')) as { name: string; shape: number[]; dtype: string }[];
  const keys = templateKeys(templateFor('torchvision:vgg16_bn', { numClasses: 20 }));
  const features = table.filter((k) => k.name.startsWith('features.') && !k.name.endsWith('num_batches_tracked'));
  assert.equal(keys.size, features.length);
  for (const k of features) assert.deepEqual(keys.get(k.name)?.shape, k.shape, k.name);
  // everything else torchvision has is what the importer ignores
  for (const k of table.filter((e) => !features.includes(e))) assert.ok(k.name.startsWith('classifier.') || k.name.endsWith('.num_batches_tracked'), k.name);
});

test('a reduced-width vgg16_bn state dict (torchvision key names) loads onto the template and its features equal PyTorch\'s', async () => {
  const file = await readSafetensors(`${fixtures}vgg16_bn_w8.safetensors`);
  const m = importTemplate(file, 'vgg16_bn_w8.safetensors', 'torchvision:vgg16_bn', { width: 8, imageSize: 64, numClasses: 10 });
  assert.deepEqual(m.config.kind === 'vgg' && m.config.normalization, IMAGENET_NORMALIZATION);
  const net = importedNet(m, { initSeed: 0 });
  const x = await readNpy(`${fixtures}vgg16_bn_w8.input.npy`);
  const want = await readNpy(`${fixtures}vgg16_bn_w8.features.npy`); // NCHW [2, 64, 2, 2]
  const input = tf.transpose(tf.tensor4d(x.data as Float32Array, x.shape as [number, number, number, number]), [0, 2, 3, 1]);
  const got = tf.transpose(net.forward(input, { capture: ['pool5'] }).activations.pool5, [0, 3, 1, 2]);
  assert.deepEqual(got.shape, want.shape);
  const g = got.dataSync();
  const w = want.data as Float32Array;
  const scale = Math.max(...Array.from(w, Math.abs));
  let worst = 0;
  for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]));
  assert.ok(worst <= 1e-4 * scale, `max |Δ| ${worst} (scale ${scale})`);
  // the head is new: numClasses-way, PyTorch default initialisation bounds
  const k = net.weight('fc/kernel');
  assert.deepEqual(k.shape, [2 * 2 * 64, 10]);
  assert.ok(tf.max(tf.abs(k)).dataSync()[0] <= 1 / Math.sqrt(256));
  tf.dispose([input, got]);
  net.dispose();
});

test('a missing, misshapen or foreign key is one line naming the file and the key', async () => {
  const file = await readSafetensors(`${fixtures}vgg16_bn_w8.safetensors`);
  const opts = { width: 8, imageSize: 64, numClasses: 10 };
  const without = new Map(file.tensors); without.delete('features.7.weight');
  assert.throws(() => importTemplate({ ...file, tensors: without }, 'f.safetensors', 'torchvision:vgg16_bn', opts), /^Error: f\.safetensors: has no 'features\.7\.weight'|f\.safetensors: has no 'features\.7\.weight' .*shape \[16,8,3,3\]/);
  assert.throws(() => importTemplate(file, 'f.safetensors', 'torchvision:vgg16_bn', { ...opts, width: 4 }), /f\.safetensors: 'features\.0\.weight' has shape \[8,3,3,3\], the torchvision:vgg16_bn template at --width 4 needs \[16,3,3,3\]/);
  const extra = decodeSafetensors(encodeSafetensors(new Map([...file.tensors, ['features.99.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) }]])), 'g.safetensors');
  assert.throws(() => importTemplate(extra, 'g.safetensors', 'torchvision:vgg16_bn', opts), /g\.safetensors: has 'features\.99\.weight', which the torchvision:vgg16_bn template does not have/);
  assert.throws(() => templateFor('torchvision:alexnet', opts), /unknown --template 'torchvision:alexnet'; known: torchvision:vgg16_bn/);
});

test('resnet18 and mobilenet_v2 templates use torchvision\'s key names (conv1, layer2.0.downsample.0, features.1.conv.0.0)', () => {
  const r = templateKeys(templateFor('torchvision:resnet18', { numClasses: 10 }));
  assert.deepEqual(r.get('conv1.weight')?.shape, [64, 3, 7, 7]);
  assert.deepEqual(r.get('layer2.0.downsample.0.weight')?.shape, [128, 64, 1, 1]);
  assert.deepEqual(r.get('layer4.1.bn2.running_var')?.shape, [512]);
  assert.equal([...r.keys()].filter((k) => k.startsWith('fc')).length, 0);
  assert.equal(r.size, 100); // torchvision resnet18: 102 float tensors (fc excluded: 100)
  const m = templateKeys(templateFor('torchvision:mobilenet_v2', { numClasses: 10 }));
  assert.deepEqual(m.get('features.0.0.weight')?.shape, [32, 3, 3, 3]);
  assert.deepEqual(m.get('features.1.conv.0.0.weight')?.shape, [32, 1, 3, 3]);
  assert.deepEqual(m.get('features.2.conv.1.0.weight')?.shape, [96, 1, 3, 3]);
  assert.deepEqual(m.get('features.18.0.weight')?.shape, [1280, 320, 1, 1]);
});
