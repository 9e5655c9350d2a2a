/**
 * Type-checked (not run) by the consumer test under moduleResolution bundler and node16, strict,
 * without skipLibCheck: the public API as a TypeScript user writes against it.
 */
import {
  type Backend,
  type Checkpoint,
  createBackend,
  type DataSplit,
  type EpochResult,
  getPreset,
  Model,
  type ModelSpec,
  type Ops,
  parseCheckpoint,
  parseModelSpec,
  planFromSpec,
  presetNames,
  type StepProgress,
  Trainer,
  type TrainerOptions,
  WebGPUUnavailableError,
} from 'nitro-d';

export async function trainOnce(split: DataSplit, kind: 'webgpu' | 'cpu'): Promise<number> {
  let backend: Backend;
  try {
    backend = await createBackend(kind);
  } catch (err) {
    if (err instanceof WebGPUUnavailableError) backend = await createBackend('cpu');
    else throw err;
  }
  const spec: ModelSpec = parseModelSpec(
    { ...getPreset('cnn-small').spec, hidden: [64] },
    'my model',
  );
  const model = Model.create(backend, spec, { seed: 1 });
  const options: TrainerOptions = {
    batch: 32,
    epochs: 1,
    seed: 1,
    onStep: (p: StepProgress) => void p,
    onEpoch: (r: EpochResult) => void r.test?.heads.map((h) => h.accuracyBp),
  };
  const trainer = new Trainer(model, split.train, split.test, options);
  await trainer.fit();
  const bytes: Uint8Array = await model.toCheckpoint({ note: 'consumer' });
  const names = planFromSpec(spec).parameters.map((p) => p.name);
  const checkpoint: Checkpoint = parseCheckpoint(bytes, planFromSpec(spec).parameters, 'x');
  const ops: Ops = backend.ops;
  void ops;
  const { logits, heads } = await model.predict(split.test.images.subarray(0, 3 * 28 * 28), 3);
  trainer.dispose();
  backend.destroy();
  return logits.length + heads.length + names.length + checkpoint.tensors.size;
}

export const presets: readonly string[] = presetNames;
