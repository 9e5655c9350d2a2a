/**
 * The input half of the reliability table: reruns the fuzz drivers of every parser
 * (test/fuzz/drivers.ts) in-process at larger counts, feeds a sample of the same generated files
 * to the built command line (one child per input, under prlimit --as and a timeout), and runs
 * the memory-bound cases (gzip bomb, huge declared sizes, /dev/zero). Prints one row per area:
 * tried, clean error, crash, hang, huge memory, invalid accepted. Stops by itself.
 *
 *   npm run build && npx vite-node --script scripts/reliability-fuzz.ts [--runs N] [--cli N] [--seed S] [--json]
 *
 * --runs: in-process inputs per parser (default 10000); --cli: command-line inputs per area
 * (default 25); the seed defaults to the test suite's. `reliabilityFuzzRows` returns the rows for
 * a combined report.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { serializeCheckpoint } from '../src/io/checkpoint.ts';
import { serializeInputs } from '../src/io/batches.ts';
import { initWeights } from '../src/model/init.ts';
import { parseModelSpec } from '../src/model/spec.ts';
import { planFromSpec } from '../src/model/plan.ts';
import {
  batchesDriver,
  type Case,
  checkpointDriver,
  cifarDriver,
  type Driver,
  fuzz,
  idxGzDriver,
  idxRawDriver,
  inputsDriver,
  safetensorsDriver,
  specDriver,
} from '../test/fuzz/drivers.ts';
import { runLimited, writeBombFolder } from '../test/fuzz/limited.ts';

export interface ReliabilityRow {
  area: string;
  tried: number;
  clean: number;
  crash: number;
  hang: number;
  hugeMemory: number;
  invalidAccepted: number;
  /** Inputs that parsed (valid files) — tried minus the rest. */
  valid: number;
  /** A few examples of what went wrong. */
  failures: string[];
}

export interface FuzzOptions {
  runs?: number;
  cli?: number;
  seed?: number;
  /** Child address-space limit (bytes) and peak RSS counted as huge (KiB). */
  asBytes?: number;
  hugeRssKiB?: number;
  timeoutMs?: number;
  log?: (line: string) => void;
}

const SEED = 20261203;

function row(area: string): ReliabilityRow {
  return {
    area,
    tried: 0,
    clean: 0,
    crash: 0,
    hang: 0,
    hugeMemory: 0,
    invalidAccepted: 0,
    valid: 0,
    failures: [],
  };
}

/** One CLI invocation per generated input: how to lay out its files and call the command. */
interface CliArea<T> {
  area: string;
  driver: Driver<T>;
  /** Writes the case's files into `dir` and returns the command's arguments. */
  args(c: Case<T>, dir: string): string[];
  /** The file the error must name. */
  file(dir: string): string;
}

function spec(input: number[], classes: number) {
  return parseModelSpec({ input, classes, hidden: [3] });
}

function writeModel(
  dir: string,
  input: number[],
  classes: number,
): { model: string; weights: string } {
  const s = spec(input, classes);
  const model = join(dir, 'model.json');
  const weights = join(dir, 'init.safetensors');
  writeFileSync(model, JSON.stringify(s));
  writeFileSync(weights, serializeCheckpoint(planFromSpec(s).parameters, initWeights(s, 1)));
  return { model, weights };
}

function idxBytes(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic, false);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  out.set(data, 4 + 4 * dims.length);
  return out;
}

