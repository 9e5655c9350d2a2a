/**
 * `nitro-d bench-kernels`: the paper's linear and conv layers one op at a time, WebGPU against
 * the CPU backend; with --variants, every kernel variant of the WebGPU engine.
 */
import { type BackendKind, createBackend, resolveBackend } from '../../backends.ts';
import { formatKernelBench } from '../../bench/format.ts';
import { benchKernels, type KernelBenchResult, paperKernelShapes } from '../../bench/kernels.ts';
import type { KernelTiming } from '../../bench/timing.ts';
import { formatKernelTraffic, kernelTraffic } from '../../bench/traffic.ts';
import { defaultCpuThreads } from '../../cpu-backend.ts';
import { BACKEND_FLAG, choiceFlag, intFlag, parseFlags, UsageError } from '../args.ts';

export const BENCH_KERNELS_HELP = `GOP/s of linear and conv forward and gradients at the paper's layer shapes
  --backend B            both | auto | webgpu | cpu (default both)
  --batch B              batch size (default 64)
  --filter S             only layers whose name contains S (e.g. mlp, conv3)
  --variants             time every WebGPU kernel variant of each op (tile sizes, dot4 path), not
                         only the one the engine picks; * marks the fastest per layer and op
  --traffic              storage bytes read and written per multiply-add of every variant (from
                         the variants' traffic models; no GPU needed); alone it times nothing,
                         with --variants it prints both tables
  --cpu-max-mop N        skip CPU ops above N million operations (default 2000; 0: no limit)
  --threads N,M,...      CPU thread counts, a column pair each (default the number of cores
                         (at most 8) and 1)
  --target-ms N          replay each op for about N ms (default 50)
  --timing T             auto | timestamps | solo (default auto)
  --verbose              also print the GPU drivers' notices
  --json                 print one JSON object`;

type Timing = Exclude<KernelTiming, 'none'>;
const BENCH_KERNELS_BACKENDS = ['both', 'auto', 'webgpu', 'cpu'] as const;

export const BENCH_KERNELS_FLAGS = {
  batch: { type: 'string' },
  filter: { type: 'string' },
  variants: { type: 'boolean' },
  traffic: { type: 'boolean' },
  'cpu-max-mop': { type: 'string' },
  'target-ms': { type: 'string' },
  timing: { type: 'string' },
  json: { type: 'boolean' },
  ...BACKEND_FLAG,
} as const;

export async function benchKernelsCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('bench-kernels', argv, BENCH_KERNELS_FLAGS);
  const which = choiceFlag('bench-kernels', flags, 'backend', BENCH_KERNELS_BACKENDS, 'both');
  const batch = intFlag('bench-kernels', flags, 'batch', 64);
  const cpuMaxMop = intFlag('bench-kernels', flags, 'cpu-max-mop', 2000, 0);
  const targetMs = intFlag('bench-kernels', flags, 'target-ms', 50);
  const timing = choiceFlag<Timing>(
    'bench-kernels',
    flags,
    'timing',
    ['auto', 'timestamps', 'solo'],
    'auto',
  );
  const variants = Boolean(flags.variants);
  const filter = (flags.filter as string | undefined) ?? '';
  const shapes = paperKernelShapes(batch).filter((s) => s.layer.includes(filter));
  if (shapes.length === 0)
    throw new UsageError(`bench-kernels: no layer matches --filter '${filter}'`);
  const traffic = flags.traffic ? kernelTraffic(shapes) : undefined;
  if (traffic && !variants) {
    console.log(
      flags.json
        ? JSON.stringify({ batch, traffic })
        : `batch ${batch}\n${formatKernelTraffic(traffic)}`,
    );
    return 0;
  }
  const verbose = Boolean(flags.verbose);
  const kinds: BackendKind[] =
    which === 'both' ? ['webgpu', 'cpu'] : [(await resolveBackend(which, { verbose })).kind];
  const threadCounts = threadList(flags.threads as string | undefined);
  const runs = kinds.flatMap((kind): { kind: BackendKind; threads: number }[] =>
    kind === 'cpu' ? threadCounts.map((threads) => ({ kind, threads })) : [{ kind, threads: 0 }],
  );
  const results: KernelBenchResult[] = [];
  for (const { kind, threads } of runs) {
    const kindTiming = kind === 'cpu' ? 'solo' : timing;
    const backend = await createBackend(
      kind,
      kind === 'webgpu'
        ? { timestamps: kindTiming === 'auto' || kindTiming === 'timestamps', verbose }
        : { threads },
    );
    try {
      results.push(
        await benchKernels(backend, shapes, {
          timing: kindTiming,
          targetMs,
          variants,
          maxOps: kind === 'cpu' && cpuMaxMop > 0 ? cpuMaxMop * 1e6 : undefined,
          threads: threads || undefined,
          onRow: (r) =>
            console.error(
              `bench-kernels: ${kind}${threads ? ` ${threads}t` : ''} ${r.layer} ${r.op}${r.variant ? ` ${r.variant}` : ''}: ${r.skipped ?? `${r.ms} ms, ${r.gops} GOP/s`}`,
            ),
        }),
      );
    } finally {
      backend.destroy();
    }
  }
  if (flags.json) console.log(JSON.stringify({ batch, variants, results, traffic }));
  else {
    console.log(formatKernelBench(results));
    if (traffic) console.log(`\nbatch ${batch}\n${formatKernelTraffic(traffic)}`);
  }
  return 0;
}

/** `--threads N,M,...`: distinct thread counts, most first (default the cores', and 1). */
function threadList(value: string | undefined): number[] {
  const counts =
    value === undefined
      ? [defaultCpuThreads(), 1]
      : value.split(',').map((v) => {
          if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 256)
            throw new UsageError(
              `bench-kernels: --threads must be thread counts from 1 to 256 separated by commas, got '${value}'`,
            );
          return Number(v);
        });
  return [...new Set(counts)].sort((a, b) => b - a);
}
