/**
 * The reliability table for kills and soaks, rerunnable:
 *
 *   npx vite-node scripts/reliability.ts -- [--full] [--seed N] [--write]
 *
 * Kill chains: `nitro-d train` (mlp1, 3 epochs of 16 steps on the bundled sample) is frozen
 * by NITRO_D_TEST_STOP_AT at every stage of its checkpoint writes and SIGKILLed there, killed
 * again in the runs that resume it, killed at random moments, and stopped by SIGINT/SIGTERM
 * at random steps; each run is then continued the way its own messages say (`--resume
 * OUT/last.safetensors`, or `--force` when no last checkpoint exists) until it finishes, and
 * must end with the bytes of an unbroken run, no temporary files, and a log whose epoch
 * records equal the unbroken run's. Soaks: long CLI runs on both backends (peak and growth of
 * resident memory), and in-process training (device bytes in use, heap after collection).
 *
 * Prints one row per area: tried, clean (consistent / clean error), crash (stack trace or
 * unexpected exit), hang (past the time limit), huge memory (peak RSS over 1.5 GiB),
 * inconsistent (bytes, log or temporary files wrong: the invalid state accepted). When
 * scripts/reliability-fuzz.ts exists, its rows (`export async function fuzzRows(options):
 * Promise<ReliabilityRow[]>`) join the table. --write puts the table under "## Kills and
 * soaks" in results/reliability.md, leaving the file's other sections as they are.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CpuBackend } from '../src/cpu-backend.ts';
import type { Backend } from '../src/backend.ts';
import { adapterName } from '../src/gpu/device.ts';
import { WebGPUBackend } from '../src/gpu/webgpu-backend.ts';
import { Model } from '../src/model/model.ts';
import { parseModelSpec } from '../src/model/spec.ts';
import { Trainer } from '../src/train/trainer.ts';
import { Rng } from '../src/rng.ts';

export interface ReliabilityRow {
  area: string;
  tried: number;
  /** Handled as designed: a consistent run, or a clean one-line error. */
  clean: number;
  crash: number;
  hang: number;
  hugeMemory: number;
  /** An invalid input accepted, or a run left inconsistent. */
  invalid: number;
  note?: string;
}

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'bin/nitro-d.js');
const SAMPLE = join(ROOT, 'demo/public/data/fashion-mnist-sample');
const EPOCHS = 3;
const STEPS = 16;
const HUGE = 1.5 * 2 ** 30;
const LIMIT_MS = 180_000;
const STAGES = ['best-written', 'best-renamed', 'last-written', 'last-renamed', 'log-appended'];

const argv = process.argv.slice(2).filter((a) => a !== '--');
const FULL = argv.includes('--full');
const seedAt = argv.indexOf('--seed');
const SEED = seedAt >= 0 ? Number(argv[seedAt + 1]) : 1;
const rng = new Rng(SEED);
/** The WebGPU adapter the rows ran on, filled in by the first in-process WebGPU soak. */
const ADAPTER = { name: 'the default adapter' };

type Kind = 'cpu' | 'webgpu';

function trainFlags(backend: Kind, out: string): string[] {
  return [
    '--preset',
    'mlp1',
    '--data',
    SAMPLE,
    '--train-limit',
    String(STEPS * 32),
    '--test-limit',
    '128',
    '--batch',
    '32',
    '--lr-inv',
    '64',
    '--epochs',
    String(EPOCHS),
    '--backend',
    backend,
    '--out',
    out,
    '--quiet',
  ];
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  peakRss: number;
  /** RSS samples (bytes), one per 100 ms. */
  rss: number[];
  hung: boolean;
}

function isStopped(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
  } catch {
    return false;
  }
}

function statusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs `nitro-d ARGS`. `stopAt` freezes it at a stage, then `atStop` decides what happens (a
 * signal); `killAfterMs` SIGKILLs it after that long.
 */
