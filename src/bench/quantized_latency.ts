/**
 * Load time and per-image inference latency of TF.js exports (`apc export --format tfjs`, float32 /
 * float16 / uint8), in Node on the wasm backend and in headless Chromium on wasm and WebGL (what
 * the browser gives: headless Chromium often has only SwiftShader, a CPU WebGL). `npm run bench --
 * --quantized-latency [--latency-models DIR,…]` (opt-in section of bench/main.ts).
 *
 * Load = `tf.loadLayersModel` from the files (Node: disk, Chromium: HTTP from a local server)
 * until the model is built, i.e. reading, dequantising and uploading the weights. Inference =
 * `model.predict` of one image and reading its logits back; medians over interleaved rounds.
 * Quantisation changes the bytes on the wire, not the arithmetic: TF.js dequantises to float32 on
 * load, so inference times should agree across formats and load times carry the difference.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, extname, join, normalize } from 'node:path';
import { fileSystemIO } from '../models/checkpoint_io.js';
import { type ExportSizes, writeTfjsExport } from '../models/export/tfjs_export.js';
import type { WeightQuantization } from '../models/export/weight_quantization.js';
import { loadModel } from '../models/load_model.js';
import { median } from './vs_torch.js';

export type Storage = 'float32' | WeightQuantization;
export const STORAGES: readonly Storage[] = ['float32', 'float16', 'uint8'];

export interface LatencyRow {
  /** Model label (the checkpoint's folder name by default) and weight storage. */
  model: string;
  storage: Storage;
  /** 'node-wasm', 'chromium-wasm', 'chromium-webgl'. */
  env: string;
  loadMs: number;
  inferMs: number;
  sizes: ExportSizes;
}

export interface LatencyOptions {
  /** Models to export: label → checkpoint (or anything loadModel reads). */
  models: Record<string, string>;
  reps?: number;
  /**
   * Rounds over all targets (default 3): each round loads every target once and runs `reps`
   * inferences; the figures are medians over rounds (loads) and over all inferences, so load on a
   * shared machine hits every format alike. One untimed load of the first target warms up first.
   */
  rounds?: number;
  /** Chromium binary (none: Node only). */
  chromium?: string;
  log?: (s: string) => void;
}

const root = new URL('../..', import.meta.url).pathname;
const BUNDLES = [
  '@tensorflow/tfjs-core/dist/tf-core.min.js', '@tensorflow/tfjs-backend-cpu/dist/tf-backend-cpu.min.js',
  '@tensorflow/tfjs-backend-webgl/dist/tf-backend-webgl.min.js', '@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js',
  '@tensorflow/tfjs-layers/dist/tf-layers.min.js',
];

interface Target { model: string; storage: Storage; dir: string; sizes: ExportSizes; inputShape: number[] }

/** Exports every model in every storage into a temp folder, times them, removes the folder. */
export async function quantizedLatency(opts: LatencyOptions): Promise<{ rows: LatencyRow[]; notes: string[] }> {
  const reps = opts.reps ?? 20;
  const rounds = opts.rounds ?? 3;
  const tmp = mkdtempSync(join(tmpdir(), 'apc-latency-'));
  const notes: string[] = [];
  try {
    const targets: Target[] = [];
    for (const [label, path] of Object.entries(opts.models)) {
      const { net } = await loadModel(path);
      try {
        for (const storage of STORAGES) {
          const dir = join(tmp, `${label}-${storage}`);
          const sizes = await writeTfjsExport(net, dir, storage === 'float32' ? {} : { quantize: storage });
          targets.push({ model: label, storage, dir, sizes, inputShape: [1, ...net.inputSize, 3] });
        }
      } finally {
        net.dispose();
      }
    }
    const rows: LatencyRow[] = [];
    const node = await timeInNode(targets, reps, rounds);
    targets.forEach((t, i) => {
      rows.push({ model: t.model, storage: t.storage, env: `node-${tf.getBackend()}`, ...node[i], sizes: t.sizes });
      opts.log?.(`${t.model} ${t.storage} node-${tf.getBackend()}: load ${node[i].loadMs.toFixed(1)} ms · ${node[i].inferMs.toFixed(2)} ms/image`);
    });
    if (opts.chromium) {
      if (!existsSync(opts.chromium)) notes.push(`Chromium not found at ${opts.chromium} (apt-get install -y chromium): browser rows skipped`);
      else rows.push(...await timeInChromium(opts.chromium, targets, reps, rounds, notes, opts.log));
    }
    return { rows, notes };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function timeInNode(targets: Target[], reps: number, rounds: number): Promise<{ loadMs: number; inferMs: number }[]> {
  const loads = targets.map(() => [] as number[]);
  const infers = targets.map(() => [] as number[]);
  for (let round = -1; round < rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      if (round < 0 && i > 0) break; // warm-up: one untimed load and inference
      const t0 = performance.now();
      const model = await tfl.loadLayersModel(fileSystemIO(targets[i].dir));
      const loadMs = performance.now() - t0;
      const x = tf.randomUniform(targets[i].inputShape, -1, 1, 'float32', 1);
      for (let k = 0; k <= reps; k++) {
        const s = performance.now();
        const z = model.predict(x) as tf.Tensor;
        await z.data();
        z.dispose();
        if (k > 0 && round >= 0) infers[i].push(performance.now() - s);
      }
      x.dispose();
      model.dispose();
      if (round >= 0) loads[i].push(loadMs);
    }
  }
  return targets.map((_, i) => ({ loadMs: median(loads[i]), inferMs: median(infers[i]) }));
}

/** Serves `/nm/<path>` from node_modules and `/m/<i>/…` from target i's folder. */
function serve(targets: Target[]): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = '';
    if (path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><html><head><link rel="icon" href="data:,"></head><body>${BUNDLES.map((b) => `<script src="/nm/${b}"></script>`).join('')}</body></html>`);
      return;
    }
    if (path.startsWith('/nm/')) file = join(root, 'node_modules', normalize(path.slice(4)));
    const m = /^\/m\/(\d+)\/([^/]+)$/.exec(path);
    if (m && targets[Number(m[1])]) file = join(targets[Number(m[1])].dir, basename(m[2]));
    if (!file || !existsSync(file) || !statSync(file).isFile()) { res.writeHead(404); res.end(); return; }
    const ext = extname(file);
    const type = ext === '.js' ? 'text/javascript' : ext === '.json' ? 'application/json' : ext === '.wasm' ? 'application/wasm' : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    ok({ server, url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}` });
  }));
}

