/**
 * CPU backend timings: the GEMM-shaped ops at the shapes of a preset's training step, and
 * whole training steps on random batches.
 *
 *   npx vite-node scripts/bench-cpu.ts -- [preset] [batch] [steps] [--steps-only] [--threads N]
 *
 * Times are CPU time of this process (process.cpuUsage), which other processes competing for
 * the cores disturb far less than wall time; with --threads above 1, wall time. Op timings are medians over repeated calls; the
 * step rate is images per CPU second over `steps` steps (default mlp2, batch 64, 50 steps).
 */
import type { Tensor } from '../src/backend.ts';
import { CpuBackend } from '../src/cpu-backend.ts';
import { CpuWorkspace, roundUp } from '../src/cpu/gemm.ts';
import { getPreset } from '../src/model/presets.ts';
import { Model } from '../src/model/model.ts';
import { planFromSpec } from '../src/model/plan.ts';
import { Rng } from '../src/rng.ts';

const argv = process.argv.slice(2).filter((a) => a !== '--');
const threadsAt = argv.indexOf('--threads');
const threads = threadsAt >= 0 ? Number(argv[threadsAt + 1]) : 1;
const args = threadsAt >= 0 ? argv.filter((_, i) => i !== threadsAt + 1) : argv;
const stepsOnly = args.includes('--steps-only');
const [presetName = 'mlp2', batchArg = '64', stepsArg = '50'] = args.filter(
  (a) => !a.startsWith('--'),
);
const B = Number(batchArg);
const steps = Number(stepsArg);
const preset = getPreset(presetName);
const plan = planFromSpec(preset.spec);
const timings: Record<string, number> = {};
const backend = await CpuBackend.create({ timings, threads });
const rng = new Rng(7);

function filled(shape: number[], dtype: 'i8' | 'i32', lo: number, hi: number): Tensor {
  const t = backend.tensor(shape, dtype, `bench[${shape.join(',')}]`);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Int32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.int(lo, hi);
  backend.write(t, v);
  return t;
}

/** CPU milliseconds used by this process so far. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** The clock of op timings: CPU time on one thread; wall time with workers (their CPU time counts too). */
const clock = threads > 1 ? () => performance.now() : cpuMs;

