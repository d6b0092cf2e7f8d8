/**
 * Bringing a user's model in and out through the CLI: `apc import` of the PyTorch ONNX fixtures,
 * a TF.js/Keras model.json and a torchvision-named safetensors state dict (onto the vgg16_bn
 * template), `apc predict` against the outputs PyTorch stored, `apc export` to ONNX and TF.js and
 * back, and the one-line refusals (an unsupported op, a class-count mismatch) that write nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apc, root } from './apc_cli.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpy } from '../src/data/npy.js';
import { encodeOnnxModel, decodeOnnxModel } from '../src/models/import/onnx_model.js';

const torch = join(root, 'test/fixtures/torch');
const dir = mkdtempSync(join(tmpdir(), 'apc-model-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function npy(path: string): { shape: number[]; data: Float32Array } {
  const a = decodeNpy(readFileSync(path), path);
  return { shape: a.shape, data: a.data as Float32Array };
}
function closeTo(got: Float32Array, want: Float32Array, rel: number, what: string): void {
  assert.equal(got.length, want.length, what);
  const scale = Math.max(...Array.from(want, Math.abs));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(worst <= rel * scale, `${what}: max |Δ| ${worst} > ${rel}·${scale}`);
}

for (const name of ['vgg_bn', 'vgg_bn_keep_bn', 'resnet', 'resnet_oldflatten', 'mobilenetv2']) {
  test(`apc import ${name}.onnx, then apc predict on PyTorch's stored input gives its logits within 1e-4·max|z|`, () => {
    const ckpt = join(dir, name);
    const imp = apc(['import', join(torch, `${name}.onnx`), '--out', ckpt]);
    assert.equal(imp.code, 0, imp.err);
    assert.match(imp.out, /graph · \d+ nodes · 10 outputs/);
    assert.match(imp.err, /assumed RGB \[0, 1\] pixels with mean 0 and std 1/);
    const out = join(dir, `${name}.logits.npy`);
    const p = apc(['predict', '--model', ckpt, '--input', join(torch, `${name}.input.npy`), '--out', out]);
    assert.equal(p.code, 0, p.err);
    const got = npy(out);
    assert.deepEqual(got.shape, [2, 10]);
    closeTo(got.data, npy(join(torch, `${name}.output.npy`)).data, 1e-4, name);
  });
}

test('apc predict takes the .onnx file directly, and apc export → ONNX → apc predict gives the same logits', () => {
  const direct = join(dir, 'direct.npy');
  assert.equal(apc(['predict', '--model', join(torch, 'resnet.onnx'), '--input', join(torch, 'resnet.input.npy'), '--out', direct]).code, 0);
  const exported = join(dir, 'resnet-export.onnx');
  const e = apc(['export', '--model', join(dir, 'resnet'), '--format', 'onnx', '--out', exported]);
  assert.equal(e.code, 0, e.err);
  const again = join(dir, 'again.npy');
  assert.equal(apc(['predict', '--model', exported, '--input', join(torch, 'resnet.input.npy'), '--out', again]).code, 0);
  closeTo(npy(again).data, npy(direct).data, 1e-5, 'export round trip');
  // TF.js export loads back through the Keras importer with the same logits
  const tfjs = join(dir, 'mobilenet-tfjs');
  assert.equal(apc(['export', '--model', join(dir, 'mobilenetv2'), '--format', 'tfjs', '--out', tfjs]).code, 0);
  const viaKeras = join(dir, 'keras.npy');
  const k = apc(['predict', '--model', join(tfjs, 'model.json'), '--input', join(torch, 'mobilenetv2.input.npy'), '--out', viaKeras]);
  assert.equal(k.code, 0, k.err);
  closeTo(npy(viaKeras).data, npy(join(torch, 'mobilenetv2.output.npy')).data, 1e-4, 'tfjs export');
});

test('apc import --template torchvision:vgg16_bn --width 8 writes a VGG checkpoint with ImageNet input metadata and a new head', () => {
  const ckpt = join(dir, 'vgg16bn');
  const r = apc(['import', join(torch, 'vgg16_bn_w8.safetensors'), '--template', 'torchvision:vgg16_bn', '--width', '8', '--image-size', '64', '--data', 'shapes', '--out', ckpt]);
  assert.equal(r.code, 0, r.err);
  const meta = JSON.parse(readFileSync(join(ckpt, 'apc.json'), 'utf8'));
  assert.equal(meta.config.kind, 'vgg');
  assert.deepEqual(meta.config.blocks, [[8, 8], [16, 16], [32, 32, 32], [64, 64, 64], [64, 64, 64]]);
  assert.deepEqual(meta.config.normalization.mean, [0.485, 0.456, 0.406]);
  assert.equal(meta.classNames.length, 10);
  assert.match(r.err, /new 10-way head 'fc'/);
  const bad = apc(['import', join(torch, 'vgg16_bn_w8.safetensors'), '--template', 'torchvision:vgg16_bn', '--width', '4', '--num-classes', '10', '--out', join(dir, 'nope')]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /^apc: error: .*vgg16_bn_w8\.safetensors: 'features\.0\.weight' has shape \[8,3,3,3\], the torchvision:vgg16_bn template at --width 4 needs \[16,3,3,3\]$/m);
  assert.ok(!existsSync(join(dir, 'nope')));
});

test('an unsupported ONNX op and a class-count mismatch are one-line errors that write nothing', () => {
  const m = decodeOnnxModel(readFileSync(join(torch, 'vgg_bn.onnx')), 'vgg_bn.onnx');
  const relu = m.graph.nodes.find((n) => n.opType === 'Relu')!;
  relu.opType = 'Resize';
  const file = join(dir, 'resize.onnx');
  writeFileSync(file, encodeOnnxModel(m));
  const r = apc(['import', file, '--out', join(dir, 'resize')]);
  assert.equal(r.code, 1);
  assert.equal(r.err.trim().split('\n').filter((l) => l.startsWith('apc: error')).length, 1);
  assert.match(r.err, /apc: error: .*'.*' .*Resize.*supported/);
  assert.ok(!existsSync(join(dir, 'resize')));
  const k = apc(['import', join(torch, 'resnet.onnx'), '--num-classes', '5', '--out', join(dir, 'five')]);
  assert.equal(k.code, 1);
  assert.match(k.err, /has 10 outputs but --num-classes says 5 classes/);
  assert.ok(!existsSync(join(dir, 'five')));
});

test('apc import of a Keras model.json strips the softmax; apc evaluate runs Grad-CAM on an imported residual graph', () => {
  const ckpt = join(dir, 'keras');
  const r = apc(['import', join(root, 'test/fixtures/keras/functional/model.json'), '--out', ckpt]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /softmax/);
  assert.equal(JSON.parse(readFileSync(join(ckpt, 'apc.json'), 'utf8')).config.kind, 'graph');
  // PyTorch's 64 px ResNet takes shapes' 64×64 images and has 10 outputs: evaluate it as is
  const json = join(dir, 'eval.json');
  const e = apc(['evaluate', '--model', join(torch, 'resnet.onnx'), '--data', 'shapes', '--limit', '16', '--attribution', 'gradcam,lrp', '--json', json]);
  assert.equal(e.code, 0, e.err);
  const ev = JSON.parse(readFileSync(json, 'utf8'));
  assert.ok(Number.isFinite(ev.mAP) && ev.attribution.gradcam.localization.nCounted >= 0);
  // LRP on the residual graph: z⁺ never creates relevance (Σmap/z_c ≤ 1 over pairs with z_c > 0)
  const c = ev.attribution.lrp.conservation;
  assert.ok(c.n === 0 || (c.mapRatio >= 0 && c.mapRatio <= 1 + 1e-4), JSON.stringify(c));
});

test('apc compress --method kd on an imported ONNX ResNet divides every free channel group of its graph', () => {
  const out = join(dir, 'kd-imported');
  const r = apc(['compress', '--teacher', join(torch, 'resnet.onnx'), '--data', 'shapes', '--method', 'kd', '--match', 'wcam', '--width', '2',
    '--epochs', '1', '--train-limit', '32', '--quiet', '--out', out]);
  assert.equal(r.code, 0, r.err);
  const teacher = JSON.parse(readFileSync(join(dir, 'resnet', 'apc.json'), 'utf8')).config;
  const student = JSON.parse(readFileSync(join(out, 'best', 'apc.json'), 'utf8')).config;
  assert.equal(student.kind, 'graph');
  const filters = (cfg: { nodes: { name: string; op: string; filters?: number }[] }) => new Map(cfg.nodes.filter((n) => n.op === 'conv2d').map((n) => [n.name, n.filters!]));
  const t = filters(teacher);
  for (const [name, f] of filters(student)) assert.equal(f, Math.ceil(t.get(name)! / 2), name);
});

test('apc run --init FILE.onnx --preset smoke: the whole study on an imported ResNet (grouped structured pruning, LRP/RAP/EBP available)', () => {
  const out = join(dir, 'study-onnx');
  const r = apc(['run', '--init', join(torch, 'resnet.onnx'), '--preset', 'smoke', '--quiet', '--out', out]);
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(res.models.map((m: { name: string }) => m.name), ['teacher', 'kd', 'kd+ewa', 'kd+wcam', 'kd+wcam+stochastic',
    'structured', 'structured+wcam', 'unstructured', 'unstructured+wcam']);
  assert.equal(res.skipped, undefined, JSON.stringify(res.skipped));
  const [teacher, structured] = [res.models[0], res.models[5]];
  assert.ok(structured.params < teacher.params && structured.flops < teacher.flops, 'grouped structured pruning shrinks the imported graph');
});
