/**
 * The `apc viewer` page (bundled for the browser by viewer_bundle.ts): loads the models that
 * models.js embeds, takes an image (file input or drag and drop), and shows for each model its
 * prediction and its Grad-CAM and LRP maps, computed here by apc's own `explainImage` — the
 * function `apc explain` calls — on the backend `?backend=wasm|webgl|cpu` names (default wasm).
 *
 * Test hooks: `<body data-apc-ready="true">` once the models are loaded (`data-apc-backend` names
 * the backend that runs), `window.apcExplain(input, options)` explains an image and returns the raw
 * maps, and `window.apcViewer.last` holds the last explanation shown.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's browser entry registers no gradient functions; Grad-CAM on a residual graph needs them
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { unsupportedReason } from '../../attribution/registry.js';
import { registerKernelPack } from '../../engine/kernels/register.js';
import type { GraphNet } from '../../models/graph/graph_net.js';
import { explainImage, resizeImage } from '../../report/explain.js';
import { normalizeMap, renderOverlay, type RgbaImage } from '../../report/heatmap_image.js';
import { rgbaToUnitRgb } from '../../report/rgba_pixels.js';
import { type EmbeddedModel, embeddedNet, MODELS_GLOBAL } from '../embedded_model.js';

/** Methods shown, in column order. LRP is left out (with the reason) for graphs it cannot run on. */
const METHODS = [{ kind: 'gradcam', title: 'Grad-CAM' }, { kind: 'lrp', title: 'LRP' }] as const;
const BACKENDS = ['wasm', 'webgl', 'cpu'] as const;
/** Global the wasm script (wasm.js) assigns its binaries to, as data: URLs by file name. */
const WASM_GLOBAL = 'APC_VIEWER_WASM';
const TOP_CLASSES = 5;

interface Loaded { readonly model: EmbeddedModel; readonly net: GraphNet }

/** An image as the datasets hold it: H·W·3 in [0, 1], row-major. */
export interface PixelImage { readonly image: ArrayLike<number>; readonly height: number; readonly width: number }

export interface ExplainOptions {
  /** Class to explain in every model (default: the first model's top-1, as `apc explain`). */
  readonly classIndex?: number;
  /** Methods to compute (default both). */
  readonly methods?: readonly string[];
}

export interface ModelExplanation {
  readonly label: string;
  readonly probabilities: number[];
  readonly top1: number;
  /** Raw maps (H·W, not normalised) by method; a method that cannot run on the model is absent. */
  readonly maps: Record<string, number[]>;
  /** Why a method is absent. */
  readonly skipped: Record<string, string>;
}

export interface PageExplanation {
  readonly backend: string;
  readonly classIndex: number;
  readonly className: string;
  readonly height: number;
  readonly width: number;
  readonly models: ModelExplanation[];
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
let loaded: Loaded[] = [];
let lastInput: PixelImage | undefined;
let backendName = '';

function notice(text: string): void {
  const el = $('notice');
  el.textContent = el.textContent ? `${el.textContent} ${text}` : text;
  el.hidden = false;
}

/** Loads a classic script (works from file://, where fetch() of local files does not). */
function loadScript(src: string): Promise<void> {
  return new Promise((ok, fail) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = () => ok();
    s.onerror = () => fail(new Error(`could not load ${src}`));
    document.head.append(s);
  });
}

/** wasm: its binaries come inlined (wasm.js) so that file:// pages, which cannot fetch, load them too. */
async function prepareWasm(): Promise<void> {
  await loadScript('wasm.js');
  const files = (window as unknown as Record<string, Record<string, string>>)[WASM_GLOBAL];
  // threads need a cross-origin-isolated page (SharedArrayBuffer); a static page is not one
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setWasmPaths({ ...files, 'tfjs-backend-wasm-threaded-simd.wasm': files['tfjs-backend-wasm-simd.wasm'] });
}

