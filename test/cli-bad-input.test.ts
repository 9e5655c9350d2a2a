/**
 * Bad input through the built command line, for every command that reads files or flags
 * (train, eval, step, predict, init, info): malformed or truncated IDX, CIFAR-10 and
 * safetensors files, label count mismatches, specs with unknown keys or impossible geometry,
 * checkpoints that do not match the spec or the run, hyper-parameters out of range, models too
 * large for the adapter. Each must exit non-zero with exactly one error line that names the
 * file, tensor or field, print nothing on stdout, and leave no output or temporary file behind.
 */
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors, serializeSafetensors } from '../src/io/safetensors.ts';
import {
  GOLDEN,
  idxBytes,
  listTree,
  nitro,
  requireBuild,
  stderrLines,
  writeCifarDataset,
  writeIdxDataset,
} from './cli-helpers.ts';

/** Paths of the fixtures every case may use. */
interface Fixtures {
  dir: string;
  /** The case's own empty folder; outputs go here and it must stay empty. */
  out: string;
  data: string;
  spec: string;
  cifar: string;
  cifarSpec: string;
  /** A checkpoint written by `train` (1 epoch, batch 32, tiny spec) and one written by `init`. */
  trained: string;
  init: string;
  cifarInit: string;
}

type Case = [name: string, command: string, args: (f: Fixtures) => string[], message: RegExp];

const g = (c: string, f: string) => join(GOLDEN, c, f);
const TINY = { input: [1, 28, 28], classes: 10, hidden: [16] };
const HUGE = { input: [1, 28, 28], classes: 10, hidden: [20000, 20000] };

let F: Omit<Fixtures, 'out'>;
let caseCounter = 0;

/** A copy of the good IDX data set with one file replaced. */
function idxVariant(name: string, file: string, bytes: Uint8Array): string {
  const dir = join(F.dir, name);
  cpSync(F.data, dir, { recursive: true });
  writeFileSync(join(dir, file), bytes);
  return dir;
}

function cifarVariant(name: string, file: string, bytes: Uint8Array): string {
  const dir = join(F.dir, name);
  cpSync(F.cifar, dir, { recursive: true });
  writeFileSync(join(dir, file), bytes);
  return dir;
}

function json(name: string, value: unknown): string {
  const p = join(F.dir, name);
  writeFileSync(p, typeof value === 'string' ? value : JSON.stringify(value));
  return p;
}

function bytesOf(p: string): Uint8Array {
  return new Uint8Array(readFileSync(p));
}

