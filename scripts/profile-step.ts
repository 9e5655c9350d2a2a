/**
 * Wall time of every op call in one training step of a preset on the CPU backend, by op and
 * shape (medians over the steps), at a thread count: where a step's time goes, op by op.
 *
 *   npx vite-node scripts/profile-step.ts -- [preset] [batch] [steps] [--threads N]
 */
import { loadavg } from 'node:os';
import type { Ops, Tensor } from '../src/backend.ts';
import { CpuBackend } from '../src/cpu-backend.ts';
import { getPreset } from '../src/model/presets.ts';
import { Model } from '../src/model/model.ts';
import { planFromSpec } from '../src/model/plan.ts';
import { Rng } from '../src/rng.ts';

const argv = process.argv.slice(2).filter((a) => a !== '--');
const threadsAt = argv.indexOf('--threads');
const threads = threadsAt >= 0 ? Number(argv[threadsAt + 1]) : 1;
const rest = argv.filter((a, i) => !a.startsWith('--') && i !== threadsAt + 1);
const [presetName = 'mlp2', batchArg = '64', stepsArg = '1000'] = rest;
const B = Number(batchArg);
const steps = Number(stepsArg);
const preset = getPreset(presetName);
const plan = planFromSpec(preset.spec);

// Op calls in the order they run: the timing wrapper adds each call's time to timings[name].
const calls: { name: string; ms: number }[] = [];
const seen: Record<string, number> = {};
const timings = new Proxy(seen, {
  set(target, name: string, value: number) {
    calls.push({ name, ms: value - (target[name] ?? 0) });
    target[name] = value;
    return true;
  },
});
const backend = await CpuBackend.create({ timings, threads });
// The shapes of each recorded call, in order (recording runs the ops' wrappers once).
const shapes: string[] = [];
const inner = backend.ops;
const shapeOf = (p: Record<string, unknown>) =>
  Object.entries(p)
    .filter(([, v]) => v && typeof v === 'object' && 'shape' in (v as object))
    .map(([k, v]) => `${k}[${(v as Tensor).shape.join(',')}]`)
    .join(' ') + ((p as { sgd?: unknown }).sgd ? ' +sgd' : '');
(backend as unknown as { ops: Ops }).ops = new Proxy(inner, {
  get(target, name: string) {
    const f = (target as unknown as Record<string, (p: unknown) => void>)[name];
    return (p: Record<string, unknown>) => {
      shapes.push(`${name} ${shapeOf(p)}`);
      return f(p);
    };
  },
});
const rng = new Rng(7);
const model = Model.create(backend, preset.spec, { seed: 1 });
const sample = plan.input.reduce((a, b) => a * b, 1);
const xs = new Int32Array(steps * B * sample).map(() => rng.int(-127, 127));
const ys = new Int32Array(steps * B).map(() => rng.int(0, plan.classes - 1));
await model.trainOnBatches(xs.subarray(0, 20 * B * sample), ys.subarray(0, 20 * B), 20, B);
shapes.length = 0;
calls.length = 0;
const w0 = performance.now();
await model.trainOnBatches(xs, ys, steps, B);
const wall = performance.now() - w0;
const per = calls.length / steps;
const rows: { what: string; median: number; mean: number }[] = [];
for (let i = 0; i < per; i++) {
  const ms: number[] = [];
  for (let s = 0; s < steps; s++) ms.push(calls[s * per + i].ms);
  const mean = ms.reduce((a, b) => a + b, 0) / steps;
  ms.sort((a, b) => a - b);
  rows.push({
    what: shapes[shapes.length - per + i] ?? calls[i].name,
    median: ms[steps >> 1],
    mean,
  });
}
const total = rows.reduce((a, r) => a + r.mean, 0);
console.log(
  `${preset.name} batch ${B}, ${threads} thread(s), ${steps} steps, load ${loadavg()[0].toFixed(2)}: ${((wall / steps) * 1000).toFixed(0)} µs/step wall, ${Math.round((steps * B * 1000) / wall)} images/s; ops ${(total * 1000).toFixed(0)} µs`,
);
for (const r of rows)
  console.log(
    `${(r.median * 1000).toFixed(1).padStart(8)} µs median ${(r.mean * 1000).toFixed(1).padStart(8)} mean  ${r.what}`,
  );
backend.destroy();
