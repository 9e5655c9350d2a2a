/**
 * One training step of a preset at a batch large enough that WebGPU splits ops over several
 * bindings, on WebGPU and on the CPU backend from the same weights and batch: every weight
 * after the step, the metrics and the output logits must match element by element.
 *
 *   npx vite-node scripts/split-check.ts -- [--preset vgg8b] [--batch 256] [--binding BYTES]
 *
 * --binding forces a lower maxStorageBufferBindingSize than the adapter's. Prints the split ops,
 * the seconds each backend took and the comparison; exits 1 on any difference.
 */
import { createBackend } from '../src/backends.ts';
import type { Backend } from '../src/backend.ts';
import { WebGPUBackend } from '../src/gpu/webgpu-backend.ts';
import { Model } from '../src/model/model.ts';
import { getPreset } from '../src/model/presets.ts';
import { Rng } from '../src/rng.ts';
import { formatSplits } from '../src/train/memory.ts';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const preset = flag('preset', 'vgg8b');
const batch = Number(flag('batch', '256'));
const binding = flag('binding', '');
const spec = getPreset(preset).spec;
const size = spec.input.reduce((a, b) => a * b, 1);
const rng = new Rng(42);
const x = Int32Array.from({ length: batch * size }, () => rng.int(-128, 127));
const y = Int32Array.from({ length: batch }, () => rng.int(0, spec.classes - 1));

async function step(backend: Backend) {
  const t0 = performance.now();
  const model = Model.create(backend, spec, { seed: 7 });
  const net = model.network(batch);
  backend.write(net.x, x);
  backend.write(net.y, y);
  backend.run(net.recordTrainOnBatch());
  const metrics = await backend.read(net.metrics);
  const logits = await backend.read(net.logits);
  const weights = await model.getWeights();
  const seconds = (performance.now() - t0) / 1000;
  model.dispose();
  return { weights, metrics, logits, seconds };
}

const gpu = await WebGPUBackend.create(
  binding ? { limits: { maxStorageBufferBindingSize: Number(binding) } } : {},
);
console.log(`${preset} at batch ${batch} on ${gpu.description}`);
console.log(`maxStorageBufferBindingSize ${gpu.limits.maxStorageBufferBindingSize}`);
const a = await step(gpu);
console.log(formatSplits(gpu.splitPlans()).join('\n') || '  no op split');
console.log(`webgpu: one step in ${a.seconds.toFixed(1)} s`);
gpu.destroy();
const cpu = await createBackend('cpu');
const b = await step(cpu);
console.log(`cpu: one step in ${b.seconds.toFixed(1)} s`);
let differ = 0;
const compare = (what: string, p: ArrayLike<number>, q: ArrayLike<number>) => {
  let bad = 0;
  for (let i = 0; i < q.length; i++) if (p[i] !== q[i]) bad++;
  if (bad || p.length !== q.length) {
    differ++;
    console.log(`  ${what}: ${bad} of ${q.length} elements differ`);
  }
};
let elements = 0;
for (const [name, w] of b.weights) {
  compare(name, a.weights.get(name)!, w);
  elements += w.length;
}
compare('metrics', a.metrics, b.metrics);
compare('output logits', a.logits, b.logits);
console.log(
  differ
    ? `${differ} tensors differ`
    : `identical: ${b.weights.size} weight tensors (${elements} elements), metrics, logits`,
);
process.exit(differ ? 1 : 0);
