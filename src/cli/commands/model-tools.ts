/** `nitro-d init`, `eval` and `info`: make weights, evaluate a checkpoint, describe the device and a model's memory. */
import { createBackend } from '../../backends.ts';
import { adapterName } from '../../gpu/device.ts';
import { WebGPUBackend } from '../../gpu/webgpu-backend.ts';
import { parseCheckpoint } from '../../io/checkpoint.ts';
import { readFileBytes, writeFileAtomic } from '../../io/files.ts';
import { initWeights } from '../../model/init.ts';
import { Model } from '../../model/model.ts';
import { serializeCheckpoint, checkpointMetadata } from '../../io/checkpoint.ts';
import { planFromSpec } from '../../model/plan.ts';
import { formatBp } from '../../train/schedule.ts';
import { evalBatchFor, evaluateOn, uploadDataset } from '../../train/trainer.ts';
import { checkFits, formatMemoryReport, memoryReport } from '../../train/memory.ts';
import { BACKEND_FLAG, backendFlag, intFlag, parseFlags, requireString } from '../args.ts';
import { prepareData, resolvePreset } from './train.ts';

const MODEL_FLAGS = {
  preset: { type: 'string' },
  model: { type: 'string' },
  dataset: { type: 'string' },
} as const;

export async function initCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('init', argv, {
    ...MODEL_FLAGS,
    seed: { type: 'string' },
    out: { type: 'string' },
  });
  const preset = resolvePreset('init', flags);
  const out = requireString('init', flags, 'out');
  const seed = intFlag('init', flags, 'seed', preset.protocol.seed, 0);
  const plan = planFromSpec(preset.spec);
  const weights = initWeights(preset.spec, seed);
  await writeFileAtomic(
    out,
    serializeCheckpoint(
      plan.parameters,
      weights,
      checkpointMetadata(preset.spec, { seed: String(seed) }),
    ),
  );
  console.error(
    `wrote ${out}: ${plan.parameters.length} tensors, ${plan.geometry.cost.parameters} parameters (seed ${seed})`,
  );
  return 0;
}

export const EVAL_HELP = `evaluate a checkpoint on the test set: accuracy, per-head accuracy, confusion matrix
  --preset P | --model M.json   the model (default mlp2)
  --weights W            the checkpoint (safetensors), e.g. best.safetensors of a training run
  --dataset NAME         fashion-mnist | mnist | cifar10 (default: the preset's)
  --data DIR             data folder (default for Fashion-MNIST: /usr/share/datasets/fashion-mnist)
  --test-limit N         evaluate only the first N test samples
  --train-limit N        the training samples the run used: the inputs are normalised with their
                         statistics, as in training (default: all)
  --seed S               accepted as in train (evaluation is deterministic and does not use it)
  --backend webgpu|cpu   (default webgpu)
  --json                 print one JSON object`;

export async function evalCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('eval', argv, {
    ...MODEL_FLAGS,
    weights: { type: 'string' },
    data: { type: 'string' },
    'test-limit': { type: 'string' },
    'train-limit': { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
    ...BACKEND_FLAG,
  });
  const preset = resolvePreset('eval', flags);
  const weightsFile = requireString('eval', flags, 'weights');
  const bytes = await readFileBytes(weightsFile);
  const ckpt = parseCheckpoint(bytes, planFromSpec(preset.spec).parameters, weightsFile);
  const { split } = await prepareData(preset, flags, 'eval');
  const backend = await createBackend(backendFlag('eval', flags));
  try {
    if (backend instanceof WebGPUBackend)
      checkFits(preset.spec, evalBatchFor(split.test.labels.length), backend.device.limits);
    const model = Model.create(backend, preset.spec, { weights: ckpt.tensors });
    const device = uploadDataset(backend, split.test);
    const m = await evaluateOn(model, device, split.test.labels.length);
    if (flags.json) {
      console.log(
        JSON.stringify({
          accuracy: m.output.accuracyBp / 100,
          correct: m.output.correct,
          total: m.output.total,
          heads: m.heads.map((h) => h.accuracyBp / 100),
          confusion: m.confusion,
        }),
      );
    } else {
      console.log(
        `test accuracy ${formatBp(m.output.accuracyBp)} (${m.output.correct}/${m.output.total})`,
      );
      for (const [i, h] of m.heads.entries()) console.log(`  head ${i}: ${formatBp(h.accuracyBp)}`);
      console.log('confusion matrix (rows: true class, columns: predicted):');
      for (const row of m.confusion ?? [])
        console.log(row.map((v) => String(v).padStart(5)).join(''));
    }
    return 0;
  } finally {
    backend.destroy();
  }
}

export async function infoCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('info', argv, {
    ...MODEL_FLAGS,
    batch: { type: 'string' },
    json: { type: 'boolean' },
    ...BACKEND_FLAG,
  });
  const withModel = typeof flags.preset === 'string' || typeof flags.model === 'string';
  const preset = withModel ? resolvePreset('info', flags) : undefined;
  const batch = preset ? intFlag('info', flags, 'batch', preset.protocol.batch) : 0;
  const backend = await createBackend(backendFlag('info', flags));
  try {
    const report: Record<string, unknown> = {};
    if (backend instanceof WebGPUBackend) {
      report.adapter = adapterName(backend.info);
      report.features = backend.info.features;
      report.limits = backend.info.limits;
    } else {
      report.adapter = backend.description;
    }
    if (preset) {
      if (backend instanceof WebGPUBackend) checkFits(preset.spec, batch, backend.device.limits);
      report.memory = memoryReport(backend, preset.spec, batch);
    }
    if (flags.json) {
      console.log(JSON.stringify(report, null, 2));
      return 0;
    }
    console.log(`adapter: ${report.adapter}`);
    if (report.features)
      console.log(`features: ${(report.features as string[]).join(', ') || '(none)'}`);
    if (report.limits) {
      console.log('limits:');
      for (const [k, v] of Object.entries(report.limits as Record<string, number>))
        console.log(`  ${k.padEnd(44)} ${v}`);
    }
    if (report.memory)
      console.log(formatMemoryReport(report.memory as ReturnType<typeof memoryReport>));
    return 0;
  } finally {
    backend.destroy();
  }
}
