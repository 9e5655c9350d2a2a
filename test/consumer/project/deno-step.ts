/**
 * Run by Deno in the consumer project (`deno run -A deno-step.ts DATA_DIR`): four training
 * steps of MLP1 at batch 16 on Deno's WebGPU and on the CPU backend, then a prediction; prints
 * JSON with each backend's checkpoint hash and logits.
 */
import {
  createBackend,
  firstSamples,
  getPreset,
  loadFashionMnist,
  Model,
  normalizeSplit,
} from 'nitro-d';

declare const Deno: { args: string[] };

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(bytes)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

const preset = getPreset('mlp1');
const raw = await loadFashionMnist(Deno.args[0]);
const { split } = normalizeSplit(
  { train: firstSamples(raw.train, 64), test: firstSamples(raw.test, 4) },
  preset.protocol,
);
const results = [];
for (const kind of ['webgpu', 'cpu'] as const) {
  const backend = await createBackend(kind);
  const model = Model.create(backend, preset.spec, { seed: 7 });
  const initial = await sha256(await model.toCheckpoint());
  await model.trainOnBatches(split.train.images, split.train.labels, 4, 16);
  const trained = await sha256(await model.toCheckpoint());
  const { logits } = await model.predict(split.test.images, 4);
  results.push({
    kind: backend.kind,
    description: backend.description,
    initial,
    trained,
    logits: Array.from(logits),
  });
  model.dispose();
  backend.destroy();
}
console.log(JSON.stringify({ deno: results }));
