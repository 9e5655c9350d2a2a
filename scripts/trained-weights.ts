/**
 * Training throughput on fresh and on trained weights, side by side in one run:
 *
 *   node_modules/.bin/vite-node scripts/trained-weights.ts -- [--presets mlp2,cnn-small]
 *       [--backends cpu,webgpu] [--rounds 3] [--dir .cache/trained-weights] [--retrain]
 *       [--train-limit N] [--out FILE]
 *
 * For each preset it trains one epoch on its data set (Fashion-MNIST for mlp2 and cnn-small,
 * found as `nitro-d train` finds it) with the CPU backend into DIR/PRESET, or reuses the run
 * already there (--retrain moves it aside to DIR/PRESET.N and trains again). Then, in
 * interleaved rounds, `nitro-d bench` of every preset and backend from the seeded Kaiming
 * weights and from the run's last.safetensors (`--weights`), at the preset's batch with the
 * default kernel variants (`--no-tuned`). Trained weights are larger: more of them need two
 * int8 limbs on the GPU's dot4 path, and the table says how many. Prints a Markdown table
 * (also written to --out FILE) with the load average before and after. Needs dist/ built.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseCheckpoint } from '../src/io/checkpoint.ts';
import { readSafetensorsFile } from '../src/io/files.ts';
import { initWeights } from '../src/model/init.ts';
import { planFromSpec } from '../src/model/plan.ts';
import { getPreset } from '../src/model/presets.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'bin/nitro-d.js');

interface Args {
  presets: string[];
  backends: string[];
  rounds: number;
  dir: string;
  retrain: boolean;
  trainLimit?: number;
  out?: string;
}

function fail(message: string): never {
  console.error(`trained-weights: ${message}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    presets: ['mlp2', 'cnn-small'],
    backends: ['cpu', 'webgpu'],
    rounds: 3,
    dir: join(ROOT, '.cache/trained-weights'),
    retrain: false,
  };
  const value = (i: number, flag: string) => {
    const v = argv[i];
    if (v === undefined || v.startsWith('--')) fail(`${flag} needs a value`);
    return v;
  };
  const count = (v: string, flag: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) fail(`${flag} must be an integer >= 1, got '${v}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    if (f === '--') continue;
    if (f === '--presets') a.presets = value(++i, f).split(',');
    else if (f === '--backends') a.backends = value(++i, f).split(',');
    else if (f === '--rounds') a.rounds = count(value(++i, f), f);
    else if (f === '--dir') a.dir = value(++i, f);
    else if (f === '--retrain') a.retrain = true;
    else if (f === '--train-limit') a.trainLimit = count(value(++i, f), f);
    else if (f === '--out') a.out = value(++i, f);
    else fail(`unknown option '${f}'`);
  }
  for (const b of a.backends)
    if (b !== 'cpu' && b !== 'webgpu') fail(`--backends takes cpu and webgpu, got '${b}'`);
  for (const p of a.presets) getPreset(p);
  return a;
}

function nitro(args: string[], nice = false): string {
  const cmd = nice ? 'nice' : 'node';
  const argv = nice ? ['-n', '10', 'node', CLI, ...args] : [CLI, ...args];
  const r = spawnSync(cmd, argv, {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: { ...process.env, NODEVICE_SELECT: '1' },
  });
  if (r.status !== 0) {
    const last = (r.stderr ?? '').trim().split('\n').pop() || `exit ${r.status}`;
    fail(`nitro-d ${args.slice(0, 3).join(' ')} ... failed: ${last}`);
  }
  return r.stdout;
}

interface Epoch {
  epoch: number;
  seconds: number;
  test: { accuracy: number };
  train: { accuracy: number };
}

function lastEpoch(dir: string): Epoch | undefined {
  const log = join(dir, 'log.jsonl');
  if (!existsSync(log)) return undefined;
  let found: Epoch | undefined;
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const rec = JSON.parse(line) as { event?: string } & Epoch;
    if (rec.event === 'epoch') found = rec;
  }
  return found;
}

/** A run folder with one trained epoch: reused, or trained now on the CPU backend. */
function trainedRun(preset: string, args: Args): { ckpt: string; epoch: Epoch; trained: boolean } {
  const dir = join(args.dir, preset);
  const ckpt = join(dir, 'last.safetensors');
  const done = lastEpoch(dir);
  if (!args.retrain && done && existsSync(ckpt)) return { ckpt, epoch: done, trained: false };
  if (existsSync(dir)) {
    let n = 1;
    while (existsSync(`${dir}.${n}`)) n++;
    renameSync(dir, `${dir}.${n}`);
    console.error(`trained-weights: moved the earlier run to ${dir}.${n}`);
  }
  const limit = args.trainLimit ? ['--train-limit', String(args.trainLimit)] : [];
  const cmd = ['train', '--preset', preset, '--epochs', '1', '--backend', 'cpu', '--out', dir];
  console.error(`trained-weights: nice -n 10 nitro-d ${[...cmd, ...limit].join(' ')}`);
  nitro([...cmd, ...limit, '--quiet'], true);
  const epoch = lastEpoch(dir);
  if (!epoch || !existsSync(ckpt)) fail(`training ${preset} left no epoch in ${dir}`);
  return { ckpt, epoch, trained: true };
}

/** Signed int8 limbs a weight needs (w = Σ limb_l · 2^(8l)): 1 within int8, up to 4. */
function limbsOf(w: number): number {
  let n = 1;
  while (n < 4 && (w < -(2 ** (8 * n - 1)) || w >= 2 ** (8 * n - 1))) n++;
  return n;
}

