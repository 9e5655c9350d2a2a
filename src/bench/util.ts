/** Small helpers shared by the benchmarks (runtime-neutral: Node, Deno and the browser). */

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
