/**
 * `apc import`, `apc export` and `apc predict`: bringing a user's model in as a checkpoint,
 * writing a checkpoint out for TF.js or ONNX runtimes, and computing logits for scripts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { gzipSync } from 'node:zlib';
import { openDataset } from '../data/registry.js';
import { readNpy, writeNpy } from '../data/npy.js';
import { writeJsonFile } from '../engine/files.js';
import { saveNet } from '../models/checkpoint.js';
import { writeOnnx } from '../models/export/onnx_export.js';
import { writeTfjsExport } from '../models/export/tfjs_export.js';
import { WEIGHT_QUANTIZATIONS, type WeightQuantization } from '../models/export/weight_quantization.js';
import type { InputNormalization } from '../models/graph/graph_spec.js';
import { importedNet } from '../models/import/imported_model.js';
import { importModelFile, modelFileKind } from '../models/import/import_file.js';
import { datasetForModel, describeNormalization, modelNormalization, withNormalization } from '../models/input_normalization.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { IMAGENET_NORMALIZATION } from '../models/import/torchvision_templates.js';
import { loadModel } from '../models/load_model.js';
import { predictImage, resizeImage } from '../report/explain.js';
import { readImageFile } from '../report/image_file.js';
import { formatBytes } from '../report/html_report.js';

export interface ImportFlags {
  file: string;
  out: string;
  /** 'r,g,b' per-channel mean / std of [0, 1] pixels. */
  mean?: string;
  std?: string;
  bgr?: boolean;
  template?: string;
  width?: number;
  imageSize?: number;
  numClasses?: number;
  /** Dataset whose class names (and count) the model's outputs are. */
  data?: string;
  seed: number;
}

function triple(flag: string, v: string): number[] {
  const parts = v.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x))) throw new Error(`${flag} must be three numbers 'r,g,b', got '${v}'`);
  return parts;
}

export async function importCommand(f: ImportFlags): Promise<void> {
  const kind = modelFileKind(f.file);
  let normalization: InputNormalization | undefined;
  if (f.mean !== undefined || f.std !== undefined || f.bgr) {
    // what is not given keeps its default: a template's ImageNet statistics, else mean 0 / std 1
    const base = kind === 'safetensors' ? IMAGENET_NORMALIZATION : { mean: [0, 0, 0], std: [1, 1, 1] };
    const std = f.std === undefined ? [...base.std] : triple('--std', f.std);
    if (std.some((s) => s <= 0)) throw new Error(`--std values must be positive, got '${f.std}'`);
    normalization = { mean: f.mean === undefined ? [...base.mean] : triple('--mean', f.mean), std, channelOrder: f.bgr ? 'bgr' : 'rgb' };
  }
  const data = f.data ? openDataset(f.data, f.imageSize ? { imageSize: f.imageSize } : {}) : undefined;
  const numClasses = f.numClasses ?? data?.info.classNames.length;
  if (f.numClasses !== undefined && data && data.info.classNames.length !== f.numClasses) {
    throw new Error(`--num-classes ${f.numClasses} disagrees with ${data.info.name}'s ${data.info.classNames.length} classes`);
  }
  if (kind === 'safetensors' && !f.template) throw new Error(`${f.file}: a safetensors file needs --template (torchvision:vgg16_bn, torchvision:resnet18, torchvision:resnet34 or torchvision:mobilenet_v2)`);
  if (kind !== 'safetensors' && (f.template || f.width !== undefined)) throw new Error('--template and --width apply to .safetensors files only');
  if (kind === 'safetensors' && numClasses === undefined) throw new Error('the template\'s new head needs a class count: --num-classes K or --data NAME');
  const imported = await importModelFile(f.file, {
    normalization, template: f.template,
    templateOptions: kind === 'safetensors' ? { width: f.width, imageSize: f.imageSize ?? data?.info.height, numClasses: numClasses! } : undefined,
  });
  const net = importedNet(imported, kind === 'safetensors' ? { initSeed: f.seed } : {});
  try {
    if (numClasses !== undefined && net.numClasses !== numClasses) {
      throw new Error(`${f.file} has ${net.numClasses} outputs but ${f.numClasses !== undefined ? '--num-classes says' : `${data!.info.name} has`} ${numClasses} classes (output i must be class i)`);
    }
    for (const n of imported.notes) process.stderr.write(`import: ${n}\n`);
    await saveNet(f.out, net, {
      kind: 'imported', source: { file: f.file, format: kind, ...(f.template ? { template: f.template } : {}) }, importNotes: imported.notes,
      ...(data ? { dataset: data.info.name, classNames: data.info.classNames } : {}),
      provenance: { command: process.argv.slice(2).join(' '), importedAt: new Date().toISOString() },
    });
    process.stdout.write(`${f.file} → ${f.out} · ${net.config.kind} graph · ${net.graph.nodes.length} nodes · ${net.numClasses} outputs · ${net.inputSize.join('×')} input · ${describeNormalization(net)}\n`);
  } finally {
    net.dispose();
  }
}

export interface ExportFlags { model: string; format: string; out: string; quantize?: string }

