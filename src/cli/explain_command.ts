/**
 * `apc explain`: one image's heat-maps as a PNG — [input with the class's mask outline]
 * [overlay of model 1] [overlay of each --compare model] — and one line per model on stdout.
 */
import { basename, dirname, extname, resolve } from 'node:path';
import type { Sample } from '../data/dataset.js';
import { makeAttribution } from '../attribution/registry.js';
import { openDataset } from '../data/registry.js';
import type { NetMeta } from '../models/checkpoint.js';
import { loadModel } from '../models/load_model.js';
import { writeFileAtomic } from '../engine/files.js';
import type { GraphNet } from '../models/graph/graph_net.js';
import { explainImage, type Normalization, resizeImage } from '../report/explain.js';
import { classOutline, composePanels, encodePng, normalizeMap, renderOverlay, type RgbaImage } from '../report/heatmap_image.js';
import { readImageFile } from '../report/image_file.js';

export interface ExplainFlags {
  model: string;
  image?: string;
  data?: string;
  split: string;
  index: number;
  method: string;
  /** Read-out node of Grad-CAM / EBP. */
  layer?: string;
  class?: string;
  compare?: string[];
  colormap: string;
  /** Integer upscale; default: the smallest that makes a panel ≥ 256 px. */
  scale?: number;
  alpha: number;
  out: string;
}

/**
 * Short name of a checkpoint for labels: `runs/x/kd+wcam/best` → `kd+wcam`; a pruning round's
 * `runs/x/unstructured/round-3/best` → `unstructured round-3` (the round alone would not say which run).
 */
export function checkpointLabel(dir: string): string {
  const abs = resolve(dir);
  const base = basename(abs);
  const stage = base === 'best' || base === 'last' ? dirname(abs) : abs;
  const name = basename(stage);
  return /^round-\d+$/.test(name) ? `${basename(dirname(stage))} ${name}` : name;
}

interface Loaded { dir: string; label: string; net: GraphNet; meta: Partial<NetMeta> }

export async function explainCommand(f: ExplainFlags): Promise<void> {
  if ((f.image === undefined) === (f.data === undefined)) {
    throw new Error(f.image ? 'give either --image or --data, not both' : 'give --image FILE or --data NAME [--split S --index N]');
  }
  if (extname(f.out).toLowerCase() !== '.png') throw new Error(`--out must be a .png file, got '${f.out}'`);
  if (!(f.alpha >= 0 && f.alpha <= 1)) throw new Error(`--alpha must be in [0, 1], got ${f.alpha}`);
  if (f.layer !== undefined && !['gradcam', 'ebp'].includes(f.method)) throw new Error(`--layer applies to gradcam and ebp (the layer their map is read at), not to ${f.method}`);
  // one method object for all models: the layer is a node name, checked against each graph when it runs
  const method = f.layer === undefined ? f.method : makeAttribution(f.method, { layer: f.layer });
  const models: Loaded[] = [];
  try {
    for (const dir of [f.model, ...(f.compare ?? [])]) {
      const { net, meta } = await loadModel(dir);
      models.push({ dir, label: checkpointLabel(dir), net, meta });
    }
    const first = models[0];
    const [H, W] = first.net.inputSize;
    for (const m of models.slice(1)) {
      const [h, w] = m.net.inputSize;
      if (h !== H || w !== W || m.net.numClasses !== first.net.numClasses) {
        throw new Error(`--compare ${m.dir} takes ${h}×${w} images with ${m.net.numClasses} classes; ${f.model} takes ${H}×${W} with ${first.net.numClasses}`);
      }
    }

    // the sample: a dataset image (with its mask) or a user's file resized to the input size
    let image: Float32Array;
    let sample: Sample | undefined;
    let norm: Normalization;
    let source: string;
    let classNames = first.meta.classNames;
    if (f.data !== undefined) {
      if (!['train', 'val', 'test'].includes(f.split)) throw new Error(`--split must be train, val or test, got '${f.split}'`);
      const split = f.split as 'train' | 'val' | 'test';
      const data = openDataset(f.data, { imageSize: H });
      const n = data.size(split);
      if (!(Number.isInteger(f.index) && f.index >= 0 && f.index < n)) throw new Error(`--index must be in [0, ${n}) for ${f.data} ${split}, got ${f.index}`);
      sample = data.get(split, f.index);
      image = sample.image;
      norm = data.info;
      classNames ??= data.info.classNames;
      source = sample.id;
    } else {
      const img = await readImageFile(f.image!);
      image = resizeImage(img.image, img.height, img.width, H, W);
      const saved = first.meta.normalization as Normalization | undefined;
      norm = saved ?? openDataset(String(first.meta.dataset ?? 'shapes'), { imageSize: H }).info;
      source = f.image!;
    }
    // an imported model names no classes: number them
    classNames ??= Array.from({ length: first.net.numClasses }, (_, k) => `class ${k}`);
    if (classNames.length !== first.net.numClasses) {
      throw new Error(`${f.model} has ${first.net.numClasses} classes but its apc.json names ${classNames?.length ?? 'none'}`);
    }

    let classIndex: number | undefined;
    if (f.class !== undefined) {
      classIndex = classNames.indexOf(f.class);
      if (classIndex < 0) throw new Error(`--class '${f.class}' is not a class of ${f.model}; classes: ${classNames.join(', ')}`);
    }

    const scale = f.scale ?? Math.max(1, Math.ceil(256 / Math.max(H, W)));
    const panels: RgbaImage[] = [];
    const labels: string[] = [];
    const lines: string[] = [];
    for (const m of models) {
      const e = explainImage(m.net, method, image, norm, classIndex);
      classIndex = e.classIndex; // the first model's top-1 is used for all
      panels.push(renderOverlay({ image, map: normalizeMap(e.map), height: H, width: W, alpha: f.alpha, colormap: f.colormap, scale }));
      const p = e.probabilities[e.classIndex];
      labels.push(`${m.label} p=${p.toFixed(2)}`);
      lines.push(`${m.label}: ${classNames[e.classIndex]} p=${p.toFixed(3)}${e.top1 === e.classIndex ? ' (top-1)' : ` (top-1: ${classNames[e.top1]})`}`);
    }
    const className = classNames[classIndex!];
    let outline: Uint8Array | undefined;
    let maskNote = '';
    if (sample?.mask) {
      outline = classOutline(sample.mask, classIndex!);
      if (!outline.includes(1)) maskNote = ` (no ${className} in this image's mask)`;
    }
    panels.unshift(renderOverlay({ image, height: H, width: W, outline, scale }));
    labels.unshift(className);
    await writeFileAtomic(f.out, encodePng(composePanels(panels, { labels })));
    process.stdout.write(`${source} · ${f.method} · class ${className}${maskNote}\n`);
    for (const line of lines) process.stdout.write(`${line} → ${f.out}\n`);
  } finally {
    for (const m of models) m.net.dispose();
  }
}
