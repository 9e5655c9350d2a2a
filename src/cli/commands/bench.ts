/**
 * `nitro-d bench`: training throughput of a preset at a batch size (cold start, warm
 * images/s, GOP/s, memory, per-kernel time).
 */
import { formatTrainingBench } from '../../bench/format.ts';
import { benchTraining } from '../../bench/training.ts';
import type { KernelTiming } from '../../bench/timing.ts';
import { WebGPUBackend } from '../../gpu/webgpu-backend.ts';
import { parseCheckpoint } from '../../io/checkpoint.ts';
import { readSafetensorsFile } from '../../io/files.ts';
import { planFromSpec } from '../../model/plan.ts';
import { getPreset, presetNames } from '../../model/presets.ts';
import type { ModelSpec } from '../../model/spec.ts';
import { checkCapacity, datasetBytes } from '../../train/capacity.ts';
import { checkFits } from '../../train/memory.ts';
import { capacityFor, MEMORY_FLAG, MEMORY_HELP } from '../memory-limit.ts';
import { formatVariantsInUse } from '../../bench/tune.ts';
import { loadTunedForCommand } from '../tune-store.ts';
import {
  BACKEND_FLAG,
  BACKEND_HELP,
  choiceFlag,
  intFlag,
  parseFlags,
  presetFlag,
  UsageError,
} from '../args.ts';
import { openBackend } from '../open-backend.ts';
import { benchParallel, formatParallelBench } from '../bench-parallel.ts';
import { firstDifference, metadataJson } from './train.ts';

export const BENCH_HELP = `training throughput of a preset: images/s, GOP/s, memory, time per kernel
  --preset P             ${presetNames.join(' | ')} (default mlp1)
  --batch B              batch size (default: the preset's, 64)
  --steps N              timed steps (default 20)
  --warmup N             untimed steps before them (default 2)
${BACKEND_HELP}
  --kernel-timing T      auto | timestamps | solo | none (default auto: timestamp queries when the
                         adapter has them, else each op call replayed alone)
  --kernel-reps N        whole-step replays timed with timestamps, median taken (default 3,
                         fewer when they pass 10 s)
  --seed S               seed of the weights and random batches (default 1)
  --weights CKPT         start from a checkpoint's weights (e.g. best.safetensors of a training run)
                         instead of seeded ones; it must hold the preset's model
  --no-tuned             ignore the kernel variants \`nitro-d tune\` cached for this adapter
  --workers N            compare one device with 1..N local CPU workers (one thread each) training
                         data-parallel: images/s side by side and the bytes each worker exchanges
  --rounds R             with --workers: measure every configuration R times, in turns, and give
                         the median round (default 1)
  --json                 print one JSON object
${MEMORY_HELP}`;

export const BENCH_FLAGS = {
  preset: { type: 'string' },
  batch: { type: 'string' },
  steps: { type: 'string' },
  warmup: { type: 'string' },
  'kernel-timing': { type: 'string' },
  'kernel-reps': { type: 'string' },
  seed: { type: 'string' },
  weights: { type: 'string' },
  json: { type: 'boolean' },
  workers: { type: 'string' },
  rounds: { type: 'string' },
  'no-tuned': { type: 'boolean' },
  ...BACKEND_FLAG,
  ...MEMORY_FLAG,
} as const;

/**
 * A checkpoint's weights for `spec`: every tensor with the plan's shape, and, when the file
 * carries its model spec, the same model (training constants aside: the bench steps with the
 * preset's).
 */
export function benchWeights(file: string, spec: ModelSpec): Map<string, Int32Array> {
  const ckpt = parseCheckpoint(
    readSafetensorsFile(file, { kind: 'checkpoint' }),
    planFromSpec(spec).parameters,
    file,
  );
  if (ckpt.metadata.model !== undefined) {
    const saved = metadataJson(file, ckpt.metadata, 'model') as Record<string, unknown>;
    const diff = firstDifference({ ...saved, training: 0 }, { ...spec, training: 0 }, 'model');
    if (diff) throw new Error(`checkpoint ${file}: its model differs from the preset's at ${diff}`);
  }
  return ckpt.tensors;
}

export async function benchCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('bench', argv, BENCH_FLAGS);
  const preset = presetFlag('bench', flags, 'mlp1');
  const batch = flags.batch === undefined ? undefined : intFlag('bench', flags, 'batch', 64);
  const steps = intFlag('bench', flags, 'steps', 20);
  const warmup = intFlag('bench', flags, 'warmup', 2, 0);
  const kernelReps = intFlag('bench', flags, 'kernel-reps', 3, 1, 10_000);
  const seed = intFlag('bench', flags, 'seed', 1, 0);
  const kernelTiming = choiceFlag<KernelTiming>(
    'bench',
    flags,
    'kernel-timing',
    ['auto', 'timestamps', 'solo', 'none'],
    'auto',
  );
  if (flags.rounds !== undefined && flags.workers === undefined)
    throw new UsageError('bench: --rounds goes with --workers');
  if (flags.workers !== undefined) {
    const workers = intFlag('bench', flags, 'workers', 2, 1, 64);
    const result = await benchParallel({
      preset,
      batch,
      steps,
      warmup,
      workers,
      seed,
      rounds: intFlag('bench', flags, 'rounds', 1, 1, 1000),
      onPhase: (p) => console.error(`bench: ${p}`),
    });
    console.log(flags.json ? JSON.stringify(result) : formatParallelBench(result));
    return 0;
  }
  const spec = getPreset(preset).spec;
  const weightsFile = flags.weights as string | undefined;
  if (weightsFile === '') throw new UsageError('bench: --weights needs a file');
  // Checked before a backend is opened: a wrong file fails fast.
  const weights = weightsFile === undefined ? undefined : benchWeights(weightsFile, spec);
  const planBatch = batch ?? getPreset(preset).protocol.batch;
  // The random source holds two batches of samples.
  const extraBytes = (b: number) => datasetBytes(2 * b, spec.input);
  const { backend, line } = await openBackend(
    'bench',
    flags,
    { timestamps: kernelTiming === 'auto' || kernelTiming === 'timestamps' },
    'auto',
    (kind) => checkCapacity(spec, planBatch, capacityFor('bench', flags, kind), { extraBytes }),
  );
  console.error(`bench: backend ${line}`);
  try {
    if (backend instanceof WebGPUBackend) checkFits(spec, planBatch, backend.limits);
    const tuned = loadTunedForCommand(backend, Boolean(flags['no-tuned']));
    if (tuned) console.error(`bench: ${tuned}`);
    const result = await benchTraining(backend, {
      preset,
      batch,
      steps,
      warmup,
      seed,
      weights,
      weightsSource: weightsFile,
      kernelTiming,
      kernelReps,
      onPhase: (p) => console.error(`bench: ${p}`),
    });
    const variants = formatVariantsInUse(result.variants);
    console.log(
      flags.json
        ? JSON.stringify(result)
        : formatTrainingBench(result) + (variants ? `\n${variants}` : ''),
    );
    return 0;
  } finally {
    backend.destroy();
  }
}
