/**
 * `apc viewer`: a static page that explains images with the given models in the browser.
 *
 * OUT/index.html   the page (markup and styles)
 * OUT/viewer.js    apc's own code bundled for the browser (viewer_bundle.ts), tf.js included
 * OUT/models.js    the models (config, class names, input normalisation, base64 weights)
 * OUT/wasm.js      tf.js's wasm binaries as data: URLs, loaded only for the wasm backend
 *
 * Scripts rather than fetched JSON/binaries: a page opened from disk (file://) may load scripts
 * but not fetch files, so the same folder works from disk and from any static host.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../engine/files.js';
import { openDataset } from '../data/registry.js';
import { netArtifacts } from '../models/checkpoint.js';
import { loadModel } from '../models/load_model.js';
import type { Normalization } from '../report/explain.js';
import { APC_VERSION } from '../version.js';
import { type EmbeddedModel, MODELS_GLOBAL } from './embedded_model.js';
import { bundleViewerPage } from './viewer_bundle.js';

export interface ViewerModelSource {
  /** Checkpoint directory or model file (anything `loadModel` takes). */
  readonly path: string;
  /** Column title. */
  readonly label: string;
}

export interface ViewerFiles {
  /** Bytes written per file name. */
  readonly bytes: Record<string, number>;
}

const WASM_BINARIES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm'] as const;

/**
 * The model as the page carries it. Normalisation and class names are resolved here as
 * `apc explain --image` resolves them: the checkpoint's own, else its dataset's.
 */
export async function embedModel(src: ViewerModelSource): Promise<EmbeddedModel & { inputSize: [number, number] }> {
  const { net, meta } = await loadModel(src.path);
  try {
    const [H] = net.inputSize;
    const dataset = () => openDataset(String(meta.dataset ?? 'shapes'), { imageSize: H }).info;
    const saved = meta.normalization as Normalization | undefined;
    const norm = saved ?? dataset();
    const classNames = meta.classNames ?? (meta.dataset !== undefined ? dataset().classNames : undefined)
      ?? Array.from({ length: net.numClasses }, (_, k) => `class ${k}`);
    if (classNames.length !== net.numClasses) {
      throw new Error(`${src.path} has ${net.numClasses} classes but its apc.json names ${classNames.length}`);
    }
    const artifacts = await netArtifacts(net);
    return {
      inputSize: net.inputSize,
      label: src.label,
      source: src.path,
      config: net.config,
      classNames: [...classNames],
      normalization: { mean: [...norm.mean], std: [...norm.std] },
      weightSpecs: artifacts.weightSpecs!,
      weights: Buffer.from(artifacts.weightData as ArrayBuffer).toString('base64'),
    };
  } finally {
    net.dispose();
  }
}

async function wasmScript(): Promise<string> {
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  const files: Record<string, string> = {};
  for (const name of WASM_BINARIES) files[name] = `data:application/wasm;base64,${(await readFile(join(dist, name))).toString('base64')}`;
  return `window.APC_VIEWER_WASM = ${JSON.stringify(files)};\n`;
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function indexHtml(models: readonly EmbeddedModel[]): string {
  const list = models.map((m) => `<li><b>${escapeHtml(m.label)}</b> — ${escapeHtml(m.source)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>apc viewer</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.2em; color: #222; }
body.dragging { outline: 4px dashed #4a7; outline-offset: -8px; }
header { display: flex; gap: 1.2em; align-items: center; flex-wrap: wrap; }
h1 { font-size: 1.3em; margin: 0; }
#notice { background: #fff3cd; border: 1px solid #e0c36b; padding: .4em .7em; margin: .6em 0; }
#status { color: #555; margin: .6em 0; }
#results { display: flex; gap: 1.2em; align-items: flex-start; overflow-x: auto; } /* models side by side, scrolling */
figure { margin: 0 0 .6em; } figcaption { font-size: .9em; color: #444; }
canvas { display: block; image-rendering: pixelated; }
section.model { border-left: 1px solid #ddd; padding-left: 1em; }
h2 { font-size: 1.05em; margin: 0 0 .3em; }
ol.top { list-style: none; padding: 0; margin: 0 0 .6em; width: 224px; }
ol.top li { display: grid; grid-template-columns: 6em 1fr 3.5em; gap: .4em; align-items: center; font-size: .9em; }
ol.top li.explained { font-weight: bold; }
.bar { background: #eee; height: .7em; } .bar span { display: block; height: 100%; background: #4a7; }
.p { text-align: right; font-variant-numeric: tabular-nums; }
.skipped { width: 224px; color: #777; font-size: .9em; }
footer { margin-top: 1.5em; color: #666; font-size: .85em; }
</style></head>
<body>
<header><h1>apc viewer</h1>
<label>Image: <input type="file" id="file" accept="image/png,image/jpeg"></label>
<label>Class: <select id="class"></select></label>
<span>or drop an image anywhere on the page</span></header>
<div id="notice" hidden></div>
<div id="status">loading the models …</div>
<div id="results"></div>
<footer>Predictions are per-class sigmoid probabilities; maps are scaled to [0, 1] per model. Backend: <code>?backend=wasm|webgl|cpu</code>.
Models: <ul>${list}</ul>apc ${APC_VERSION}</footer>
<script src="models.js"></script>
<script src="viewer.js"></script>
</body></html>
`;
}

/** Writes the viewer for `models` (the first is the reference, e.g. the original) into `outDir`. */
export async function writeViewer(models: readonly ViewerModelSource[], outDir: string): Promise<ViewerFiles> {
  if (models.length === 0) throw new Error('apc viewer: give at least one model (--models DIR…)');
  const embedded: EmbeddedModel[] = [];
  let size: string | undefined;
  for (const src of models) {
    const { inputSize: [h, w], ...m } = await embedModel(src);
    // the check `apc explain --compare` makes: one image and one class list for all columns
    const here = `${h}×${w} images with ${m.classNames.length} classes`;
    size ??= here;
    if (here !== size) throw new Error(`apc viewer: ${src.path} takes ${here}; ${models[0].path} takes ${size}`);
    embedded.push(m);
  }
  const files: Record<string, string> = {
    'index.html': indexHtml(embedded),
    'models.js': `window.${MODELS_GLOBAL} = ${JSON.stringify(embedded)};\n`,
    'viewer.js': await bundleViewerPage(),
    'wasm.js': await wasmScript(),
  };
  const bytes: Record<string, number> = {};
  for (const [name, text] of Object.entries(files)) {
    await writeFileAtomic(join(outDir, name), text);
    bytes[name] = Buffer.byteLength(text);
  }
  return { bytes };
}
