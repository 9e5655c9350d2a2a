/**
 * Bounded input through the built command line: files that are not regular files, not
 * safetensors at all, or deeply nested JSON; every file checked before a GPU device exists (the
 * raw stderr holds exactly one line, no driver notice); memory plans larger than the backend
 * holds refused before anything is allocated, on both backends and in init and info.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GOLDEN, listTree, nitro, requireBuild, writeIdxDataset } from './cli-helpers.ts';

const g = (f: string) => join(GOLDEN, 'micro_mlp_step', f);
let dir = '';
let random = '';
let fifo = '';
let deep = '';
let counter = 0;

beforeAll(() => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'nitro-limits-'));
  random = join(dir, 'random.bin');
  // Fixed bytes whose first 8 give a header length far beyond 2^53.
  const bytes = new Uint8Array(4096);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 167 + 13) & 0xff;
  bytes.set([0xe1, 0x7a, 0x14, 0xae, 0x47, 0xe1, 0x7a, 0xea], 0);
  writeFileSync(random, bytes);
  fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  deep = join(dir, 'deep.json');
  writeFileSync(deep, `${'['.repeat(200_000)}${']'.repeat(200_000)}`);
});

function outDir(): string {
  const out = join(dir, `out-${++counter}`);
  mkdirSync(out);
  return out;
}

type Case = [name: string, args: (out: string) => string[], message: RegExp];

/** predict with `weights` (a path, or a function giving one once the fixtures exist). */
const predict =
  (weights: string | (() => string), extra: string[] = []) =>
  (out: string) => [
    'predict',
    '--model',
    g('model.json'),
    '--weights',
    typeof weights === 'string' ? weights : weights(),
    '--input',
    g('predict-input.safetensors'),
    '--out',
    join(out, 'p.safetensors'),
    ...extra,
  ];

describe('files that cannot be read as input: one line, before any device', () => {
  const cases: Case[] = [
    [
      'a random file as --weights says it is not safetensors, its length exact',
      predict(() => random),
      /^nitro-d predict: checkpoint \S+random\.bin: not a safetensors file: its first 8 bytes give a header length of 16896064650013342433, more than any header/,
    ],
    [
      '/dev/zero as --weights is refused without reading',
      predict('/dev/zero'),
      /^nitro-d predict: cannot read \/dev\/zero: is a character device, not a regular file$/,
    ],
    [
      'a FIFO as --weights is refused without blocking',
      predict(() => fifo),
      /^nitro-d predict: cannot read \S+fifo: is a FIFO \(named pipe\), not a regular file$/,
    ],
    [
      'a folder as --weights',
      predict(() => dir),
      /^nitro-d predict: cannot read \S+: is a directory$/,
    ],
    [
      'deeply nested JSON as --model names the file',
      (out) => [
        'step',
        '--model',
        deep,
        '--weights',
        g('init.safetensors'),
        '--batches',
        g('batches.safetensors'),
        '--out',
        join(out, 's.safetensors'),
      ],
      /^nitro-d step: model spec \S+deep\.json: JSON nested deeper than 64 levels$/,
    ],
    [
      'a bad --batches file (step, WebGPU)',
      (out) => [
        'step',
        '--model',
        g('model.json'),
        '--weights',
        g('init.safetensors'),
        '--batches',
        random,
        '--out',
        join(out, 's.safetensors'),
      ],
      /^nitro-d step: batches \S+random\.bin: not a safetensors file/,
    ],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const out = outDir();
    const r = await nitro(args(out), 60_000);
    expect(r.code, r.stderr).toBe(1);
    // Raw stderr: one line, so no device was created (Dawn prints its notices on creation).
    expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr.trimEnd()).toMatch(message);
    expect(r.stdout).toBe('');
    expect(listTree(out)).toEqual([]);
  });
});

