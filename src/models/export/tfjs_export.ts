/**
 * `apc export --format tfjs [--quantize float16|uint8]`: a network as a TF.js layers model
 * (`model.json` + `weights.bin`, loadable by `tf.loadLayersModel` in Node and in browsers), with
 * the weights optionally quantised the way tensorflowjs_converter stores them
 * (weight_quantization.ts), and the sizes a front end ships: raw and gzipped.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileSystemIO, MODEL_JSON, WEIGHTS_BIN } from '../checkpoint_io.js';
import type { GraphNet } from '../graph/graph_net.js';
import { toLayersModel } from '../layers_export.js';
import { quantizeWeightData, type WeightQuantization } from './weight_quantization.js';

export interface TfjsExportOptions {
  /** Weight storage: float32 (default, no quantisation), float16 or affine uint8 per tensor. */
  quantize?: WeightQuantization;
}

export interface ExportSizes {
  /** Bytes of model.json (topology + manifest). */
  modelJson: number;
  /** Bytes of weights.bin as written. */
  weights: number;
  /** Bytes of weights.bin gzipped (level 9), what a server sending Content-Encoding: gzip transfers. */
  weightsGzip: number;
}

/** Writes DIR/model.json + DIR/weights.bin (atomically, creating DIR) and returns their sizes. */
export async function writeTfjsExport(net: GraphNet, dir: string, opts: TfjsExportOptions = {}): Promise<ExportSizes> {
  const model = toLayersModel(net); // throws naming a node without an exact Keras form
  let artifacts: tf.io.ModelArtifacts | undefined;
  try {
    await model.save(tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
    }));
  } finally {
    model.dispose();
  }
  const a = artifacts!;
  const out = opts.quantize && a.weightSpecs && a.weightData
    ? { ...a, ...quantizeWeightData(a.weightSpecs, a.weightData, opts.quantize) }
    : a;
  await fileSystemIO(dir).save!(out);
  return exportSizes(dir);
}

/** Sizes of an export (or checkpoint) directory's model.json and weights.bin. */
export async function exportSizes(dir: string): Promise<ExportSizes> {
  const json = await readFile(join(dir, MODEL_JSON));
  const weights = await readFile(join(dir, WEIGHTS_BIN));
  return { modelJson: json.byteLength, weights: weights.byteLength, weightsGzip: gzipSync(weights, { level: 9 }).byteLength };
}
