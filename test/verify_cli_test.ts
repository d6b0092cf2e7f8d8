/**
 * `apc verify` as CI runs it: the teacher against itself passes (exit 0); a student with the
 * teacher's exact logits but different Grad-CAM maps fails (exit 1) on the cosine check alone;
 * bad input exits 2; the JUnit XML parses, the JSON and the worst-pair PNGs are written.
 *
 * The student: the teacher's last conv has one constant channel k0 (BN γ = 0, β = b > 0, so
 * after the ReLU A_k0 ≡ b). The student adds δ to every dense row of k0 and −δ·b·P to the dense
 * bias (P = pooled positions): each logit is Σ_p (K[p,k0] + δ)·b − δ·b·P + … = unchanged, so
 * the predictions and mAP are the same, while Grad-CAM's channel weight α_k0 = Σ_p K[p,k0] moves
 * by δ·P and shifts the map by δ·P·b before its ReLU: with δ < 0 the clipping erases it.
 * Permuting the last conv's filters alone (the wording) is checked too: it moves the
 * maps, but also the logits, so its mAP need not stay; with the dense rows permuted alike the
 * network and all its maps would be unchanged. Hence the exact same-logit construction above.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { apc } from './apc_cli.js';
import { GraphNet } from '../src/models/graph/graph_net.js';
import { archPreset } from '../src/models/model_config.js';
import { loadNet, saveNet } from '../src/models/checkpoint.js';
import { vggView } from '../src/models/vgg_view.js';
import { SHAPES_CLASS_NAMES } from '../src/data/shapes.js';

await tf.setBackend('cpu');
const dir = mkdtempSync(join(tmpdir(), 'apc-verify-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const meta = { dataset: 'shapes', classNames: [...SHAPES_CLASS_NAMES] };
const b = 0.5;

function setWeight(net: GraphNet, name: string, f: (v: tf.Tensor) => tf.Tensor): void {
  const v = net.weight(name);
  v.assign(tf.tidy(() => f(v)));
}

/** The last conv's filters (kernel, bias, BN) rotated by one channel; the dense head left as it is. */
async function permutedLastConv(teacherDir: string): Promise<string> {
  const { net } = await loadNet(teacherDir);
  const last = vggView(net).layout.convs.at(-1)!;
  const C = net.weight(`${last.name}/kernel`).shape[3]!;
  const perm = tf.tensor1d(Array.from({ length: C }, (_, k) => (k + 1) % C), 'int32');
  setWeight(net, `${last.name}/kernel`, (v) => tf.gather(v, perm, 3));
  for (const w of [`${last.name}/bias`, `${last.bn}/gamma`, `${last.bn}/beta`, `${last.bn}/moving_mean`, `${last.bn}/moving_variance`]) {
    setWeight(net, w, (v) => tf.gather(v, perm));
  }
  perm.dispose();
  const dir = join(teacherDir, '..', 'permuted');
  await saveNet(dir, net, meta);
  net.dispose();
  return dir;
}

async function models(): Promise<{ teacher: string; student: string }> {
  const net = GraphNet.create(archPreset({ arch: 'vgg16', width: 32, imageSize: 32, numClasses: SHAPES_CLASS_NAMES.length }), 5);
  const last = vggView(net).layout.convs.at(-1)!;
  const k0 = 0;
  const onlyK0 = (v: tf.Tensor, value: number) => tf.where(tf.equal(tf.range(0, v.shape[0], 1, 'int32'), k0), tf.fill(v.shape, value), v);
  setWeight(net, `${last.bn}/gamma`, (v) => onlyK0(v, 0));
  setWeight(net, `${last.bn}/beta`, (v) => onlyK0(v, b));
  const teacher = join(dir, 'teacher');
  await saveNet(teacher, net, meta);
  // the student: same logits, Grad-CAM maps shifted down by δ·P·b before their ReLU
  const [H, W, C] = net.activationShape(net.matchLayer);
  const P = H * W, delta = -1;
  const out = net.graph.outputName;
  const rowOfK0 = tf.tidy(() => tf.reshape(tf.equal(tf.mod(tf.range(0, P * C, 1, 'int32'), C), k0), [P * C, 1]));
  setWeight(net, `${out}/kernel`, (v) => tf.add(v, tf.mul(tf.cast(rowOfK0, 'float32'), delta)));
  setWeight(net, `${out}/bias`, (v) => tf.sub(v, delta * b * P));
  rowOfK0.dispose();
  const student = join(dir, 'student');
  await saveNet(student, net, meta);
  net.dispose();
  return { teacher, student };
}

