/**
 * A Markdown table comparing two directories written by scripts/bench-matrix.sh (one revision
 * each, measured in one sitting on the same machine):
 *
 *   node_modules/.bin/vite-node scripts/bench-table.ts -- BEFORE_DIR AFTER_DIR
 *
 * One row per preset, batch, runtime and backend found in either directory: the adapter, images/s
 * before and after, the speed-up, GOP/s after, and the reference throughput where there is one
 * (MLP1 9000 and MLP2 4500 images/s at batch 64, VGG8B 0.63 images/s at batch 8) with the ratio
 * of the after figure to it. A row missing on one side shows a dash.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Row {
  preset: string;
  batch: number;
  backend: string;
  adapter: string;
  imagesPerSecond: number;
  gopsPerSecond: number;
  steps: number;
  runtime: string;
  commit: string;
}

/** Reference images/s by preset and batch. */
const REFERENCE: Record<string, number> = { 'mlp1@64': 9000, 'mlp2@64': 4500, 'vgg8b@8': 0.63 };

const PRESET_ORDER = ['mlp1', 'mlp2', 'cnn-small', 'vgg8b'];
const RUNTIME_ORDER = ['node', 'deno', 'chromium', 'node (cpu)'];

function load(dir: string): Map<string, Row> {
  const rows = new Map<string, Row>();
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    throw new Error(`${dir}: not a directory of bench-matrix results`);
  }
  if (files.length === 0) throw new Error(`${dir}: no .json rows`);
  for (const f of files) {
    const path = join(dir, f);
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`${path}: not JSON (${(e as Error).message})`);
    }
    const m = j.matrix as { runtime?: string; commit?: string } | undefined;
    if (
      typeof j.imagesPerSecond !== 'number' ||
      typeof j.preset !== 'string' ||
      typeof j.batch !== 'number' ||
      !m?.runtime
    ) {
      throw new Error(`${path}: field imagesPerSecond, preset, batch or matrix.runtime missing`);
    }
    const runtime = j.backend === 'cpu' ? `${m.runtime} (cpu)` : m.runtime;
    const row: Row = {
      preset: j.preset,
      batch: j.batch,
      backend: String(j.backend),
      adapter: String(j.adapter),
      imagesPerSecond: j.imagesPerSecond,
      gopsPerSecond: Number(j.gopsPerSecond),
      steps: Number(j.steps),
      runtime,
      commit: String(m.commit ?? ''),
    };
    rows.set(`${row.preset}|${row.batch}|${runtime}`, row);
  }
  return rows;
}

function num(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  if (x >= 100) return Math.round(x).toLocaleString('en-US');
  return String(Number(x.toPrecision(3)));
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !(b > 0)) return '—';
  return `${(a / b).toFixed(2)}×`;
}

/** The adapter without the runtime suffix, and both when before and after differ. */
function adapterOf(before: Row | undefined, after: Row | undefined): string {
  const clean = (r: Row) => r.adapter.replace(/ \((node|deno|browser)\)$/, '').replace(/\|/g, '/');
  if (before && after && clean(before) !== clean(after))
    return `${clean(before)} → ${clean(after)}`;
  return clean((after ?? before)!);
}

function order(list: string[], x: string): number {
  const i = list.indexOf(x);
  return i < 0 ? list.length : i;
}

export function benchTable(beforeDir: string, afterDir: string): string {
  const before = load(beforeDir);
  const after = load(afterDir);
  const keys = [...new Set([...before.keys(), ...after.keys()])];
  const parts = (k: string) => k.split('|');
  keys.sort((a, b) => {
    const [pa, ba, ra] = parts(a);
    const [pb, bb, rb] = parts(b);
    return (
      order(PRESET_ORDER, pa) - order(PRESET_ORDER, pb) ||
      pa.localeCompare(pb) ||
      Number(ba) - Number(bb) ||
      order(RUNTIME_ORDER, ra) - order(RUNTIME_ORDER, rb)
    );
  });
  const commits = (rows: Map<string, Row>) =>
    [...new Set([...rows.values()].map((r) => r.commit.slice(0, 7)))].join(', ');
  const lines = [
    `Before: ${commits(before)} (${beforeDir}); after: ${commits(after)} (${afterDir}).`,
    '',
    '| preset | batch | runtime | adapter | images/s before | images/s after | speed-up | GOP/s after | reference images/s | after / reference |',
    '|---|---:|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const k of keys) {
    const [preset, batch, runtime] = parts(k);
    const b = before.get(k);
    const a = after.get(k);
    const ref = REFERENCE[`${preset}@${batch}`];
    lines.push(
      `| ${preset} | ${batch} | ${runtime} | ${adapterOf(b, a)} | ${num(b?.imagesPerSecond)} | ${num(a?.imagesPerSecond)} | ${ratio(a?.imagesPerSecond, b?.imagesPerSecond)} | ${num(a?.gopsPerSecond)} | ${ref === undefined ? '—' : num(ref)} | ${ratio(a?.imagesPerSecond, ref)} |`,
    );
  }
  return lines.join('\n');
}

const args = process.argv.slice(2).filter((a) => a !== '--');
if (args.length !== 2) {
  console.error('usage: vite-node scripts/bench-table.ts -- BEFORE_DIR AFTER_DIR');
  process.exit(2);
}
try {
  console.log(benchTable(args[0], args[1]));
} catch (e) {
  console.error(`bench-table: ${(e as Error).message}`);
  process.exit(1);
}
