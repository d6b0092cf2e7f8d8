/**
 * What `apc verify` writes: a plain-text table of its checks, JUnit XML for CI (one test case
 * per check) and a picture per worst-agreeing pair (input, teacher map, student map).
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../engine/files.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { computePairMaps } from '../pipeline/evaluate_model.js';
import type { VerifyCheck, VerifyReport } from '../pipeline/verify.js';
import { classOutline, composePanels, encodePng, normalizeMap, renderOverlay } from './heatmap_image.js';

const fmt = (x: number | undefined, d: number) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));

/** Table of the checks, one per line: name, teacher, student, value, threshold, PASS/FAIL. */
export function formatVerifyTable(report: Pick<VerifyReport, 'checks' | 'passed'>): string {
  const digits = (c: VerifyCheck) => (c.name === 'mAP drop' ? 2 : 3);
  const header = ['check', 'teacher', 'student', 'value', 'threshold', 'result'];
  const rows = report.checks.map((c) => [c.name, fmt(c.teacher, digits(c)), fmt(c.student, digits(c)), fmt(c.value, digits(c)),
    `${c.rule === 'min' ? '≥' : '≤'} ${fmt(c.threshold, digits(c))}`, c.passed ? (c.note ? 'pass (n/a)' : 'pass') : 'FAIL']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const failed = report.checks.filter((c) => !c.passed).length;
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), '',
    report.passed ? `verify: all ${report.checks.length} checks passed` : `verify: ${failed} of ${report.checks.length} checks FAILED`].join('\n');
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** JUnit XML: one <testsuite name="apc verify">, one <testcase> per check, <failure> on the failed ones. */
export function verifyJunitXml(report: Pick<VerifyReport, 'checks' | 'seconds' | 'dataset'>): string {
  const failures = report.checks.filter((c) => !c.passed).length;
  const cases = report.checks.map((c) => {
    const what = `${c.name} = ${fmt(c.value, 4)} (threshold ${c.rule === 'min' ? '≥' : '≤'} ${c.threshold})`;
    const body = c.passed ? (c.note ? `<system-out>${xml(c.note)}</system-out>` : '')
      : `<failure message="${xml(what)}" type="threshold">${xml(`${what}; teacher ${fmt(c.teacher, 4)}, student ${fmt(c.student, 4)}`)}</failure>`;
    return `    <testcase classname="apc.verify.${xml(c.method ?? 'prediction')}" name="${xml(c.name)}">${body}</testcase>`;
  });
  return ['<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites tests="${report.checks.length}" failures="${failures}" time="${report.seconds.toFixed(3)}">`,
    `  <testsuite name="apc verify" tests="${report.checks.length}" failures="${failures}" errors="0" time="${report.seconds.toFixed(3)}">`,
    `    <properties><property name="dataset" value="${xml(report.dataset)}"/></properties>`,
    ...cases, '  </testsuite>', '</testsuites>', ''].join('\n');
}

/**
 * One PNG per worst pair: the input (class mask outlined when the split has masks), the teacher's
 * map and the student's, labelled. Files `DIR/<method>-<rank>-<image id>.png`; returns their paths.
 */
export async function saveWorstPairImages(report: VerifyReport, teacher: GraphNet, student: GraphNet, dir: string, scale = 2): Promise<string[]> {
  const data = report.sampled;
  const split = report.splits.prediction as 'train' | 'val' | 'test';
  const { height: H, width: W, classNames } = data.info;
  const files: string[] = [];
  const rank = new Map<string, number>();
  for (const w of report.worst) {
    const r = (rank.get(w.method) ?? 0) + 1;
    rank.set(w.method, r);
    const sample = data.get(split, w.image);
    const [tm, sm] = [teacher, student].map((net) => computePairMaps(net, data, split, [w], w.method).maps[0]);
    const outline = sample.mask ? classOutline(sample.mask, w.classIndex) : undefined;
    const panels = [renderOverlay({ image: sample.image, height: H, width: W, outline, scale }),
      renderOverlay({ image: sample.image, map: normalizeMap(tm), height: H, width: W, scale }),
      renderOverlay({ image: sample.image, map: normalizeMap(sm), height: H, width: W, scale })];
    const labels = [`${classNames[w.classIndex] ?? w.classIndex}`, `teacher ${w.method}`, `student cos ${w.cosine.toFixed(2)}`];
    const file = join(dir, `${w.method}-${r}-${w.imageId.replace(/[^\w.-]+/g, '_')}.png`);
    await writeFileAtomic(file, encodePng(composePanels(panels, { labels })));
    files.push(file);
  }
  return files;
}
