/**
 * Memory-bound inputs in a child process under a hard address-space limit (prlimit --as): a
 * gzip bomb, files and headers that declare huge sizes, an endless device file. Each must end
 * with the parser's one-line error and a small peak RSS, far below what the input claims.
 */
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { serializeSafetensors } from '../src/io/safetensors.ts';
import { GOLDEN, requireBuild } from './cli-helpers.ts';
import { runLimited, writeBombFolder } from './fuzz/limited.ts';

/** Address space of the child: enough for Node, far from what the inputs claim. */
const AS = 1024 * 1024 * 1024;
/** Peak RSS allowed, KiB. */
const MAX_RSS_KIB = 200 * 1024;
const g = (f: string) => join(GOLDEN, 'micro_mlp_step', f);
let dir = '';

beforeAll(() => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'nitro-memory-'));
});

const predict = (weights: string) => [
  'predict',
  '--model',
  g('model.json'),
  '--weights',
  weights,
  '--input',
  g('predict-input.safetensors'),
  '--out',
  join(dir, 'never.safetensors'),
  '--backend',
  'cpu',
];

describe('memory-bound inputs under prlimit --as=1GiB', () => {
  it('a gzip bomb (512 images of 28x28 declared, 1 GiB of zeros) stops at the declared size', {
    timeout: 60_000,
  }, async () => {
    const data = join(dir, 'bomb');
    mkdirSync(data);
    await writeBombFolder(data, 1024);
    const r = await runLimited(
      [
        'train',
        '--dataset',
        'mnist',
        '--data',
        data,
        '--backend',
        'cpu',
        '--out',
        join(dir, 'bomb-run'),
      ],
      { asBytes: AS },
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /^nitro-d train: idx \S+train-images-idx3-ubyte\.gz: trailing bytes: the inflated data runs past the 401424 bytes its header declares$/,
    );
    expect(r.maxRssKiB).toBeGreaterThan(0);
    expect(r.maxRssKiB).toBeLessThan(MAX_RSS_KIB);
  });

  it('a sparse 3 GiB file as --weights is refused by its size, unread', async () => {
    const file = join(dir, 'sparse.safetensors');
    const fd = openSync(file, 'w');
    ftruncateSync(fd, 3 * 2 ** 30);
    closeSync(fd);
    const r = await runLimited(predict(file), { asBytes: AS });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toBe(
      `nitro-d predict: cannot read ${file}: 3221225472 bytes, more than the 2147483647-byte limit for a safetensors file`,
    );
    expect(r.maxRssKiB).toBeLessThan(MAX_RSS_KIB);
  });

  it('a header declaring a 16 TiB tensor in a small file is refused before reading data', async () => {
    const file = join(dir, 'huge-declared.safetensors');
    const valid = serializeSafetensors({ x: { shape: [1], data: [0] } });
    const header = JSON.stringify({
      'blocks.0.weight': { dtype: 'I32', shape: [2 ** 21, 2 ** 21], data_offsets: [0, 2 ** 44] },
    });
    const bytes = new Uint8Array(8 + header.length + valid.length);
    new DataView(bytes.buffer).setUint32(0, header.length, true);
    bytes.set(new TextEncoder().encode(header), 8);
    writeFileSync(file, bytes);
    const r = await runLimited(predict(file), { asBytes: AS });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /^nitro-d predict: checkpoint \S+huge-declared\.safetensors: tensor blocks\.0\.weight: data_offsets \[0, 17592186044416\] run past the end of the data/,
    );
    expect(r.maxRssKiB).toBeLessThan(MAX_RSS_KIB);
  });

  it('an IDX header declaring 2^48 bytes is refused, not allocated', async () => {
    const data = join(dir, 'idx-huge');
    mkdirSync(data);
    await writeBombFolder(data, 0);
    const head = new Uint8Array(16);
    const view = new DataView(head.buffer);
    view.setUint32(0, 0x0803, false);
    view.setUint32(4, 65536, false);
    view.setUint32(8, 65536, false);
    view.setUint32(12, 65536, false);
    writeFileSync(join(data, 'train-images-idx3-ubyte'), head);
    rmSync(join(data, 'train-images-idx3-ubyte.gz'));
    const r = await runLimited(
      [
        'train',
        '--dataset',
        'mnist',
        '--data',
        data,
        '--backend',
        'cpu',
        '--out',
        join(dir, 'idx-run'),
      ],
      { asBytes: AS },
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /^nitro-d train: idx \S+train-images-idx3-ubyte: dimensions \[65536, 65536, 65536\] declare 281474976710656 data bytes, more than the 1073741824-byte limit$/,
    );
    expect(r.maxRssKiB).toBeLessThan(MAX_RSS_KIB);
  });

  it('/dev/zero as --weights ends at once', async () => {
    const r = await runLimited(predict('/dev/zero'), { asBytes: AS, timeoutMs: 30_000 });
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'nitro-d predict: cannot read /dev/zero: is a character device, not a regular file',
    );
    expect(r.maxRssKiB).toBeLessThan(MAX_RSS_KIB);
  });
});
