/**
 * The 2-thread ceiling of this machine: a trivially parallel WebAssembly SIMD integer loop
 * (16 independent chains of i32x4.dot_i16x8_s + i32x4.add, no memory traffic) run in 1, 2, ...
 * worker threads at once. Its GOP/s (multiply-adds per second, 8 per dot) at T threads over the
 * 1-thread rate is the best scaling any threaded kernel can reach here; the CPU backend's
 * threaded benchmarks are read against it.
 *
 *   npx vite-node scripts/thread-ceiling.ts -- [--threads 1,2] [--ms 400] [--out results/cpu-thread-ceiling.md]
 *
 * Also times the CPU backend's dispatch: a run of one 16-byte copy per thread on its worker pool.
 * Prints a table and writes it (with the load average before and after) to --out.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CpuBackend } from '../src/cpu-backend.ts';

const argv = process.argv.slice(2).filter((a) => a !== '--');
function flag(name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
}
const threadCounts = flag('threads', '1,2')
  .split(',')
  .map((s) => Number(s));
const targetMs = Number(flag('ms', '400'));
const outPath = flag('out', 'results/cpu-thread-ceiling.md');
const CHAINS = 16;

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/**
 * (func (export "spin") (param $n i32) (result i32)): CHAINS accumulators, each step
 * acc = acc + dot_i16x8_s(acc, y); returns lane 0 of their sum so nothing is dead code.
 */
function loopModule(): Uint8Array<ArrayBuffer> {
  const simd = (op: number) => [0xfd, ...uleb(op)];
  const y = CHAINS + 1;
  const body: number[] = [];
  body.push(0x41, 3, ...simd(0x10), 0x21, ...uleb(y)); // y = i16x8.splat(3)
  for (let k = 1; k <= CHAINS; k++) body.push(0x41, k, ...simd(0x11), 0x21, k);
  body.push(0x03, 0x40); // loop
  for (let k = 1; k <= CHAINS; k++)
    body.push(0x20, k, 0x20, k, 0x20, ...uleb(y), ...simd(0xba), ...simd(0xae), 0x21, k);
  body.push(0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, 0x0b); // n--, br_if n
  body.push(0x20, 1);
  for (let k = 2; k <= CHAINS; k++) body.push(0x20, k, ...simd(0xae));
  body.push(...simd(0x1b), 0, 0x0b); // extract_lane 0, end
  const locals = [1, CHAINS + 1, 0x7b];
  const code = [...locals, ...body];
  const fn = [...uleb(code.length), ...code];
  const section = (id: number, b: number[]) => [id, ...uleb(b.length), ...b];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(1, [1, 0x60, 1, 0x7f, 1, 0x7f]),
    ...section(3, [1, 0]),
    ...section(7, [1, 4, ...[...'spin'].map((c) => c.charCodeAt(0)), 0, 0]),
    ...section(10, [1, ...fn]),
  ]);
}

// Each worker: instantiate, wait for the start signal, run `n` steps, report its own time.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, flags, index } = workerData;
const spin = new WebAssembly.Instance(module, {}).exports.spin;
spin(1000);
parentPort.on('message', (n) => {
  Atomics.add(flags, 1, 1);
  while (Atomics.load(flags, 0) === 0) {}
  const t0 = performance.now();
  const r = spin(n);
  parentPort.postMessage({ ms: performance.now() - t0, r, index });
});
`;

const module = new WebAssembly.Module(loopModule());
const calibrate = new WebAssembly.Instance(module, {}).exports.spin as (n: number) => number;
calibrate(1e5);
let steps = 1e6;
for (;;) {
  const t0 = performance.now();
  calibrate(steps);
  const ms = performance.now() - t0;
  if (ms > 50) {
    steps = Math.round((steps * targetMs) / ms);
    break;
  }
  steps *= 4;
}
const opsPerStep = CHAINS * 16;

interface Row {
  threads: number;
  gops: number;
  perThread: number[];
}

async function measure(threads: number): Promise<Row> {
  const flags = new Int32Array(new SharedArrayBuffer(8));
  const workers = Array.from(
    { length: threads },
    (_, index) => new Worker(workerSource, { eval: true, workerData: { module, flags, index } }),
  );
  const best: Row = { threads, gops: 0, perThread: [] };
  for (let rep = 0; rep < 3; rep++) {
    Atomics.store(flags, 0, 0);
    Atomics.store(flags, 1, 0);
    const done = workers.map(
      (w) => new Promise<{ ms: number }>((resolve) => w.once('message', resolve)),
    );
    for (const w of workers) w.postMessage(steps);
    while (Atomics.load(flags, 1) < threads) await new Promise((r) => setTimeout(r, 1));
    const t0 = performance.now();
    Atomics.store(flags, 0, 1);
    const times = await Promise.all(done);
    const wall = performance.now() - t0;
    const gops = (threads * steps * opsPerStep) / wall / 1e6;
    if (gops > best.gops) best.gops = gops;
    best.perThread =
      best.gops === gops ? times.map((t) => (steps * opsPerStep) / t.ms / 1e6) : best.perThread;
  }
  await Promise.all(workers.map((w) => w.terminate()));
  return best;
}

/** Microseconds per run of the CPU backend's pool with one tiny kernel call per thread (best of 5). */
async function dispatchUs(threads: number): Promise<number> {
  const backend = await CpuBackend.create({ threads });
  const pool = backend.workspace.pool;
  if (!pool) return Number.NaN;
  const { at } = backend.workspace.reserve([16 * threads, 16 * threads]);
  let best = Infinity;
  for (let rep = 0; rep < 5; rep++) {
    const n = 20000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++)
      pool.run(threads, (t, _, k) =>
        k.copyRows(at[0] + 16 * t, at[1] + 16 * t, 1, 0, 0, 1, 0, 0, 16),
      );
    best = Math.min(best, ((performance.now() - t0) * 1000) / n);
  }
  backend.destroy();
  return best;
}

const loadBefore = loadavg();
const rows: Row[] = [];
for (const t of threadCounts) rows.push(await measure(t));
const dispatch = new Map<number, number>();
for (const t of threadCounts) if (t > 1) dispatch.set(t, await dispatchUs(t));
const loadAfter = loadavg();
const one = rows.find((r) => r.threads === 1)?.gops ?? rows[0].gops;
const fmt = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
const lines = [
  `# The thread ceiling: a trivially parallel WebAssembly SIMD integer loop`,
  '',
  `${new Date().toISOString()}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}; load average ${fmt(loadBefore)} before, ${fmt(loadAfter)} after.`,
  `${CHAINS} independent chains of i32x4.dot_i16x8_s + i32x4.add per worker, ${steps} steps (about ${targetMs} ms), best of 3; GOP/s counts 2 operations per multiply-add (16 per dot), as bench-kernels does.`,
  '',
  '| threads | GOP/s (all threads) | GOP/s per thread | scaling vs 1 thread |',
  '| ---: | ---: | --- | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.threads} | ${r.gops.toFixed(1)} | ${r.perThread.map((x) => x.toFixed(1)).join(', ')} | ${(r.gops / one).toFixed(2)}x |`,
  ),
  '',
  `CPU backend dispatch (a run of one 16-byte copy per thread, best of 5 × 20000): ${[...dispatch].map(([t, us]) => `${us.toFixed(2)} µs at ${t} threads`).join(', ')}.`,
  '',
  `Command: \`npx vite-node scripts/thread-ceiling.ts -- --threads ${threadCounts.join(',')} --ms ${targetMs}\``,
  '',
];
const text = lines.join('\n');
console.log(text);
writeFileSync(outPath, text);