function cliAreas(): CliArea<unknown>[] {
  const checkpoint: CliArea<Uint8Array> = {
    area: 'checkpoint',
    driver: checkpointDriver(),
    args: (c, dir) => {
      const s = parseModelSpec({ input: [1, 4, 4], classes: 3, hidden: [5, 4], bias: true });
      writeFileSync(join(dir, 'model.json'), JSON.stringify(s));
      writeFileSync(join(dir, 'w.safetensors'), c.input);
      writeFileSync(
        join(dir, 'x.safetensors'),
        serializeInputs({ count: 1, shape: [1, 4, 4], x: new Int32Array(16) }),
      );
      return [
        'predict',
        '--model',
        join(dir, 'model.json'),
        '--weights',
        join(dir, 'w.safetensors'),
        '--input',
        join(dir, 'x.safetensors'),
        '--out',
        join(dir, 'out.safetensors'),
        '--backend',
        'cpu',
      ];
    },
    file: (dir) => join(dir, 'w.safetensors'),
  };
  const raw: CliArea<Uint8Array> = {
    ...checkpoint,
    area: 'safetensors (raw)',
    driver: safetensorsDriver(),
  };
  type Shaped = { bytes: Uint8Array; sh: { c: number; h: number; w: number; classes: number } };
  const batches: CliArea<Shaped> = {
    area: 'batches',
    driver: batchesDriver() as unknown as Driver<Shaped>,
    args: (c, dir) => {
      const { bytes, sh } = c.input;
      const m = writeModel(dir, [sh.c, sh.h, sh.w], sh.classes);
      writeFileSync(join(dir, 'b.safetensors'), bytes);
      return [
        'step',
        '--model',
        m.model,
        '--weights',
        m.weights,
        '--batches',
        join(dir, 'b.safetensors'),
        '--out',
        join(dir, 'out.safetensors'),
        '--backend',
        'cpu',
      ];
    },
    file: (dir) => join(dir, 'b.safetensors'),
  };
  const inputs: CliArea<Shaped> = {
    area: 'prediction inputs',
    driver: inputsDriver() as unknown as Driver<Shaped>,
    args: (c, dir) => {
      const { bytes, sh } = c.input;
      const m = writeModel(dir, [sh.c, sh.h, sh.w], 2);
      writeFileSync(join(dir, 'x.safetensors'), bytes);
      return [
        'predict',
        '--model',
        m.model,
        '--weights',
        m.weights,
        '--input',
        join(dir, 'x.safetensors'),
        '--out',
        join(dir, 'out.safetensors'),
        '--backend',
        'cpu',
      ];
    },
    file: (dir) => join(dir, 'x.safetensors'),
  };
  const specs: CliArea<string> = {
    area: 'model spec JSON',
    driver: specDriver(),
    args: (c, dir) => {
      writeFileSync(join(dir, 'model.json'), c.input);
      return ['init', '--model', join(dir, 'model.json'), '--out', join(dir, 'w.safetensors')];
    },
    file: (dir) => join(dir, 'model.json'),
  };
  type IdxIn = { bytes: Uint8Array; expect: number };
  const idx = (gz: boolean): CliArea<IdxIn> => ({
    area: gz ? 'IDX (.gz)' : 'IDX (raw)',
    driver: (gz ? idxGzDriver() : idxRawDriver()) as Driver<IdxIn>,
    args: (c, dir) => {
      const data = join(dir, 'data');
      mkdirSync(data);
      const n = 4;
      writeFileSync(
        join(data, 'train-images-idx3-ubyte'),
        idxBytes(0x0803, [n, 28, 28], new Uint8Array(n * 784)),
      );
      writeFileSync(
        join(data, 'train-labels-idx1-ubyte'),
        idxBytes(0x0801, [n], new Uint8Array(n)),
      );
      const images = c.input.expect === 0x0803;
      const name = `t10k-${images ? 'images-idx3' : 'labels-idx1'}-ubyte${gz ? '.gz' : ''}`;
      writeFileSync(join(data, name), c.input.bytes);
      if (images)
        writeFileSync(
          join(data, 't10k-labels-idx1-ubyte'),
          idxBytes(0x0801, [n], new Uint8Array(n)),
        );
      else
        writeFileSync(
          join(data, 't10k-images-idx3-ubyte'),
          idxBytes(0x0803, [n, 28, 28], new Uint8Array(n * 784)),
        );
      const m = writeModel(dir, [1, 28, 28], 10);
      return [
        'eval',
        '--model',
        m.model,
        '--weights',
        m.weights,
        '--dataset',
        'mnist',
        '--data',
        data,
        '--backend',
        'cpu',
      ];
    },
    file: (dir) => join(dir, 'data'),
  });
  const cifar: CliArea<Uint8Array> = {
    area: 'CIFAR-10',
    driver: cifarDriver(),
    args: (c, dir) => {
      const data = join(dir, 'data');
      mkdirSync(data);
      const record = new Uint8Array(3073);
      for (let i = 1; i <= 5; i++) writeFileSync(join(data, `data_batch_${i}.bin`), record);
      writeFileSync(join(data, 'test_batch.bin'), c.input);
      const m = writeModel(dir, [3, 32, 32], 10);
      return [
        'eval',
        '--model',
        m.model,
        '--weights',
        m.weights,
        '--dataset',
        'cifar10',
        '--data',
        data,
        '--backend',
        'cpu',
      ];
    },
    file: (dir) => join(dir, 'data', 'test_batch.bin'),
  };
  return [
    raw,
    checkpoint,
    batches,
    inputs,
    specs,
    idx(false),
    idx(true),
    cifar,
  ] as CliArea<unknown>[];
}

