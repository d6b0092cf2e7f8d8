/**
 * The record of a study's heat-map pictures (OUT/heatmaps/manifest.json) and where the pictures
 * live. Written by `study_heatmaps.ts`, read by `html_report.ts`; kept apart so the report can
 * read it without loading TensorFlow.js.
 */

export interface HeatmapImage {
  /** Index in the split. */
  readonly index: number;
  /** The sample's stable id. */
  readonly id: string;
  readonly classIndex: number;
  readonly className: string;
  /** Path of the input picture, relative to the manifest's directory. */
  readonly file: string;
}

export interface HeatmapManifestModel {
  readonly name: string;
  /** Directory name under each method (the name made file-system safe). */
  readonly dir: string;
  /** z_c of each image's class, in `images` order. */
  readonly logits: number[];
  /** Per method, in `images` order: true when the map is constant (nothing to show; drawn as 0). */
  readonly flat?: Record<string, boolean[]>;
}

/** OUT/heatmaps/manifest.json. Paths are relative to OUT/heatmaps. */
export interface HeatmapManifest {
  readonly version: 1;
  readonly dataset: string;
  readonly split: string;
  readonly seed: number;
  /** Picture size in pixels (input size × scale). */
  readonly height: number;
  readonly width: number;
  readonly colormap: string;
  readonly alpha: number;
  readonly images: HeatmapImage[];
  readonly methods: string[];
  readonly models: HeatmapManifestModel[];
}

export const HEATMAP_DIR = 'heatmaps';
export const MANIFEST_FILE = 'manifest.json';

/** Path of one heat-map picture relative to OUT/heatmaps. */
export function heatmapFile(method: string, modelDir: string, image: number): string {
  return `${method}/${modelDir}/${image}.png`;
}

/** A model name as a directory name: characters other than letters, digits, `.+-_` become `_`. */
export function safeDirName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9.+_-]/g, '_');
  return s === '' || s === '.' || s === '..' ? `_${s}` : s;
}
