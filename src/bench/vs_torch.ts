/**
 * `npm run bench -- --vs-torch`: apc against the PyTorch reference implementation on the same
 * CPU, in one run. Both sides build the same VGG configs (the 4-block 64×64 layout, BN, dropout
 * 0.5, teacher width /8, student /16, batch 16) and time:
 *
 *   teacher step     fit's trainStep + labelObjective  | SGD step, BN train, dropout
 *   KD step          compressionObjective, no matching | KD loss, teacher under no_grad
 *   KD + WCAM step   compressionObjective, 'swa'       | reference style: full student backward
 *                                                       |   with create_graph=True, then the loss backward
 *                                                       | (and a lean variant: autograd.grad to F only)
 *   … teacher cache  the same with `teacherCache` (the  | reference style, as above
 *                    batch's samples are cached after
 *                    the warm-up round: epoch ≥ 2)
 *   Grad-CAM         GradCam attribution method        | hook + autograd.grad to relu4_3, upsample
 *   … layer-by-layer `layerwiseGradCam`, the unfused   | as above
 *                    path GradCam used before issue 8
 *   forward          GraphNet.predict (inference)        | eval(), no_grad
 *
 * apc and PyTorch calls alternate (PyTorch runs in a long-lived child, see torch_child.ts), the
 * first round is a warm-up, and each row reports medians, so both sides see the same contention.
 */
