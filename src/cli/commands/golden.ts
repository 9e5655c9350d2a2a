/**
 * `nitro-d step` and `nitro-d predict` (docs/contract.md §4): run pre-made batches or inputs through
 * a model and write safetensors. Both backends write the same bytes.
 */
import { parseBatches, parseInputs } from '../../io/batches.ts';
import { readFileBytes, readTextFile, writeFileAtomic } from '../../io/files.ts';
import { serializeSafetensors, type TensorToWrite } from '../../io/safetensors.ts';
import { Model } from '../../model/model.ts';
import { type ModelSpec, parseModelSpec } from '../../model/spec.ts';
import { BACKEND_FLAG, BACKEND_HELP, parseFlags, requireString } from '../args.ts';
import { openBackend } from '../open-backend.ts';

export const STEP_FLAGS = {
  model: { type: 'string' },
  weights: { type: 'string' },
  batches: { type: 'string' },
  out: { type: 'string' },
  ...BACKEND_FLAG,
} as const;

export const STEP_HELP = `run training steps on pre-made batches and write the weights after them
  --model M.json         the model spec
  --weights W            the starting weights (safetensors)
  --batches B            the batches (safetensors: x, y)
  --out OUT              where the weights after the steps go (safetensors)
${BACKEND_HELP}`;

export const PREDICT_FLAGS = {
  model: { type: 'string' },
  weights: { type: 'string' },
  input: { type: 'string' },
  out: { type: 'string' },
  ...BACKEND_FLAG,
} as const;

export const PREDICT_HELP = `predict inputs: write the logits and every head's scores
  --model M.json         the model spec
  --weights W            the weights (safetensors)
  --input X              the inputs (safetensors: x)
  --out P                where logits and heads.N go (safetensors)
${BACKEND_HELP}`;

export function loadSpec(file: string): ModelSpec {
  const text = readTextFile(file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  return parseModelSpec(json, file);
}

/** Reads spec and weights first (cheap, validates everything), then creates the backend. */
async function loadModel(flags: Record<string, unknown>, command: string) {
  const spec = loadSpec(requireString(command, flags, 'model'));
  const weightsFile = requireString(command, flags, 'weights');
  const weightBytes = await readFileBytes(weightsFile);
  const { backend, line } = await openBackend(command, flags);
  if (flags.verbose) console.error(`${command}: backend ${line}`);
  try {
    return { backend, model: Model.fromCheckpoint(backend, spec, weightBytes, weightsFile) };
  } catch (e) {
    backend.destroy();
    throw e;
  }
}

export async function stepCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('step', argv, STEP_FLAGS);
  const batchesFile = requireString('step', flags, 'batches');
  const out = requireString('step', flags, 'out');
  const batchBytes = await readFileBytes(batchesFile);
  const { backend, model } = await loadModel(flags, 'step');
  try {
    const b = parseBatches(batchBytes, batchesFile, {
      shape: model.plan.input,
      classes: model.plan.classes,
    });
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
  const inputBytes = await readFileBytes(inputFile);
  const { backend, model } = await loadModel(flags, 'predict');
  try {
    const inputs = parseInputs(inputBytes, inputFile, { shape: model.plan.input });
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
