/** `nitro-d init`, `eval` and `info`: make weights, evaluate a checkpoint, describe the device and a model's memory. */
import { adapterName } from '../../gpu/device.ts';
import { WebGPUBackend } from '../../gpu/webgpu-backend.ts';
import { parseCheckpoint } from '../../io/checkpoint.ts';
import { readSafetensorsFile, writeFileAtomic } from '../../io/files.ts';
import { initWeights } from '../../model/init.ts';
import { Model } from '../../model/model.ts';
import { serializeCheckpoint, checkpointMetadata } from '../../io/checkpoint.ts';
import { planFromSpec } from '../../model/plan.ts';
import { formatBp } from '../../train/schedule.ts';
import { evalBatchFor, evaluateOn, uploadDataset } from '../../train/trainer.ts';
import { checkCapacity, datasetBytes, gib, planProblem, planSize } from '../../train/capacity.ts';
import {
  checkFits,
  formatMemoryReport,
  MemoryFitError,
  type MemoryReport,
  memoryReport,
} from '../../train/memory.ts';
import { BACKEND_FLAG, BACKEND_HELP, intFlag, parseFlags, requireString } from '../args.ts';
import { capacityFor, MEMORY_FLAG, MEMORY_HELP } from '../memory-limit.ts';
import { openBackend } from '../open-backend.ts';
import { prepareData, resolvePreset } from './train.ts';

const MODEL_FLAGS = {
  preset: { type: 'string' },
  model: { type: 'string' },
  dataset: { type: 'string' },
} as const;

export const INIT_FLAGS = {
  ...MODEL_FLAGS,
  seed: { type: 'string' },
  out: { type: 'string' },
  ...MEMORY_FLAG,
} as const;

export const INIT_HELP = `write seeded integer Kaiming weights for a model
  --preset P | --model M.json   the model (default mlp2)
  --dataset NAME         accepted as in train (the weights do not depend on it)
  --out W                where the weights go (safetensors)
  --seed S               the seed (default: the preset's)
${MEMORY_HELP}`;

export async function initCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('init', argv, INIT_FLAGS);
  const preset = resolvePreset('init', flags);
  const out = requireString('init', flags, 'out');
  const seed = intFlag('init', flags, 'seed', preset.protocol.seed, 0);
  const plan = planFromSpec(preset.spec);
  // The weights and the file's bytes coexist in host memory.
  const host = capacityFor('init', flags, 'cpu');
  const need = 2 * 4 * plan.geometry.cost.parameters;
  if (need > host.bytes)
    throw new MemoryFitError(
      `the model's ${plan.geometry.cost.parameters} parameters need ${gib(need)} to initialise and write, more than the ${gib(host.bytes)} this machine can hold (${host.source})`,
    );
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
  --data PATH            data folder or file (default for Fashion-MNIST: /usr/share/datasets/fashion-mnist)
  --data-format F        idx | cifar10 | npz | npy | images (default: detected from PATH)
  --test-limit N         evaluate only the first N test samples
  --train-limit N        the training samples the run used: the inputs are normalised with their
                         statistics, as in training (default: all)
  --seed S               accepted as in train (evaluation is deterministic and does not use it)
${BACKEND_HELP}
  --json                 print one JSON object
${MEMORY_HELP}`;

export const EVAL_FLAGS = {
  ...MODEL_FLAGS,
  weights: { type: 'string' },
  data: { type: 'string' },
  'data-format': { type: 'string' },
  'test-limit': { type: 'string' },
  'train-limit': { type: 'string' },
  seed: { type: 'string' },
  json: { type: 'boolean' },
  ...BACKEND_FLAG,
  ...MEMORY_FLAG,
} as const;

export async function evalCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('eval', argv, EVAL_FLAGS);
  const preset = resolvePreset('eval', flags);
  const weightsFile = requireString('eval', flags, 'weights');
  const bytes = readSafetensorsFile(weightsFile, { kind: 'checkpoint' });
  const ckpt = parseCheckpoint(bytes, planFromSpec(preset.spec).parameters, weightsFile);
  const { split } = await prepareData(preset, flags, 'eval');
  const evalBatch = evalBatchFor(split.test.labels.length);
  const { backend, line } = await openBackend('eval', flags, {}, 'auto', (kind) =>
    checkCapacity(preset.spec, evalBatch, capacityFor('eval', flags, kind), {
      extraBytes: datasetBytes(split.test.labels.length, split.test.shape),
    }),
  );
  if (flags.verbose) console.error(`eval: backend ${line}`);
  try {
    if (backend instanceof WebGPUBackend) checkFits(preset.spec, evalBatch, backend.limits);
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

interface TooLarge {
  batch: number;
  plannedBytes: number;
  tooLarge: string;
}

export const INFO_FLAGS = {
  ...MODEL_FLAGS,
  batch: { type: 'string' },
  json: { type: 'boolean' },
  ...BACKEND_FLAG,
  ...MEMORY_FLAG,
} as const;

export const INFO_HELP = `the adapter, its features and limits; with a model, the memory plan of a training step
  --preset P | --model M.json   the model whose memory to plan (default: none)
  --dataset NAME         accepted as in train
  --batch B              batch size of the plan (default: the preset's)
  --backend B            webgpu | cpu | auto (default webgpu: info describes the WebGPU adapter)
  --threads N            CPU backend: threads its products split over (default the number of
                         cores, at most 8)
  --verbose              also print the GPU drivers' notices
  --json                 print one JSON object
${MEMORY_HELP}
  \`nitro-d doctor\` says what the machine has when there is no adapter.`;

export async function infoCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('info', argv, INFO_FLAGS);
  const withModel = typeof flags.preset === 'string' || typeof flags.model === 'string';
  const preset = withModel ? resolvePreset('info', flags) : undefined;
  const batch = preset ? intFlag('info', flags, 'batch', preset.protocol.batch) : 0;
  // info describes the WebGPU adapter unless told otherwise.
  const { backend, decision } = await openBackend('info', flags, {}, 'webgpu');
  const capacity = capacityFor('info', flags, decision.kind);
  let fits = true;
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
      // A plan that does not fit is reported from its shapes, never allocated.
      let problem = planProblem(preset.spec, batch, capacity);
      if (!problem && backend instanceof WebGPUBackend) {
        try {
          checkFits(preset.spec, batch, backend.limits);
        } catch (e) {
          if (!(e instanceof MemoryFitError)) throw e;
          problem = e.message;
        }
      }
      if (problem) {
        fits = false;
        report.memory = {
          batch,
          plannedBytes: planSize(preset.spec, [batch]).total,
          tooLarge: problem,
        };
      } else report.memory = memoryReport(backend, preset.spec, batch);
    }
    if (flags.json) {
      console.log(JSON.stringify(report, null, 2));
      return fits ? 0 : 1;
    }
    if (!fits) throw new MemoryFitError((report.memory as TooLarge).tooLarge);
    console.log(`adapter: ${report.adapter}`);
    if (report.features)
      console.log(`features: ${(report.features as string[]).join(', ') || '(none)'}`);
    if (report.limits) {
      console.log('limits:');
      for (const [k, v] of Object.entries(report.limits as Record<string, number>))
        console.log(`  ${k.padEnd(44)} ${v}`);
    }
    if (report.memory) console.log(formatMemoryReport(report.memory as MemoryReport));
    return 0;
  } finally {
    backend.destroy();
  }
}