/** Activates the requested backend; on failure cpu, with a visible notice saying why. */
async function startBackend(requested: string): Promise<string> {
  if (!(BACKENDS as readonly string[]).includes(requested)) {
    notice(`Unknown backend '${requested}' (use ${BACKENDS.join(', ')}); using cpu.`);
    requested = 'cpu';
  }
  try {
    if (requested === 'wasm') await prepareWasm();
    if (!(await tf.setBackend(requested))) throw new Error('it did not initialise');
    await tf.ready();
  } catch (err) {
    if (requested === 'cpu') throw err;
    notice(`The ${requested} backend is not available here (${(err as Error).message ?? err}); computing on cpu instead.`);
    await tf.setBackend('cpu');
    await tf.ready();
  }
  const name = tf.getBackend();
  registerKernelPack(name); // the kernels apc runs with in Node (wasm: correct 'same' padding, gradients)
  return name;
}

function toPixelImage(input: ImageData | PixelImage): PixelImage {
  if (!('data' in input)) return input;
  const { data, width, height } = input;
  return { image: rgbaToUnitRgb(data, width, height), height, width };
}

/** Every model's prediction and maps for one image, resized as `apc explain --image` resizes it. */
export function explain(input: ImageData | PixelImage, opts: ExplainOptions = {}): PageExplanation {
  if (loaded.length === 0) throw new Error('apc viewer: the models are not loaded yet');
  const px = toPixelImage(input);
  if (px.image.length !== px.height * px.width * 3) throw new Error(`apc viewer: image has ${px.image.length} values, expected ${px.height}×${px.width}×3`);
  const [H, W] = loaded[0].net.inputSize;
  const image = resizeImage(Float32Array.from(px.image), px.height, px.width, H, W);
  const methods = opts.methods ?? METHODS.map((m) => m.kind);
  let classIndex = opts.classIndex;
  const models: ModelExplanation[] = [];
  for (const { model, net } of loaded) {
    const maps: Record<string, number[]> = {};
    const skipped: Record<string, string> = {};
    let prediction: { probabilities: Float32Array; top1: number; classIndex: number } | undefined;
    for (const kind of methods) {
      const gap = unsupportedReason(kind, net);
      if (gap) { skipped[kind] = gap; continue; }
      try {
        const e = explainImage(net, kind, image, model.normalization, classIndex);
        classIndex = e.classIndex; // the first model's top-1 is used for all
        prediction = e;
        maps[kind] = Array.from(e.map);
      } catch (err) {
        skipped[kind] = (err as Error).message;
      }
    }
    if (!prediction) throw new Error(`apc viewer: ${model.label}: no method could run (${Object.values(skipped).join('; ')})`);
    models.push({ label: model.label, probabilities: Array.from(prediction.probabilities), top1: prediction.top1, maps, skipped });
  }
  const names = loaded[0].model.classNames;
  return { backend: backendName, classIndex: classIndex!, className: names[classIndex!], height: H, width: W, models };
}

function canvasOf(img: RgbaImage): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = img.width;
  c.height = img.height;
  c.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(img.rgba), img.width, img.height), 0, 0);
  return c;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

function barOf(p: number): HTMLSpanElement {
  const bar = el('span');
  bar.style.width = `${(100 * p).toFixed(1)}%`;
  return bar;
}

/** The grid: one row for the input and one column per model, each with its top classes and one overlay per method. */
function show(input: PixelImage, e: PageExplanation): void {
  const { height: H, width: W } = e;
  const image = resizeImage(Float32Array.from(input.image), input.height, input.width, H, W);
  const scale = Math.max(1, Math.ceil(224 / Math.max(H, W)));
  const names = loaded[0].model.classNames;
  const grid = $('results');
  grid.replaceChildren();
  grid.append(el('figure', { className: 'input' }, canvasOf(renderOverlay({ image, height: H, width: W, scale })),
    el('figcaption', {}, `input (${input.width}×${input.height} → ${W}×${H}), explaining `, el('b', {}, e.className))));
  for (const m of e.models) {
    const order = m.probabilities.map((p, k) => [p, k] as const).sort((a, b) => b[0] - a[0]).slice(0, TOP_CLASSES);
    const top = el('ol', { className: 'top' }, ...order.map(([p, k]) => el('li', { className: k === e.classIndex ? 'explained' : '' },
      el('span', { className: 'name' }, names[k]), el('span', { className: 'bar' }, barOf(p)),
      el('span', { className: 'p' }, p.toFixed(3)))));
    const panels = METHODS.map(({ kind, title }) => {
      const map = m.maps[kind];
      const body = map
        ? canvasOf(renderOverlay({ image, map: normalizeMap(Float32Array.from(map)), height: H, width: W, scale, alpha: 0.5 }))
        : el('p', { className: 'skipped' }, m.skipped[kind] ?? 'not computed');
      return el('figure', { className: 'map' }, body, el('figcaption', {}, title));
    });
    const column = el('section', { className: 'model' }, el('h2', {}, m.label), top, ...panels);
    column.dataset.model = m.label;
    grid.append(column);
  }
}