function note(r: ReliabilityRow, what: string) {
  if (r.failures.length < 5) r.failures.push(what.slice(0, 300));
}

/** Classifies one CLI result: exit 1/2 with one line naming the file is a clean error. */
function classifyCli(
  r: ReliabilityRow,
  res: Awaited<ReturnType<typeof runLimited>>,
  invalid: string | undefined,
  file: string,
  hugeRssKiB: number,
) {
  r.tried++;
  const lines = res.stderr.split('\n').filter((l) => l !== '');
  if (res.timedOut) {
    r.hang++;
    note(r, `hang: ${lines[0] ?? ''}`);
  } else if (res.maxRssKiB === 0 || res.maxRssKiB > hugeRssKiB) {
    r.hugeMemory++;
    note(r, `huge memory (${res.maxRssKiB} KiB, exit ${res.code}): ${lines[0] ?? ''}`);
  } else if (res.code === 0) {
    if (invalid) {
      r.invalidAccepted++;
      note(r, `accepted: ${invalid}`);
    } else r.valid++;
  } else if ((res.code === 1 || res.code === 2) && lines.length === 1 && lines[0].includes(file)) {
    r.clean++;
  } else {
    r.crash++;
    note(r, `crash (exit ${res.code}): ${lines.slice(0, 2).join(' | ')}`);
  }
}

/** The memory-bound cases through the CLI, each under the address-space limit. */
async function memoryCases(
  dir: string,
  o: Required<Omit<FuzzOptions, 'log'>>,
  log: (s: string) => void,
): Promise<ReliabilityRow> {
  const r = row('memory-bound, CLI');
  const bomb = join(dir, 'bomb');
  mkdirSync(bomb);
  await writeBombFolder(bomb, 1024, 9);
  const m = writeModel(dir, [1, 2, 2], 2);
  const cases: { args: string[]; file: string }[] = [
    {
      args: [
        'train',
        '--dataset',
        'mnist',
        '--data',
        bomb,
        '--backend',
        'cpu',
        '--out',
        join(dir, 'bomb-run'),
      ],
      file: bomb,
    },
    {
      args: [
        'predict',
        '--model',
        m.model,
        '--weights',
        '/dev/zero',
        '--input',
        m.weights,
        '--out',
        join(dir, 'o'),
      ],
      file: '/dev/zero',
    },
  ];
  for (const c of cases) {
    const res = await runLimited(c.args, { asBytes: o.asBytes, timeoutMs: o.timeoutMs });
    log(
      `  ${c.args[0]} ${c.file}: exit ${res.code}, peak RSS ${Math.round(res.maxRssKiB / 1024)} MiB: ${res.stderr.split('\n')[0]}`,
    );
    classifyCli(r, res, 'memory-bound input', c.file, o.hugeRssKiB);
  }
  return r;
}

