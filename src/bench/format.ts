/** Plain-text tables of benchmark results (for the CLI, Deno and the bench page). */
import { fastestVariantRows, type KernelBenchResult, type KernelBenchRow } from './kernels.ts';
import type { TrainingBenchResult } from './training.ts';
import { table } from './util.ts';

export { table };

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(2)} MiB`;

/** Three significant digits, without exponent notation for the magnitudes that occur here. */
export function num(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 100) return Math.round(x).toString();
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

/** A training benchmark's result as the text table `nitro-d bench` prints. */
export function formatTrainingBench(r: TrainingBenchResult): string {
  const lines = [
    `${r.preset} at batch ${r.batch}, ${r.backend} on ${r.adapter}`,
    `  weights      ${r.weights.kind === 'seeded' ? `seeded integer Kaiming (seed ${r.weights.seed})` : `from ${r.weights.source}`}`,
    `  cold start   ${num(r.coldMs)} ms (setup ${num(r.cold.setupMs)}, record and compile ${num(r.cold.recordMs)}, first step ${num(r.cold.firstStepMs)})`,
    `  warm         ${num(r.imagesPerSecond)} images/s, ${num(r.msPerStep)} ms/step, ${num(r.gopsPerSecond)} GOP/s (${r.steps} steps after ${r.warmup} warm-up; ${num(r.opsPerStep / 1e6)} MOP/step)`,
    `  memory       ${mib(r.memory.bytesInUse)} in use (analytic minimum ${mib(r.memory.minimumBytes)}), plus ${mib(r.memory.scratchBytes)} of kernel scratch and ${mib(r.memory.dataBytes)} of random batches`,
  ];
  if (r.kernels.length) {
    const how =
      r.kernelTiming === 'timestamps'
        ? `timestamp queries, ${r.kernelReps} replays`
        : 'each call replayed alone';
    lines.push(`  kernels      ${how}; ${num(r.kernelMsPerStep)} ms/step in kernels`);
    const total = r.kernelMsPerStep || 1;
    const rows = r.kernels.map((k) => [
      k.name,
      String(k.dispatches),
      num(k.ms),
      `${Math.round((100 * k.ms) / total)}%`,
      k.ops ? num(k.ops / 1e6) : '',
      k.ops ? num(k.gops) : '',
    ]);
    for (const l of table(['kernel', 'dispatches', 'ms/step', 'share', 'MOP', 'GOP/s'], rows, [
      false,
      true,
      true,
      true,
      true,
      true,
    ])) {
      lines.push(`    ${l}`);
    }
  }
  return lines.join('\n');
}

/**
 * One table for one or more backends; with two, the speed-up of the first over the second (time
 * of the second / time of the first). A row per layer, op and kernel variant; a backend without
 * variants (the CPU) is matched by layer and op. `*` marks the fastest variant of a layer's op.
 */
export function formatKernelBench(results: KernelBenchResult[]): string {
  if (results.length === 0) return '';
  // The rows of the result with the most of them (the one that timed every variant) lead.
  const base = results.reduce((a, b) => (b.rows.length > a.rows.length ? b : a)).rows;
  const withVariants = base.some((r) => r.variant !== null);
  const fastest = new Set<KernelBenchRow>();
  for (const r of results) for (const row of fastestVariantRows(r.rows)) fastest.add(row);
  const match = (r: KernelBenchResult, row: KernelBenchRow): KernelBenchRow | undefined => {
    const same = r.rows.filter((o) => o.layer === row.layer && o.op === row.op);
    return (
      same.find((o) => o === row || o.variant === row.variant) ??
      (same.length === 1 && (same[0].variant === null || row.variant === null)
        ? same[0]
        : undefined)
    );
  };
  const header = ['layer', 'op', ...(withVariants ? ['variant'] : []), 'shape', 'MOP'];
  const fixed = header.length;
  const label = (r: KernelBenchResult) => (r.threads ? `${r.backend} ${r.threads}t` : r.backend);
  // Per result: its ms and GOP/s, and the share of its peak (per core, times its threads) where
  // it measured one.
  const columns = (r: KernelBenchResult, row: KernelBenchRow | undefined): string[] => {
    const cells = [row?.skipped ? 'skipped' : num(row?.ms), row?.skipped ? '' : num(row?.gops)];
    if (r.peakGops)
      cells.push(
        row?.gops && !row.skipped
          ? `${Math.round((100 * row.gops) / (r.peakGops * (r.threads ?? 1)))}%`
          : '',
      );
    return cells;
  };
  for (const r of results) {
    header.push(`${label(r)} ms`, `${label(r)} GOP/s`);
    if (r.peakGops) header.push(`${label(r)} % of peak`);
  }
  if (results.length === 2) header.push(`${label(results[0])} speed-up`);
  const rows = base.map((row) => {
    const cells = [row.layer, row.op];
    if (withVariants)
      cells.push(
        row.variant === null
          ? '-'
          : `${fastest.has(row) ? '*' : ' '}${row.variant}${row.isDefault ? ' (default)' : ''}`,
      );
    cells.push(row.shape, num(row.ops / 1e6));
    const matched = results.map((r) => match(r, row));
    results.forEach((r, i) => {
      cells.push(...columns(r, matched[i]));
    });
    if (results.length === 2) {
      const a = matched[0]?.ms;
      const b = matched[1]?.ms;
      cells.push(a && b ? `${num(b / a)}x` : '');
    }
    return cells;
  });
  const right = header.map((_, i) => i >= fixed - 1);
  const lines = results.map(
    (r) =>
      `${label(r)}: ${r.adapter} (${r.timing === 'timestamps' ? 'timestamp queries' : 'wall clock'})${r.peakGops ? `; peak ${num(r.peakGops)} GOP/s per core (i32x4.dot_i16x8_s + i32x4.add in registers)${r.threads && r.threads > 1 ? `, % of ${r.threads}× that` : ''}` : ''}`,
  );
  if (fastest.size > 0)
    lines.push("* fastest variant of the layer's op; (default) the variant the engine picks");
  return [...lines, ...table(header, rows, right)].join('\n');
}
