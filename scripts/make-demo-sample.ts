/**
 * Writes the demo's bundled data: the first N training and M test images of Fashion-MNIST as
 * standard gzip IDX files, so the page and `nitro-d train --data DIR` read the same bytes.
 *
 *   npx vite-node scripts/make-demo-sample.ts [-- --src DIR --out DIR --train N --test M]
 *
 * Defaults: --src /usr/share/datasets/fashion-mnist, --out demo/public/data/fashion-mnist-sample,
 * 3000 train and 1000 test samples (about 1.8 MB). The output is deterministic (gzip level 9,
 * no file name or time stamp in the gzip header), so re-running it changes nothing.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { decodeIdx, IDX_IMAGES, IDX_LABELS } from '../src/data/idx.ts';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    src: { type: 'string', default: '/usr/share/datasets/fashion-mnist' },
    out: { type: 'string', default: 'demo/public/data/fashion-mnist-sample' },
    train: { type: 'string', default: '3000' },
    test: { type: 'string', default: '1000' },
  },
});

function count(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`--${flag} must be a positive integer, got '${value}'`);
  return n;
}

/** An IDX file: magic 00 00 08 rank, big-endian u32 dims, then the bytes. */
function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x0800 | dims.length);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d);
  out.set(data, 4 + 4 * dims.length);
  return out;
}

async function head(
  file: string,
  magic: number,
  n: number,
): Promise<{ dims: number[]; data: Uint8Array }> {
  const idx = await decodeIdx(new Uint8Array(readFileSync(file)), file, magic);
  if (idx.dims[0] < n)
    throw new Error(`${file} holds ${idx.dims[0]} samples, fewer than the ${n} asked for`);
  const per = idx.dims.slice(1).reduce((a, b) => a * b, 1);
  return { dims: [n, ...idx.dims.slice(1)], data: idx.data.subarray(0, n * per) };
}

const splits = [
  { stem: 'train', n: count('train', values.train!) },
  { stem: 't10k', n: count('test', values.test!) },
];
mkdirSync(values.out!, { recursive: true });
let total = 0;
for (const { stem, n } of splits) {
  for (const [kind, magic] of [
    ['images-idx3-ubyte', IDX_IMAGES],
    ['labels-idx1-ubyte', IDX_LABELS],
  ] as const) {
    const name = `${stem}-${kind}.gz`;
    const { dims, data } = await head(join(values.src!, name), magic, n);
    const bytes = gzipSync(encodeIdx(dims, data), { level: 9 });
    writeFileSync(join(values.out!, name), bytes);
    total += bytes.length;
    console.log(`${join(values.out!, name)}: [${dims.join(', ')}], ${bytes.length} bytes`);
  }
}
console.log(`total ${total} bytes`);