/** Runs everything and returns the rows (in-process per parser, CLI per area, memory cases). */
export async function reliabilityFuzzRows(options: FuzzOptions = {}): Promise<ReliabilityRow[]> {
  const o = {
    runs: options.runs ?? 10_000,
    cli: options.cli ?? 25,
    seed: options.seed ?? SEED,
    asBytes: options.asBytes ?? 2 ** 31,
    hugeRssKiB: options.hugeRssKiB ?? 512 * 1024,
    timeoutMs: options.timeoutMs ?? 60_000,
  };
  const log = options.log ?? (() => {});
  const rows: ReliabilityRow[] = [];
  const areas = cliAreas();
  for (const [i, a] of areas.entries()) {
    const t0 = Date.now();
    const c = await fuzz(a.driver, { runs: o.runs, seed: o.seed + i });
    rows.push({
      area: `${c.area}, in-process`,
      tried: c.tried,
      clean: c.clean,
      crash: c.crash,
      hang: c.hang,
      hugeMemory: 0,
      invalidAccepted: c.invalid,
      valid: c.valid,
      failures: c.failures,
    });
    log(`${c.area}: ${c.tried} in-process in ${Date.now() - t0} ms`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'nitro-reliability-fuzz-'));
  try {
    for (const [i, a] of areas.entries()) {
      const r = row(`${a.area}, CLI`);
      const t0 = Date.now();
      const cases = fc.sample(a.driver.cases, { seed: o.seed + 100 + i, numRuns: o.cli });
      for (const [k, c] of cases.entries()) {
        const caseDir = join(dir, `${i}-${k}`);
        mkdirSync(caseDir);
        const res = await runLimited(a.args(c, caseDir), {
          asBytes: o.asBytes,
          timeoutMs: o.timeoutMs,
        });
        classifyCli(r, res, c.invalid, a.file(caseDir), o.hugeRssKiB);
        rmSync(caseDir, { recursive: true, force: true });
      }
      rows.push(r);
      log(`${a.area}: ${r.tried} through the CLI in ${Date.now() - t0} ms`);
    }
    rows.push(await memoryCases(dir, o, log));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function formatRows(rows: ReliabilityRow[]): string {
  const head =
    '| area | tried | clean error | crash | hang | huge memory | invalid accepted | valid |';
  const lines = [head, '|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows)
    lines.push(
      `| ${r.area} | ${r.tried} | ${r.clean} | ${r.crash} | ${r.hang} | ${r.hugeMemory} | ${r.invalidAccepted} | ${r.valid} |`,
    );
  const sum = (k: keyof ReliabilityRow) => rows.reduce((a, r) => a + (r[k] as number), 0);
  lines.push(
    `| all | ${sum('tried')} | ${sum('clean')} | ${sum('crash')} | ${sum('hang')} | ${sum('hugeMemory')} | ${sum('invalidAccepted')} | ${sum('valid')} |`,
  );
  return lines.join('\n');
}

async function cli(): Promise<void> {
  const args = process.argv.slice(2);
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const t0 = Date.now();
  const rows = await reliabilityFuzzRows({
    runs: value('--runs'),
    cli: value('--cli'),
    seed: value('--seed'),
    log: (s) => console.error(s),
  });
  if (args.includes('--json')) console.log(JSON.stringify(rows, null, 2));
  else {
    console.log(formatRows(rows));
    for (const r of rows) for (const f of r.failures) console.log(`- ${r.area}: ${f}`);
  }
  console.error(`reliability-fuzz: ${Math.round((Date.now() - t0) / 1000)} s`);
  const bad = rows.some((r) => r.crash + r.hang + r.hugeMemory + r.invalidAccepted > 0);
  process.exitCode = bad ? 1 : 0;
}

// Run as the entry (vite-node --script sets argv[1]), not when imported by another harness.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await cli();