function median(run: () => void, minMs = 300): number {
  const times: number[] = [];
  const start = clock();
  while (times.length < 5 || clock() - start < minMs) {
    const t0 = clock();
    run();
    times.push(clock() - t0);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

const ops = backend.ops;
const rows: string[] = [];
function report(what: string, macs: number, ms: number): void {
  rows.push(
    `${what.padEnd(44)} ${ms.toFixed(3).padStart(8)} ms  ${(macs / ms / 1e6).toFixed(2).padStart(6)} GMAC/s`,
  );
}

for (const b of plan.blocks) {
  if (stepsOnly) continue;
  if (b.kind === 'conv') {
    const [C, H, W] = b.inShape;
    const [F, Ho, Wo] = b.outShape;
    const k = b.kernel;
    const x = filled([B, C, H, W], 'i8', -127, 127);
    const w = filled([F, C, k, k], 'i32', -20000, 20000);
    const s = backend.tensor([B, F, Ho, Wo], 'i8', 's');
    const a = backend.tensor([B, F, Ho, Wo], 'i8', 'a');
    const macs = B * F * Ho * Wo * C * k * k;
    const shape = `${B}x${C}x${H}x${W} -> ${F} k${k}`;
    report(
      `conv2d ${shape}`,
      macs,
      median(() =>
        ops.conv2d({
          x,
          w,
          padding: b.padding,
          out: s,
          epilogue: { scale: 1000, relu: { out: a, slopeInv: 4 } },
        }),
      ),
    );
    const delta = filled([B, F, Ho, Wo], 'i32', -100000, 100000);
    const dW = backend.tensor([F, C, k, k], 'i32', 'dW');
    report(
      `conv2dWeightGrad ${shape}`,
      macs,
      median(() => ops.conv2dWeightGrad({ delta, x, padding: b.padding, out: dW })),
    );
    continue;
  }
  const K = b.inFeatures;
  const O = b.outFeatures;
  const x = filled([B, K], 'i8', -127, 127);
  const w = filled([O, K], 'i32', -20000, 20000);
  const bias = filled([O], 'i32', -1000, 1000);
  const s = backend.tensor([B, O], 'i8', 's');
  const a = backend.tensor([B, O], 'i8', 'a');
  report(
    `linear ${B}x${K} -> ${O}`,
    B * K * O,
    median(() =>
      ops.linear({ x, w, bias, out: s, epilogue: { scale: 1000, relu: { out: a, slopeInv: 4 } } }),
    ),
  );
  const g = filled([B, O], 'i32', -100000, 100000);
  const dW = backend.tensor([O, K], 'i32', 'dW');
  report(
    `linearWeightGrad g i32 [${B},${O}] x [${B},${K}]`,
    B * K * O,
    median(() => ops.linearWeightGrad({ g, x, out: dW })),
  );
  const C = plan.classes;
  const hx = filled([B, O], 'i8', -127, 127);
  const hg = filled([B, C], 'i8', -127, 127);
  const P = filled([C, O], 'i32', -20000, 20000);
  const hd = backend.tensor([B, O], 'i32', 'hd');
  report(
    `linearInputGrad g i8 [${B},${C}] w [${C},${O}]`,
    B * C * O,
    median(() => ops.linearInputGrad({ g: hg, w: P, out: hd })),
  );
  const dP = backend.tensor([C, O], 'i32', 'dP');
  report(
    `linearWeightGrad g i8 [${B},${C}] x [${B},${O}]`,
    B * C * O,
    median(() => ops.linearWeightGrad({ g: hg, x: hx, out: dP })),
  );
}
if (!stepsOnly) {
  // The forward kernel alone (operands in place), at the shape of the largest forward layer.
  const first = plan.blocks[0];
  const K = first.kind === 'linear' ? first.inFeatures : 784;
  const O = first.kind === 'linear' ? first.outFeatures : 200;
  const K8 = roundUp(K, 8);
  const O4 = roundUp(O, 4);
  const { ws, at } = backend.workspace.reserve([B * K8, 2 * O4 * K8, 4 * B * O4]);
  const [xAt, lo, zAt] = at;
  for (let i = 0; i < B * K8; i++) ws.i8[xAt + i] = rng.int(-127, 127);
  for (let i = 0; i < O4 * K8; i++) ws.i16[(lo >> 1) + i] = rng.int(-30000, 30000);
  const dot = () => ws.k.dot4(xAt, K8, 1, 0, lo, zAt, 4 * O4, 0, B, O4 / 4, K8 / 8, 0, 0);
  report(
    `${backend.workspace.kernel()} dot4 kernel alone ${B}x${K} · ${K}x${O}`,
    B * K * O,
    median(dot),
  );
}
if (rows.length) console.log(rows.join('\n'));

const model = Model.create(backend, preset.spec, { seed: 1 });
const sample = plan.input.reduce((a, b) => a * b, 1);
const xs = new Int32Array(steps * B * sample);
for (let i = 0; i < xs.length; i++) xs[i] = rng.int(-127, 127);
const ys = new Int32Array(steps * B);
for (let i = 0; i < ys.length; i++) ys[i] = rng.int(0, plan.classes - 1);
await model.trainOnBatches(xs.subarray(0, 2 * B * sample), ys.subarray(0, 2 * B), 2, B);
for (const k of Object.keys(timings)) delete timings[k];
// Wall time inside the ops' thread-split parts: the share of the step that more threads divide.
let splitMs = 0;
const parallel = CpuWorkspace.prototype.parallel;
CpuWorkspace.prototype.parallel = function (this: CpuWorkspace, ...args) {
  const p0 = performance.now();
  parallel.apply(this, args);
  splitMs += performance.now() - p0;
};
const t0 = cpuMs();
const w0 = performance.now();
await model.trainOnBatches(xs, ys, steps, B);
const ms = cpuMs() - t0;
const wall = performance.now() - w0;
const opTotal = Object.values(timings).reduce((a, b) => a + b, 0);
for (const [name, t] of Object.entries(timings).sort((a, b) => b[1] - a[1])) {
  console.log(
    `  ${name.padEnd(20)} ${(t / steps).toFixed(3).padStart(7)} ms/step (wall)  ${((100 * t) / opTotal).toFixed(1).padStart(5)}%`,
  );
}
console.log(
  `${preset.name} training step, batch ${B}: ${(ms / steps).toFixed(2)} CPU ms/step, ${Math.round((steps * B * 1000) / ms)} images per CPU second (wall: ${Math.round((steps * B * 1000) / wall)} images/s)`,
);
const share = splitMs / wall;
console.log(
  `split over threads: ${(100 * share).toFixed(1)}% of the step's wall time at ${threads} thread(s)${threads === 1 ? `; Amdahl's bound at 2 threads ${(1 / (1 - share + share / 2)).toFixed(2)}x` : ''}`,
);
