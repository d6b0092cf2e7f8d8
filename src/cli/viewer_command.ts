/**
 * `apc viewer --models DIR… --out DIR`: flag parsing only; the page is written by viewer/write_viewer.ts.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { writeViewer } from '../viewer/write_viewer.js';
import { checkpointLabel } from './explain_command.js';

export interface ViewerFlags {
  models: string[];
  out: string;
}

export async function viewerCommand(f: ViewerFlags): Promise<void> {
  // two models with the same short name (runs/a/kd/best, runs/b/kd/best) get their path instead
  const labels = f.models.map(checkpointLabel);
  const sources = f.models.map((path, i) => ({ path, label: labels.indexOf(labels[i]) === labels.lastIndexOf(labels[i]) ? labels[i] : path }));
  const { bytes } = await writeViewer(sources, f.out);
  const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  process.stdout.write(`viewer: ${Object.entries(bytes).map(([name, n]) => `${name} ${kb(n)}`).join(', ')}\n`);
  process.stdout.write(`open ${pathToFileURL(resolve(f.out, 'index.html')).href} (add ?backend=webgl or ?backend=cpu to change the backend; default wasm)\n`);
}

export function registerViewerCommand(program: Command): void {
  program.command('viewer')
    .description('write a static page (index.html + scripts, no server) that shows each model\'s prediction, Grad-CAM and LRP for an image, computed in the browser')
    .requiredOption('--models <models...>', 'checkpoint directories (or .onnx / model.json files); the first is the reference (e.g. the original), the others are shown beside it')
    .requiredOption('--out <dir>', 'directory to write index.html, viewer.js, models.js and wasm.js into')
    .action(async (opts: ViewerFlags) => {
      await viewerCommand(opts);
    });
}
