/**
 * `npm run bench`: training-step and forward times of the VGG presets at batch 16 on the chosen
 * backend, with the pure-JS cpu backend measured in the same run as the baseline (few steps: it
 * is slow); then maps/s of every attribution method and memory figures (peak RSS of an
 * `apc run --preset smoke` child — `--rss-preset quick` runs `npm start`'s job instead — and the
 * tensor count / RSS across epochs). Prints tables; `--json FILE`
 * also writes the figures.
 *
 * `--vs-torch` replaces the cpu comparison by PyTorch on the same CPU (vs_torch.ts): apc and
 * PyTorch (Debian's python3-torch in a child; `npm run bench:setup` installs it) alternate, and
 * the table gives medians and the apc/PyTorch ratio per row. `--profile` prints apc's per-kernel
 * times for each row. `--sgd-share` prints how much of a step the optimizer update takes.
 * `--skip-attribution`, `--skip-memory`, `--skip-presets` and `--skip-depthwise` drop sections.
 * `--quantized-latency` (opt-in) times load and per-image inference of float32 / float16 / uint8
 * TF.js exports of `--latency-models` in Node and in headless Chromium (`--chromium`), wasm and WebGL
 * (quantized_latency.ts).
 * `--skip-attribution`, `--skip-memory`, `--skip-presets` and `--skip-depthwise` drop sections. `--sweep` adds
 * the sweep-throughput section (sweep_throughput.ts: sequential, local pool, 1 and 2 BullMQ workers).
 * The depthwise section times a MobileNet block's depthwise train step (forward + input and filter
 * gradients, batch `--batch`, 32×32×96, 3×3, strides 1 and 2) against cpu, with the per-kernel split.
 */
import * as tf from '@tensorflow/tfjs-core';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { describeBackend, initBackend } from '../engine/backend.js';
import { registerKernelPack } from '../engine/kernels/register.js';
import { Rng } from '../engine/random.js';
import { GraphNet } from '../models/graph/graph_net.js';
import { type VggConfig, vggParamCount, vggPreset } from '../models/vgg_config.js';
import { kinds } from '../attribution/registry.js';
import { labelObjective, trainStep } from '../train/fit.js';
import { multiLabelSoftMargin } from '../train/losses.js';
import { SgdMomentum } from '../train/sgd.js';
import { depthwiseStepRows } from './depthwise.js';
import { quantizedLatency } from './quantized_latency.js';
import { sweepThroughput } from './sweep_throughput.js';
import { epochMemoryCheck, STUDY_RSS_PRESETS, type StudyRssPreset, studyRunRss } from './memory.js';
import { attributionThroughput, formatVsTorch, median, profileRows, runVsTorch, sgdShare, table } from './vs_torch.js';

interface Preset { name: string; config: VggConfig; cpu: boolean }

const PRESETS: Preset[] = [
  { name: 'vgg16s/8 @64 (student)', config: vggPreset({ arch: 'vgg16', width: 8, imageSize: 64, numClasses: 10 }), cpu: true },
  { name: 'vgg16s/4 @64 (shapes teacher)', config: vggPreset({ arch: 'vgg16', width: 4, imageSize: 64, numClasses: 10 }), cpu: true },
  { name: 'vgg16/8 @227 (paper student)', config: vggPreset({ arch: 'vgg16', width: 8, imageSize: 227, numClasses: 20 }), cpu: false },
];