async function timeInChromium(chromiumPath: string, targets: Target[], reps: number, rounds: number, notes: string[], log?: (s: string) => void): Promise<LatencyRow[]> {
  const { chromium } = await import('playwright-core');
  const { server, url } = await serve(targets);
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--enable-unsafe-swiftshader', '--use-angle=swiftshader'] });
  const rows: LatencyRow[] = [];
  try {
    for (const backend of ['wasm', 'webgl']) {
      // a fresh page per backend: nothing cached between formats but the HTTP-less bundles
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(`${url}/index.html`, { waitUntil: 'load' });
      const r = await page.evaluate(async ({ base, backend, list, reps, rounds }) => {
        const t = (window as unknown as { tf: any }).tf; // eslint-disable-line @typescript-eslint/no-explicit-any
        if (backend === 'wasm') t.wasm.setWasmPaths(`${base}/nm/@tensorflow/tfjs-backend-wasm/dist/`);
        const ok = await t.setBackend(backend).catch(() => false);
        if (!ok) return { error: `tf.setBackend('${backend}') failed` };
        await t.ready();
        let renderer = '';
        if (backend === 'webgl') {
          const gl = document.createElement('canvas').getContext('webgl2') ?? document.createElement('canvas').getContext('webgl');
          const ext = gl?.getExtension('WEBGL_debug_renderer_info');
          renderer = gl ? String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER)) : 'no WebGL context';
        }
        const loads: number[][] = list.map(() => []);
        const infers: number[][] = list.map(() => []);
        for (let round = -1; round < rounds; round++) {
          for (let i = 0; i < list.length; i++) {
            if (round < 0 && i > 0) break; // warm-up: one untimed load and inference
            const t0 = performance.now();
            const model = await t.loadLayersModel(`${base}/m/${list[i].index}/model.json`);
            const loadMs = performance.now() - t0;
            const x = t.randomUniform(list[i].shape, -1, 1, 'float32', 1);
            for (let k = 0; k <= reps; k++) {
              const s = performance.now();
              const z = model.predict(x);
              await z.data();
              z.dispose();
              if (k > 0 && round >= 0) infers[i].push(performance.now() - s);
            }
            x.dispose();
            model.dispose();
            if (round >= 0) loads[i].push(loadMs);
          }
        }
        // medians, written inline: a named helper here would be wrapped by tsx's __name, unknown in the page
        const out = list.map((_, i) => {
          const l = [...loads[i]].sort((p, q) => p - q);
          const f = [...infers[i]].sort((p, q) => p - q);
          return { loadMs: l[Math.floor(l.length / 2)], inferMs: f[Math.floor(f.length / 2)] };
        });
        return { out, backend: t.getBackend(), renderer, simd: backend === 'wasm' ? await t.env().getAsync('WASM_HAS_SIMD_SUPPORT') : undefined,
          threads: backend === 'wasm' ? await t.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT') : undefined };
      }, { base: url, backend, list: targets.map((x, index) => ({ index, shape: x.inputShape })), reps, rounds });
      await page.close();
      if ('error' in r) { notes.push(`Chromium ${backend}: ${r.error}${problems.length ? ` (${problems.join('; ')})` : ''}`); continue; }
      notes.push(backend === 'webgl' ? `Chromium WebGL renderer: ${r.renderer}` : `Chromium wasm: SIMD ${r.simd ? 'on' : 'off'}, threads ${r.threads ? 'available' : 'off (page not cross-origin isolated)'}`);
      r.out.forEach((o, i) => {
        rows.push({ model: targets[i].model, storage: targets[i].storage, env: `chromium-${backend}`, ...o, sizes: targets[i].sizes });
        log?.(`${targets[i].model} ${targets[i].storage} chromium-${backend}: load ${o.loadMs.toFixed(1)} ms · ${o.inferMs.toFixed(2)} ms/image`);
      });
    }
  } finally {
    await browser.close();
    server.close();
  }
  return rows;
}
