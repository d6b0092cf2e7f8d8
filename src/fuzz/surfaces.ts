/**
 * Every input surface the fuzz harness knows, by `--surface` name. Seeds are made in-process from
 * valid files apc itself writes (a tiny network saved as a checkpoint, exported to ONNX and TF.js,
 * a torchvision-named state dict, the VOC fixture tree, valid command lines).
 */
import type { FuzzSurface } from './surface.js';

/** Surface names in the order `npm run fuzz` runs them. */
export const SURFACES = [
  'model.json', 'apc.json', 'weights.bin', 'optimizer.bin',
  'onnx', 'safetensors', 'keras', 'npy',
  'jpeg', 'png', 'xml',
  'cli', 'sweep-grid',
] as const;

export type SurfaceName = (typeof SURFACES)[number];

/**
 * The surface called `name`. Imported lazily, so a worker loads only what its surface needs.
 *
 */
export async function surfaceByName(name: string): Promise<FuzzSurface> {
  switch (name as SurfaceName) {
    case 'model.json':
    case 'apc.json':
    case 'weights.bin':
    case 'optimizer.bin':
      return (await import('./surfaces/checkpoint_surface.js')).checkpointSurface(name as 'model.json');
    case 'onnx':
      return (await import('./surfaces/import_surfaces.js')).onnxSurface();
    case 'safetensors':
      return (await import('./surfaces/import_surfaces.js')).safetensorsSurface();
    case 'keras':
      return (await import('./surfaces/import_surfaces.js')).kerasSurface();
    case 'npy':
      return (await import('./surfaces/import_surfaces.js')).npySurface();
    case 'jpeg':
    case 'png':
    case 'xml':
      return (await import('./surfaces/voc_surface.js')).vocSurface(name as 'jpeg');
    case 'cli':
      return (await import('./surfaces/cli_surface.js')).cliSurface();
    case 'sweep-grid': {
      const [{ sweepGridSurface }, { loadSweepGrid }, { BadInputError }] = await Promise.all([
        import('./surfaces/sweep_grid_surface.js'), import('../sweep/grid.js'), import('../data/bad_input.js')]);
      const grids = [
        { preset: 'quick', datasets: ['shapes'], compressions: ['kd', 'structured'], matches: ['none', 'wcam'], betas: [0, 1, 10], seeds: '0-4' },
        { preset: 'smoke', datasets: ['shapes', 'mnist-multi'], archs: ['resnet18'], compressions: ['unstructured'], matches: ['ewa'], stochastic: [0, 0.5],
          rates: [0.2], seeds: [0, 1], attribution: ['gradcam', 'lrp'], trainLimit: 64, epochs: 1, testLimit: 16 },
      ];
      return sweepGridSurface((path) => loadSweepGrid({ file: path, flags: {} }), grids, (e) => e instanceof BadInputError);
    }
    default:
      if (name === 'selftest') return (await import('./surfaces/selftest_surface.js')).selftestSurface();
      throw new Error(`unknown fuzz surface '${name}'; known: ${SURFACES.join(', ')}`);
  }
}
