/**
 * The viewer page's script: apc's own modules (GraphNet, the attribution methods, the overlay
 * renderer) bundled for the browser by esbuild when `apc viewer` runs, so the page runs the code
 * `apc explain` runs, not a second implementation. esbuild resolves the `.js` import specifiers
 * of the TypeScript sources (under tsx) as well as the compiled `dist/` files.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

/** The page's entry module beside this file: `.ts` when run from source, `.js` from dist/. */
function entryPoint(): string {
  for (const ext of ['.ts', '.js']) {
    const path = fileURLToPath(new URL(`./page/viewer_page${ext}`, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`apc viewer: the page's source (viewer/page/viewer_page.ts or .js) is missing beside ${fileURLToPath(import.meta.url)}`);
}

/**
 * Node-only packages reached through modules the page imports but whose Node parts it never
 * calls (heatmap_image.ts's `encodePng` uses pngjs): replaced by a module that fails if called.
 */
const nodeOnly: Plugin = {
  name: 'apc-node-only',
  setup(b) {
    b.onResolve({ filter: /^pngjs$/ }, (args) => ({ path: args.path, namespace: 'apc-node-only' }));
    b.onLoad({ filter: /.*/, namespace: 'apc-node-only' }, (args) => ({
      contents: `export const PNG = new Proxy({}, { get() { throw new Error('${args.path} is not available in the browser'); } });`,
      loader: 'js',
    }));
  },
};

/** The minified IIFE bundle of the viewer page (tf.js core, cpu, wasm, webgl backends included). */
export async function bundleViewerPage(): Promise<string> {
  const result = await build({
    entryPoints: [entryPoint()],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    // apc's Node-side settings (APC_BPF_STRATEGY …) read process.env at load time: none in a page
    define: { 'process.env.NODE_ENV': '"production"', 'process.env': '{}' },
    plugins: [nodeOnly],
  });
  return result.outputFiles[0].text;
}
