/**
 * Runs the built command line in a child process under a hard address-space limit
 * (`prlimit --as`), since memory cannot be bounded in-process, and reports its peak RSS as the
 * child measured it. Shared by test/fuzz-memory.test.ts and scripts/reliability-fuzz.ts.
 */
import { execFile } from 'node:child_process';
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface LimitedResult {
  code: number;
  stdout: string;
  /** stderr without the peak RSS line. */
  stderr: string;
  /** Peak resident set of the child, KiB; 0 if it died before reporting it. */
  maxRssKiB: number;
  /** Killed by the timeout. */
  timedOut: boolean;
}

/** The CLI's main() in-process, then its peak RSS on stderr (survives an exception). */
const WRAPPER = `
const { main } = await import(${JSON.stringify(join(ROOT, 'dist/cli.js'))});
let code = 1;
try { code = await main(process.argv.slice(1)); } finally {
  process.stderr.write('\\nmaxrss-kib ' + process.resourceUsage().maxRSS + '\\n');
  process.exit(code);
}`;

export function runLimited(
  args: string[],
  options: { asBytes: number; timeoutMs?: number },
): Promise<LimitedResult> {
  return new Promise((resolve) => {
    execFile(
      'prlimit',
      [`--as=${options.asBytes}`, process.execPath, '--input-type=module', '-e', WRAPPER, ...args],
      {
        cwd: ROOT,
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 16 << 20,
        env: { ...process.env, NODEVICE_SELECT: '1' },
      },
      (error, stdout, stderr) => {
        const m = /\nmaxrss-kib (\d+)\n/.exec(stderr);
        const err = error as (Error & { code?: number | string; killed?: boolean }) | null;
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : -1) : 0,
          stdout,
          stderr: stderr.replace(/\nmaxrss-kib \d+\n/, '').trim(),
          maxRssKiB: m ? Number(m[1]) : 0,
          timedOut: err?.killed === true,
        });
      },
    );
  });
}

function idx(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic, false);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/**
 * An MNIST-style data folder whose train-images-idx3-ubyte.gz is a gzip bomb: a header that
 * declares 512 images of 28x28, then `zeroMiB` MiB of zeros (level 1: about 4.5 MB per GiB;
 * level 9: about 1 MB per GiB, slower to make).
 */
export async function writeBombFolder(dir: string, zeroMiB: number, level = 1): Promise<string> {
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx(0x0801, [512], new Uint8Array(512)));
  writeFileSync(
    join(dir, 't10k-images-idx3-ubyte'),
    idx(0x0803, [64, 28, 28], new Uint8Array(64 * 784)),
  );
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idx(0x0801, [64], new Uint8Array(64)));
  const file = join(dir, 'train-images-idx3-ubyte.gz');
  const gz = createGzip({ level });
  const done = new Promise<void>((resolve, reject) => {
    const out = createWriteStream(file);
    out.on('finish', resolve);
    out.on('error', reject);
    gz.pipe(out);
  });
  gz.write(idx(0x0803, [512, 28, 28], new Uint8Array(0)));
  const zeros = new Uint8Array(1 << 20);
  for (let i = 0; i < zeroMiB; i++) {
    if (!gz.write(zeros)) await new Promise((r) => gz.once('drain', r));
  }
  gz.end();
  await done;
  return file;
}
