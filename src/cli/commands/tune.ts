/**
 * `nitro-d tune`: times every kernel variant of each GEMM op shape in a model's training step
 * on this adapter, prints the table and caches the fastest per shape, which `train` and `bench`
 * then use (unless --no-tuned).
 */
import { createBackend } from '../../backends.ts';
import { num, table } from '../../bench/format.ts';
import { adapterKey, saveTuned } from '../../bench/tune-cache.ts';
import { type TuneResult, tuneVariants } from '../../bench/tune.ts';
import type { KernelTiming } from '../../bench/timing.ts';
import { GEMM_OPS, variantsOf } from '../../kernels/gemm-tiles.ts';
import { planFromSpec } from '../../model/plan.ts';
import { choiceFlag, intFlag, parseFlags } from '../args.ts';
import { fileTuneStore } from '../tune-store.ts';
import { resolvePreset } from './train.ts';

export const TUNE_HELP = `time each kernel variant of a model's GEMM ops on this adapter and cache the fastest
  --preset P | --model M.json   the model (default mlp2)
  --batch B              batch size (default: the preset's)
  --timing T             auto | timestamps | solo (default auto)
  --reps N               timed samples per variant, taken in turns, median kept (default 15)
  --budget-s N           stop timing after N seconds; the rest keep their defaults (default 120)
  --margin-pct N         a variant replaces the default only when N% faster (default 5)
  --all                  time every variant of small ops too (by default they keep their default)
  --verbose              also print the GPU drivers' notices
  --json                 print one JSON object
  The cache is tuned-variants.json in $NITRO_D_CACHE_DIR, else $XDG_CACHE_HOME/nitro-d, else
  ~/.cache/nitro-d; train and bench load it for their adapter (--no-tuned ignores it).`;

export function formatTune(r: TuneResult): string {
  const lines = [
    `${r.adapter}: ${r.timing === 'timestamps' ? 'timestamp queries' : 'wall clock'}, batch ${r.batch}, ${num(r.elapsedMs / 1000)} s`,
  ];
  for (const op of GEMM_OPS) {
    const rows = r.rows.filter((row) => row.op === op);
    if (!rows.length) continue;
    const labels = variantsOf(op).map((v) => v.label);
    const body = rows.map((row) => [
      row.shape,
      ...labels.map((l) => (row.ms[l] === null ? '-' : num(row.ms[l]))),
      row.winner + (row.winner === row.defaultVariant ? ' (default)' : ''),
      row.skipped ?? '',
    ]);
    lines.push('', `${op} (ms per call)`);
    const header = ['shape', ...labels, 'winner', 'note'];
    lines.push(
      ...table(
        header,
        body,
        header.map((_, i) => i > 0 && i <= labels.length),
      ).map((l) => `  ${l}`),
    );
  }
  return lines.join('\n');
}

export const TUNE_FLAGS = {
  preset: { type: 'string' },
  model: { type: 'string' },
  batch: { type: 'string' },
  timing: { type: 'string' },
  reps: { type: 'string' },
  'budget-s': { type: 'string' },
  'margin-pct': { type: 'string' },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
} as const;

export async function tuneCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('tune', argv, TUNE_FLAGS);
  const preset = resolvePreset('tune', flags);
  const batch = preset.protocol.batch;
  const timing = choiceFlag<Exclude<KernelTiming, 'none'>>(
    'tune',
    flags,
    'timing',
    ['auto', 'timestamps', 'solo'],
    'auto',
  );
  const reps = intFlag('tune', flags, 'reps', 15);
  const budgetS = intFlag('tune', flags, 'budget-s', 120, 0);
  const marginPct = intFlag('tune', flags, 'margin-pct', 5, 0, 1000);
  const backend = await createBackend('webgpu', {
    timestamps: timing !== 'solo',
    verbose: Boolean(flags.verbose),
  });
  try {
    const adapter = adapterKey(backend);
    if (!adapter) throw new Error('tune: needs the WebGPU backend');
    const result = await tuneVariants(backend, planFromSpec(preset.spec), batch, {
      timing,
      reps,
      budgetMs: budgetS * 1000,
      margin: marginPct / 100,
      minMacs: flags.all ? 0 : undefined,
      onShape: (row) =>
        console.error(`tune: ${row.key} -> ${row.winner}${row.skipped ? ` (${row.skipped})` : ''}`),
    });
    const store = fileTuneStore();
    const what = `${typeof flags.model === 'string' ? flags.model : preset.name} batch ${batch}`;
    // The measurements are printed first: a cache that cannot be written does not lose them.
    console.log(
      flags.json ? JSON.stringify({ ...result, cache: store.where }) : formatTune(result),
    );
    saveTuned(store, adapter, result.choices, what);
    console.error(`tune: ${Object.keys(result.choices).length} choices written to ${store.where}`);
    return 0;
  } finally {
    backend.destroy();
  }
}
