/**
 * The training benchmark (src/bench) in Deno on the built bundle, printing the same result as
 * `nitro-d bench`: `npm run bench:deno -- --preset mlp1 --batch 64 --steps 20 [--warmup N]
 * [--backend webgpu|cpu] [--kernel-timing auto|timestamps|solo|none] [--json]`.
 * Run `npm run build` first. Uses Mesa 25 lavapipe when scripts/fetch-lavapipe.sh fetched it.
 */
import type * as Nitro from '../src/index.ts';

// Deno's globals, declared locally so the file also type-checks under the project's tsc.
declare const Deno: {
  args: string[];
  env: { get(name: string): string | undefined; set(name: string, value: string): void };
  statSync(path: string | URL): unknown;
  exit(code: number): never;
};

const USAGE =
  'usage: bench-deno.ts [--preset P] [--batch B] [--steps N] [--warmup N] [--backend webgpu|cpu] [--kernel-timing T] [--kernel-reps N] [--json]';

function parse(args: string[]): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'\n${USAGE}`);
    const [name, inline] = a.slice(2).split('=', 2);
    if (name === 'json' || name === 'help') out[name] = true;
    else if (inline !== undefined) out[name] = inline;
    else if (i + 1 < args.length) out[name] = args[++i];
    else throw new Error(`--${name} needs a value`);
  }
  return out;
}

function int(flags: Record<string, string | true>, name: string): number | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d+$/.test(v))
    throw new Error(`--${name} must be a non-negative integer, got '${String(v)}'`);
  return Number(v);
}

function exists(path: URL): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<number> {
  const flags = parse(Deno.args);
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const known = [
    'preset',
    'batch',
    'steps',
    'warmup',
    'backend',
    'kernel-timing',
    'kernel-reps',
    'json',
    'help',
  ];
  for (const name of Object.keys(flags))
    if (!known.includes(name)) throw new Error(`unknown option --${name}\n${USAGE}`);
  const icd = new URL('../.cache/lavapipe/lvp_icd.json', import.meta.url);
  if (!Deno.env.get('VK_ICD_FILENAMES') && exists(icd))
    Deno.env.set('VK_ICD_FILENAMES', icd.pathname);
  const dist = new URL('../dist/index.js', import.meta.url);
  if (!exists(dist)) throw new Error('dist/index.js is missing; run npm run build first');
  const lib = (await import(dist.href)) as typeof Nitro;
  const kind = (flags.backend as string | undefined) ?? 'webgpu';
  if (kind !== 'webgpu' && kind !== 'cpu')
    throw new Error(`--backend must be webgpu or cpu, got '${kind}'`);
  const timing = ((flags['kernel-timing'] as string | undefined) ?? 'auto') as Nitro.KernelTiming;
  if (!['auto', 'timestamps', 'solo', 'none'].includes(timing))
    throw new Error(`--kernel-timing must be auto, timestamps, solo or none, got '${timing}'`);
  const backend = await lib.createBackend(kind, {
    timestamps: timing === 'auto' || timing === 'timestamps',
  });
  try {
    const result = await lib.benchTraining(backend, {
      preset: (flags.preset as string | undefined) ?? 'mlp1',
      batch: int(flags, 'batch'),
      steps: int(flags, 'steps'),
      warmup: int(flags, 'warmup'),
      kernelReps: int(flags, 'kernel-reps'),
      kernelTiming: timing,
      onPhase: (p) => console.error(`bench: ${p}`),
    });
    console.log(flags.json ? JSON.stringify(result) : lib.formatTrainingBench(result));
    return 0;
  } finally {
    backend.destroy();
  }
}

try {
  Deno.exit(await main());
} catch (e) {
  console.error(`bench-deno: ${(e as Error).message}`);
  Deno.exit(1);
}