function runCli(
  args: string[],
  opts: {
    stopAt?: string;
    atStop?: (pid: number) => void;
    killAfterMs?: number;
    signalAfterMs?: { ms: number; signal: NodeJS.Signals };
  } = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn('node', [CLI, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NODEVICE_SELECT: '1', NITRO_D_TEST_STOP_AT: opts.stopAt ?? '' },
    });
    const pid = child.pid!;
    let stderr = '';
    let peakRss = 0;
    const rss: number[] = [];
    let hung = false;
    let exited = false;
    const poll = setInterval(() => {
      peakRss = Math.max(peakRss, statusKb(pid, 'VmHWM'));
      rss.push(statusKb(pid, 'VmRSS'));
    }, 100);
    const limit = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, LIMIT_MS);
    const timers: NodeJS.Timeout[] = [];
    if (opts.killAfterMs !== undefined)
      timers.push(setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs));
    if (opts.signalAfterMs)
      timers.push(setTimeout(() => child.kill(opts.signalAfterMs!.signal), opts.signalAfterMs.ms));
    let stopped = false;
    child.stderr!.on('data', async (d: Buffer) => {
      stderr += d.toString();
      if (!stopped && stderr.includes('NITRO_D_TEST_STOPPED')) {
        stopped = true;
        while (!exited && !isStopped(pid)) await new Promise((r) => setTimeout(r, 5));
        if (!exited) (opts.atStop ?? ((p) => process.kill(p, 'SIGKILL')))(pid);
      }
    });
    child.on('exit', (code, signal) => {
      exited = true;
      clearInterval(poll);
      clearTimeout(limit);
      for (const t of timers) clearTimeout(t);
      resolve({ code, signal, stderr, peakRss, rss, hung });
    });
  });
}

/** A JavaScript stack trace (Dawn's driver notices name .cpp files, never .js/.ts). */
function hasStack(stderr: string): boolean {
  return /^\s+at .*\.(m?js|ts):\d+:\d+\)?$/m.test(stderr);
}

function events(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
}

function epochFacts(log: Record<string, unknown>[]): string {
  return JSON.stringify(
    log
      .filter((e) => e.event === 'epoch')
      .map(({ time: _t, seconds: _s, imagesPerSecond: _i, restored: _r, ...rest }) => rest),
  );
}

interface Reference {
  /** Wall time of the unbroken run (ms), to spread random kills over. */
  ms: number;
  last: Buffer;
  best: Buffer;
  facts: string;
  bestEpochs: number[];
}

class Tally {
  row: ReliabilityRow;
  private kills = 0;
  private stops = 0;
  private temps = 0;
  private restored = 0;
  private why?: string;
  constructor(area: string) {
    this.row = { area, tried: 0, clean: 0, crash: 0, hang: 0, hugeMemory: 0, invalid: 0 };
  }
  add(result: 'clean' | 'crash' | 'hang' | 'invalid', peak = 0): void {
    this.row.tried++;
    this.row[result]++;
    if (peak > HUGE) this.row.hugeMemory++;
  }
  /** A checked run: its outcome, and what the kills left for the restarts to repair. */
  checked(c: Checked): void {
    this.add(c.result, c.peak);
    this.kills += c.kills;
    this.stops += c.stops;
    this.temps += c.temps;
    this.restored += c.restored;
    this.why ??= c.why?.replace(/\s+/g, ' ').slice(0, 120);
    const parts = [
      this.kills > 0 ? `${this.kills} SIGKILLs landed` : '',
      this.stops > 0 ? `${this.stops} runs stopped by SIGINT/SIGTERM (exit 130/143)` : '',
      `${this.temps} temp files removed at restart`,
      `${this.restored} log records written back`,
      this.why ? `first failure: ${this.why}` : '',
    ];
    this.row.note = parts.filter(Boolean).join(', ');
  }
}

/**
 * Continues a run until it finishes, as its messages say, up to `maxRuns` invocations; then
 * checks it against the unbroken run. `kill` picks how the next invocation is stopped.
 */
async function finishAndCheck(
  backend: Kind,
  out: string,
  ref: Reference,
  first: Outcome,
  kill: (i: number) => Parameters<typeof runCli>[1] | undefined,
  maxRuns = 8,
): Promise<Checked> {
  let peak = first.peakRss;
  let last = first;
  let kills = 0;
  let stops = 0;
  let temps = 0;
  for (let i = 0; ; i++) {
    if (last.signal === 'SIGKILL' && !last.hung) kills++;
    if (last.code === 130 || last.code === 143) stops++;
    if (existsSync(out)) temps += readdirSync(out).filter((f) => f.endsWith('.tmp')).length;
    const seen = { peak, kills, stops, temps, restored: 0 };
    if (last.hung) return { ...seen, result: 'hang' };
    if (hasStack(last.stderr)) return { ...seen, result: 'crash', why: last.stderr.slice(0, 300) };
    if (last.code === 0 && last.signal === null) break;
    if (![null, 130, 143].includes(last.code))
      return { ...seen, result: 'crash', why: `exit ${last.code}: ${last.stderr.slice(-300)}` };
    if (i >= maxRuns) return { ...seen, result: 'hang', why: 'never finished' };
    const lastCkpt = join(out, 'last.safetensors');
    const how = existsSync(lastCkpt) ? ['--resume', lastCkpt] : ['--force'];
    last = await runCli(['train', ...trainFlags(backend, out), ...how], kill(i));
    peak = Math.max(peak, last.peakRss);
  }
  const log = events(join(out, 'log.jsonl'));
  const seen = { peak, kills, stops, temps, restored: log.filter((e) => e.restored).length };
  const left = readdirSync(out).filter((f) => f.endsWith('.tmp'));
  if (left.length > 0) return { ...seen, result: 'invalid', why: `left ${left.join(', ')}` };
  const same = (f: string, want: Buffer) => readFileSync(join(out, f)).equals(want);
  if (!same('last.safetensors', ref.last) || !same('best.safetensors', ref.best))
    return { ...seen, result: 'invalid', why: 'checkpoint bytes differ' };
  if (epochFacts(log) !== ref.facts)
    return { ...seen, result: 'invalid', why: 'log epochs differ' };
  return { ...seen, result: 'clean' };
}