async function timeOne(config: VggConfig, batch: number, steps: number, forwards: number): Promise<{ stepMs: number; forwardMs: number }> {
  const net = GraphNet.create(config, 0);
  const rng = new Rng(1);
  const [H, W] = config.inputSize;
  const x = tf.tensor4d(rng.uniformArray(batch * H * W * 3, -1, 1), [batch, H, W, 3]);
  const labels = new Float32Array(batch * config.numClasses);
  for (let i = 0; i < labels.length; i++) labels[i] = rng.next() < 0.15 ? 1 : 0;
  const y = tf.tensor2d(labels, [batch, config.numClasses]);
  const vars = net.trainableVariables();
  const opt = new SgdMomentum({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
  const objective = labelObjective(multiLabelSoftMargin);
  const batchObj = { x, y, indices: [] as number[] };
  await trainStep(net, objective, opt, vars, batchObj, rng); // warm-up (kernel compilation, allocation)
  const stepTimes: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await trainStep(net, objective, opt, vars, batchObj, rng);
    stepTimes.push(performance.now() - t0);
  }
  const fwdTimes: number[] = [];
  for (let i = 0; i <= forwards; i++) {
    const t0 = performance.now();
    const z = net.predict(x);
    await z.data();
    z.dispose();
    if (i > 0) fwdTimes.push(performance.now() - t0);
  }
  tf.dispose([x, y]); opt.dispose(); net.dispose();
  return { stepMs: median(stepTimes), forwardMs: median(fwdTimes) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    steps: { type: 'string', default: '10' }, 'cpu-steps': { type: 'string', default: '2' },
    batch: { type: 'string', default: '16' }, json: { type: 'string' }, 'vs-torch': { type: 'boolean', default: false },
    reps: { type: 'string', default: '7' }, 'torch-threads': { type: 'string', default: '2' },
    profile: { type: 'boolean', default: false }, 'sgd-share': { type: 'boolean', default: false },
    'skip-attribution': { type: 'boolean', default: false }, 'skip-memory': { type: 'boolean', default: false },
    'skip-presets': { type: 'boolean', default: false }, 'skip-depthwise': { type: 'boolean', default: false }, 'rss-preset': { type: 'string', default: 'smoke' },
    'quantized-latency': { type: 'boolean', default: false }, 'latency-models': { type: 'string', default: 'runs/default/teacher/best,runs/default/kd/best' },
    'latency-reps': { type: 'string', default: '10' }, 'latency-rounds': { type: 'string', default: '3' }, chromium: { type: 'string', default: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' },
    sweep: { type: 'boolean', default: false },
  } });
  const rssPreset = values['rss-preset'] as StudyRssPreset;
  if (!STUDY_RSS_PRESETS.includes(rssPreset)) throw new Error(`--rss-preset '${values['rss-preset']}': expected ${STUDY_RSS_PRESETS.join(' or ')}`);
  const steps = Number(values.steps), cpuSteps = Number(values['cpu-steps']), batch = Number(values.batch);
  const info = await initBackend();
  const report: Record<string, unknown> = { backend: info, batch };
  const log = (s: string) => console.log(s);
  if (values['vs-torch']) {
    const reps = Number(values.reps);
    console.log(`apc bench --vs-torch · backend ${describeBackend(info)} · batch ${batch} · apc and PyTorch alternate, medians of ${reps} rounds`);
    const r = await runVsTorch({ batch, reps, threads: Number(values['torch-threads']), log });
    for (const l of formatVsTorch(r)) console.log(l);
    console.log('ratio = apc time / PyTorch time (< 1: apc faster). The machine may be shared: compare ratios, not absolute ms.');
    report.vsTorch = r;
  } else if (!values['skip-presets']) {
    console.log(`apc bench · backend ${describeBackend(info)} · batch ${batch} · medians of ${steps} steps (${cpuSteps} on cpu)`);
    report.rows = await presetTable(info.name, batch, steps, cpuSteps);
  }
  if (!values['skip-depthwise']) {
    const rows = await depthwiseStepRows(info.name, batch, steps, cpuSteps);
    console.log(`\ndepthwise train step (depthwiseConv2d forward + dx + dW via tf.grads, 3×3 'same', medians of ${steps} steps, ${cpuSteps} on cpu; kernel split from one profiled step):`);
    const f = (v: number | undefined, d = 1) => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(d));
    for (const l of table(['step', `ms (${info.name})`, 'fwd ms', 'dx ms', 'dW ms', 'cpu ms', '×cpu'], rows.map((r) => [
      r.label, f(r.stepMs), f(r.fwdMs), f(r.dxMs), f(r.dwMs), f(r.cpuStepMs, 0), f(r.speedup)]))) console.log(l);
    report.depthwise = rows;
  }
  if (values.profile) {
    console.log('\napc per-kernel profile (one call after a warm-up; nested kernels count in their caller):');
    await profileRows(batch, log);
  }
  if (values['sgd-share']) {
    const rows = await sgdShare(batch, Number(values.steps));
    console.log(`\noptimizer update share of a step (SgdMomentum.step, batch ${batch}, medians of ${values.steps} steps):`);
    for (const l of table(['step', 'step ms', 'update ms', 'share', 'kernels / update'], rows.map((r) => [
      r.row, r.stepMs.toFixed(1), r.sgdMs.toFixed(2), `${((100 * r.sgdMs) / r.stepMs).toFixed(1)} %`, String(r.kernelCalls)]))) console.log(l);
    report.sgdShare = rows;
  }
  if (!values['skip-attribution']) {
    const list = kinds();
    const attrBatch = 8;
    const rows = await attributionThroughput(list, attrBatch, 3);
    console.log(`\nattribution maps/s (vgg16s/8 @64, batch ${attrBatch}, default configs, median of 3 after a warm-up):`);
    for (const l of table(['method', 'ms / batch', 'maps/s'], rows.map((a) => [a.kind, a.ms.toFixed(1), a.mapsPerSec.toFixed(1)]))) console.log(l);
    report.attribution = rows;
  }
  if (!values['skip-memory']) {
    const epochs = await epochMemoryCheck();
    console.log('\nmemory across epochs (fit, KD + WCAM, /16 student, 4 epochs of 64 images):');
    for (const l of table(['epoch', 'tensors', 'tensor MB', 'RSS MB'], epochs.rows.map((e) => [String(e.epoch + 1), String(e.tensors), e.tensorMb.toFixed(2), e.rssMb.toFixed(0)]))) console.log(l);
    console.log(`tensor count ${epochs.flat ? 'flat' : 'GROWS'} across epochs; RSS epoch 2→${epochs.rows.length}: ${epochs.rssGrowthMb >= 0 ? '+' : ''}${epochs.rssGrowthMb.toFixed(1)} MB`);
    const study = await studyRunRss(rssPreset);
    console.log(study.ok
      ? `apc run --preset ${rssPreset} (child${rssPreset === 'quick' ? ', = npm start' : ''}): ${study.seconds.toFixed(0)} s, peak RSS ${study.maxRssMb?.toFixed(0) ?? '?'} MB`
      : `apc run --preset ${rssPreset} (child) failed: ${study.note}`);
    report.memory = { epochs, study };
  }
  if (values['quantized-latency']) {
    // label = the checkpoint's run folder (runs/default/kd/best → kd)
    const models = Object.fromEntries(values['latency-models'].split(',').map((p) => [p.replace(/\/(best|last)\/?$/, '').split('/').pop() ?? p, p]));
    const reps = Number(values['latency-reps']);
    const rounds = Number(values['latency-rounds']);
    const { rows, notes } = await quantizedLatency({ models, reps, rounds, chromium: values.chromium });
    console.log(`\nTF.js export latency (load = tf.loadLayersModel, median of ${rounds} interleaved rounds; inference = 1 image, median of ${rounds}×${reps}):`);
    const kib = (b: number) => (b / 1024).toFixed(1);
    for (const l of table(['model', 'weights', 'KiB', 'gzip KiB', 'env', 'load ms', 'ms / image'], rows.map((r) => [
      r.model, r.storage, kib(r.sizes.weights), kib(r.sizes.weightsGzip), r.env, r.loadMs.toFixed(1), r.inferMs.toFixed(2)]))) console.log(l);
    for (const n of notes) console.log(n);
    report.quantizedLatency = { rows, notes, node: describeBackend(info) };
  }
  if (values.sweep) {
    console.log('\nsweep throughput (smoke grid: 2 seeds × KD ± WCAM = 12 stage jobs, apc children on one wasm thread each):');
    const rows = await sweepThroughput(log);
    const base = rows[0]?.jobsPerHour ?? NaN;
    for (const l of table(['executor', 'jobs', 's', 'jobs/hour', '× sequential'], rows.map((r) => [
      r.executor + (r.ok ? '' : ' (FAILED)'), String(r.jobs), r.seconds.toFixed(0), r.jobsPerHour.toFixed(0), (r.jobsPerHour / base).toFixed(2)]))) console.log(l);
    report.sweep = rows;
  }
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2));
}

