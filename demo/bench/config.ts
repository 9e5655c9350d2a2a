/**
 * What the benchmark page measures, from its form or its URL query (the query fills the form,
 * so a run is repeatable from a link and the e2e test can ask for a short one):
 *
 *   ?presets=mlp1,mlp2,cnn-small,vgg8b   training throughput of these presets
 *   &batch=64                            their batch size
 *   &steps=20&warmup=3                   timed and untimed steps per preset (default: 20 and 3,
 *                                        VGG8B 3 and 1: on a software adapter a step takes seconds)
 *   &tfjs=1                              the float32 TensorFlow.js twin of every MLP preset
 *   &kernels=1&kernelBatch=64            kernel microbenchmarks at the paper's layer shapes
 *   &vggKernels=1                        VGG8B's conv layers among them
 *   &variants=1                          every kernel variant of each op, not only the engine's pick
 *                                        (default: on when the page is opened to be used, off with
 *                                        &run=1, where a link asks for a run of its own)
 *   &layers=mlp,vgg8b conv1              only kernel layers whose name contains one of these
 *   &kernelMs=50                         each kernel replayed for about this long
 *   &timing=auto                         kernel timing: timestamps (GPU timestamp queries, when the
 *                                        adapter has them), solo (wall clock around replays), auto
 *   &tunePreset=mlp2                     the model the Tune button tunes (at the training batch size)
 *   &tuneBudget=30                       seconds of timing after which the tuner leaves the remaining
 *                                        op shapes at their defaults
 *   &run=1                               start at once
 *
 * Without a query the page measures everything on a hardware adapter; on a software adapter
 * (SwiftShader, llvmpipe: VGG8B's cold start alone takes minutes there) it leaves VGG8B's
 * training and conv kernels out (softwareDefaults), and its checkboxes add them back.
 */

export const TRAINING_PRESETS = ['mlp1', 'mlp2', 'cnn-small', 'vgg8b'] as const;

/** Steps and warm-up for presets whose step is slow on a software adapter (when ?steps is not given). */
const SLOW_DEFAULTS: Record<string, { steps: number; warmup: number }> = {
  vgg8b: { steps: 3, warmup: 1 },
};

export interface BenchConfig {
  presets: string[];
  batch: number;
  /** Timed steps, or undefined for the per-preset default. */
  steps?: number;
  warmup?: number;
  tfjs: boolean;
  kernels: boolean;
  kernelBatch: number;
  /** VGG8B's conv layers among the kernels (the MLP layers are always there). */
  vggKernels: boolean;
  /** Time every kernel variant of each op (tile sizes, dot4 path), not only the default. */
  variants: boolean;
  /** Substrings of kernel layer names to run (all when empty). */
  layers: string[];
  kernelMs: number;
  timing: KernelTimingChoice;
  /** The preset the tuner times the kernel variants of (at `batch`). */
  tunePreset: string;
  /** Seconds of tuning before the remaining op shapes keep their defaults. */
  tuneBudget: number;
  run: boolean;
}

export type KernelTimingChoice = 'auto' | 'timestamps' | 'solo';

export const DEFAULT_CONFIG: BenchConfig = {
  presets: [...TRAINING_PRESETS],
  batch: 64,
  tfjs: true,
  kernels: true,
  kernelBatch: 64,
  vggKernels: true,
  variants: true,
  layers: [],
  kernelMs: 50,
  timing: 'auto',
  tunePreset: 'mlp2',
  tuneBudget: 30,
  run: false,
};

/** Presets left out of a software adapter's default run (minutes per run there). */
export const SLOW_ON_SOFTWARE = ['vgg8b'];

/** The defaults on a software adapter: no VGG8B, neither its training nor its conv kernels. */
export function softwareDefaults(): BenchConfig {
  return {
    ...DEFAULT_CONFIG,
    presets: DEFAULT_CONFIG.presets.filter((p) => !SLOW_ON_SOFTWARE.includes(p)),
    vggKernels: false,
  };
}

function positive(
  query: URLSearchParams,
  name: string,
  fallback: number | undefined,
  min = 1,
): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw.trim() === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min)
    throw new Error(`URL query ${name}=${raw}: expected a whole number of at least ${min}`);
  return v;
}

function flag(query: URLSearchParams, name: string, fallback: boolean): boolean {
  const raw = query.get(name);
  if (raw === null) return fallback;
  return !['0', 'false', 'no', 'off'].includes(raw.toLowerCase());
}