test('apc verify: passes for the teacher against itself, fails (exit 1) on the cosine alone for same-logit different-map student; bad input exits 2', async () => {
  const { teacher, student } = await models();
  const same = apc(['verify', '--teacher', teacher, '--student', teacher, '--limit', '12', '--json', join(dir, 'same.json')]);
  assert.equal(same.code, 0, same.err + same.out);
  assert.match(same.out, /verify: all 3 checks passed/);
  const sameJson = JSON.parse(readFileSync(join(dir, 'same.json'), 'utf8'));
  assert.equal(sameJson.passed, true);
  assert.equal(sameJson.checks.find((c: { name: string }) => c.name === 'gradcam cosine').value, 1);

  const junit = join(dir, 'junit.xml');
  const json = join(dir, 'drift.json');
  const out = join(dir, 'worst');
  const drift = apc(['verify', '--teacher', teacher, '--student', student, '--limit', '12', '--junit', junit, '--json', json, '--out', out, '--worst', '2']);
  assert.equal(drift.code, 1, drift.err + drift.out);
  assert.match(drift.out, /gradcam cosine .* FAIL/);
  assert.match(drift.out, /verify: 1 of 3 checks FAILED/);
  assert.match(drift.err, /gradcam cosine past the threshold/);
  const report = JSON.parse(readFileSync(json, 'utf8'));
  const byName = Object.fromEntries(report.checks.map((c: { name: string }) => [c.name, c]));
  assert.ok(Math.abs(byName['mAP drop'].value) < 1e-9, `same logits, same mAP (drop ${byName['mAP drop'].value})`);
  assert.equal(byName['mAP drop'].passed, true);
  assert.ok(byName['gradcam cosine'].value < 0.5, `maps differ: cosine ${byName['gradcam cosine'].value}`);
  assert.equal(report.images.prediction, 12);
  const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(readFileSync(junit, 'utf8'));
  const suite = xml.testsuites.testsuite;
  assert.equal(suite.name, 'apc verify');
  assert.equal(Number(suite.tests), 3);
  assert.equal(Number(suite.failures), 1);
  const failed = suite.testcase.filter((c: { failure?: unknown }) => c.failure !== undefined);
  assert.deepEqual(failed.map((c: { name: string }) => c.name), ['gradcam cosine']);
  const pngs = readdirSync(out).filter((f) => f.endsWith('.png'));
  assert.equal(pngs.length, 2);
  assert.ok(pngs.every((f) => f.startsWith('gradcam-')));

  // the construction: the last conv's filters permuted (dense rows not): the maps move;
  // the logits move too, so mAP is left out of this case (--max-map-drop 100)
  const permuted = await permutedLastConv(teacher);
  const perm = apc(['verify', '--teacher', teacher, '--student', permuted, '--limit', '12', '--max-map-drop', '100', '--json', join(dir, 'perm.json')]);
  assert.equal(perm.code, 1, perm.err + perm.out);
  const permChecks = JSON.parse(readFileSync(join(dir, 'perm.json'), 'utf8')).checks;
  assert.deepEqual(permChecks.filter((c: { passed: boolean }) => !c.passed).map((c: { name: string }) => c.name).filter((n: string) => n !== 'gradcam AUC drop'), ['gradcam cosine']);

  const missing = apc(['verify', '--teacher', teacher, '--student', join(dir, 'nope')]);
  assert.equal(missing.code, 2, missing.err);
  assert.match(missing.err, /verify: bad input: .*nope/);
  const badFlag = apc(['verify', '--teacher', teacher, '--student', teacher, '--min-cosine', 'high']);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.err, /--min-cosine must be a number/);
  assert.ok(!existsSync(join(dir, 'nope')));
});
