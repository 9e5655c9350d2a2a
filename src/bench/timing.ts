/**
 * Kernel timing, in one place: every benchmark, the tuner, `nitro-d bench --kernel-timing`,
 * `nitro-d bench-kernels` and scripts/kernel-timing.ts time kernels through these functions.
 * `timeProgram` times a recorded program as a whole (GPU timestamps or the wall clock),
 * `dispatchTimes` each dispatch of one in place, and `runMs` is the wall-clock primitive both
 * wall-clock paths share.
 */
import type { Backend, Program } from '../backend.ts';
import { WebGPUBackend } from '../gpu/webgpu-backend.ts';
import { median, now } from './util.ts';

/**
 * How kernels are timed: 'timestamps' times every dispatch in place with GPU timestamp
 * queries; 'solo' replays each op call alone and takes the wall clock around it; 'auto' picks
 * timestamps when the device has them.
 */
export type KernelTiming = 'auto' | 'timestamps' | 'solo' | 'none';

export function resolveTiming(
  backend: Backend,
  timing: KernelTiming,
): Exclude<KernelTiming, 'auto'> {
  const gpu = backend instanceof WebGPUBackend ? backend : undefined;
  if (timing === 'timestamps' && !gpu?.hasTimestamps) {
    throw new Error(`kernel timing: ${backend.description} has no timestamp queries (use solo)`);
  }
  if (timing !== 'auto') return timing;
  return gpu?.hasTimestamps ? 'timestamps' : 'solo';
}

/**
 * Per-run milliseconds of a program by the wall clock: a warm-up run, then `windows` windows
 * of enough replays to last about `targetMs` each, and the median window (a contended machine
 * preempts some of them). An op whose warm-up run alone takes ten times `targetMs` or more is
 * timed by that run (pipelines are compiled when recorded, so it is not a cold run), and one
 * slower than `targetMs` by one more run: on a software adapter a big conv layer takes minutes.
 */
export async function wallTime(
  backend: Backend,
  run: (times: number) => void,
  targetMs: number,
  maxReps: number,
  windows = 3,
): Promise<{ ms: number; reps: number }> {
  const warm = await runMs(backend, run, 1);
  if (warm >= 10 * targetMs) return { ms: warm, reps: 1 };
  const estimate = await runMs(backend, run, 1);
  if (estimate >= targetMs) return { ms: estimate, reps: 1 };
  const reps = Math.max(1, Math.min(maxReps, Math.ceil(targetMs / Math.max(estimate, 1e-3))));
  const times: number[] = [];
  for (let w = 0; w < windows; w++) times.push(await runMs(backend, run, reps));
  return { ms: median(times), reps: reps * windows };
}

/** Wall-clock milliseconds per run of `run(reps)` (`reps` runs submitted at once), to the sync. */
export async function runMs(
  backend: Backend,
  run: (times: number) => void,
  reps: number,
): Promise<number> {
  const t = now();
  run(reps);
  await backend.sync();
  return (now() - t) / reps;
}

/** How `timeProgram` measures. */
export interface TimeProgramOptions {
  /** 'timestamps' (on a backend that has them; else the wall clock) or 'solo' (the wall clock). */
  timing: 'timestamps' | 'solo';
  /** Milliseconds a measurement aims to last. */
  targetMs: number;
  /** Most replays in one measurement. */
  maxReps: number;
  /** Wall clock: windows of replays, the median one counts (default 3). */
  windows?: number;
  /**
   * Runs the program once untimed first (default true): a runtime may compile a pipeline, or
   * page in its buffers, on the first dispatch rather than when it is recorded.
   */
  warmup?: boolean;
  /** Timestamps: exactly this many replays (default: one, then enough for `targetMs`). */
  replays?: number;
}

/**
 * Milliseconds per run of a recorded program. Timestamps: one timed replay, then enough
 * replays for `targetMs` (at most `maxReps`), unless that one took ten times as long; the
 * wall clock: `wallTime`.
 */
export async function timeProgram(
  backend: Backend,
  program: Program,
  options: TimeProgramOptions,
): Promise<{ ms: number; reps: number }> {
  const { timing, targetMs, maxReps, windows = 3, warmup = true, replays } = options;
  if (warmup) {
    backend.run(program, 1);
    await backend.sync();
  }
  if (timing === 'timestamps' && backend instanceof WebGPUBackend) {
    if (replays !== undefined)
      return { ms: sum(await backend.timeDispatches(program, replays)) / 1e6, reps: replays };
    const t = now();
    const one = sum(await backend.timeDispatches(program, 1)) / 1e6;
    const wall = now() - t;
    if (wall >= 10 * targetMs) return { ms: one, reps: 1 };
    const reps = Math.max(1, Math.min(maxReps, Math.ceil(targetMs / Math.max(wall, 1e-3))));
    return { ms: sum(await backend.timeDispatches(program, reps)) / 1e6, reps };
  }
  return wallTime(backend, (times) => backend.run(program, times), targetMs, maxReps, windows);
}

/**
 * Nanoseconds of each dispatch of `program`, timed in place with timestamp queries: replays
 * one at a time until `reps` or `budgetMs` (at least one), then the median per dispatch.
 */
export async function dispatchTimes(
  gpu: WebGPUBackend,
  program: Program,
  reps: number,
  budgetMs: number,
): Promise<{ ns: number[]; reps: number }> {
  const samples: number[][] = [];
  const started = now();
  while (samples.length < reps && (samples.length === 0 || now() - started < budgetMs)) {
    samples.push(await gpu.timeDispatches(program, 1));
  }
  return { ns: samples[0].map((_, i) => median(samples.map((s) => s[i]))), reps: samples.length };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
