/**
 * The CLI on the built-in ResNet and MobileNetV2 families: train, distil with WCAM (closed form
 * after global pooling), unstructured and grouped structured pruning (and --explain-groups),
 * evaluate with LRP, RAP and EBP; the whole `apc run` study on a family runs every row.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apc } from './apc_cli.js';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'apc-family-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const tiny = ['--epochs', '1', '--train-limit', '32', '--quiet'];

for (const arch of ['resnet18', 'mobilenetv2']) {
  test(`${arch}: train, kd+wcam, unstructured, structured (+ --explain-groups), evaluate with LRP, RAP and EBP`, () => {
    const teacher = join(dir, arch);
    const t = apc(['train', '--arch', arch, '--width', '16', ...tiny, '--out', teacher]);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, new RegExp(`teacher ${arch}/16 @64px`));
    const meta = JSON.parse(readFileSync(join(teacher, 'best', 'apc.json'), 'utf8'));
    assert.equal(meta.config.kind, arch === 'resnet18' ? 'resnet' : 'mobilenetv2');
    const kd = apc(['compress', '--teacher', join(teacher, 'best'), '--method', 'kd', '--match', 'wcam', '--width', '32', ...tiny, '--out', join(dir, `${arch}-kd`)]);
    assert.equal(kd.code, 0, kd.err);
    assert.match(kd.out, /kd\+wcam: best val mAP/);
    const un = apc(['compress', '--teacher', join(teacher, 'best'), '--method', 'unstructured', '--rate', '0.5', '--rounds', '1', ...tiny, '--out', join(dir, `${arch}-un`)]);
    assert.equal(un.code, 0, un.err);
    assert.match(un.out, /sparsity 50\.0 %/);
    const st = apc(['compress', '--teacher', join(teacher, 'best'), '--method', 'structured', '--rate', '0.5', ...tiny, '--out', join(dir, `${arch}-st`)]);
    assert.equal(st.code, 0, st.err);
    assert.match(st.out, /structured p=0\.5\+none: best val mAP/);
    assert.equal(JSON.parse(readFileSync(join(dir, `${arch}-st`, 'best', 'apc.json'), 'utf8')).config.kind, 'graph', 'the pruned graph is stored');
    assert.ok(statSync(join(dir, `${arch}-st`, 'best', 'weights.bin')).size < statSync(join(teacher, 'best', 'weights.bin')).size / 2.5);
    const groupsJson = join(dir, `${arch}-groups.json`);
    const ex = apc(['compress', '--teacher', join(teacher, 'best'), '--method', 'structured', '--rate', '0.5', '--explain-groups', '--json', groupsJson]);
    assert.equal(ex.code, 0, ex.err);
    assert.match(ex.out, /^\d+ channel groups \(\d+ free\) of this (resnet|mobilenetv2); kept widths at rate 0\.5:/);
    const report = JSON.parse(readFileSync(groupsJson, 'utf8'));
    assert.equal(report.groups.length, (ex.out.match(/^group \d+:/gm) ?? []).length);
    assert.ok(report.groups.every((g: { producers: string[]; consumers: unknown[]; frozen?: string }) => g.frozen || (g.producers.length > 0 && g.consumers.length > 0)));
    const ev = apc(['evaluate', '--model', join(dir, `${arch}-kd`, 'best'), '--teacher', join(teacher, 'best'), '--limit', '16', '--attribution', 'gradcam']);
    assert.equal(ev.code, 0, ev.err);
    assert.match(ev.out, /gradcam: AUC \d\.\d{3} .* agreement cosine/);
    const json = join(dir, `${arch}-relevance.json`);
    const rel = apc(['evaluate', '--model', join(teacher, 'best'), '--limit', '8', '--attribution', 'lrp,rap,ebp', '--json', json]);
    assert.equal(rel.code, 0, rel.err);
    for (const m of ['lrp', 'rap', 'ebp']) assert.match(rel.out, new RegExp(`^${m}: AUC`, 'm'));
    const ev2 = JSON.parse(readFileSync(json, 'utf8'));
    assert.ok(ev2.attribution.lrp.conservation.n >= 0 && ev2.attribution.ebp.conservation.n >= 0);
    // Grad-CAM read at an inner node; an unknown node is named in the error
    const inner = arch === 'resnet18' ? 'layer2.1.relu2' : 'features.3.add';
    const png = join(dir, `${arch}-inner.png`);
    const ex1 = apc(['explain', '--model', join(teacher, 'best'), '--data', 'shapes', '--index', '0', '--method', 'gradcam', '--layer', inner, '--out', png]);
    assert.equal(ex1.code, 0, ex1.err);
    assert.ok(statSync(png).size > 1000);
    const ex2 = apc(['explain', '--model', join(teacher, 'best'), '--data', 'shapes', '--method', 'gradcam', '--layer', 'nope', '--out', png]);
    assert.notEqual(ex2.code, 0);
    assert.match(ex2.err, /no node 'nope'/);
  });
}

test('apc run --arch mobilenetv2 --preset smoke: teacher, four KD rows, structured and unstructured ± WCAM; nothing skipped', () => {
  const out = join(dir, 'study');
  const r = apc(['run', '--arch', 'mobilenetv2', '--preset', 'smoke', '--quiet', '--out', out]);
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(res.arch, 'mobilenetv2');
  assert.deepEqual(res.models.map((m: { name: string }) => m.name), ['teacher', 'kd', 'kd+ewa', 'kd+wcam', 'kd+wcam+stochastic',
    'structured', 'structured+wcam', 'unstructured', 'unstructured+wcam']);
  assert.equal(res.skipped, undefined, JSON.stringify(res.skipped));
  type Row = { name: string; params: number; flops: number };
  const byName = new Map<string, Row>(res.models.map((m: Row) => [m.name, m]));
  const teacher = byName.get('teacher')!;
  for (const n of ['structured', 'structured+wcam']) {
    const s = byName.get(n)!;
    assert.ok(s.params < teacher.params && s.flops < teacher.flops, `${n}: grouped structured pruning shrinks the MobileNetV2`);
  }
});