interface Checked {
  result: 'clean' | 'crash' | 'hang' | 'invalid';
  peak: number;
  /** SIGKILLs that landed, runs a SIGINT/SIGTERM stopped, temporary files found at restarts, log records written back. */
  kills: number;
  stops: number;
  temps: number;
  restored: number;
  why?: string;
}

async function reference(backend: Kind, dir: string): Promise<Reference> {
  const out = join(dir, `unbroken-${backend}`);
  const t0 = performance.now();
  const r = await runCli(['train', ...trainFlags(backend, out)]);
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`the unbroken ${backend} run failed: ${r.stderr}`);
  const log = events(join(out, 'log.jsonl'));
  return {
    ms,
    last: readFileSync(join(out, 'last.safetensors')),
    best: readFileSync(join(out, 'best.safetensors')),
    facts: epochFacts(log),
    bestEpochs: log.filter((e) => e.event === 'epoch' && e.best).map((e) => e.epoch as number),
  };
}

async function killChains(backend: Kind, dir: string, ref: Reference): Promise<ReliabilityRow[]> {
  const repeats = FULL ? 3 : 1;
  let n = 0;
  const out = () => join(dir, `${backend}-${++n}`);
  const stages = new Tally(`kill at each checkpoint stage (${backend})`);
  for (let r = 0; r < repeats; r++) {
    for (const stage of STAGES) {
      const count = stage.startsWith('best-') ? ref.bestEpochs.length : EPOCHS;
      for (let at = 1; at <= count; at++) {
        const o = out();
        const first = await runCli(['train', ...trainFlags(backend, o)], {
          stopAt: `${stage}@${at}`,
        });
        const c = await finishAndCheck(backend, o, ref, first, () => undefined);
        stages.checked(c);
      }
    }
  }
  const chains = new Tally(`kill chains, every resumed run killed too (${backend})`);
  for (let r = 0; r < (FULL ? 12 : 4); r++) {
    const pick = () => {
      const stage = STAGES[rng.int(0, STAGES.length - 1)];
      return { stopAt: `${stage}@1` };
    };
    const o = out();
    const first = await runCli(['train', ...trainFlags(backend, o)], pick());
    // Up to three further kills, then one run left alone.
    const c = await finishAndCheck(backend, o, ref, first, (i) => (i < 3 ? pick() : undefined));
    chains.checked(c);
  }
  const random = new Tally(`SIGKILL at a random moment (${backend})`);
  const delay = () => rng.int(Math.round(ref.ms * 0.1), Math.round(ref.ms * 0.95));
  for (let r = 0; r < (FULL ? 30 : 10); r++) {
    const o = out();
    const ms = delay();
    const first = await runCli(['train', ...trainFlags(backend, o)], { killAfterMs: ms });
    const c = await finishAndCheck(backend, o, ref, first, () => undefined);
    random.checked(c);
  }
  const signals = new Tally(`SIGINT/SIGTERM at a random step (${backend})`);
  for (let r = 0; r < (FULL ? 12 : 4); r++) {
    const o = out();
    const signal: NodeJS.Signals = r % 2 === 0 ? 'SIGINT' : 'SIGTERM';
    const step = rng.int(1, EPOCHS * STEPS - 1);
    const first = await runCli(['train', ...trainFlags(backend, o), '--steps-per-submit', '1'], {
      stopAt: `step@${step}`,
      atStop: (pid) => {
        process.kill(pid, signal);
        process.kill(pid, 'SIGCONT');
      },
    });
    const want = signal === 'SIGINT' ? 130 : 143;
    if (first.code !== want || !/--resume \S+last\.safetensors$/m.test(first.stderr)) {
      signals.checked({
        result: first.hung ? 'hang' : 'crash',
        peak: first.peakRss,
        kills: 0,
        stops: 0,
        temps: 0,
        restored: 0,
        why: `exit ${first.code}: ${first.stderr.slice(-200)}`,
      });
      continue;
    }
    const c = await finishAndCheck(backend, o, ref, first, () => undefined);
    signals.checked(c);
  }
  const timed = new Tally(`SIGINT at a random moment (${backend})`);
  for (let r = 0; r < (FULL ? 10 : 4); r++) {
    const o = out();
    const ms = delay();
    const first = await runCli(['train', ...trainFlags(backend, o)], {
      signalAfterMs: { ms, signal: 'SIGINT' },
    });
    const c = await finishAndCheck(backend, o, ref, first, () => undefined);
    timed.checked(c);
  }
  return [stages.row, chains.row, random.row, signals.row, timed.row];
}