async function presetTable(backendName: string, batch: number, steps: number, cpuSteps: number): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const p of PRESETS) {
    await tf.setBackend(backendName);
    const main = await timeOne(p.config, batch, steps, steps);
    let cpu: { stepMs: number; forwardMs: number } | undefined;
    if (p.cpu && backendName !== 'cpu') {
      await tf.setBackend('cpu');
      registerKernelPack('cpu');
      cpu = await timeOne(p.config, batch, cpuSteps, cpuSteps);
    }
    rows.push({ preset: p.name, params: vggParamCount(p.config), backend: backendName, trainStepMs: main.stepMs, forwardMs: main.forwardMs,
      cpuTrainStepMs: cpu?.stepMs, cpuForwardMs: cpu?.forwardMs,
      trainSpeedup: cpu ? cpu.stepMs / main.stepMs : undefined, forwardSpeedup: cpu ? cpu.forwardMs / main.forwardMs : undefined });
  }
  await tf.setBackend(backendName);
  const f = (v: unknown, d = 1) => (typeof v === 'number' ? v.toFixed(d) : 'n/a');
  const header = ['preset', 'params', `train step ms (${backendName})`, 'forward ms', 'cpu train ms', 'cpu fwd ms', 'train ×cpu', 'fwd ×cpu'];
  const lines = rows.map((r) => [r.preset, (r.params as number).toLocaleString('en-US'), f(r.trainStepMs), f(r.forwardMs), f(r.cpuTrainStepMs, 0), f(r.cpuForwardMs, 0), f(r.trainSpeedup), f(r.forwardSpeedup)].map(String));
  for (const l of table(header, lines)) console.log(l);
  console.log('×cpu = how many times faster than the pure-JS cpu backend measured in this run.');
  return rows;
}

try {
  await main();
} catch (err) {
  process.stderr.write(`apc bench: error: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.APC_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
}
