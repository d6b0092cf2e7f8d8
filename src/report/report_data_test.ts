import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  betaSweeps, finalRows, metricInterval, num, orderForComparison, parseReportResults, pruningSeries, type ReportResults, type ReportRow, resultMethods,
} from './report_data.js';

const agree = (cosine: number) => ({ gradcam: { auc: 0.9, pointing: 0.5, agreement: { cosine, spearman: cosine, topkIoU: cosine, n: 3 } } });
const teacher: ReportRow = { name: 'teacher', compression: 'none', match: 'none', beta: 0, mAP: 60, attribution: agree(1) };

test('num: finite numbers only', () => {
  assert.equal(num(1.5), 1.5);
  for (const v of [null, undefined, NaN, Infinity, '3', {}]) assert.equal(num(v), undefined);
});

test('parseReportResults names what is missing', () => {
  assert.throws(() => parseReportResults([], 'r.json'), /r\.json: expected a JSON object/);
  assert.throws(() => parseReportResults({}, 'r.json'), /'models' must be an array/);
  assert.throws(() => parseReportResults({ models: [{ mAP: 1 }] }, 'r.json'), /models\[0\] has no string 'name'/);
  assert.equal(parseReportResults({ models: [{ name: 'a' }] }).models[0].name, 'a');
});

test('resultMethods: first-appearance order over rows', () => {
  assert.deepEqual(resultMethods([{ name: 'a', attribution: { lrp: {} } }, { name: 'b', attribution: { gradcam: {}, lrp: {} } }, { name: 'c' }]), ['lrp', 'gradcam']);
});

test('orderForComparison: teacher first, rows grouped by compression, without matching before with', () => {
  const rows: ReportRow[] = [
    { name: 'kd+wcam', compression: 'kd', match: 'wcam' },
    { name: 'structured+wcam', compression: 'structured', match: 'wcam' },
    teacher,
    { name: 'structured', compression: 'structured', match: 'none' },
    { name: 'kd', compression: 'kd', match: 'none' },
    { name: 'kd+ewa', compression: 'kd', match: 'ewa' },
  ];
  assert.deepEqual(orderForComparison(rows).map((r) => r.name), ['teacher', 'kd', 'kd+wcam', 'kd+ewa', 'structured', 'structured+wcam']);
});

test('finalRows drops intermediate rounds of each pruning schedule only', () => {
  const rows: ReportRow[] = [teacher,
    ...[1, 2, 3].map((round) => ({ name: `u-r${round}`, compression: 'unstructured', match: 'none', round })),
    ...[1, 2].map((round) => ({ name: `uw-r${round}`, compression: 'unstructured', match: 'wcam', beta: 1, round }))];
  assert.deepEqual(finalRows(rows).map((r) => r.name), ['teacher', 'u-r3', 'uw-r2']);
});

test('pruningSeries from rows with a round field: one curve per schedule, teacher at sparsity 0', () => {
  const results: ReportResults = {
    models: [teacher,
      { name: 'unstructured r1', compression: 'unstructured', match: 'none', round: 1, sparsity: 0.2, mAP: 58, attribution: agree(0.9) },
      { name: 'unstructured r2', compression: 'unstructured', match: 'none', round: 2, sparsity: 0.36, mAP: 55, attribution: agree(0.8) },
      { name: 'unstructured+wcam r1', compression: 'unstructured', match: 'wcam', beta: 1, round: 1, sparsity: 20, mAP: 57, attribution: agree(0.95) },
      { name: 'structured', compression: 'structured', match: 'none', round: 1, sparsity: 0.3, mAP: 50 }],
  };
  const s = pruningSeries(results, 'gradcam');
  assert.deepEqual(s.map((x) => [x.label, x.matching]), [['unstructured', false], ['unstructured+wcam', true]]);
  assert.deepEqual(s[0].points.map((p) => [p.sparsity, p.mAP, p.cosine]), [[0, 60, 1], [0.2, 58, 0.9], [0.36, 55, 0.8]]);
  assert.deepEqual(s[1].points.map((p) => p.sparsity), [0, 0.2], 'percent values are read as fractions');
});

