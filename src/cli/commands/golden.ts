/**
 * `nitro-d step` and `nitro-d predict` (docs/contract.md §4): run pre-made batches or inputs through
 * a model and write safetensors. Both backends write the same bytes.
 */
import { parseBatches, parseInputs } from '../../io/batches.ts';
import { parseCheckpoint } from '../../io/checkpoint.ts';
import { readJsonFile, readSafetensorsFile, writeFileAtomic } from '../../io/files.ts';
import { serializeSafetensors, type TensorToWrite } from '../../io/safetensors.ts';
import { Model } from '../../model/model.ts';
import { type ModelSpec, parseModelSpec } from '../../model/spec.ts';
import { WebGPUBackend } from '../../gpu/webgpu-backend.ts';
import { checkCapacity, datasetBytes } from '../../train/capacity.ts';
import { checkFits } from '../../train/memory.ts';
import { planFromSpec } from '../../model/plan.ts';
import { BACKEND_FLAG, BACKEND_HELP, parseFlags, requireString } from '../args.ts';
import { capacityFor, MEMORY_FLAG, MEMORY_HELP } from '../memory-limit.ts';
import { openBackend } from '../open-backend.ts';

export const STEP_FLAGS = {
  model: { type: 'string' },
  weights: { type: 'string' },
  batches: { type: 'string' },
  out: { type: 'string' },
  ...BACKEND_FLAG,
  ...MEMORY_FLAG,
} as const;

export const STEP_HELP = `run training steps on pre-made batches and write the weights after them
  --model M.json         the model spec
  --weights W            the starting weights (safetensors)
  --batches B            the batches (safetensors: x, y)
  --out OUT              where the weights after the steps go (safetensors)
${BACKEND_HELP}
${MEMORY_HELP}`;

export const PREDICT_FLAGS = {
  model: { type: 'string' },
  weights: { type: 'string' },
  input: { type: 'string' },
  out: { type: 'string' },
  ...BACKEND_FLAG,
  ...MEMORY_FLAG,
} as const;

export const PREDICT_HELP = `predict inputs: write the logits and every head's scores
  --model M.json         the model spec
  --weights W            the weights (safetensors)
  --input X              the inputs (safetensors: x)
  --out P                where logits and heads.N go (safetensors)
${BACKEND_HELP}
${MEMORY_HELP}`;

export function loadSpec(file: string): ModelSpec {
  return parseModelSpec(readJsonFile(file, `model spec ${file}`), file);
}

/** Spec and checkpoint, read and checked before any backend exists. */
function loadModelFiles(flags: Record<string, unknown>, command: string) {
  const spec = loadSpec(requireString(command, flags, 'model'));
  const plan = planFromSpec(spec);
  const weightsFile = requireString(command, flags, 'weights');
  const ckpt = parseCheckpoint(
    readSafetensorsFile(weightsFile, { kind: 'checkpoint' }),
    plan.parameters,
    weightsFile,
  );
  return { spec, plan, weights: ckpt.tensors };
}

/**
 * Every file is read and checked, and the memory plan held against the backend's capacity,
 * before the backend is created: a bad file gives its one-line error and nothing else (no
 * device, no driver messages).
 */
async function openModel(
  flags: Record<string, unknown>,
  command: string,
  spec: ModelSpec,
  weights: Map<string, Int32Array>,
  batch: number,
  extraBytes = 0,
) {
  const { backend, line } = await openBackend(command, flags, {}, 'auto', (kind) =>
    checkCapacity(spec, batch, capacityFor(command, flags, kind), { extraBytes }),
  );
  if (flags.verbose) console.error(`${command}: backend ${line}`);
  try {
    if (backend instanceof WebGPUBackend) checkFits(spec, batch, backend.limits);
    return { backend, model: Model.create(backend, spec, { weights }) };
  } catch (e) {
    backend.destroy();
    throw e;
  }
}

export async function stepCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('step', argv, STEP_FLAGS);
  const batchesFile = requireString('step', flags, 'batches');
  const out = requireString('step', flags, 'out');
  const { spec, plan, weights } = loadModelFiles(flags, 'step');
  const b = parseBatches(readSafetensorsFile(batchesFile, { kind: 'batches' }), batchesFile, {
    shape: plan.input,
    classes: plan.classes,
  });
  // Every step's batch is uploaded at once.
  const uploaded = datasetBytes(b.steps * b.batch, b.shape);
  const { backend, model } = await openModel(flags, 'step', spec, weights, b.batch, uploaded);
  try {
    await model.trainOnBatches(b.x, b.y, b.steps, b.batch);
    await writeFileAtomic(out, await model.toCheckpoint({ steps: String(b.steps) }));
    return 0;
  } finally {
    backend.destroy();
  }
}

export async function predictCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('predict', argv, PREDICT_FLAGS);
  const inputFile = requireString('predict', flags, 'input');
  const out = requireString('predict', flags, 'out');
  const { spec, plan, weights } = loadModelFiles(flags, 'predict');
  const inputs = parseInputs(readSafetensorsFile(inputFile, { kind: 'input' }), inputFile, {
    shape: plan.input,
  });
  // Model.predict runs batches of at most 256.
  const batch = Math.min(inputs.count, 256);
  const { backend, model } = await openModel(flags, 'predict', spec, weights, batch);
  try {
    const n = inputs.count;
    const { logits, heads } = await model.predict(inputs.x, n);
    const C = model.plan.classes;
    const result = new Map<string, TensorToWrite>([['logits', { shape: [n, C], data: logits }]]);
    for (const [i, h] of heads.entries()) result.set(`heads.${i}`, { shape: [n, C], data: h });
    await writeFileAtomic(out, serializeSafetensors(result));
    return 0;
  } finally {
    backend.destroy();
  }
}