describe('memory plans larger than the backend holds', () => {
  it('train on the CPU refuses cnn-small at batch 30000 at once, with the batch that fits', async () => {
    const out = outDir();
    const t0 = Date.now();
    const r = await nitro(
      [
        'train',
        '--backend',
        'cpu',
        '--preset',
        'cnn-small',
        '--batch',
        '30000',
        '--test-limit',
        '100',
        '--out',
        join(out, 'run'),
      ],
      120_000,
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /^nitro-d train: batch 30000 does not fit the CPU backend: its op \w+ needs about [\d.]+ GiB of WebAssembly memory for the batch, more than the 4\.00 GiB the CPU backend can address; use a batch of at most \d+ \(--batch \d+\)/,
    );
    // Refused from the plan: the data set loads, nothing trains.
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(listTree(out)).toEqual([]);
  });

  it('--memory-limit lowers what the CPU backend holds (predict)', async () => {
    const out = outDir();
    const r = await nitro(
      predict(g('init.safetensors'), ['--backend', 'cpu', '--memory-limit', '100'])(out),
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trimEnd()).toMatch(
      /^nitro-d predict: model does not fit the CPU backend even at batch 1: the plan needs \d+ bytes .*more than the 100 bytes the CPU backend can hold \(--memory-limit 100 bytes\)$/,
    );
    expect(listTree(out)).toEqual([]);
  });

  it('a bad --memory-limit is a usage error', async () => {
    const r = await nitro([
      'info',
      '--preset',
      'mlp1',
      '--backend',
      'cpu',
      '--memory-limit',
      '12X',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd()).toBe(
      "nitro-d info: --memory-limit must be a size such as 512M or 2G, got '12X'",
    );
  });

  it('info reports a plan too large for the CPU backend without allocating it', async () => {
    const r = await nitro([
      'info',
      '--backend',
      'cpu',
      '--preset',
      'cnn-small',
      '--batch',
      '30000',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as {
      memory: { batch: number; plannedBytes: number; tooLarge: string };
    };
    expect(report.memory.batch).toBe(30000);
    expect(report.memory.plannedBytes).toBeGreaterThan(2 ** 31);
    expect(report.memory.tooLarge).toMatch(/^batch 30000 does not fit the CPU backend: /);
  });

  it('info with a plan that fits still measures it', async () => {
    const r = await nitro([
      'info',
      '--backend',
      'cpu',
      '--preset',
      'mlp1',
      '--batch',
      '64',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { memory: { allocatedBytes: number } };
    expect(report.memory.allocatedBytes).toBeGreaterThan(0);
  });

  it('init refuses a model whose weights do not fit under --memory-limit', async () => {
    const out = outDir();
    const r = await nitro([
      'init',
      '--preset',
      'mlp2',
      '--memory-limit',
      '1M',
      '--out',
      join(out, 'w.safetensors'),
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trimEnd()).toMatch(
      /^nitro-d init: the model's \d+ parameters need [\d.]+ MiB to initialise and write, more than the 1\.00 MiB this machine can hold \(--memory-limit 1\.00 MiB\)$/,
    );
    expect(listTree(out)).toEqual([]);
  });

  it('bench refuses a batch beyond the CPU backend instead of a raw typed-array error', async () => {
    const r = await nitro(['bench', '--backend', 'cpu', '--batch', '999999999']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trimEnd()).toMatch(
      /^nitro-d bench: batch 999999999 does not fit the CPU backend: .*use a batch of at most \d+/,
    );
  });

  it('a number beyond 2^53 is printed with its own digits', async () => {
    const r = await nitro(['bench', '--batch', '99999999999999999999']);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd()).toBe(
      'nitro-d bench: --batch must be in [1, 2147483647], got 99999999999999999999',
    );
  });
});

describe('train: raw runtime messages become one line naming the path or flag', () => {
  let data = '';
  let spec = '';
  beforeAll(() => {
    data = join(dir, 'idx');
    writeIdxDataset(data, 96, 32);
    spec = join(dir, 'tiny.json');
    writeFileSync(spec, JSON.stringify({ input: [1, 28, 28], classes: 10, hidden: [16] }));
  });
  const train = (...extra: string[]) => [
    'train',
    '--model',
    spec,
    '--data',
    data,
    '--dataset',
    'mnist',
    '--epochs',
    '1',
    '--batch',
    '32',
    '--backend',
    'cpu',
    ...extra,
  ];

  it('a --log that is a folder gives its own error, not the cleanup EISDIR', async () => {
    const out = outDir();
    mkdirSync(join(out, 'logdir'));
    const r = await nitro(
      train('--quiet', '--out', join(out, 'run'), '--log', join(out, 'logdir')),
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trimEnd()).toMatch(
      /^nitro-d train: cannot open log \S+logdir: it is a folder$/,
    );
  });

  it('an --out that is a file is named, not a raw EEXIST', async () => {
    const out = outDir();
    writeFileSync(join(out, 'file'), 'x');
    const r = await nitro(train('--quiet', '--out', join(out, 'file')));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trimEnd()).toMatch(
      /^nitro-d train: cannot create the folder \S+file: a file is in the way$/,
    );
  });

  it('a --simulate-device-loss outside the run is refused before any progress line', async () => {
    const out = outDir();
    const r = await nitro([
      ...train('--out', join(out, 'run'), '--simulate-device-loss', '1:99'),
      '--backend',
      'webgpu',
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      'nitro-d train: --simulate-device-loss 1:99 is outside the run (1 epochs of 3 steps)',
    ]);
    expect(listTree(out)).toEqual([]);
  });
});

describe('data whose test set has another sample shape', () => {
  it('is refused before the device, naming the folder', async () => {
    const data = join(dir, 'mixed');
    writeIdxDataset(data, 8, 4);
    const head = new Uint8Array(16 + 4 * 10);
    const view = new DataView(head.buffer);
    for (const [i, v] of [0x0803, 4, 2, 5].entries()) view.setUint32(4 * i, v, false);
    writeFileSync(join(data, 't10k-images-idx3-ubyte'), head);
    const spec = join(dir, 'mixed.json');
    writeFileSync(spec, JSON.stringify({ input: [1, 28, 28], classes: 10, hidden: [4] }));
    const weights = join(dir, 'mixed.safetensors');
    const init = await nitro(['init', '--model', spec, '--out', weights]);
    expect(init.code, init.stderr).toBe(0);
    const r = await nitro([
      'eval',
      '--model',
      spec,
      '--weights',
      weights,
      '--dataset',
      'mnist',
      '--data',
      data,
      '--backend',
      'cpu',
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trimEnd()).toBe(
      `nitro-d eval: mnist test samples in ${data} are [1, 2, 5], the model ${spec} expects input [1, 28, 28] (pick the data with --dataset and --data)`,
    );
  });
});