/** A long CLI run: peak RSS, and the rise of the later half's peak over the earlier half's. */
async function cliSoak(backend: Kind, dir: string, epochs: number): Promise<ReliabilityRow> {
  const t = new Tally(`soak: train ${epochs * STEPS} steps in the CLI (${backend})`);
  const out = join(dir, `soak-${backend}`);
  const flags = trainFlags(backend, out).map((f, i, a) =>
    a[i - 1] === '--epochs' ? String(epochs) : f,
  );
  const r = await runCli(['train', ...flags, '--steps-per-submit', '1']);
  const half = Math.floor(r.rss.length / 2);
  const peak = (xs: number[]) => Math.max(0, ...xs) / 2 ** 20;
  const rise = peak(r.rss.slice(half)) - peak(r.rss.slice(Math.floor(half / 5), half));
  const ok = r.code === 0 && !r.hung && rise < 64;
  t.add(r.hung ? 'hang' : r.code !== 0 ? 'crash' : ok ? 'clean' : 'invalid', r.peakRss);
  t.row.note = `peak RSS ${(r.peakRss / 2 ** 20).toFixed(0)} MiB, later-half peak ${rise >= 0 ? '+' : ''}${rise.toFixed(1)} MiB over ${r.rss.length / 10} s`;
  return t.row;
}

/** In-process training: device bytes in use per epoch, and heap after a full collection. */
async function libSoak(kind: Kind, epochs: number): Promise<ReliabilityRow> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const t = new Tally(`soak: Trainer ${epochs * 16} steps in-process (${kind})`);
  const backend: Backend = kind === 'cpu' ? new CpuBackend() : await WebGPUBackend.create();
  if (backend instanceof WebGPUBackend) ADAPTER.name = adapterName(backend.info);
  try {
    const spec = parseModelSpec({
      input: [1, 8, 8],
      classes: 4,
      hidden: [24, 12],
      dropout: { features: 0, hidden: 100 },
      training: { lrInv: 64 },
    });
    const data = (n: number, seed: number) => {
      const r = new Rng(seed);
      const labels = Int32Array.from({ length: n }, () => r.int(0, 3));
      const images = Int8Array.from({ length: n * 64 }, () => r.int(-60, 60));
      const shape: [number, number, number] = [1, 8, 8];
      return { name: 'soak', images, labels, shape, classes: 4 };
    };
    const samples: { bytes: number; heap: number; rss: number }[] = [];
    const trainer = new Trainer(
      Model.create(backend, spec, { seed: 1 }),
      data(256, 2),
      data(64, 3),
      {
        batch: 16,
        epochs,
        seed: 4,
        snapshotEvery: 5,
        stepsPerSubmit: kind === 'webgpu' ? 1 : undefined,
        onEpoch: (_r, tr) => {
          gc();
          const m = process.memoryUsage();
          samples.push({ bytes: tr.model.backend.bytesInUse(), heap: m.heapUsed, rss: m.rss });
        },
      },
    );
    await trainer.fit();
    trainer.dispose();
    const bytes = new Set(samples.slice(1).map((s) => s.bytes));
    const q = samples[Math.floor(samples.length / 4)];
    const heap = (samples.at(-1)!.heap - q.heap) / 2 ** 20;
    const peak = Math.max(...samples.map((s) => s.rss));
    t.add(bytes.size === 1 && heap < 2 ? 'clean' : 'invalid', peak);
    t.row.note = `device bytes ${[...bytes].join('/')} every epoch, heap ${heap >= 0 ? '+' : ''}${heap.toFixed(2)} MiB, peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`;
  } finally {
    backend.destroy();
  }
  return t.row;
}

