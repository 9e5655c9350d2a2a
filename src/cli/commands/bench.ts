/**
 * `nitro-d bench`: training throughput of a preset at a batch size (cold start, warm
 * images/s, GOP/s, memory, per-kernel time).
 */
import { formatTrainingBench } from '../../bench/format.ts';
import { benchTraining } from '../../bench/training.ts';
import type { KernelTiming } from '../../bench/timing.ts';
import { WebGPUBackend } from '../../gpu/webgpu-backend.ts';
import { getPreset, presetNames } from '../../model/presets.ts';
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
} from '../args.ts';
import { openBackend } from '../open-backend.ts';

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
  --no-tuned             ignore the kernel variants \`nitro-d tune\` cached for this adapter
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
  json: { type: 'boolean' },
  'no-tuned': { type: 'boolean' },
  ...BACKEND_FLAG,
  ...MEMORY_FLAG,
} as const;

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
  const spec = getPreset(preset).spec;
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