import * as tf from '@tensorflow/tfjs-core';
import { disposeAttribution } from '../attribution/attribution_method.js';
import { layerwiseGradCam } from '../attribution/grad_cam.js';
import { makeAttribution } from '../attribution/registry.js';
import { compressionObjective } from '../compress/objective.js';
import { profileKernels } from '../engine/kernels/register.js';
import { Rng } from '../engine/random.js';
import { parseMatchingConfig } from '../matching/matching_term.js';
import { GraphNet } from '../models/graph/graph_net.js';
import type { GraphSpec } from '../models/graph/graph_spec.js';
import { modelStats } from '../models/accounting.js';
import { type ModelConfig, archPreset } from '../models/model_config.js';
import { type VggConfig, vggPreset } from '../models/vgg_config.js';
import { labelObjective, type Objective, type TrainBatch, trainStep } from '../train/fit.js';
import { multiLabelSoftMargin } from '../train/losses.js';
import { SgdMomentum } from '../train/sgd.js';
import { type TorchInfo, TorchChild, type TorchRow } from './torch_child.js';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** An inference forward that ends with a host read (as PyTorch's side does). */
async function timedForward(net: GraphNet, x: tf.Tensor4D): Promise<void> {
  const z = net.predict(x);
  await z.data();
  z.dispose();
}

/** A fixed random batch: inputs U(−1, 1), labels positive with probability 0.15. */
function randomBatch(rng: Rng, batchSize: number, [H, W]: readonly number[], K: number): TrainBatch {
  const labels = new Float32Array(batchSize * K);
  for (let i = 0; i < labels.length; i++) labels[i] = rng.next() < 0.15 ? 1 : 0;
  const x = tf.tensor4d(rng.uniformArray(batchSize * H * W * 3, -1, 1), [batchSize, H, W, 3]);
  return { x, y: tf.tensor2d(labels, [batchSize, K]), indices: Array.from({ length: batchSize }, (_, i) => i) };
}

/** The benchmark workload: configs, fixed batch, networks and optimisers. Owns its tensors. */
export class Workload {
  readonly net: GraphNet;
  readonly teacher: GraphNet;
  readonly student: GraphNet;
  readonly batch: TrainBatch;
  readonly classes: number[];
  private readonly optNet = new SgdMomentum({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
  private readonly optStudent = new SgdMomentum({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
  private readonly netVars: tf.Variable[];
  private readonly studentVars: tf.Variable[];
  private readonly rng = new Rng(7);
  readonly objectives: { label: Objective; kd: Objective; kdWcam: Objective; kdWcamCached: Objective };

  constructor(readonly teacherConfig: VggConfig, readonly studentConfig: VggConfig, readonly batchSize: number) {
    this.net = GraphNet.create(teacherConfig, 0);
    this.teacher = GraphNet.create(teacherConfig, 1);
    this.student = GraphNet.create(studentConfig, 2);
    this.netVars = this.net.trainableVariables();
    this.studentVars = this.student.trainableVariables();
    const rng = new Rng(1);
    const K = teacherConfig.numClasses;
    this.batch = randomBatch(rng, batchSize, teacherConfig.inputSize, K);
    this.classes = Array.from({ length: batchSize }, () => rng.int(K));
    const kd = { alpha: 0.9, temperature: 4 };
    this.objectives = {
      label: labelObjective(multiLabelSoftMargin),
      kd: compressionObjective({ teacher: this.teacher, kd, matching: parseMatchingConfig({ kind: 'none', beta: 0 }) }),
      kdWcam: compressionObjective({ teacher: this.teacher, kd, matching: parseMatchingConfig({ kind: 'swa', beta: 1 }) }),
      kdWcamCached: compressionObjective({ teacher: this.teacher, kd, matching: parseMatchingConfig({ kind: 'swa', beta: 1 }), teacherCache: true }),
    };
  }

  /** The vs-torch presets: vgg16s/8 teacher and vgg16s/16 student at 64×64, 10 classes. */
  static standard(batch: number): Workload {
    return new Workload(
      vggPreset({ arch: 'vgg16', width: 8, imageSize: 64, numClasses: 10 }),
      vggPreset({ arch: 'vgg16', width: 16, imageSize: 64, numClasses: 10 }),
      batch);
  }

  async teacherStep(): Promise<void> {
    await trainStep(this.net, this.objectives.label, this.optNet, this.netVars, this.batch, this.rng);
  }

  async kdStep(wcam: boolean, teacherCache = false): Promise<void> {
    const objective = !wcam ? this.objectives.kd : teacherCache ? this.objectives.kdWcamCached : this.objectives.kdWcam;
    await trainStep(this.student, objective, this.optStudent, this.studentVars, this.batch, this.rng);
  }

  async attribution(kind: string, cfg: unknown = {}, net: GraphNet = this.net): Promise<void> {
    const r = makeAttribution(kind, cfg).attribute(net, this.batch.x, this.classes);
    await r.maps.data();
    disposeAttribution(r);
  }

  /** Grad-CAM by the previous unfused layer-by-layer path (the reference of the fused one). */
  async layerwiseGradCam(): Promise<void> {
    const r = layerwiseGradCam(this.net, this.batch.x, this.classes);
    await r.maps.data();
    disposeAttribution(r);
  }

  forward(): Promise<void> {
    return timedForward(this.net, this.batch.x);
  }

  dispose(): void {
    tf.dispose([this.batch.x, this.batch.y]);
    this.optNet.dispose();
    this.optStudent.dispose();
    this.net.dispose();
    this.teacher.dispose();
    this.student.dispose();
  }
}

interface RowSpec {
  key: string;
  label: string;
  torch: TorchRow;
  apc: (w: Workload) => Promise<void>;
  /** Rows reported as maps/s (per image of the batch) rather than ms. */
  perImage?: boolean;
  target?: string;
}

/**
 * The families' train-step rows: the same networks (apc's graph JSON rebuilt in PyTorch by
 * bench/torch_bench.py's GraphModule) at the `apc run --arch` quick-preset teacher sizes, 64×64,
 * 10 classes. PyTorch's parameter count is checked against apc's before timing.
 */
export const GRAPH_ROWS = [
  { key: 'resnet18', arch: 'resnet18', width: 8, label: 'ResNet-18/8 train step' },
  { key: 'mobilenetv2', arch: 'mobilenetv2', width: 4, label: 'MobileNetV2/4 train step' },
] as const;

/** One family network with its batch and optimiser, for the graph rows. */
export class GraphWorkload {
  readonly net: GraphNet;
  private readonly opt = new SgdMomentum({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
  private readonly vars: tf.Variable[];
  private readonly objective = labelObjective(multiLabelSoftMargin);
  private readonly rng = new Rng(7);
  readonly batch: TrainBatch;

  constructor(readonly config: ModelConfig, batchSize: number) {
    this.net = GraphNet.create(config, 0);
    this.vars = this.net.trainableVariables();
    this.batch = randomBatch(new Rng(1), batchSize, this.net.inputSize, this.net.numClasses);
  }

  /** apc's graph JSON and per-node shapes, for PyTorch's GraphModule. */
  torchSpec(): { spec: GraphSpec; shapes: Record<string, readonly number[]> } {
    const g = this.net.graph;
    return { spec: g.spec, shapes: Object.fromEntries([['input', g.inputShape], ...g.nodes.map((n) => [n.name, g.shape(n.name)])]) };
  }

  async step(): Promise<void> {
    await trainStep(this.net, this.objective, this.opt, this.vars, this.batch, this.rng);
  }

  forward(): Promise<void> {
    return timedForward(this.net, this.batch.x);
  }

  dispose(): void {
    tf.dispose([this.batch.x, this.batch.y]);
    this.opt.dispose();
    this.net.dispose();
  }
}

export const ROWS: readonly RowSpec[] = [
  { key: 'teacher', label: 'teacher train step (vgg16s/8)', torch: 'teacher_step', apc: (w) => w.teacherStep(), target: '≤ 1.0×' },
  { key: 'kd', label: 'KD step (/16 student, /8 teacher)', torch: 'kd_step', apc: (w) => w.kdStep(false) },
  { key: 'kdwcam', label: 'KD + WCAM step (torch: reference style)', torch: 'kdwcam_ref_step', apc: (w) => w.kdStep(true), target: '≤ 0.8×' },
  { key: 'kdwcamLean', label: 'KD + WCAM step (torch: autograd.grad to F)', torch: 'kdwcam_lean_step', apc: (w) => w.kdStep(true) },
  { key: 'kdwcamCached', label: 'KD + WCAM step, teacher cache (torch: reference style)', torch: 'kdwcam_ref_step', apc: (w) => w.kdStep(true, true) },
  { key: 'gradcam', label: 'Grad-CAM (vgg16s/8, maps/s)', torch: 'gradcam', apc: (w) => w.attribution('gradcam'), perImage: true, target: '≥ 1.0× maps/s' },
  { key: 'gradcamLayerwise', label: 'Grad-CAM, unfused layer-by-layer path (before)', torch: 'gradcam', apc: (w) => w.layerwiseGradCam(), perImage: true },
  { key: 'forward', label: 'forward, inference (vgg16s/8)', torch: 'forward', apc: (w) => w.forward() },
];

export interface VsTorchRow {
  key: string;
  label: string;
  apcMs: number;
  torchMs: number;
  /** apc time / PyTorch time (< 1 = apc faster). */
  ratio: number;
  apcMapsPerSec?: number;
  torchMapsPerSec?: number;
  target?: string;
  apcSamples: number[];
  torchSamples: number[];
}

export interface VsTorchResult {
  torch: TorchInfo;
  batch: number;
  reps: number;
  rows: VsTorchRow[];
  /** apc's KD + WCAM step over its plain KD step (target ≤ 1.25). */
  apcWcamOverKd: number;
  torchRefWcamOverKd: number;
  /** Medians of per-round ratios (same round, so same contention): new path / old path. */
  apcSpeedups: { teacherCacheKdWcam: number; fusedGradCam: number };
}

export async function runVsTorch(opts: { batch: number; reps: number; threads: number; log?: (s: string) => void }): Promise<VsTorchResult> {
  const log = opts.log ?? (() => {});
  const torch = TorchChild.start(); // first: fails fast, naming the fix, when torch is missing
  const w = Workload.standard(opts.batch);
  const graphs = GRAPH_ROWS.map((g) => ({ ...g, w: new GraphWorkload(archPreset({ arch: g.arch, width: g.width, imageSize: 64, numClasses: 10, dropout: 0 }), opts.batch) }));
  try {
    const info = await torch.init(w.teacherConfig, w.studentConfig, opts.batch, opts.threads);
    log(`PyTorch ${info.torch} (${info.python}, ${info.threads} threads, mkldnn ${info.mkldnn ? 'on' : 'off'})`);
    const torchParams = await torch.initGraphs(Object.fromEntries(graphs.map((g) => [g.key, g.w.torchSpec()])), opts.batch);
    for (const g of graphs) {
      const ours = modelStats(g.w.net).params;
      if (torchParams[g.key] !== ours) throw new Error(`--vs-torch: PyTorch's ${g.label} has ${torchParams[g.key]} parameters, apc's ${ours}`);
    }
    const rows: readonly RowSpec[] = [...ROWS, ...graphs.flatMap((g): RowSpec[] => [
      { key: `${g.key}Step`, label: `${g.label} (batch ${opts.batch})`, torch: `graph_step:${g.key}`, apc: () => g.w.step(), target: '≤ 2.0×' },
      { key: `${g.key}Forward`, label: `${g.label.replace('train step', 'forward')}`, torch: `graph_forward:${g.key}`, apc: () => g.w.forward() },
    ])];
    const apcT = new Map<string, number[]>();
    const torchT = new Map<string, number[]>();
    for (const r of rows) { apcT.set(r.key, []); torchT.set(r.key, []); }
    // Round 0 warms both sides up (kernel compilation, allocation, XNNPACK operator caches).
    for (let rep = 0; rep <= opts.reps; rep++) {
      for (const r of rows) {
        const t0 = performance.now();
        await r.apc(w);
        const a = performance.now() - t0;
        const [t] = await torch.run(r.torch, 1);
        if (rep > 0) { apcT.get(r.key)!.push(a); torchT.get(r.key)!.push(t); }
      }
      log(`  round ${rep}/${opts.reps}${rep === 0 ? ' (warm-up)' : ''} done`);
    }
    const results = rows.map((r): VsTorchRow => {
      const apcMs = median(apcT.get(r.key)!);
      const torchMs = median(torchT.get(r.key)!);
      return {
        key: r.key, label: r.label, apcMs, torchMs, ratio: apcMs / torchMs, target: r.target,
        apcMapsPerSec: r.perImage ? (1000 * opts.batch) / apcMs : undefined,
        torchMapsPerSec: r.perImage ? (1000 * opts.batch) / torchMs : undefined,
        apcSamples: apcT.get(r.key)!, torchSamples: torchT.get(r.key)!,
      };
    });
    const by = (k: string) => results.find((r) => r.key === k)!;
    return {
      torch: info, batch: opts.batch, reps: opts.reps, rows: results,
      apcWcamOverKd: median(pairRatios(apcT.get('kdwcam')!, apcT.get('kd')!)) || by('kdwcam').apcMs / by('kd').apcMs,
      torchRefWcamOverKd: by('kdwcam').torchMs / by('kd').torchMs,
      apcSpeedups: {
        teacherCacheKdWcam: median(pairRatios(apcT.get('kdwcamCached')!, apcT.get('kdwcam')!)),
        fusedGradCam: median(pairRatios(apcT.get('gradcam')!, apcT.get('gradcamLayerwise')!)),
      },
    };
  } finally {
    await torch.close();
    w.dispose();
    for (const g of graphs) g.w.dispose();
  }
}

function pairRatios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((v, i) => v / b[i]);
}

export function formatVsTorch(r: VsTorchResult): string[] {
  const f = (v: number | undefined, d = 1) => (v === undefined || !Number.isFinite(v) ? '' : v.toFixed(d));
  // (no '|' inside a cell: the table is Markdown)
  const header = ['row', 'apc ms', 'PyTorch ms', 'apc/PyTorch', 'apc maps/s', 'PyTorch maps/s', 'target'];
  const lines = r.rows.map((x) => [x.label, f(x.apcMs), f(x.torchMs), `${f(x.ratio, 2)}×`,
    x.apcMapsPerSec ? f(x.apcMapsPerSec, 0) : '', x.apcMapsPerSec ? f(x.torchMapsPerSec, 0) : '', x.target ?? '']);
  const out = table(header, lines);
  out.push(`apc KD+WCAM / KD step: ${f(r.apcWcamOverKd, 2)}× (target ≤ 1.25×); PyTorch reference-style KD+WCAM / KD: ${f(r.torchRefWcamOverKd, 2)}×`);
  out.push(`apc new / old path (median of per-round ratios): KD+WCAM with / without teacher cache ${f(r.apcSpeedups.teacherCacheKdWcam, 2)}×; Grad-CAM fused / layer-by-layer ${f(r.apcSpeedups.fusedGradCam, 2)}×`);
  return out;
}

export function table(header: string[], lines: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  return [fmt(header), '|' + widths.map((x) => '-'.repeat(x + 2)).join('|') + '|', ...lines.map(fmt)];
}

/** Per-kernel profile of one call of each apc row (after a warm-up call). */
export async function profileRows(batch: number, log: (s: string) => void, top = 12): Promise<void> {
  const w = Workload.standard(batch);
  try {
    for (const r of ROWS) {
      if (r.key === 'kdwcamLean') continue;
      await r.apc(w);
      // trainStep is async (it reads the loss); profile the synchronous part through a promise.
      let pending: Promise<void> | undefined;
      const p = await profileKernels(() => { pending = r.apc(w); });
      await pending;
      const total = p.kernels.reduce((s, k) => s + k.ms, 0);
      log(`${r.label}: wall ${p.wallMs.toFixed(1)} ms, kernels ${total.toFixed(1)} ms`);
      for (const k of p.kernels.slice(0, top)) log(`    ${k.kernel.padEnd(28)} ${k.ms.toFixed(1).padStart(7)} ms  ×${k.count}`);
    }
  } finally {
    w.dispose();
  }
}

export interface SgdShare {
  row: string;
  stepMs: number;
  /** Time inside `SgdMomentum.step` (wasm and cpu kernels run synchronously, so this is its cost). */
  sgdMs: number;
  /** Kernels one update launches. */
  kernelCalls: number;
}

/**
 * How much of a training step the optimizer update takes (issue 8: ~6 small kernels per variable).
 * Medians over `reps` steps after a warm-up; the update is timed by wrapping the optimizer's `step`.
 */
export async function sgdShare(batch: number, reps: number): Promise<SgdShare[]> {
  const w = Workload.standard(batch);
  const out: SgdShare[] = [];
  const original = SgdMomentum.prototype.step;
  let sgdMs = 0;
  let calls = 0;
  SgdMomentum.prototype.step = function (this: SgdMomentum, vars, grads) {
    const t0 = performance.now();
    const p = profileKernelCount(() => original.call(this, vars, grads));
    sgdMs += performance.now() - t0;
    calls = p;
  };
  try {
    for (const [row, f] of [['teacher train step (vgg16s/8)', () => w.teacherStep()], ['KD + WCAM step (/16 student)', () => w.kdStep(true)]] as const) {
      await f();
      const steps: number[] = [], sgd: number[] = [];
      for (let i = 0; i < reps; i++) {
        sgdMs = 0;
        const t0 = performance.now();
        await f();
        steps.push(performance.now() - t0);
        sgd.push(sgdMs);
      }
      out.push({ row, stepMs: median(steps), sgdMs: median(sgd), kernelCalls: calls });
    }
  } finally {
    SgdMomentum.prototype.step = original;
    w.dispose();
  }
  return out;
}

/** Number of kernels `f` launches through the engine (ops; nested kernels not counted). */
function profileKernelCount(f: () => void): number {
  let n = 0;
  const engine = tf.engine();
  const run = engine.runKernel.bind(engine);
  engine.runKernel = ((...args: Parameters<typeof engine.runKernel>) => { n++; return run(...args); }) as typeof engine.runKernel;
  try {
    f();
  } finally {
    engine.runKernel = run;
  }
  return n;
}

export interface AttributionThroughput {
  kind: string;
  batch: number;
  ms: number;
  mapsPerSec: number;
}

/** maps/s of every registered attribution method on the vgg16s/8 net (median of `reps` calls after a warm-up). */
export async function attributionThroughput(kinds: readonly string[], batch: number, reps: number): Promise<AttributionThroughput[]> {
  const w = Workload.standard(batch);
  const out: AttributionThroughput[] = [];
  try {
    for (const kind of kinds) {
      await w.attribution(kind);
      const ms: number[] = [];
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        await w.attribution(kind);
        ms.push(performance.now() - t0);
      }
      const m = median(ms);
      out.push({ kind, batch, ms: m, mapsPerSec: (1000 * batch) / m });
    }
  } finally {
    w.dispose();
  }
  return out;
}