export async function exportCommand(f: ExportFlags): Promise<void> {
  if (f.format !== 'tfjs' && f.format !== 'onnx') throw new Error(`--format must be tfjs or onnx, got '${f.format}'`);
  if (f.quantize !== undefined && !WEIGHT_QUANTIZATIONS.includes(f.quantize as WeightQuantization)) throw new Error(`--quantize must be ${WEIGHT_QUANTIZATIONS.join(' or ')}, got '${f.quantize}'`);
  if (f.quantize === 'uint8' && f.format === 'onnx') throw new Error('--quantize uint8 applies to --format tfjs only: ONNX\'s DequantizeLinear (integer zero point, float32 arithmetic) cannot hold TF.js\'s affine code exactly; use --quantize float16 for ONNX');
  const loaded = await loadModel(f.model);
  // a quantisation-aware-trained checkpoint ships as the uint8 model it was trained as
  const trainedAs = loaded.meta.quantization === 'uint8' ? 'uint8' : undefined;
  if (trainedAs && f.quantize !== undefined && f.quantize !== trainedAs) process.stderr.write(`export: ${f.model} was trained for uint8 (QAT); --quantize ${f.quantize} writes a model it was not trained as\n`);
  const quantize = (f.quantize ?? (f.format === 'tfjs' ? trainedAs : undefined)) as WeightQuantization | undefined;
  // a model trained on a dataset leaves with that dataset's statistics as its input metadata
  const saved = loaded.meta.normalization as { mean?: number[]; std?: number[] } | undefined;
  let net = loaded.net;
  if (!modelNormalization(net) && saved?.mean && saved.std) {
    net = GraphNet.fromWeights(withNormalization(net.config, { mean: [...saved.mean], std: [...saved.std], channelOrder: 'rgb' }), Object.fromEntries(net.weights));
    loaded.net.dispose();
  }
  try {
    if (f.format === 'onnx') {
      if (extname(f.out).toLowerCase() !== '.onnx') throw new Error(`--out must be a .onnx file for --format onnx, got '${f.out}'`);
      if (trainedAs) process.stderr.write(`export: ${f.model} was trained for uint8 (QAT); the ONNX file holds its dequantised weights${f.quantize === 'float16' ? ' rounded to float16' : ''}\n`);
      await writeOnnx(f.out, net, f.quantize === 'float16' ? 'float16' : 'float32');
      const size = (await stat(f.out)).size;
      process.stdout.write(`${f.model} → ${f.out} (ONNX opset 13, input 'input' [N, 3, ${net.inputSize.join(', ')}] NCHW, output 'logits' [N, ${net.numClasses}]${f.quantize === 'float16' ? '; float16 weights Cast to float32' : ''})\n`
        + `${formatBytes(size)} · gzip ${formatBytes(gzipSync(await readFile(f.out), { level: 9 }).byteLength)}\n`);
      return;
    }
    const sizes = await writeTfjsExport(net, f.out, { quantize });
    const stored = quantize ? `${quantize} weights (TF.js quantisation, dequantised on load)` : 'float32 weights';
    process.stdout.write(`${f.model} → ${f.out}/model.json + weights.bin (TF.js layers; tf.loadLayersModel, NHWC input [N, ${net.inputSize.join(', ')}, 3], logits [N, ${net.numClasses}]; ${stored})\n`
      + `weights.bin ${formatBytes(sizes.weights)} · gzip ${formatBytes(sizes.weightsGzip)} · model.json ${formatBytes(sizes.modelJson)}\n`);
  } finally {
    net.dispose();
  }
}

export interface PredictFlags { model: string; input?: string; layout: string; image?: string; data?: string; out: string }

export async function predictCommand(f: PredictFlags): Promise<void> {
  if ((f.input === undefined) === (f.image === undefined)) throw new Error('give either --input FILE.npy or --image FILE');
  if (f.layout !== 'nchw' && f.layout !== 'nhwc') throw new Error(`--layout must be nchw or nhwc, got '${f.layout}'`);
  const ext = extname(f.out).toLowerCase();
  if (ext !== '.npy' && ext !== '.json') throw new Error(`--out must be a .npy or .json file, got '${f.out}'`);
  const { net, meta } = await loadModel(f.model);
  try {
    const [H, W] = net.inputSize;
    let logits: Float32Array;
    let n: number;
    if (f.input) {
      // the network's input tensor as is (already normalised), e.g. what PyTorch was given
      const a = await readNpy(f.input);
      const want = f.layout === 'nchw' ? `[N, 3, ${H}, ${W}]` : `[N, ${H}, ${W}, 3]`;
      const s = a.shape;
      const ok = s.length === 4 && (f.layout === 'nchw' ? s[1] === 3 && s[2] === H && s[3] === W : s[1] === H && s[2] === W && s[3] === 3);
      if (!ok || !(a.data instanceof Float32Array)) throw new Error(`${f.input}: expected a float array ${want} (--layout ${f.layout}), got ${a.dtype} [${s}]`);
      n = s[0];
      logits = tf.tidy(() => {
        const t = tf.tensor4d(a.data as Float32Array, [s[0], s[1], s[2], s[3]]);
        return Float32Array.from(net.predict(f.layout === 'nchw' ? tf.transpose(t, [0, 2, 3, 1]) : t).dataSync());
      });
    } else {
      const img = await readImageFile(f.image!);
      const image = resizeImage(img.image, img.height, img.width, H, W);
      // a model without its own metadata is normalised with its dataset's statistics
      const norm = datasetForModel(openDataset(f.data ?? String(meta.dataset ?? 'shapes'), { imageSize: H }), net).info;
      logits = predictImage(net, image, norm).logits;
      n = 1;
    }
    const K = net.numClasses;
    if (ext === '.npy') await writeNpy(f.out, [n, K], logits);
    else {
      const rows = Array.from({ length: n }, (_, i) => Array.from(logits.subarray(i * K, (i + 1) * K)));
      await writeJsonFile(f.out, { model: f.model, classNames: meta.classNames ?? null, logits: rows });
    }
    process.stdout.write(`${n} × ${K} logits → ${f.out}\n`);
  } finally {
    net.dispose();
  }
}