/** Percentages of the weights (not the biases) needing 1, 2, 3 and 4 limbs, and the largest |w|. */
function weightStats(weights: Map<string, ArrayLike<number>>): { limbs: string; max: number } {
  const counts = [0, 0, 0, 0];
  let max = 0;
  for (const [name, v] of weights) {
    if (!name.endsWith('weight')) continue;
    for (let i = 0; i < v.length; i++) {
      counts[limbsOf(v[i]) - 1]++;
      max = Math.max(max, Math.abs(v[i]));
    }
  }
  const n = counts.reduce((a, b) => a + b, 0) || 1;
  return { limbs: counts.map((c) => ((100 * c) / n).toFixed(1)).join(' / '), max };
}

interface BenchOut {
  imagesPerSecond: number;
  adapter: string;
}

/** Timed steps per preset and backend: about 1-3 s of a step each on this machine. */
function stepsFor(preset: string, backend: string): number {
  if (preset.startsWith('vgg')) return 2;
  if (preset === 'cnn-small') return backend === 'cpu' ? 20 : 10;
  return backend === 'cpu' ? 300 : 100;
}

function bench(preset: string, backend: string, ckpt?: string): BenchOut {
  const steps = stepsFor(preset, backend);
  const args = ['bench', '--preset', preset, '--backend', backend, '--steps', String(steps)];
  args.push('--warmup', String(Math.max(1, Math.floor(steps / 10))));
  args.push('--kernel-timing', 'none', '--no-tuned', '--json');
  if (ckpt) args.push('--weights', ckpt);
  return JSON.parse(nitro(args).trim().split('\n').pop() as string) as BenchOut;
}

function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`;
  }
}

function gitCommit(): string {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    return rev.trim() + (dirty.trim() ? '+dirty' : '');
  } catch {
    return '?';
  }
}

const fmt = (v: number) => Math.round(v).toLocaleString('en-US');
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(join(ROOT, 'dist/cli.js'))) fail('dist/ is not built (npm run build)');
  const runs = new Map<string, { ckpt: string; epoch: Epoch; trained: boolean }>();
  for (const p of args.presets) runs.set(p, trainedRun(p, args));

  const before = uptime();
  const cells = new Map<string, { adapter: string; fresh: number[]; trained: number[] }>();
  for (let r = 0; r < args.rounds; r++) {
    for (const p of args.presets) {
      for (const b of args.backends) {
        const key = `${p}|${b}`;
        const cell = cells.get(key) ?? { adapter: '', fresh: [], trained: [] };
        const fresh = bench(p, b);
        const trained = bench(p, b, runs.get(p)?.ckpt);
        cell.adapter = fresh.adapter;
        cell.fresh.push(fresh.imagesPerSecond);
        cell.trained.push(trained.imagesPerSecond);
        cells.set(key, cell);
        console.error(
          `trained-weights: round ${r + 1} ${p} ${b}: fresh ${fmt(fresh.imagesPerSecond)}, trained ${fmt(trained.imagesPerSecond)} images/s`,
        );
      }
    }
  }
  const after = uptime();

  const lines = [
    `Training throughput (images/s, batch 64) from fresh and from trained weights, ${args.rounds} interleaved rounds`,
    '',
    `- commit ${gitCommit()}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}`,
    '- bench: `nitro-d bench --preset P --backend B --kernel-timing none --no-tuned --steps N [--weights CKPT]`',
  ];
  for (const [p, run] of runs) {
    const spec = getPreset(p).spec;
    const plan = planFromSpec(spec);
    const ckpt = parseCheckpoint(readSafetensorsFile(run.ckpt), plan.parameters, run.ckpt);
    const fresh = weightStats(initWeights(spec, 1));
    const trained = weightStats(ckpt.tensors);
    lines.push(
      `- ${p}: one epoch on the CPU backend (${run.trained ? 'trained now' : 'reused'}${args.trainLimit ? `, first ${args.trainLimit} samples` : ''}, ${fmt(run.epoch.seconds)} s), test accuracy ${run.epoch.test.accuracy} %; weights needing 1 / 2 / 3 / 4 int8 limbs: fresh ${fresh.limbs} %, trained ${trained.limbs} %; max |w| fresh ${fresh.max}, trained ${fmt(trained.max)}`,
    );
  }
  lines.push(`- before: \`${before}\``, `- after: \`${after}\``, '');
  lines.push('| preset | backend | adapter | fresh | trained | trained / fresh |');
  lines.push('| --- | --- | --- | ---: | ---: | ---: |');
  for (const [key, c] of cells) {
    const [p, b] = key.split('|');
    const f = median(c.fresh);
    const t = median(c.trained);
    const each = (v: number[]) => (v.length > 1 ? ` (${v.map(fmt).join(', ')})` : '');
    lines.push(
      `| ${p} | ${b} | ${c.adapter} | ${fmt(f)}${each(c.fresh)} | ${fmt(t)}${each(c.trained)} | ${(t / f).toFixed(2)} |`,
    );
  }
  const table = lines.join('\n');
  console.log(table);
  if (args.out) {
    writeFileSync(`${args.out}.tmp`, `${table}\n`);
    renameSync(`${args.out}.tmp`, args.out);
    console.error(`trained-weights: wrote ${args.out}`);
  }
}

main();
