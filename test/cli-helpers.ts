/**
 * Running the built command line from tests, reading its error output, and writing small
 * data sets in the on-disk formats (IDX, CIFAR-10 binary) it loads.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Rng } from '../src/rng.ts';

const run = promisify(execFile);
export const ROOT = new URL('..', import.meta.url).pathname;
export const CLI = join(ROOT, 'bin/nitro-d.js');
export const GOLDEN = new URL('./golden/', import.meta.url).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function requireBuild(): void {
  if (!existsSync(join(ROOT, 'dist/cli.js')))
    throw new Error('dist/cli.js missing: run npm run build first');
}

/** Runs `node bin/nitro-d.js ARGS` and returns its exit code and output (never throws). */
export async function nitro(args: string[], timeout = 300_000): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run('node', [CLI, ...args], {
      cwd: ROOT,
      timeout,
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    };
  }
}

/**
 * stderr without the WebGPU runtime's driver notices, which come as blocks of a "Warning: ..."
 * line, indented " - While ..." and "    at ..." lines and a blank line.
 */
export function stderrLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter(
      (l) =>
        l !== '' && !l.startsWith('Warning: ') && !l.startsWith(' - ') && !l.startsWith('    at '),
    );
}

/** Every file and folder below `dir` (relative paths), hidden temporary files included. */
export function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    out.push(name);
    if (statSync(p).isDirectory()) for (const sub of listTree(p)) out.push(join(name, sub));
  }
  return out;
}

export function idxBytes(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  view.setUint32(0, magic, false);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

/**
 * Writes a Fashion-MNIST-shaped data set (uncompressed IDX, 28x28, 10 classes) into `dir`:
 * each class is a bright band at its own rows over seeded noise, so it is learnable.
 */
export function writeIdxDataset(dir: string, train: number, test: number, seed = 1): void {
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(seed);
  const make = (n: number) => {
    const images = new Uint8Array(n * 784);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const label = rng.int(0, 9);
      labels[i] = label;
      for (let p = 0; p < 784; p++) {
        const row = Math.floor(p / 28);
        const band = row >= 2 + 2 * label && row < 4 + 2 * label;
        images[i * 784 + p] = band ? rng.int(180, 255) : rng.int(0, 90);
      }
    }
    return { images, labels };
  };
  for (const [stem, n] of [
    ['train', train],
    ['t10k', test],
  ] as const) {
    const { images, labels } = make(n);
    writeFileSync(join(dir, `${stem}-images-idx3-ubyte`), idxBytes(0x0803, [n, 28, 28], images));
    writeFileSync(join(dir, `${stem}-labels-idx1-ubyte`), idxBytes(0x0801, [n], labels));
  }
}

/** CIFAR-10 binary files (records of label + 3072 pixels) with `records` records each. */
export function writeCifarDataset(dir: string, records: number, seed = 2): void {
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(seed);
  const file = () => {
    const bytes = new Uint8Array(records * 3073);
    for (let r = 0; r < records; r++) {
      bytes[r * 3073] = rng.int(0, 9);
      for (let i = 1; i < 3073; i++) bytes[r * 3073 + i] = rng.int(0, 255);
    }
    return bytes;
  };
  for (const name of [
    'data_batch_1.bin',
    'data_batch_2.bin',
    'data_batch_3.bin',
    'data_batch_4.bin',
    'data_batch_5.bin',
    'test_batch.bin',
  ]) {
    writeFileSync(join(dir, name), file());
  }
}
