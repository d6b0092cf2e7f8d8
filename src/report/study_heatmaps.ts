/**
 * The heat-map pictures of a study, for the HTML report: a fixed, seeded set of test images, each
 * with one ground-truth class, explained by every model with every attribution method.
 *
 *   OUT/heatmaps/input/<i>.png                  the image with the class mask outlined
 *   OUT/heatmaps/<method>/<model>/<i>.png       the model's map for that class over the image
 *   OUT/heatmaps/manifest.json                  what was drawn (`HeatmapManifest`)
 *
 * Image choice: a seeded shuffle of the split; from its first `pool` images, those with a class
 * in the mask that the reference model (the teacher) predicts positive (z_c > 0, the evaluation
 * spec's rule) come first, new classes before repeated ones, then any image with a class in its
 * mask. The class of an image is the first such class. Same seed and data → same images.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { disposeAttribution } from '../attribution/attribution_method.js';
import { makeAttribution } from '../attribution/registry.js';
import type { Dataset, SplitName } from '../data/dataset.js';
import { Rng } from '../engine/random.js';
import { presentClasses } from '../eval/localization.js';
import { loadNet } from '../models/checkpoint.js';
import { writeJsonFile } from '../engine/files.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { hostBatch, toTensors } from '../train/batches.js';
import { createProgress } from '../train/progress.js';
import { DEFAULT_COLORMAP } from './colormap.js';
import { HEATMAP_DIR, heatmapFile, type HeatmapImage, type HeatmapManifest, MANIFEST_FILE, safeDirName } from './heatmap_manifest.js';
import { classOutline, encodePng, normalizeMap, renderOverlay } from './heatmap_image.js';

/** A model to draw: an in-memory net (the caller keeps ownership) or a checkpoint to load. */
export interface HeatmapModel {
  readonly name: string;
  readonly net?: GraphNet;
  /** Checkpoint directory, loaded (and disposed afterwards) when `net` is absent. */
  readonly checkpoint?: string;
}

export interface SaveStudyHeatmapsOptions {
  readonly data: Dataset;
  readonly split: SplitName;
  /** The reference model first (or named 'teacher'): it chooses the images' classes. */
  readonly models: readonly HeatmapModel[];
  readonly methods: readonly string[];
  /** Study directory; pictures go to OUT/heatmaps (replaced). */
  readonly outDir: string;
  /** Images drawn (default 8). */
  readonly count?: number;
  readonly seed: number;
  /** Images of the shuffled split considered (default 128). */
  readonly pool?: number;
  /** Integer upscale of the PNGs (default 2: 64×64 inputs → 128×128 pictures). */
  readonly scale?: number;
  /** Heat-map opacity over the image (default 0.5). */
  readonly alpha?: number;
  readonly colormap?: string;
  readonly batchSize?: number;
  readonly quiet?: boolean;
}

export interface ChosenImage { readonly index: number; readonly classIndex: number }

/**
 * The seeded choice of images and classes described in the module comment. `logitsOf(indices)`
 * returns the reference model's logits (row-major [n × K]) for split images.
 */
export function chooseHeatmapImages(
  data: Dataset, split: SplitName, count: number, seed: number,
  logitsOf: (indices: number[]) => Float32Array, pool = 128,
): ChosenImage[] {
  const n = data.size(split);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  Rng.derive(seed, 'heatmaps', split).shuffle(order);
  const candidates: { index: number; classes: number[] }[] = [];
  for (const index of order.subarray(0, Math.min(pool, n))) {
    const mask = data.get(split, index).mask;
    if (!mask) throw new Error(`dataset '${data.info.name}' split '${split}' has no masks: heat-map outlines need them`);
    const classes = presentClasses(mask);
    if (classes.length > 0) candidates.push({ index, classes });
  }
  const K = data.info.classNames.length;
  const z = candidates.length ? logitsOf(candidates.map((c) => c.index)) : new Float32Array(0);
  const positive = candidates.map((c, i) => c.classes.filter((k) => z[i * K + k] > 0));

  const chosen: ChosenImage[] = [];
  const taken = new Set<number>();
  const usedClasses = new Set<number>();
  const pass = (pick: (i: number) => number | undefined) => {
    for (let i = 0; i < candidates.length && chosen.length < count; i++) {
      if (taken.has(i)) continue;
      const k = pick(i);
      if (k === undefined) continue;
      taken.add(i); usedClasses.add(k);
      chosen.push({ index: candidates[i].index, classIndex: k });
    }
  };
  pass((i) => positive[i].find((k) => !usedClasses.has(k)));
  pass((i) => positive[i][0]);
  pass((i) => candidates[i].classes[0]);
  return chosen;
}

function logitsFn(net: GraphNet, data: Dataset, split: SplitName, batchSize: number): (indices: number[]) => Float32Array {
  return (indices) => {
    const K = data.info.classNames.length;
    const out = new Float32Array(indices.length * K);
    for (let s = 0; s < indices.length; s += batchSize) {
      const chunk = indices.slice(s, s + batchSize);
      const { x, y } = toTensors(data, hostBatch(data, split, chunk));
      const zt = net.predict(x);
      out.set(zt.dataSync(), s * K);
      tf.dispose([x, y, zt]);
    }
    return out;
  };
}

