/**
 * `nitro-d bench`: training throughput of a preset at a batch size (cold start, warm
 * images/s, GOP/s, memory, per-kernel time). `nitro-d bench-kernels`: the paper's linear and
 * conv layers one op at a time, WebGPU against the CPU backend.
 */
import type { Backend } from '../../backend.ts';
import { createBackend, type BackendKind } from '../../backends.ts';
import { benchKernels, type KernelBenchResult, paperKernelShapes } from '../../bench/kernels.ts';
import { formatKernelBench, formatTrainingBench } from '../../bench/format.ts';
import { benchTraining } from '../../bench/training.ts';
import type { KernelTiming } from '../../bench/util.ts';
import { presetNames } from '../../model/presets.ts';
import { formatVariantsInUse } from '../../bench/tune.ts';
import { loadTunedForCommand } from '../tune-store.ts';
import { BACKEND_FLAG, backendFlag, intFlag, parseFlags, UsageError } from '../args.ts';

export const BENCH_HELP = `training throughput of a preset: images/s, GOP/s, memory, time per kernel
  --preset P             ${presetNames.join(' | ')} (default mlp1)
  --batch B              batch size (default: the preset's, 64)
  --steps N              timed steps (default 20)
  --warmup N             untimed steps before them (default 2)
  --backend webgpu|cpu   (default webgpu)
  --kernel-timing T      auto | timestamps | solo | none (default auto: timestamp queries when the
                         adapter has them, else each op call replayed alone)
  --kernel-reps N        whole-step replays timed with timestamps, median taken (default 3,
                         fewer when they pass 10 s)
  --seed S               seed of the weights and random batches (default 1)
  --no-tuned             ignore the kernel variants \`nitro-d tune\` cached for this adapter
  --json                 print one JSON object`;

export const BENCH_KERNELS_HELP = `GOP/s of linear and conv forward and weight gradient at the paper's layer shapes
  --backend webgpu|cpu|both   (default both)
  --batch B              batch size (default 64)
  --filter S             only layers whose name contains S (e.g. mlp, conv3)
  --cpu-max-mop N        skip CPU ops above N million operations (default 2000; 0: no limit)
  --target-ms N          replay each op for about N ms (default 50)
  --timing T             auto | timestamps | solo (default auto)
  --json                 print one JSON object`;

function timingFlag(command: string, value: unknown, allowNone: boolean): KernelTiming {
  const v = (value as string | undefined) ?? 'auto';
  const valid = allowNone ? ['auto', 'timestamps', 'solo', 'none'] : ['auto', 'timestamps', 'solo'];
  if (!valid.includes(v)) throw new UsageError(`${command}: timing must be one of ${valid.join(', ')}, got '${v}'`);
  return v as KernelTiming;
}

function backendFor(kind: BackendKind, timing: KernelTiming): Promise<Backend> {
  return createBackend(kind, kind === 'webgpu' ? { timestamps: timing === 'auto' || timing === 'timestamps' } : {});
}

export async function benchCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('bench', argv, {
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
  });
  const preset = (flags.preset as string | undefined) ?? 'mlp1';
  if (!presetNames.includes(preset)) throw new UsageError(`bench: unknown preset '${preset}'; valid presets: ${presetNames.join(', ')}`);
  const batch = flags.batch === undefined ? undefined : intFlag('bench', flags, 'batch', 64);
  const steps = intFlag('bench', flags, 'steps', 20);
  const warmup = intFlag('bench', flags, 'warmup', 2, 0);
  const kernelReps = intFlag('bench', flags, 'kernel-reps', 3);
  const seed = intFlag('bench', flags, 'seed', 1, 0);
  const kernelTiming = timingFlag('bench', flags['kernel-timing'], true);
  const backend = await backendFor(backendFlag('bench', flags), kernelTiming);
  try {
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
    console.log(flags.json ? JSON.stringify(result) : formatTrainingBench(result) + (variants ? `\n${variants}` : ''));
    return 0;
  } finally {
    backend.destroy();
  }
}

export async function benchKernelsCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('bench-kernels', argv, {
    batch: { type: 'string' },
    filter: { type: 'string' },
    'cpu-max-mop': { type: 'string' },
    'target-ms': { type: 'string' },
    timing: { type: 'string' },
    json: { type: 'boolean' },
    ...BACKEND_FLAG,
  });
  const which = (flags.backend as string | undefined) ?? 'both';
  if (!['webgpu', 'cpu', 'both'].includes(which)) throw new UsageError(`bench-kernels: --backend must be webgpu, cpu or both, got '${which}'`);
  const kinds: BackendKind[] = which === 'both' ? ['webgpu', 'cpu'] : [backendFlag('bench-kernels', flags)];
  const batch = intFlag('bench-kernels', flags, 'batch', 64);
  const cpuMaxMop = intFlag('bench-kernels', flags, 'cpu-max-mop', 2000, 0);
  const targetMs = intFlag('bench-kernels', flags, 'target-ms', 50);
  const timing = timingFlag('bench-kernels', flags.timing, false) as Exclude<KernelTiming, 'none'>;
  const filter = (flags.filter as string | undefined) ?? '';
  const shapes = paperKernelShapes(batch).filter((s) => s.layer.includes(filter));
  if (shapes.length === 0) throw new UsageError(`bench-kernels: no layer matches --filter '${filter}'`);
  const results: KernelBenchResult[] = [];
  for (const kind of kinds) {
    const backend = await backendFor(kind, kind === 'cpu' ? 'solo' : timing);
    try {
      results.push(
        await benchKernels(backend, shapes, {
          timing: kind === 'cpu' ? 'solo' : timing,
          targetMs,
          maxOps: kind === 'cpu' && cpuMaxMop > 0 ? cpuMaxMop * 1e6 : undefined,
          onRow: (r) => console.error(`bench-kernels: ${kind} ${r.layer} ${r.op}: ${r.skipped ?? `${r.ms} ms, ${r.gops} GOP/s`}`),
        }),
      );
    } finally {
      backend.destroy();
    }
  }
  console.log(flags.json ? JSON.stringify({ batch, results }) : formatKernelBench(results));
  return 0;
}
