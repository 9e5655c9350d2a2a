/**
 * Writes the format fixtures of this release: per model a spec (model.json), a checkpoint after a
 * few seeded training steps (checkpoint.safetensors, as Model.toCheckpoint writes it), prediction
 * inputs and the predictions of those weights (expected-predict.safetensors), under
 * test/fixtures/formats/v<CHECKPOINT_VERSION>/. test/formats.test.ts checks that later releases
 * still load them and predict the same bits. Run once per new format version, never over an
 * existing folder (the point of a fixture is that it was written by an earlier release):
 *
 *   npx vite-node scripts/make-format-fixtures.ts
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CpuBackend } from '../src/cpu-backend.ts';
import { serializeInputs } from '../src/io/batches.ts';
import { CHECKPOINT_VERSION } from '../src/io/formats.ts';
import { serializeSafetensors, type TensorToWrite } from '../src/io/safetensors.ts';
import { Model } from '../src/model/model.ts';
import { parseModelSpec } from '../src/model/spec.ts';
import { Rng } from '../src/rng.ts';

const MODELS: Record<string, Record<string, unknown>> = {
  mlp: {
    version: 1,
    input: [1, 6, 6],
    classes: 4,
    hidden: [16, 12],
    bias: true,
    negativeSlopeInv: 8,
    training: { lrInv: 64, lrAmp: 16, forwardDecayInv: 0, headDecayInv: 0 },
  },
  cnn: {
    input: [2, 8, 8],
    classes: 3,
    features: [{ conv: 4, kernel: 3, padding: 1 }, { pool: 2 }, { conv: 6, kernel: 3, padding: 1 }],
    hidden: [8],
    headDim: 32,
    training: { lrInv: 32, lrAmp: 8, forwardDecayInv: 0, headDecayInv: 0 },
  },
};
const STEPS = 3;
const BATCH = 4;
const PREDICT = 6;

const root = join('test', 'fixtures', 'formats', `v${CHECKPOINT_VERSION}`);
if (existsSync(root)) {
  console.error(`${root} exists: fixtures of a release are never rewritten`);
  process.exit(1);
}
const backend = await CpuBackend.create();
for (const [name, json] of Object.entries(MODELS)) {
  const spec = parseModelSpec(json, name);
  const size = spec.input.reduce((a, b) => a * b, 1);
  const rng = new Rng(2026);
  const x = Int32Array.from({ length: STEPS * BATCH * size }, () => rng.int(-128, 127));
  const y = Int32Array.from({ length: STEPS * BATCH }, () => rng.int(0, spec.classes - 1));
  const model = Model.create(backend, spec, { seed: 7 });
  await model.trainOnBatches(x, y, STEPS, BATCH);
  const input = Int32Array.from({ length: PREDICT * size }, () => rng.int(-128, 127));
  const { logits, heads } = await model.predict(input, PREDICT);
  const out = new Map<string, TensorToWrite>([
    ['logits', { shape: [PREDICT, spec.classes], data: logits }],
  ]);
  for (const [i, h] of heads.entries())
    out.set(`heads.${i}`, { shape: [PREDICT, spec.classes], data: h });
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(
    join(dir, 'checkpoint.safetensors'),
    await model.toCheckpoint({ steps: String(STEPS) }),
  );
  writeFileSync(
    join(dir, 'predict-input.safetensors'),
    serializeInputs({ count: PREDICT, shape: spec.input, x: input }),
  );
  writeFileSync(join(dir, 'expected-predict.safetensors'), serializeSafetensors(out));
  model.dispose();
  console.log(`wrote ${dir}`);
}
backend.destroy();
