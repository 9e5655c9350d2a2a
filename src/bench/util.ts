/** Small helpers shared by the benchmarks (runtime-neutral: Node, Deno and the browser). */
import type { Backend } from '../backend.ts';
import { WebGPUBackend } from '../gpu/webgpu-backend.ts';

/** The JavaScript runtime a benchmark ran in. */
export type Runtime = 'node' | 'deno' | 'browser';

export function runtimeName(): Runtime {
  if ('Deno' in globalThis) return 'deno';
  if (typeof (globalThis as { document?: unknown }).document !== 'undefined') return 'browser';
  return 'node';
}

export function now(): number {
  return performance.now();
}

/** Four significant digits, for the JSON of measured times and rates. */
export function sig(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(4)) : 0;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** GOP/s of `ops` integer operations done in `ms` milliseconds. */
export function gops(ops: number, ms: number): number {
  return ms > 0 ? ops / ms / 1e6 : 0;
}

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
  let t = now();
  run(1);
  await backend.sync();
  const warm = now() - t;
  if (warm >= 10 * targetMs) return { ms: warm, reps: 1 };
  t = now();
  run(1);
  await backend.sync();
  const estimate = now() - t;
  if (estimate >= targetMs) return { ms: estimate, reps: 1 };
  const reps = Math.max(1, Math.min(maxReps, Math.ceil(targetMs / Math.max(estimate, 1e-3))));
  const times: number[] = [];
  for (let w = 0; w < windows; w++) {
    t = now();
    run(reps);
    await backend.sync();
    times.push((now() - t) / reps);
  }
  return { ms: median(times), reps: reps * windows };
}

/** Text table rows: a header, a rule, then the rows, columns padded to their widest cell. */
export function table(header: string[], rows: string[][], rightAligned: boolean[] = []): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (rightAligned[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}