function list(query: URLSearchParams, name: string): string[] | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function timingOf(raw: string | null): KernelTimingChoice {
  if (raw === null || raw === '') return DEFAULT_CONFIG.timing;
  if (raw === 'auto' || raw === 'timestamps' || raw === 'solo') return raw;
  throw new Error(`URL query timing=${raw}: expected auto, timestamps or solo`);
}

/**
 * The configuration a URL query asks for, on top of `defaults` (DEFAULT_CONFIG, or
 * softwareDefaults() on a software adapter); throws a one-line message naming a bad parameter.
 */
export function configFromQuery(
  search: string,
  known: readonly string[],
  defaults: BenchConfig = DEFAULT_CONFIG,
): BenchConfig {
  const q = new URLSearchParams(search);
  const presets = list(q, 'presets') ?? defaults.presets;
  for (const p of presets)
    if (!known.includes(p))
      throw new Error(`URL query presets: unknown preset '${p}' (known: ${known.join(', ')})`);
  const run = flag(q, 'run', false);
  const tunePreset = q.get('tunePreset') || defaults.tunePreset;
  if (!known.includes(tunePreset))
    throw new Error(
      `URL query tunePreset: unknown preset '${tunePreset}' (known: ${known.join(', ')})`,
    );
  return {
    presets,
    batch: positive(q, 'batch', defaults.batch)!,
    steps: positive(q, 'steps', undefined),
    warmup: positive(q, 'warmup', undefined, 0),
    tfjs: flag(q, 'tfjs', defaults.tfjs),
    kernels: flag(q, 'kernels', defaults.kernels),
    kernelBatch: positive(q, 'kernelBatch', defaults.kernelBatch)!,
    vggKernels: flag(q, 'vggKernels', defaults.vggKernels),
    variants: flag(q, 'variants', defaults.variants && !run),
    layers: list(q, 'layers') ?? [],
    kernelMs: positive(q, 'kernelMs', defaults.kernelMs)!,
    timing: timingOf(q.get('timing')),
    tunePreset,
    tuneBudget: positive(q, 'tuneBudget', defaults.tuneBudget)!,
    run,
  };
}

/**
 * The URL query of a configuration: what differs from DEFAULT_CONFIG (not from a software
 * adapter's defaults, so that a link asks for the same run on every adapter).
 */
export function queryOf(c: BenchConfig): string {
  const q = new URLSearchParams();
  if (c.presets.join(',') !== DEFAULT_CONFIG.presets.join(','))
    q.set('presets', c.presets.join(','));
  if (c.batch !== DEFAULT_CONFIG.batch) q.set('batch', String(c.batch));
  if (c.steps !== undefined) q.set('steps', String(c.steps));
  if (c.warmup !== undefined) q.set('warmup', String(c.warmup));
  if (c.tfjs !== DEFAULT_CONFIG.tfjs) q.set('tfjs', c.tfjs ? '1' : '0');
  if (c.kernels !== DEFAULT_CONFIG.kernels) q.set('kernels', c.kernels ? '1' : '0');
  if (c.kernelBatch !== DEFAULT_CONFIG.kernelBatch) q.set('kernelBatch', String(c.kernelBatch));
  if (c.vggKernels !== DEFAULT_CONFIG.vggKernels) q.set('vggKernels', c.vggKernels ? '1' : '0');
  if (c.variants !== DEFAULT_CONFIG.variants || c.run) q.set('variants', c.variants ? '1' : '0');
  if (c.layers.length > 0) q.set('layers', c.layers.join(','));
  if (c.kernelMs !== DEFAULT_CONFIG.kernelMs) q.set('kernelMs', String(c.kernelMs));
  if (c.timing !== DEFAULT_CONFIG.timing) q.set('timing', c.timing);
  if (c.tunePreset !== DEFAULT_CONFIG.tunePreset) q.set('tunePreset', c.tunePreset);
  if (c.tuneBudget !== DEFAULT_CONFIG.tuneBudget) q.set('tuneBudget', String(c.tuneBudget));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Timed steps and warm-up of one preset under a configuration. */
export function stepsFor(c: BenchConfig, preset: string): { steps: number; warmup: number } {
  const slow = SLOW_DEFAULTS[preset];
  return {
    steps: c.steps ?? slow?.steps ?? 20,
    warmup: c.warmup ?? slow?.warmup ?? 3,
  };
}

/**
 * Whether a kernel layer (e.g. "mlp2 fc1 = mlp1 fc1", "vgg8b conv1") is selected: by `layers`,
 * and for VGG8B's layers by `vggKernels`.
 */
export function layerSelected(c: BenchConfig, layer: string): boolean {
  if (!c.vggKernels && layer.startsWith('vgg8b')) return false;
  return c.layers.length === 0 || c.layers.some((s) => layer.includes(s));
}
