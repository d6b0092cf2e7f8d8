/** `apc report`: (re)writes DIR/report.html from DIR/results.json and DIR/heatmaps/. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAttributionList } from '../attribution/registry.js';
import type { SplitName } from '../data/dataset.js';
import { openDataset } from '../data/registry.js';
import { loadNet } from '../models/checkpoint.js';
import { RESULTS_FILE, writeReport } from '../report/html_report.js';
import { finalRows, parseReportResults, type ReportResults, resultMethods } from '../report/report_data.js';
import { saveStudyHeatmaps } from '../report/study_heatmaps.js';
import { SWEEP_FILE, writeSweepReport } from '../report/sweep_report.js';

export interface ReportFlags {
  /** Study directory (the `--out` of `apc run`). */
  results: string;
  /** Embed the heat-map pictures as data URLs (one portable file). */
  inline: boolean;
  /** Redraw DIR/heatmaps from the rows' checkpoints first: true = the results' methods, or a list. */
  heatmaps?: boolean | string;
  seed?: number;
  quiet?: boolean;
}

/** Whether the command needs a TensorFlow.js backend (only to redraw heat-maps). */
export function reportNeedsBackend(f: ReportFlags): boolean {
  return f.heatmaps !== undefined && f.heatmaps !== false;
}

export async function reportCommand(f: ReportFlags): Promise<void> {
  // a sweep directory (apc sweep --out): the statistics report, error bars and the β trade-off
  if (f.results.endsWith('.json') || (!existsSync(join(f.results, RESULTS_FILE)) && existsSync(join(f.results, SWEEP_FILE)))) {
    process.stdout.write(`report: ${await writeSweepReport(f.results)}\n`);
    return;
  }
  if (reportNeedsBackend(f)) await redrawHeatmaps(f);
  const path = await writeReport(f.results, { inline: f.inline });
  process.stdout.write(`report: ${path}\n`);
}

/**
 * The split `apc run` drew its heat-maps on: the localisation split (VOC: Segmentation val), not
 * `results.split`, which is the prediction split; older results record only `split`.
 */
function heatmapSplit(results: ReportResults): SplitName {
  return (results.splits?.localization ?? results.split ?? 'test') as SplitName;
}

async function redrawHeatmaps(f: ReportFlags): Promise<void> {
  const path = join(f.results, RESULTS_FILE);
  const results = parseReportResults(JSON.parse(await readFile(path, 'utf8')), path);
  const rows = finalRows(results.models);
  const missing = rows.filter((r) => typeof r.checkpoint !== 'string').map((r) => r.name);
  if (missing.length) throw new Error(`--heatmaps: ${path} has no checkpoint for ${missing.join(', ')}`);
  const methods = typeof f.heatmaps === 'string' ? parseAttributionList(f.heatmaps) : resultMethods(rows);
  if (methods.length === 0) throw new Error(`--heatmaps: ${path} records no attribution method; name them, e.g. --heatmaps gradcam`);
  const first = await loadNet(rows[0].checkpoint!);
  try {
    const data = openDataset(results.dataset ?? String(first.meta.dataset ?? 'shapes'), { imageSize: first.net.inputSize[0] });
    await saveStudyHeatmaps({
      data, split: heatmapSplit(results), methods, outDir: f.results, seed: f.seed ?? results.seed ?? 0, quiet: f.quiet,
      models: rows.map((r, i) => ({ name: r.name, net: i === 0 ? first.net : undefined, checkpoint: r.checkpoint })),
    });
  } finally {
    first.net.dispose();
  }
}
