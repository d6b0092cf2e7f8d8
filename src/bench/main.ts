/**
 * `npm run bench`: training-step and forward times of the VGG presets at batch 16 on the chosen
 * backend, with the pure-JS cpu backend measured in the same run as the baseline (few steps: it
 * is slow). Prints a table; `--json FILE` also writes the figures.
 */
import * as tf from '@tensorflow/tfjs-core';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { describeBackend, initBackend } from '../engine/backend.js';
import { registerKernelPack } from '../engine/kernels/register.js';
import { Rng } from '../engine/random.js';
import { VggNet } from '../models/vgg.js';
import { type VggConfig, vggParamCount, vggPreset } from '../models/vgg_config.js';
import { labelObjective, trainStep } from '../train/fit.js';
import { multiLabelSoftMargin } from '../train/losses.js';
import { SgdMomentum } from '../train/sgd.js';

interface Preset { name: string; config: VggConfig; cpu: boolean }

const PRESETS: Preset[] = [
  { name: 'vgg16s/8 @64 (student)', config: vggPreset({ arch: 'vgg16', width: 8, imageSize: 64, numClasses: 10 }), cpu: true },
  { name: 'vgg16s/4 @64 (shapes teacher)', config: vggPreset({ arch: 'vgg16', width: 4, imageSize: 64, numClasses: 10 }), cpu: true },
  { name: 'vgg16/8 @227 (paper student)', config: vggPreset({ arch: 'vgg16', width: 8, imageSize: 227, numClasses: 20 }), cpu: false },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function timeOne(config: VggConfig, batch: number, steps: number, forwards: number): Promise<{ stepMs: number; forwardMs: number }> {
  const net = VggNet.create(config, 0);
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
  } });
  const steps = Number(values.steps), cpuSteps = Number(values['cpu-steps']), batch = Number(values.batch);
  const info = await initBackend();
  console.log(`apc bench · backend ${describeBackend(info)} · batch ${batch} · medians of ${steps} steps (${cpuSteps} on cpu)`);
  if (values['vs-torch']) console.log('note: --vs-torch (PyTorch side-by-side) is not implemented yet');
  const rows: Record<string, unknown>[] = [];
  for (const p of PRESETS) {
    await tf.setBackend(info.name);
    const main = await timeOne(p.config, batch, steps, steps);
    let cpu: { stepMs: number; forwardMs: number } | undefined;
    if (p.cpu && info.name !== 'cpu') {
      await tf.setBackend('cpu');
      registerKernelPack('cpu');
      cpu = await timeOne(p.config, batch, cpuSteps, cpuSteps);
    }
    rows.push({ preset: p.name, params: vggParamCount(p.config), backend: info.name, trainStepMs: main.stepMs, forwardMs: main.forwardMs,
      cpuTrainStepMs: cpu?.stepMs, cpuForwardMs: cpu?.forwardMs,
      trainSpeedup: cpu ? cpu.stepMs / main.stepMs : undefined, forwardSpeedup: cpu ? cpu.forwardMs / main.forwardMs : undefined });
  }
  await tf.setBackend(info.name);
  const f = (v: unknown, d = 1) => (typeof v === 'number' ? v.toFixed(d) : 'n/a');
  const header = ['preset', 'params', `train step ms (${info.name})`, 'forward ms', 'cpu train ms', 'cpu fwd ms', 'train ×cpu', 'fwd ×cpu'];
  const lines = rows.map((r) => [r.preset, (r.params as number).toLocaleString('en-US'), f(r.trainStepMs), f(r.forwardMs), f(r.cpuTrainStepMs, 0), f(r.cpuForwardMs, 0), f(r.trainSpeedup), f(r.forwardSpeedup)].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  console.log(fmt(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const l of lines) console.log(fmt(l));
  console.log('×cpu = how many times faster than the pure-JS cpu backend measured in this run.');
  if (values.json) writeFileSync(values.json, JSON.stringify({ backend: info, batch, rows }, null, 2));
}

await main();