function file(name: string, bytes: Uint8Array): string {
  const p = join(F.dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** The micro_mlp_step golden files with one of them swapped. */
function stepArgs(f: Fixtures, over: Record<string, string> = {}): string[] {
  const base: Record<string, string> = {
    '--model': g('micro_mlp_step', 'model.json'),
    '--weights': g('micro_mlp_step', 'init.safetensors'),
    '--batches': g('micro_mlp_step', 'batches.safetensors'),
    '--out': join(f.out, 'out.safetensors'),
    '--backend': 'cpu',
    ...over,
  };
  return Object.entries(base).flat();
}

function predictArgs(f: Fixtures, over: Record<string, string> = {}): string[] {
  const base: Record<string, string> = {
    '--model': g('cnn_small_8x8', 'model.json'),
    '--weights': g('cnn_small_8x8', 'init.safetensors'),
    '--input': g('cnn_small_8x8', 'predict-input.safetensors'),
    '--out': join(f.out, 'out.safetensors'),
    '--backend': 'cpu',
    ...over,
  };
  return Object.entries(base).flat();
}

const trainArgs = (f: Fixtures, ...extra: string[]) => [
  '--model',
  f.spec,
  '--data',
  f.data,
  '--batch',
  '32',
  '--epochs',
  '2',
  '--out',
  join(f.out, 'run'),
  '--backend',
  'cpu',
  '--quiet',
  ...extra,
];

const evalArgs = (f: Fixtures, ...extra: string[]) => [
  '--model',
  f.spec,
  '--data',
  f.data,
  '--weights',
  f.trained,
  '--backend',
  'cpu',
  ...extra,
];

const CASES: Case[] = [
  // IDX data
  [
    'truncated IDX images',
    'train',
    (f) => trainArgs(f, '--data', join(f.dir, 'idx-truncated')),
    /idx \S+idx-truncated\/train-images-idx3-ubyte: truncated: dimensions \[96, 28, 28\] need 75264 data bytes, file has 75000/,
  ],
  [
    'IDX file with trailing bytes',
    'train',
    (f) => trainArgs(f, '--data', join(f.dir, 'idx-trailing')),
    /idx-trailing\/t10k-labels-idx1-ubyte: trailing bytes/,
  ],
  [
    'IDX labels with the images magic',
    'train',
    (f) => trainArgs(f, '--data', join(f.dir, 'idx-magic')),
    /idx-magic\/train-labels-idx1-ubyte: bad magic 0x00000803, expected 0x00000801 \(labels\)/,
  ],
  [
    'IDX header cut short',
    'eval',
    (f) => evalArgs(f, '--data', join(f.dir, 'idx-header')),
    /idx-header\/t10k-images-idx3-ubyte: truncated header/,
  ],
  [
    'corrupt gzip IDX file',
    'train',
    (f) => trainArgs(f, '--data', join(f.dir, 'idx-gzip')),
    /cannot decompress \S+idx-gzip\/train-images-idx3-ubyte\.gz/,
  ],
  [
    'label count mismatch',
    'train',
    (f) => trainArgs(f, '--data', join(f.dir, 'idx-count')),
    /idx-count\/train-images-idx3-ubyte has 96 images but \S+idx-count\/train-labels-idx1-ubyte has 95 labels/,
  ],
  [
    'label count mismatch in the test set (eval)',
    'eval',
    (f) => evalArgs(f, '--data', join(f.dir, 'idx-count-test')),
    /t10k-images-idx3-ubyte has 32 images but \S+t10k-labels-idx1-ubyte has 33 labels/,
  ],
  [
    'label outside the classes',
    'train',
    (f) => trainArgs(f, '--data', join(f.dir, 'idx-label')),
    /idx-label\/train-labels-idx1-ubyte: label 12 at 5 is not below 10 classes/,
  ],
  [
    'images of another size than the model',
    'train',
    (f) => trainArgs(f, '--model', f.cifarSpec),
    /fashion-mnist training samples in \S+ are \[1, 28, 28\], the model \S+cifar\.json expects input \[3, 32, 32\]/,
  ],
  [
    'missing data folder',
    'train',
    (f) => trainArgs(f, '--data', join(f.dir, 'nowhere')),
    /data directory \S+nowhere does not exist/,
  ],
  [
    'data folder without a labels file',
    'train',
    (f) => trainArgs(f, '--data', join(f.dir, 'idx-missing')),
    /idx-missing lacks train-labels-idx1-ubyte/,
  ],
  // CIFAR-10 data
  [
    'truncated CIFAR-10 file',
    'train',
    (f) => [
      '--model',
      f.cifarSpec,
      '--dataset',
      'cifar10',
      '--data',
      join(f.dir, 'cifar-truncated'),
      '--batch',
      '4',
      '--out',
      join(f.out, 'run'),
      '--backend',
      'cpu',
    ],
    /cifar \S+cifar-truncated\/data_batch_3\.bin: size 12000 is not a positive multiple of the 3073-byte record/,
  ],
  [
    'CIFAR-10 record with label 10',
    'eval',
    (f) => [
      '--model',
      f.cifarSpec,
      '--dataset',
      'cifar10',
      '--data',
      join(f.dir, 'cifar-label'),
      '--weights',
      f.cifarInit,
      '--backend',
      'cpu',
    ],
    /cifar \S+cifar-label\/test_batch\.bin: record 1 has label 10, expected 0\.\.9/,
  ],
  [
    'empty CIFAR-10 file',
    'train',
    (f) => [
      '--model',
      f.cifarSpec,
      '--dataset',
      'cifar10',
      '--data',
      join(f.dir, 'cifar-empty'),
      '--out',
      join(f.out, 'run'),
      '--backend',
      'cpu',
    ],
    /cifar-empty\/data_batch_1\.bin: size 0/,
  ],
  // Model specs
  [
    'spec with an unknown key',
    'train',
    (f) => trainArgs(f, '--model', json('unknown-key.json', { ...TINY, hiden: [3] })),
    /unknown-key\.json: unknown key "hiden" \(did you mean "hidden"\?\)/,
  ],
  [
    'spec with an unknown training key',
    'init',
    (f) => [
      '--model',
      json('unknown-training.json', { ...TINY, training: { lr: 3 } }),
      '--out',
      join(f.out, 'w.safetensors'),
    ],
    /unknown key "lr" at training/,
  ],
  [
    'spec whose kernel does not fit the image',
    'init',
    (f) => [
      '--model',
      json('kernel.json', { input: [1, 28, 28], classes: 10, features: [{ conv: 4, kernel: 30 }] }),
      '--out',
      join(f.out, 'w.safetensors'),
    ],
    /kernel\.json: features\[0\]: kernel 30 does not fit the 28x28 map/,
  ],
  [
    'spec whose pool shrinks the map to nothing',
    'step',
    (f) =>
      stepArgs(f, {
        '--model': json('pool.json', {
          input: [1, 28, 28],
          classes: 10,
          features: [{ conv: 4, kernel: 3 }, { pool: 30 }],
        }),
      }),
    /pool\.json: features\[1\]: pool 30 shrinks the 26x26 map to 0x0/,
  ],
  [
    'spec starting with a pool',
    'eval',
    (f) =>
      evalArgs(
        f,
        '--model',
        json('pool-first.json', { input: [1, 28, 28], classes: 10, features: [{ pool: 2 }] }),
      ),
    /pool-first\.json: features\[0\] must be a conv block/,
  ],
  [
    'spec with lrInv 0',
    'step',
    (f) =>
      stepArgs(f, {
        '--model': json('lr0.json', {
          ...JSON.parse(readFileSync(g('micro_mlp_step', 'model.json'), 'utf8')),
          training: { lrInv: 0 },
        }),
      }),
    /lr0\.json: training\.lrInv must be a positive integer, got 0/,
  ],
  [
    'spec with a negative lrInv',
    'train',
    (f) => trainArgs(f, '--model', json('lr-neg.json', { ...TINY, training: { lrInv: -512 } })),
    /training\.lrInv must be a positive integer, got -512/,
  ],
  [
    'spec with a slope that is not allowed',
    'predict',
    (f) =>
      predictArgs(f, {
        '--model': json('slope.json', {
          ...JSON.parse(readFileSync(g('cnn_small_8x8', 'model.json'), 'utf8')),
          negativeSlopeInv: 6,
        }),
      }),
    /slope\.json: negativeSlopeInv must be one of 3,4,5,7,8,10,15,16,20, got 6/,
  ],
  [
    'spec with a weight too large for i32 indexing',
    'init',
    (f) => [
      '--model',
      json('i32.json', { input: [1, 28, 28], classes: 10, hidden: [100000, 100000] }),
      '--out',
      join(f.out, 'w.safetensors'),
    ],
    /i32\.json: hidden\[1\]: the weight \[100000, 100000\] is too large/,
  ],
  [
    'spec that is not JSON',
    'train',
    (f) => trainArgs(f, '--model', json('broken.json', '{"input": [1, 28,')),
    /broken\.json: invalid JSON/,
  ],
  [
    'spec file that does not exist',
    'info',
    (f) => ['--model', join(f.dir, 'absent.json')],
    /cannot read \S+absent\.json: no such file/,
  ],
  [
    'unknown preset',
    'train',
    (f) => ['--preset', 'mlp9', '--out', join(f.out, 'run')],
    /unknown preset "mlp9"/,
  ],
  // safetensors files
  [
    'weights cut inside the header',
    'step',
    (f) =>
      stepArgs(f, {
        '--weights': file(
          'cut-header.safetensors',
          bytesOf(g('micro_mlp_step', 'init.safetensors')).subarray(0, 100),
        ),
      }),
    /checkpoint \S+cut-header\.safetensors: not a safetensors file: its first 8 bytes give a header length of \d+, past the end of the file \(100 bytes\)/,
  ],
  [
    'weights cut inside the data',
    'step',
    (f) =>
      stepArgs(f, {
        '--weights': file(
          'cut-data.safetensors',
          cutTail(g('micro_mlp_step', 'init.safetensors'), 7),
        ),
      }),
    /checkpoint \S+cut-data\.safetensors: tensor \S+: data_offsets \[\d+, \d+\] run past the end of the data/,
  ],
  [
    'weights shorter than a header',
    'eval',
    (f) => evalArgs(f, '--weights', file('tiny.safetensors', new Uint8Array(5))),
    /checkpoint \S+tiny\.safetensors: not a safetensors file: 5 bytes, too short for the 8-byte header length/,
  ],
  [
    'weights whose header length runs past the file',
    'predict',
    (f) =>
      predictArgs(f, {
        '--weights': file(
          'header-len.safetensors',
          new Uint8Array([200, 0, 0, 0, 0, 0, 0, 0, 123, 125]),
        ),
      }),
    /header-len\.safetensors: not a safetensors file: its first 8 bytes give a header length of 200, past the end of the file/,
  ],
  [
    'batches whose header is not JSON',
    'step',
    (f) =>
      stepArgs(f, {
        '--batches': file(
          'garbage.safetensors',
          new Uint8Array([4, 0, 0, 0, 0, 0, 0, 0, 123, 120, 120, 120]),
        ),
      }),
    /batches \S+garbage\.safetensors: header is not valid JSON/,
  ],
  [
    'weights with a float dtype',
    'step',
    (f) =>
      stepArgs(f, {
        '--weights': file(
          'f32.safetensors',
          retype(bytesOf(g('micro_mlp_step', 'init.safetensors'))),
        ),
      }),
    /f32\.safetensors: tensor \S+: dtype F32 is not accepted \(expected I32\)/,
  ],
  [
    'weights of another model (step)',
    'step',
    (f) => stepArgs(f, { '--weights': g('cnn_small_8x8', 'init.safetensors') }),
    /checkpoint \S+cnn_small_8x8\/init\.safetensors: (tensor \S+ has shape \[[\d, ]+\], expected \[[\d, ]+\]|unexpected tensor \S+)/,
  ],
  [
    'weights of another model (eval)',
    'eval',
    (f) => evalArgs(f, '--weights', g('micro_mlp_step', 'init.safetensors')),
    /checkpoint \S+micro_mlp_step\/init\.safetensors: tensor \S+ has shape \[[\d, ]+\], expected \[[\d, ]+\]/,
  ],
  [
    'weights missing a tensor',
    'predict',
    (f) =>
      predictArgs(f, {
        '--weights': file(
          'missing-tensor.safetensors',
          dropTensor(bytesOf(g('cnn_small_8x8', 'init.safetensors')), 'output.weight'),
        ),
      }),
    /missing-tensor\.safetensors: missing tensor output\.weight/,
  ],
  [
    'batches of the wrong sample shape',
    'step',
    (f) => stepArgs(f, { '--batches': g('cnn_small_8x8', 'batches.safetensors') }),
    /batches \S+batches\.safetensors: tensor x has samples \[[\d, ]+\], the model expects \[1, 2, 2\]/,
  ],
  [
    'batches with batch size 0',
    'step',
    (f) =>
      stepArgs(f, {
        '--batches': file(
          'b0.safetensors',
          serializeSafetensors({
            x: { shape: [1, 0, 1, 2, 2], data: [] },
            y: { shape: [1, 0], data: [] },
          }),
        ),
      }),
    /b0\.safetensors: tensor x has shape \[1, 0, 1, 2, 2\]: batch size B must be at least 1/,
  ],
  [
    'batches with a label outside the classes',
    'step',
    (f) =>
      stepArgs(f, {
        '--batches': file(
          'label.safetensors',
          serializeSafetensors({
            x: { shape: [1, 2, 1, 2, 2], data: new Array(8).fill(1) },
            y: { shape: [1, 2], data: [0, 2] },
          }),
        ),
      }),
    /label\.safetensors: tensor y label 2 at 1 is outside \[0, 2\)/,
  ],
  [
    'inputs of the wrong sample shape',
    'predict',
    (f) => predictArgs(f, { '--input': g('micro_mlp_step', 'batches.safetensors') }),
    /input \S+batches\.safetensors: unexpected tensor y|input \S+batches\.safetensors: tensor x has shape/,
  ],
  [
    'inputs outside int8',
    'predict',
    (f) =>
      predictArgs(f, {
        '--input': file(
          'range.safetensors',
          serializeSafetensors({
            x: {
              shape: [1, 1, 8, 8],
              data: Array.from({ length: 64 }, (_, i) => (i === 3 ? 200 : 0)),
            },
          }),
        ),
      }),
    /range\.safetensors: tensor x value 200 at 3 is outside \[-128, 127\]/,
  ],
  [
    'missing weights file',
    'predict',
    (f) => predictArgs(f, { '--weights': join(f.dir, 'nope.safetensors') }),
    /cannot read \S+nope\.safetensors: no such file/,
  ],
  // Resuming
  [
    'resume from a truncated checkpoint',
    'train',
    (f) =>
      trainArgs(f, '--resume', file('resume-cut.safetensors', bytesOf(f.trained).subarray(0, 300))),
    /checkpoint \S+resume-cut\.safetensors: /,
  ],
  [
    'resume from a checkpoint without trainer state',
    'train',
    (f) => trainArgs(f, '--resume', f.init),
    /checkpoint \S+init\.safetensors: no "trainer" in its metadata/,
  ],
  [
    'resume with another batch size',
    'train',
    (f) => trainArgs(f, '--resume', f.trained, '--batch', '16'),
    /checkpoint \S+last\.safetensors: it was trained with another protocol\.batch/,
  ],
  [
    'resume with another learning rate',
    'train',
    (f) => trainArgs(f, '--resume', f.trained, '--lr-inv', '256'),
    /checkpoint \S+last\.safetensors: its model spec differs from the one requested at model\.training\.lrInv/,
  ],
  [
    'resume on other data',
    'train',
    (f) => trainArgs(f, '--resume', f.trained, '--data', join(f.dir, 'other-data')),
    /checkpoint \S+last\.safetensors: its normalization\.mean\[0\] differs from this data's/,
  ],
  [
    'resume with the checkpoint of another model',
    'train',
    (f) => trainArgs(f, '--resume', g('micro_mlp_step', 'init.safetensors')),
    /checkpoint \S+init\.safetensors: tensor \S+ has shape/,
  ],
  // Flags
  [
    '--lr-inv 0',
    'train',
    (f) => trainArgs(f, '--lr-inv', '0'),
    /^nitro-d train: --lr-inv must be in \[1, 2147483647\], got 0$/,
  ],
  [
    '--lr-inv -3',
    'train',
    (f) => trainArgs(f, '--lr-inv=-3'),
    /--lr-inv must be in \[1, 2147483647\], got -3/,
  ],
  [
    '--batch 0',
    'train',
    (f) => trainArgs(f, '--batch', '0'),
    /^nitro-d train: --batch must be in \[1, 2147483647\], got 0$/,
  ],
  [
    '--batch larger than the training set',
    'train',
    (f) => trainArgs(f, '--batch', '97'),
    /--batch 97 is larger than the training set \(96 samples\)/,
  ],
  ['--epochs 0', 'train', (f) => trainArgs(f, '--epochs', '0'), /--epochs must be in \[1, /],
  [
    '--epochs not a number',
    'train',
    (f) => trainArgs(f, '--epochs', 'ten'),
    /--epochs must be an integer, got 'ten'/,
  ],
  [
    '--train-limit 0',
    'train',
    (f) => trainArgs(f, '--train-limit', '0'),
    /--train-limit must be in \[1, /,
  ],
  [
    '--snapshot-every -1',
    'train',
    (f) => trainArgs(f, '--snapshot-every=-1'),
    /--snapshot-every must be in \[0, /,
  ],
  [
    '--seed not a number',
    'init',
    (f) => ['--model', f.spec, '--seed', '4x', '--out', join(f.out, 'w.safetensors')],
    /--seed must be an integer, got '4x'/,
  ],
  [
    '--batch 0 for info',
    'info',
    (f) => ['--model', f.spec, '--batch', '0', '--backend', 'cpu'],
    /--batch must be in \[1, /,
  ],
  [
    'unknown backend',
    'eval',
    (f) => evalArgs(f, '--backend', 'metal'),
    /--backend must be auto, webgpu or cpu, got 'metal'/,
  ],
  [
    'unknown data set',
    'train',
    (f) => trainArgs(f, '--dataset', 'svhn'),
    /--dataset must be fashion-mnist, mnist or cifar10, got 'svhn'/,
  ],
  [
    'unknown flag',
    'step',
    (f) => [...stepArgs(f), '--steps', '3'],
    /unknown flag '--steps' \(nitro-d step --help lists the flags\)/,
  ],
  ['missing --out', 'predict', (f) => predictArgs(f).slice(0, 6), /--out is required/],
  [
    'stray argument',
    'init',
    (f) => ['--model', f.spec, 'extra', '--out', join(f.out, 'w.safetensors')],
    /unexpected argument 'extra'/,
  ],
  // Output
  [
    '--out in a folder that does not exist',
    'step',
    (f) => stepArgs(f, { '--out': join(f.out, 'no', 'such', 'w.safetensors') }),
    /cannot write \S+no\/such\/w\.safetensors: no such file/,
  ],
];

/** Same bytes with every "I32" dtype written as "F32" (same length, so offsets stay valid). */
function retype(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const n = Number(new DataView(out.buffer).getBigUint64(0, true));
  const header = new TextDecoder().decode(out.subarray(8, 8 + n)).replaceAll('"I32"', '"F32"');
  out.set(new TextEncoder().encode(header), 8);
  return out;
}

function cutTail(path: string, n: number): Uint8Array {
  const bytes = bytesOf(path);
  return bytes.subarray(0, bytes.length - n);
}

function dropTensor(bytes: Uint8Array, name: string): Uint8Array {
  const parsed = parseSafetensors(bytes);
  const kept = new Map(
    [...parsed.tensors]
      .filter(([k]) => k !== name)
      .map(([k, t]) => [k, { shape: t.shape, data: t.data }]),
  );
  return serializeSafetensors(kept, parsed.metadata);
}

beforeAll(async () => {
  requireBuild();
  const dir = mkdtempSync(join(tmpdir(), 'nitro-bad-'));
  const data = join(dir, 'idx');
  writeIdxDataset(data, 96, 32);
  const cifar = join(dir, 'cifar');
  writeCifarDataset(cifar, 4);
  const spec = join(dir, 'tiny.json');
  writeFileSync(spec, JSON.stringify(TINY));
  const cifarSpec = join(dir, 'cifar.json');
  writeFileSync(cifarSpec, JSON.stringify({ input: [3, 32, 32], classes: 10, hidden: [8] }));
  F = {
    dir,
    data,
    spec,
    cifar,
    cifarSpec,
    trained: join(dir, 'trained', 'last.safetensors'),
    init: join(dir, 'init.safetensors'),
    cifarInit: join(dir, 'cifar-init.safetensors'),
  };

  const images = bytesOf(join(data, 'train-images-idx3-ubyte'));
  // The same data in negative: other normalisation statistics.
  const inverted = images.map((v, i) => (i < 16 ? v : 255 - v));
  cpSync(data, join(dir, 'other-data'), { recursive: true });
  writeFileSync(join(dir, 'other-data', 'train-images-idx3-ubyte'), inverted);
  const labels = bytesOf(join(data, 'train-labels-idx1-ubyte'));
  const testLabels = bytesOf(join(data, 't10k-labels-idx1-ubyte'));
  idxVariant('idx-truncated', 'train-images-idx3-ubyte', images.subarray(0, 16 + 75000));
  idxVariant('idx-trailing', 't10k-labels-idx1-ubyte', new Uint8Array([...testLabels, 1, 2]));
  idxVariant('idx-magic', 'train-labels-idx1-ubyte', idxBytes(0x0803, [96], labels.subarray(8)));
  idxVariant('idx-header', 't10k-images-idx3-ubyte', images.subarray(0, 10));
  idxVariant(
    'idx-count',
    'train-labels-idx1-ubyte',
    idxBytes(0x0801, [95], labels.subarray(8, 8 + 95)),
  );
  idxVariant(
    'idx-count-test',
    't10k-labels-idx1-ubyte',
    idxBytes(0x0801, [33], new Uint8Array(33)),
  );
  const badLabel = labels.slice();
  badLabel[8 + 5] = 12;
  idxVariant('idx-label', 'train-labels-idx1-ubyte', badLabel);
  const gz = gzipSync(images);
  idxVariant('idx-gzip', 'train-images-idx3-ubyte.gz', gz.subarray(0, gz.length >> 1));
  const missing = join(dir, 'idx-missing');
  mkdirSync(missing);
  for (const f of ['train-images-idx3-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'])
    copyFileSync(join(data, f), join(missing, f));
  const cifarBytes = bytesOf(join(cifar, 'test_batch.bin'));
  cifarVariant('cifar-truncated', 'data_batch_3.bin', cifarBytes.subarray(0, 12000));
  const badCifar = cifarBytes.slice();
  badCifar[3073] = 10;
  cifarVariant('cifar-label', 'test_batch.bin', badCifar);
  cifarVariant('cifar-empty', 'data_batch_1.bin', new Uint8Array(0));

  const trained = await nitro([
    'train',
    '--model',
    spec,
    '--data',
    data,
    '--batch',
    '32',
    '--epochs',
    '1',
    '--out',
    join(dir, 'trained'),
    '--backend',
    'cpu',
    '--quiet',
  ]);
  if (trained.code !== 0) throw new Error(`fixture run failed: ${trained.stderr}`);
  const init = await nitro(['init', '--model', spec, '--out', F.init]);
  if (init.code !== 0) throw new Error(`fixture init failed: ${init.stderr}`);
  const cifarInit = await nitro(['init', '--model', cifarSpec, '--out', F.cifarInit]);
  if (cifarInit.code !== 0) throw new Error(`fixture init failed: ${cifarInit.stderr}`);
});

describe('bad input: one error line naming the file or field, non-zero exit, nothing written', () => {
  it.each(CASES)('%s (%s)', async (_name, command, args, message) => {
    const out = join(F.dir, `case-${++caseCounter}`);
    mkdirSync(out);
    const r = await nitro([command, ...args({ ...F, out })]);
    expect(r.code, r.stderr).toBeGreaterThan(0);
    const lines = stderrLines(r.stderr);
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^nitro-d ${command}: `));
    expect(lines[0]).not.toMatch(new RegExp(`^nitro-d ${command}: ${command}: `));
    expect(lines[0]).toMatch(message);
    expect(r.stdout).toBe('');
    expect(listTree(out)).toEqual([]);
  });

  it('exit code 2 for usage errors, 1 for bad files', async () => {
    const out = join(F.dir, 'codes');
    expect((await nitro(['train', '--batch', '0', '--out', out])).code).toBe(2);
    expect(
      (
        await nitro([
          'init',
          '--model',
          join(F.dir, 'absent.json'),
          '--out',
          join(out, 'w.safetensors'),
        ])
      ).code,
    ).toBe(1);
    expect(listTree(out)).toEqual([]);
  });

  it('an --out that is a folder: error, and no temporary file next to it', async () => {
    const parent = join(F.dir, 'out-folder');
    mkdirSync(join(parent, 'target'), { recursive: true });
    const r = await nitro(['init', '--model', F.spec, '--out', join(parent, 'target')]);
    expect(r.code).toBe(1);
    expect(stderrLines(r.stderr)).toEqual([
      `nitro-d init: cannot write ${join(parent, 'target')}: is a directory`,
    ]);
    expect(listTree(parent)).toEqual(['target']);
  });

  it('a failed step leaves an existing output file untouched', async () => {
    const out = join(F.dir, 'keep.safetensors');
    copyFileSync(g('micro_mlp_step', 'init.safetensors'), out);
    const before = readFileSync(out);
    const r = await nitro([
      'step',
      ...stepArgs(
        { ...F, out: F.dir },
        { '--batches': join(F.dir, 'missing.safetensors'), '--out': out },
      ),
    ]);
    expect(r.code).toBe(1);
    expect(Buffer.compare(readFileSync(out), before)).toBe(0);
  });

  it('a failed resume leaves the earlier run folder as it was', async () => {
    const run = join(F.dir, 'resume-keep');
    cpSync(join(F.dir, 'trained'), run, { recursive: true });
    const before = listTree(run).map((p) => [p, readFileSync(join(run, p)).toString('base64')]);
    const r = await nitro([
      'train',
      ...trainArgs(
        { ...F, out: F.dir },
        '--resume',
        join(run, 'last.safetensors'),
        '--batch',
        '16',
        '--out',
        run,
      ),
    ]);
    expect(r.code).not.toBe(0);
    expect(listTree(run).map((p) => [p, readFileSync(join(run, p)).toString('base64')])).toEqual(
      before,
    );
  });
});

describe('models that do not fit the adapter (WebGPU)', () => {
  const fit: Case[] = [
    [
      'info refuses a model whose weights exceed a buffer',
      'info',
      () => ['--model', json('huge.json', HUGE)],
      /model does not fit the adapter even at batch 1: tensor blocks\.1\.weight \[20000, 20000\] needs 1525\.88 MiB, more than the adapter's \d+\.\d\d MiB per binding \(maxStorageBufferBindingSize\), and linear binds it whole; shrink hidden\[1\] \(20000 wide, 20000 inputs\)/,
    ],
    [
      'info refuses a batch whose activations exceed a buffer',
      'info',
      () => ['--preset', 'vgg11b', '--batch', '4096'],
      /batch 4096 does not fit the adapter: tensor \S+ \[\d[\d, ]*\] needs [\d.]+ MiB at batch 4096, .*; use a batch of at most \d+ \(--batch \d+\) or shrink features\[\d+\]/,
    ],
    [
      'train refuses the model before writing anything',
      'train',
      (f) => [
        '--model',
        json('huge-train.json', HUGE),
        '--data',
        f.data,
        '--batch',
        '32',
        '--out',
        join(f.out, 'run'),
        '--backend',
        'webgpu',
      ],
      /shrink hidden\[1\]/,
    ],
    [
      'train refuses the batch before writing anything',
      'train',
      (f) => [
        '--model',
        json('wide.json', {
          input: [1, 28, 28],
          classes: 10,
          // δ takes 6.1 MiB a row; windows start at multiples of 64 rows (the [B, 10] head gradient).
          features: [{ conv: 2048, kernel: 3, padding: 1 }, { pool: 2 }],
        }),
        '--data',
        f.data,
        '--batch',
        '96',
        '--out',
        join(f.out, 'run'),
        '--backend',
        'webgpu',
      ],
      /batch 96 does not fit the adapter: .*use a batch of at most \d+/,
    ],
  ];
  it.each(fit)('%s', async (_name, command, args, message) => {
    const out = join(F.dir, `fit-${++caseCounter}`);
    mkdirSync(out);
    const r = await nitro([command, ...args({ ...F, out })]);
    expect(r.code, r.stderr).toBe(1);
    const lines = stderrLines(r.stderr);
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(r.stdout).toBe('');
    expect(listTree(out)).toEqual([]);
  });
});