function run(input: PixelImage): void {
  lastInput = input;
  const sel = $<HTMLSelectElement>('class');
  const status = $('status');
  status.textContent = `computing on ${backendName} …`;
  // let the status paint before the (synchronous) computation
  setTimeout(() => {
    try {
      const t0 = performance.now();
      const e = explain(input, sel.value === '' ? {} : { classIndex: Number(sel.value) });
      (window as unknown as { apcViewer: { last: PageExplanation } }).apcViewer.last = e;
      show(input, e);
      status.textContent = `${backendName}: ${(performance.now() - t0).toFixed(0)} ms for ${e.models.length} models`;
    } catch (err) {
      status.textContent = `error: ${(err as Error).message}`;
    }
  }, 0);
}

/** Decodes an image file at its own size, without colour-space conversion (as pngjs/jpeg-js read it in Node). */
async function readFile(file: File): Promise<PixelImage> {
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const c = document.createElement('canvas');
  c.width = bitmap.width;
  c.height = bitmap.height;
  const ctx = c.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0);
  return toPixelImage(ctx.getImageData(0, 0, c.width, c.height));
}

async function takeFile(file: File | undefined): Promise<void> {
  if (!file) return;
  try {
    run(await readFile(file));
    $('status').dataset.file = file.name;
  } catch (err) {
    $('status').textContent = `${file.name}: not an image this browser can decode (${(err as Error).message})`;
  }
}

async function main(): Promise<void> {
  const embedded = (window as unknown as Record<string, EmbeddedModel[] | undefined>)[MODELS_GLOBAL];
  if (!embedded?.length) throw new Error('models.js did not define any model (it should sit beside index.html)');
  backendName = await startBackend(new URLSearchParams(location.search).get('backend') ?? 'wasm');
  document.body.dataset.apcBackend = backendName;
  loaded = embedded.map((model) => ({ model, net: embeddedNet(model) }));
  const [H, W] = loaded[0].net.inputSize;
  for (const { model, net } of loaded.slice(1)) {
    const [h, w] = net.inputSize;
    if (h !== H || w !== W || net.numClasses !== loaded[0].net.numClasses) {
      throw new Error(`${model.label} takes ${h}×${w} images with ${net.numClasses} classes; ${loaded[0].model.label} takes ${H}×${W} with ${loaded[0].net.numClasses}`);
    }
  }
  const sel = $<HTMLSelectElement>('class');
  sel.append(el('option', { value: '' }, `top-1 of ${loaded[0].model.label}`),
    ...loaded[0].model.classNames.map((n, k) => el('option', { value: String(k) }, n)));
  sel.onchange = () => { if (lastInput) run(lastInput); };
  const fileInput = $<HTMLInputElement>('file');
  fileInput.onchange = () => void takeFile(fileInput.files?.[0]);
  document.addEventListener('dragover', (ev) => { ev.preventDefault(); document.body.classList.add('dragging'); });
  document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  document.addEventListener('drop', (ev) => {
    ev.preventDefault();
    document.body.classList.remove('dragging');
    void takeFile(ev.dataTransfer?.files[0]);
  });
  $('status').textContent = `${loaded.length} models loaded (${loaded.map((l) => l.model.label).join(', ')}; ${W}×${H} input) on ${backendName}. Choose or drop an image.`;
  document.body.dataset.apcReady = 'true';
}

Object.assign(window, {
  apcViewer: { last: undefined },
  apcExplain: (input: ImageData | PixelImage, opts?: ExplainOptions) => explain(input, opts),
});
main().catch((err) => {
  $('status').textContent = `error: ${(err as Error).message}`;
  document.body.dataset.apcReady = 'error';
  console.error(err);
});