test('pruningSeries from results.series: arrays of points, named lists, or an object of lists', () => {
  const pts = [{ round: 1, sparsity: 0.2, mAP: 50, agreement: { cosine: 0.9 } }, { round: 2, sparsity: 0.36, test: { mAP: 45 }, attribution: { gradcam: { agreement: { cosine: 0.8 } } } }];
  const a = pruningSeries({ models: [], series: [{ name: 'unstructured+wcam', match: 'wcam', points: pts }] }, 'gradcam');
  assert.equal(a.length, 1);
  assert.equal(a[0].matching, true);
  assert.deepEqual(a[0].points.map((p) => [p.sparsity, p.mAP, p.cosine]), [[0.2, 50, 0.9], [0.36, 45, 0.8]]);
  const b = pruningSeries({ models: [], series: { unstructured: pts, 'unstructured+wcam': { rounds: pts } } }, 'gradcam');
  assert.deepEqual(b.map((x) => [x.label, x.matching, x.points.length]), [['unstructured', false, 2], ['unstructured+wcam', true, 2]]);
  const c = pruningSeries({ models: [], series: pts.map((p) => ({ ...p, name: `unstructured round ${p.round}`, match: 'none' })) }, 'gradcam');
  assert.deepEqual(c.map((x) => [x.label, x.points.length]), [['unstructured', 2]]);
  assert.deepEqual(pruningSeries({ models: [teacher] }, 'gradcam'), [], 'no series, no curve');
});

test('betaSweeps: rows differing only by β form a sweep, with the β = 0 row of the same compression as baseline', () => {
  const rows: ReportRow[] = [teacher,
    { name: 'kd', compression: 'kd', match: 'none', beta: 0, params: 100 },
    { name: 'kd+wcam', compression: 'kd', match: 'wcam', beta: 100, params: 100 },
    { name: 'kd+wcam-b1', compression: 'kd', match: 'wcam', beta: 1, params: 100 },
    { name: 'kd+wcam-b10', compression: 'kd', match: 'wcam', beta: 10, params: 100 },
    { name: 'kd+ewa', compression: 'kd', match: 'ewa', beta: 1, params: 100 },
    { name: 'kd+wcam+stochastic', compression: 'kd', match: 'wcam', beta: 1, stochastic: 0.3, params: 100 },
    { name: 'kd-narrow+wcam', compression: 'kd', match: 'wcam', beta: 1, params: 50 }];
  const s = betaSweeps(rows);
  assert.equal(s.length, 1);
  assert.equal(s[0].label, 'kd+wcam');
  assert.deepEqual(s[0].rows.map((r) => r.name), ['kd+wcam-b1', 'kd+wcam-b10', 'kd+wcam']);
  assert.equal(s[0].baseline?.name, 'kd');
  assert.deepEqual(betaSweeps(rows.filter((r) => !r.name.startsWith('kd+wcam-'))), [], 'one β per group is no sweep');
});

test('metricInterval: two finite numbers lo ≤ hi, else nothing (older rows have no ci95)', () => {
  const row: ReportRow = { name: 'a', ci95: { mAP: [60, 65.5], f1: [3, 2], 'gradcam.auc': [null, 0.9], 'gradcam.cosine': [0.1, 0.2, 0.3], x: 'y' } };
  assert.deepEqual(metricInterval(row, 'mAP'), [60, 65.5]);
  for (const key of ['f1', 'gradcam.auc', 'gradcam.cosine', 'x', 'missing']) assert.equal(metricInterval(row, key), undefined, key);
  assert.equal(metricInterval({ name: 'old' }, 'mAP'), undefined);
  assert.equal(metricInterval({ name: 'null', ci95: null }, 'mAP'), undefined);
});