export function formatRows(rows: readonly ReliabilityRow[]): string {
  const head =
    '| area | tried | clean | crash | hang | huge memory | invalid accepted / inconsistent | note |';
  const lines = [head, '|---|--:|--:|--:|--:|--:|--:|---|'];
  for (const r of rows)
    lines.push(
      `| ${r.area} | ${r.tried} | ${r.clean} | ${r.crash} | ${r.hang} | ${r.hugeMemory} | ${r.invalid} | ${r.note ?? ''} |`,
    );
  return lines.join('\n');
}

/** The rows of scripts/reliability-fuzz.ts, when it exists. */
async function fuzzRows(): Promise<ReliabilityRow[]> {
  const file = join(ROOT, 'scripts/reliability-fuzz.ts');
  if (!existsSync(file)) return [];
  const mod = (await import(file)) as Record<string, unknown>;
  const fn = mod.fuzzRows ?? mod.reliabilityRows ?? mod.rows;
  if (typeof fn !== 'function') return [];
  const rows = (await fn({ full: FULL, seed: SEED })) as Partial<ReliabilityRow>[];
  return rows.map((r) => ({
    area: String(r.area),
    tried: r.tried ?? 0,
    clean: r.clean ?? 0,
    crash: r.crash ?? 0,
    hang: r.hang ?? 0,
    hugeMemory: r.hugeMemory ?? 0,
    invalid: r.invalid ?? (r as { invalidAccepted?: number }).invalidAccepted ?? 0,
    note: r.note,
  }));
}

function writeSection(table: string, command: string): void {
  const file = join(ROOT, 'results/reliability.md');
  const section = [
    '## Kills and soaks',
    '',
    `\`${command}\` (${new Date().toISOString().slice(0, 10)}, ${process.platform} ${process.arch}, ${process.version}; WebGPU on ${ADAPTER.name}).`,
    '',
    'Each kill row is a run of `nitro-d train --preset mlp1` (3 epochs of 16 steps, bundled sample)',
    'stopped as the area says, then continued as its own messages say (`--resume',
    'OUT/last.safetensors`, or `--force` where no last checkpoint exists) until it finished.',
    '*Clean*: it ended with the bytes of an unbroken run (last and best), no temporary files, and',
    "the unbroken run's epoch records in its log. Stage kills freeze the process with",
    '`NITRO_D_TEST_STOP_AT` at each write stage of each epoch and SIGKILL it there; chains kill',
    'the resumed runs too, at random stages; random kills and SIGINTs land after a random delay;',
    'SIGINT/SIGTERM rows stop at a random step and resume from the mid-epoch checkpoint. Soaks:',
    'peak resident memory of a long CLI run, and the rise of its later half over its earlier',
    'half; in-process, device bytes in use after every epoch and the heap after a collection.',
    '',
    table,
    '',
  ].join('\n');
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Reliability\n';
  const start = text.indexOf('## Kills and soaks');
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + 1);
    text = text.slice(0, start) + section + (next >= 0 ? text.slice(next) : '');
  } else {
    text = `${text.trimEnd()}\n\n${section}`;
  }
  writeFileSync(file, text);
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist/cli.js'))) throw new Error('run npm run build first');
  const dir = mkdtempSync(join(tmpdir(), 'nitro-reliability-'));
  const t0 = performance.now();
  const rows: ReliabilityRow[] = [];
  for (const backend of ['cpu', 'webgpu'] as const) {
    const ref = await reference(backend, dir);
    rows.push(...(await killChains(backend, dir, ref)));
    rows.push(await cliSoak(backend, dir, FULL ? 300 : backend === 'cpu' ? 150 : 60));
    rows.push(await libSoak(backend, FULL ? 500 : backend === 'cpu' ? 250 : 100));
    console.error(`${backend} done after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  rows.push(...(await fuzzRows()));
  const table = formatRows(rows);
  console.log(table);
  console.log(
    `\n${((performance.now() - t0) / 1000).toFixed(0)} s, seed ${SEED}, work folder ${dir}`,
  );
  if (argv.includes('--write')) {
    const flags = [FULL ? '--full' : '', SEED !== 1 ? `--seed ${SEED}` : ''].filter(Boolean);
    const tail = flags.length > 0 ? ` -- ${flags.join(' ')}` : '';
    writeSection(table, `npx vite-node scripts/reliability.ts${tail}`);
  }
}

// A script: importing it runs it (`import type { ReliabilityRow }` does not).
await main();