/** Draws every (method, model, image) picture and writes the manifest; returns it. */
export async function saveStudyHeatmaps(opts: SaveStudyHeatmapsOptions): Promise<HeatmapManifest> {
  const { data, split, methods, seed } = opts;
  const count = opts.count ?? 8;
  const scale = opts.scale ?? 2;
  const alpha = opts.alpha ?? 0.5;
  const colormap = opts.colormap ?? DEFAULT_COLORMAP;
  const batchSize = opts.batchSize ?? 16;
  if (!Number.isInteger(count) || count < 1) throw new Error(`saveStudyHeatmaps: count must be a positive integer, got ${count}`);
  if (opts.models.length === 0) throw new Error('saveStudyHeatmaps: no models');
  const names = opts.models.map((m) => m.name);
  const dirs = names.map(safeDirName);
  if (new Set(dirs).size !== dirs.length) throw new Error(`saveStudyHeatmaps: model names collide as directories: ${names.join(', ')}`);
  const attributions = methods.map((m) => makeAttribution(m)); // unknown methods fail before any work
  const root = join(opts.outDir, HEATMAP_DIR);

  const { height: H, width: W, classNames } = data.info;
  const nets: GraphNet[] = [];
  const loaded: GraphNet[] = [];
  // the input batches, uploaded once for every (method, model)
  const batches: { start: number; x: tf.Tensor4D; targets: number[] }[] = [];
  try {
    for (const m of opts.models) {
      if (m.net) nets.push(m.net);
      else if (m.checkpoint) { const { net } = await loadNet(m.checkpoint); nets.push(net); loaded.push(net); }
      else throw new Error(`saveStudyHeatmaps: model '${m.name}' has neither a net nor a checkpoint`);
    }
    await rm(root, { recursive: true, force: true });
    await mkdir(join(root, 'input'), { recursive: true });
    const ref = Math.max(0, names.indexOf('teacher'));
    const chosen = chooseHeatmapImages(data, split, count, seed, logitsFn(nets[ref], data, split, batchSize), opts.pool);
    if (chosen.length === 0) throw new Error(`saveStudyHeatmaps: no image of split '${split}' has a class in its mask`);
    const samples = chosen.map((c) => data.get(split, c.index));

    const images: HeatmapImage[] = [];
    for (let i = 0; i < chosen.length; i++) {
      const c = chosen[i];
      const outline = classOutline(samples[i].mask!, c.classIndex);
      const file = `input/${i}.png`;
      await writeFile(join(root, file), encodePng(renderOverlay({ image: samples[i].image, height: H, width: W, outline, scale })));
      images.push({ index: c.index, id: samples[i].id, classIndex: c.classIndex, className: classNames[c.classIndex] ?? String(c.classIndex), file });
    }

    const started = Date.now();
    const progress = createProgress({ label: 'heatmaps', total: methods.length * nets.length, quiet: opts.quiet });
    const logits: number[][] = nets.map(() => new Array<number>(chosen.length).fill(NaN));
    const flat: Record<string, boolean[]>[] = nets.map(() => ({}));
    for (let start = 0; start < chosen.length; start += batchSize) {
      const chunk = chosen.slice(start, start + batchSize);
      const { x, y } = toTensors(data, hostBatch(data, split, chunk.map((c) => c.index)));
      y.dispose();
      batches.push({ start, x, targets: chunk.map((c) => c.classIndex) });
    }
    let done = 0;
    for (const [mi, method] of methods.entries()) {
      for (let k = 0; k < nets.length; k++) {
        const dir = join(root, method, dirs[k]);
        flat[k][method] = new Array<boolean>(chosen.length).fill(false);
        await mkdir(dir, { recursive: true });
        for (const { start: s, x, targets } of batches) {
          const r = attributions[mi].attribute(nets[k], x, targets);
          const maps = r.maps.dataSync() as Float32Array;
          targets.forEach((_, j) => { logits[k][s + j] = r.targetLogit[j]; });
          disposeAttribution(r);
          for (let j = 0; j < targets.length; j++) {
            const map = normalizeMap(maps.subarray(j * H * W, (j + 1) * H * W));
            flat[k][method][s + j] = !map.some((v) => v > 0);
            const png = encodePng(renderOverlay({ image: samples[s + j].image, map, height: H, width: W, alpha, colormap, scale }));
            await writeFile(join(root, heatmapFile(method, dirs[k], s + j)), png);
          }
        }
        progress.update(++done, { method, model: names[k] });
      }
    }
    const files = chosen.length * (1 + methods.length * nets.length);
    progress.stop(`heatmaps: ${chosen.length} images × ${nets.length} models × ${methods.length} method${methods.length === 1 ? '' : 's'} · ${files} PNGs · ${((Date.now() - started) / 1000).toFixed(1)} s · ${root}`);

    const manifest: HeatmapManifest = {
      version: 1, dataset: data.info.name, split, seed, height: H * scale, width: W * scale, colormap, alpha, images,
      methods: [...methods], models: names.map((name, k) => ({ name, dir: dirs[k], logits: logits[k], flat: flat[k] })),
    };
    await writeJsonFile(join(root, MANIFEST_FILE), manifest);
    return manifest;
  } finally {
    for (const net of loaded) net.dispose();
    tf.dispose(batches.map((b) => b.x));
  }
}
