import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUG_CROP,
  AUG_DX,
  AUG_DY,
  AUG_FLIP,
  AUG_PAD_VALUE,
  AUG_PARAMS,
  applyAugmentation,
  augmentPlan,
  epochPlan,
  gatherBatch,
  mixSeed,
  PAPER_AUGMENTATION,
  statsOrder,
} from '../src/data/batches.ts';
import { CIFAR_RECORD, parseCifar } from '../src/data/cifar.ts';
import {
  datasetFromIdx,
  FASHION_MNIST_DIR,
  loadCifar10,
  loadDataset,
  loadFashionMnist,
  loadMnist,
} from '../src/data/dataset.ts';
import { decodeIdx, parseIdx } from '../src/data/idx.ts';
import {
  applyNormalization,
  computeNormStats,
  normStatsFromTensor,
  normStatsTensor,
  truncDiv,
} from '../src/data/normalize.ts';
import { Rng } from '../src/rng.ts';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nitro-d-data-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function dirFor(name: string): string {
  const d = path.join(tmp, name);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function idx(magic: number, dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic, false);
  for (let i = 0; i < dims.length; i++) view.setUint32(4 + 4 * i, dims[i], false);
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}

const images = (n: number, h: number, w: number, salt: number) =>
  idx(
    0x0803,
    [n, h, w],
    Array.from({ length: n * h * w }, (_, i) => (i * 31 + salt) % 256),
  );
const labels = (n: number, salt: number) =>
  idx(
    0x0801,
    [n],
    Array.from({ length: n }, (_, i) => (i + salt) % 10),
  );
const gz = (b: Uint8Array) => new Uint8Array(zlib.gzipSync(b));

/** The thrown message (async or not); fails when nothing is thrown. */
async function errorOf(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (e) {
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('expected an error');
}

describe('IDX', () => {
  it('parses raw and gzip files alike', async () => {
    const raw = images(3, 2, 3, 5);
    const a = await decodeIdx(raw, 'x', 0x0803);
    const b = await decodeIdx(gz(raw), 'x.gz', 0x0803);
    expect(a.dims).toEqual([3, 2, 3]);
    expect(b.dims).toEqual([3, 2, 3]);
    expect([...b.data]).toEqual([...a.data]);
    expect(a.data[4]).toBe((4 * 31 + 5) % 256);
  });

  it('rejects a bad magic, a truncated file, trailing bytes and broken gzip, naming the file', async () => {
    expect(await errorOf(() => decodeIdx(labels(4, 0), 'labels.idx', 0x0803))).toBe(
      'idx labels.idx: bad magic 0x00000801, expected 0x00000803 (images)',
    );
    expect(await errorOf(() => parseIdx(Uint8Array.from([0x1f, 0x00, 0x08, 0x03]), 'f'))).toMatch(
      /^idx f: bad magic 0x1f000803/,
    );
    const full = images(2, 3, 3, 0);
    expect(await errorOf(() => parseIdx(full.subarray(0, full.length - 1), 'img'))).toBe(
      'idx img: truncated: dimensions [2, 3, 3] need 18 data bytes, file has 17',
    );
    expect(await errorOf(() => parseIdx(full.subarray(0, 10), 'img'))).toBe(
      'idx img: truncated header: 10 bytes, 3 dimensions need 16',
    );
    expect(await errorOf(() => parseIdx(full.subarray(0, 2), 'img'))).toBe(
      'idx img: truncated: 2 bytes, no magic number',
    );
    const extra = new Uint8Array(full.length + 2);
    extra.set(full);
    expect(await errorOf(() => parseIdx(extra, 'img'))).toBe(
      'idx img: trailing bytes: dimensions [2, 3, 3] need 18 data bytes, file has 20',
    );
    const zipped = gz(images(50, 28, 28, 1));
    expect(
      await errorOf(() => decodeIdx(zipped.subarray(0, zipped.length >> 1), 'img.gz')),
    ).toMatch(/^cannot decompress img\.gz: /);
  });
});

describe('MNIST-style loaders', () => {
  it('loads the four IDX files, raw or .gz, as pixel - 128', async () => {
    const dir = dirFor('mnist');
    fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte.gz'), gz(images(5, 4, 3, 1)));
    fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), labels(5, 3));
    fs.writeFileSync(path.join(dir, 't10k-images.idx3-ubyte'), images(2, 4, 3, 9));
    fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte.gz'), gz(labels(2, 8)));
    const { train, test } = await loadMnist(dir);
    expect(train.shape).toEqual([1, 4, 3]);
    expect(train.classes).toBe(10);
    expect(train.images.length).toBe(5 * 12);
    expect([...train.labels]).toEqual([3, 4, 5, 6, 7]);
    expect([...test.labels]).toEqual([8, 9]);
    for (let i = 0; i < train.images.length; i++)
      expect(train.images[i]).toBe(((i * 31 + 1) % 256) - 128);
    for (let i = 0; i < test.images.length; i++)
      expect(test.images[i]).toBe(((i * 31 + 9) % 256) - 128);
  });

  it('names both files when the label count differs from the image count', async () => {
    const dir = dirFor('mismatch');
    fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), images(5, 2, 2, 0));
    fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), labels(4, 0));
    fs.writeFileSync(path.join(dir, 't10k-images-idx3-ubyte'), images(1, 2, 2, 0));
    fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), labels(1, 0));
    const img = path.join(dir, 'train-images-idx3-ubyte');
    const lab = path.join(dir, 'train-labels-idx1-ubyte');
    expect(await errorOf(() => loadMnist(dir))).toBe(
      `mnist/train: ${img} has 5 images but ${lab} has 4 labels`,
    );
  });

  it('rejects labels beyond the class count and a truncated file on disk', async () => {
    expect(
      await errorOf(() =>
        datasetFromIdx('d', images(1, 1, 1, 0), idx(0x0801, [1], [10]), { labels: 'L' }),
      ),
    ).toBe('L: label 10 at 0 is not below 10 classes');
    const dir = dirFor('truncated');
    const full = images(3, 2, 2, 0);
    fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), full.subarray(0, full.length - 3));
    fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), labels(3, 0));
    fs.writeFileSync(path.join(dir, 't10k-images-idx3-ubyte'), images(1, 2, 2, 0));
    fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), labels(1, 0));
    expect(await errorOf(() => loadMnist(dir))).toBe(
      `idx ${path.join(dir, 'train-images-idx3-ubyte')}: truncated: dimensions [3, 2, 2] need 12 data bytes, file has 9`,
    );
  });

  it('lists the missing files and how to get them', async () => {
    const dir = dirFor('partial');
    fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte.gz'), gz(images(1, 2, 2, 0)));
    expect(await errorOf(() => loadFashionMnist(dir))).toBe(
      `fashion-mnist: ${dir} lacks train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]; ` +
        "install it with 'apt-get install dataset-fashion-mnist' or pass --data DIR",
    );
    const none = path.join(tmp, 'does-not-exist');
    expect(await errorOf(() => loadFashionMnist(none))).toMatch(
      /^fashion-mnist: data directory .*does-not-exist does not exist; install it with 'apt-get install dataset-fashion-mnist' or pass --data DIR$/,
    );
    expect(await errorOf(() => loadDataset('mnist'))).toMatch(
      /^mnist: no data directory; pass --data DIR/,
    );
  });
});

describe('CIFAR-10', () => {
  /** Records whose pixels encode (record, channel, row, col) so the layout can be checked. */
  function records(n: number, first: number): Uint8Array {
    const out = new Uint8Array(n * CIFAR_RECORD);
    for (let r = 0; r < n; r++) {
      out[r * CIFAR_RECORD] = (first + r) % 10;
      for (let i = 0; i < 3072; i++) out[r * CIFAR_RECORD + 1 + i] = (first + r) * 7 + i * 3;
    }
    return out;
  }
  const pixel = (rec: number, c: number, y: number, x: number) =>
    (((rec * 7 + (c * 1024 + y * 32 + x) * 3) % 256) + 256) % 256;

  it('reads the five training files then the test file', async () => {
    const dir = dirFor('cifar/cifar-10-batches-bin');
    for (let k = 1; k <= 5; k++)
      fs.writeFileSync(path.join(dir, `data_batch_${k}.bin`), records(2, (k - 1) * 2));
    fs.writeFileSync(path.join(dir, 'test_batch.bin'), records(3, 100));
    const { train, test } = await loadCifar10(path.join(tmp, 'cifar'));
    expect(train.shape).toEqual([3, 32, 32]);
    expect(train.labels.length).toBe(10);
    expect(test.labels.length).toBe(3);
    expect([...train.labels]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...test.labels]).toEqual([0, 1, 2]);
    for (const [rec, c, y, x] of [
      [0, 0, 0, 0],
      [3, 1, 5, 7],
      [9, 2, 31, 31],
      [6, 2, 0, 17],
    ]) {
      expect(train.images[rec * 3072 + c * 1024 + y * 32 + x]).toBe(pixel(rec, c, y, x) - 128);
    }
    expect(test.images[2 * 3072 + 1024 + 33]).toBe(pixel(102, 1, 1, 1) - 128);
  });

  it('rejects a size that is not whole records and a label above 9', async () => {
    expect(await errorOf(() => parseCifar(new Uint8Array(3074), 'data_batch_1.bin'))).toBe(
      'cifar data_batch_1.bin: size 3074 is not a positive multiple of the 3073-byte record',
    );
    const bad = records(3, 0);
    bad[2 * CIFAR_RECORD] = 10;
    expect(await errorOf(() => parseCifar(bad, 'test_batch.bin'))).toBe(
      'cifar test_batch.bin: record 2 has label 10, expected 0..9',
    );
    const dir = dirFor('cifar-missing');
    fs.writeFileSync(path.join(dir, 'data_batch_1.bin'), records(1, 0));
    expect(await errorOf(() => loadCifar10(dir))).toMatch(
      /lacks data_batch_2\.bin, data_batch_3\.bin, data_batch_4\.bin, data_batch_5\.bin, test_batch\.bin; pass --data DIR/,
    );
  });
});

describe('normalisation', () => {
  it('truncates toward zero', () => {
    expect([
      truncDiv(7, 2),
      truncDiv(-7, 2),
      truncDiv(7, -2),
      truncDiv(-12, 8),
      truncDiv(-153, 2),
      truncDiv(0, 5),
      truncDiv(0, -5),
    ]).toEqual([3, -3, -3, -1, -76, 0, 0]);
    expect(truncDiv(2 ** 52 + 1, 3)).toBe(1501199875790165);
  });

  it('matches a hand-computed example with a negative mean', () => {
    // Σx = -12 over 8 values: mean = trunc(-1.5) = -1 (floor would give -2).
    // |x + 1| = 6 1 4 1 0 3 3 2, Σ = 20: mad = trunc(2.5) = 2.
    const x = Int8Array.from([-7, -2, 3, 0, -1, -4, 2, -3]);
    const stats = computeNormStats(x, [1, 2, 2]);
    expect([...stats.mean]).toEqual([-1]);
    expect([...stats.mad]).toEqual([2]);
    // trunc((x + 1) * 51 / 2): -153 -> clip -128, -25.5 -> -25, 102, 25.5 -> 25, 0, -76.5 -> -76, 76.5 -> 76, -51.
    expect([...applyNormalization(x, [1, 2, 2], stats)]).toEqual([
      -128, -25, 102, 25, 0, -76, 76, -51,
    ]);
  });

  it('uses the first statsSamples of the given order, per channel, and guards a constant channel', () => {
    // 3 samples of [2, 1, 2]; channel 1 is constant.
    const x = Int8Array.from([
      10,
      20,
      5,
      5, // sample 0
      -100,
      127,
      5,
      5, // sample 1
      -30,
      -11,
      5,
      5, // sample 2
    ]);
    // Order [2, 0, 1], first 2 samples: channel 0 values -30 -11 10 20, Σ = -11, mean = trunc(-2.75) = -2,
    // |x + 2| = 28 9 12 22, Σ = 71, mad = trunc(17.75) = 17. Channel 1: mean 5, mad 0 -> 1.
    const stats = computeNormStats(x, [2, 1, 2], { order: [2, 0, 1], statsSamples: 2 });
    expect([...stats.mean]).toEqual([-2, 5]);
    expect([...stats.mad]).toEqual([17, 1]);
    const out = applyNormalization(x, [2, 1, 2], stats);
    // trunc(12*51/17) = 36, trunc(22*51/17) = 66, -98*3 -> clip -128, 129*3 -> clip 127, -28*3 = -84, trunc(-9*3) = -27.
    expect([...out]).toEqual([36, 66, 0, 0, -128, 127, 0, 0, -84, -27, 0, 0]);
    expect(normStatsFromTensor(normStatsTensor(stats))).toEqual(stats);
    expect([...normStatsTensor(stats)]).toEqual([-2, 5, 17, 1]);
  });

  it('agrees with a direct evaluation on random data', () => {
    const rng = new Rng(7);
    const shape = [3, 4, 5];
    const n = 40;
    const x = Int8Array.from({ length: n * 60 }, () => rng.int(-128, 127) >> rng.int(0, 3));
    const order = statsOrder(n, 3);
    const stats = computeNormStats(x, shape, { order, statsSamples: 25 });
    const out = applyNormalization(x, shape, stats);
    for (let c = 0; c < 3; c++) {
      const vals: number[] = [];
      for (let s = 0; s < 25; s++)
        for (let p = 0; p < 20; p++) vals.push(x[order[s] * 60 + c * 20 + p]);
      const mean = Math.trunc(vals.reduce((a, b) => a + b, 0) / vals.length) + 0;
      const mad = Math.max(
        1,
        Math.trunc(vals.reduce((a, b) => a + Math.abs(b - mean), 0) / vals.length),
      );
      expect(stats.mean[c]).toBe(mean);
      expect(stats.mad[c]).toBe(mad);
      for (let s = 0; s < n; s++) {
        for (let p = 0; p < 20; p++) {
          const i = s * 60 + c * 20 + p;
          expect(out[i]).toBe(
            Math.max(-128, Math.min(127, Math.trunc(((x[i] - mean) * 51) / mad))),
          );
        }
      }
    }
  });
});

describe('epoch plans', () => {
  it('is deterministic per (seed, epoch), drops the remainder, and visits distinct samples', () => {
    const a = epochPlan(10, 3, 42, 0);
    expect(a.steps).toBe(3);
    expect(a.batch).toBe(3);
    expect(a.indices.length).toBe(9);
    expect(new Set(a.indices).size).toBe(9);
    for (const i of a.indices) expect(i >= 0 && i < 10).toBe(true);
    expect([...epochPlan(10, 3, 42, 0).indices]).toEqual([...a.indices]);
    const big = (seed: number, epoch: number) => [...epochPlan(1000, 64, seed, epoch).indices];
    expect(big(42, 1)).toEqual(big(42, 1));
    expect(big(42, 1)).not.toEqual(big(42, 2));
    expect(big(42, 1)).not.toEqual(big(43, 1));
    expect(big(42, 1).length).toBe(15 * 64);
    expect(epochPlan(63, 64, 1, 0).steps).toBe(0);
    expect(epochPlan(60000, 64, 1, 0).indices.length).toBe(59968);
    expect(mixSeed(1, 2)).not.toBe(mixSeed(2, 1));
    expect(mixSeed(2 ** 40, 0)).not.toBe(mixSeed(0, 0));
  });

  it('draws augmentation parameters in the protocol ranges', () => {
    const shape = [1, 4, 4];
    const n = 640;
    const rng = new Rng(5);
    const images = Int8Array.from({ length: n * 16 }, () => rng.int(-100, 120));
    const plan = epochPlan(n, 8, 9, 3);
    for (const options of [
      PAPER_AUGMENTATION.mnist,
      PAPER_AUGMENTATION['fashion-mnist'],
      PAPER_AUGMENTATION.cifar10,
    ]) {
      const { pad, flip } = options;
      const params = augmentPlan(images, shape, plan, 9, 3, options);
      expect(params.length).toBe(plan.steps * AUG_PARAMS);
      expect([...augmentPlan(images, shape, plan, 9, 3, options)]).toEqual([...params]);
      let crops = 0;
      let flips = 0;
      const dys = new Set<number>();
      for (let s = 0; s < plan.steps; s++) {
        const row = params.subarray(s * AUG_PARAMS, (s + 1) * AUG_PARAMS);
        expect([0, 1]).toContain(row[AUG_CROP]);
        expect([0, 1]).toContain(row[AUG_FLIP]);
        if (!flip) expect(row[AUG_FLIP]).toBe(0);
        crops += row[AUG_CROP];
        flips += row[AUG_FLIP];
        if (row[AUG_CROP]) {
          expect(
            row[AUG_DY] >= 0 &&
              row[AUG_DY] <= 2 * pad &&
              row[AUG_DX] >= 0 &&
              row[AUG_DX] <= 2 * pad,
          ).toBe(true);
          dys.add(row[AUG_DY]);
          let min = 127;
          for (let b = 0; b < plan.batch; b++) {
            const idx = plan.indices[s * plan.batch + b];
            for (let i = 0; i < 16; i++) min = Math.min(min, images[idx * 16 + i]);
          }
          expect(row[AUG_PAD_VALUE]).toBe(min);
        } else {
          expect([row[AUG_DY], row[AUG_DX], row[AUG_PAD_VALUE]]).toEqual([pad, pad, 0]);
        }
      }
      // 80 steps, p = 1/2: far outside [20, 60] would mean a broken draw.
      expect(crops).toBeGreaterThan(20);
      expect(crops).toBeLessThan(60);
      if (flip) {
        expect(flips).toBeGreaterThan(20);
        expect(flips).toBeLessThan(60);
      }
      expect(dys.size).toBe(2 * pad + 1);
    }
    // Augmentation draws from its own stream: the shuffle is unchanged, other epochs differ.
    expect([...epochPlan(n, 8, 9, 3).indices]).toEqual([...plan.indices]);
    const other = augmentPlan(
      images,
      shape,
      epochPlan(n, 8, 9, 4),
      9,
      4,
      PAPER_AUGMENTATION.cifar10,
    );
    expect([...other]).not.toEqual([
      ...augmentPlan(images, shape, plan, 9, 3, PAPER_AUGMENTATION.cifar10),
    ]);
    const combined = epochPlan({
      samples: n,
      batch: 8,
      seed: 9,
      epoch: 3,
      augment: PAPER_AUGMENTATION.cifar10,
      images: { images, shape },
    });
    expect([...combined.indices]).toEqual([...plan.indices]);
    expect([...combined.augment!]).toEqual([
      ...augmentPlan(images, shape, plan, 9, 3, PAPER_AUGMENTATION.cifar10),
    ]);
    expect(() =>
      epochPlan({ samples: n, batch: 8, seed: 9, epoch: 3, augment: PAPER_AUGMENTATION.mnist }),
    ).toThrow('augmentation needs the training images');
    const none = augmentPlan(images, shape, plan, 9, 3, { pad: 0, flip: false });
    expect(none.every((v) => v === 0)).toBe(true);
  });
});

describe('augmentation', () => {
  /** Pads explicitly, crops, flips: an independent statement of the semantics. */
  function reference(x: Int8Array, shape: number[], p: number[], pad: number): Int8Array {
    const [C, H, W] = shape;
    const [crop, dy, dx, flip, padValue] = p;
    const out = new Int8Array(x.length);
    const S = C * H * W;
    for (let b = 0; b < x.length / S; b++) {
      for (let c = 0; c < C; c++) {
        const HP = H + 2 * pad;
        const WP = W + 2 * pad;
        const padded: number[][] = Array.from({ length: HP }, () => new Array(WP).fill(padValue));
        for (let i = 0; i < H; i++)
          for (let j = 0; j < W; j++) padded[i + pad][j + pad] = x[b * S + c * H * W + i * W + j];
        const [oy, ox] = crop ? [dy, dx] : [pad, pad];
        const cropped = Array.from({ length: H }, (_, i) =>
          Array.from({ length: W }, (_, j) => padded[i + oy][j + ox]),
        );
        for (let i = 0; i < H; i++) {
          for (let j = 0; j < W; j++)
            out[b * S + c * H * W + i * W + j] = cropped[i][flip ? W - 1 - j : j];
        }
      }
    }
    return out;
  }

  it('crops a padded image and flips it, on a hand example', () => {
    const x = Int8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // pad 1, dy 0, dx 2: shifted down one row and left one column, pad value -9.
    expect([...applyAugmentation(x, [1, 3, 3], [1, 0, 2, 0, -9], 1)]).toEqual([
      -9, -9, -9, 2, 3, -9, 5, 6, -9,
    ]);
    expect([...applyAugmentation(x, [1, 3, 3], [0, 0, 0, 1, -9], 1)]).toEqual([
      3, 2, 1, 6, 5, 4, 9, 8, 7,
    ]);
    expect([...applyAugmentation(x, [1, 3, 3], [1, 2, 0, 1, -9], 1)]).toEqual([
      5, 4, -9, 8, 7, -9, -9, -9, -9,
    ]);
    expect([...applyAugmentation(x, [1, 3, 3], [0, 0, 0, 0, -9], 1)]).toEqual([...x]);
    expect(() => applyAugmentation(x, [1, 3, 3], [1, 3, 0, 0, 0], 1)).toThrow(
      'crop offsets (3, 0) outside [0, 2]',
    );
  });

  it('agrees with explicit pad-crop-flip for every parameter combination', () => {
    const rng = new Rng(11);
    const shape = [2, 5, 4];
    const x = Int8Array.from({ length: 3 * 40 }, () => rng.int(-128, 127));
    const pad = 2;
    for (const crop of [0, 1]) {
      for (let dy = 0; dy <= 2 * pad; dy++) {
        for (let dx = 0; dx <= 2 * pad; dx++) {
          for (const flip of [0, 1]) {
            const p = [crop, dy, dx, flip, -77];
            expect([...applyAugmentation(x, shape, p, pad)], p.join(',')).toEqual([
              ...reference(x, shape, p, pad),
            ]);
          }
        }
      }
    }
  });

  it('gathers a batch of a plan and applies its step', () => {
    const shape = [1, 2, 2];
    const images = Int8Array.from({ length: 10 * 4 }, (_, i) => i - 20);
    const labels = Int32Array.from({ length: 10 }, (_, i) => i % 3);
    const plan = epochPlan(10, 4, 1, 0);
    const params = augmentPlan(images, shape, plan, 1, 0, { pad: 1, flip: true });
    for (let s = 0; s < plan.steps; s++) {
      const { x, y } = gatherBatch(images, labels, shape, plan, s);
      for (let b = 0; b < 4; b++) {
        const idx = plan.indices[s * 4 + b];
        expect(y[b]).toBe(labels[idx]);
        expect([...x.subarray(b * 4, b * 4 + 4)]).toEqual([
          ...images.subarray(idx * 4, idx * 4 + 4),
        ]);
      }
      const aug = gatherBatch(images, labels, shape, plan, s, { params, pad: 1 });
      expect([...aug.x]).toEqual([
        ...reference(x, shape, [...params.subarray(s * 5, s * 5 + 5)], 1),
      ]);
    }
    expect(() => gatherBatch(images, labels, shape, plan, 2)).toThrow(
      'gatherBatch: step 2 outside [0, 2)',
    );
  });
});

const fmnistPresent = fs.existsSync(FASHION_MNIST_DIR);
describe('Fashion-MNIST from disk', () => {
  it.skipIf(!fmnistPresent)(
    `loads ${FASHION_MNIST_DIR} (skipped when absent: apt-get install dataset-fashion-mnist)`,
    async () => {
      const { train, test } = await loadFashionMnist();
      expect(train.labels.length).toBe(60000);
      expect(test.labels.length).toBe(10000);
      expect(train.shape).toEqual([1, 28, 28]);
      expect(train.images.length).toBe(60000 * 784);
      expect(test.images.length).toBe(10000 * 784);
      for (const ds of [train, test]) {
        const counts = new Array(10).fill(0);
        for (const l of ds.labels) counts[l]++;
        expect(counts).toEqual(new Array(10).fill(ds.labels.length / 10));
      }
      const stats = computeNormStats(train.images, train.shape, { order: statsOrder(60000, 42) });
      const norm = applyNormalization(train.images, train.shape, stats);
      let min = 127;
      let max = -128;
      let sum = 0;
      for (const v of norm) {
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
      }
      // docs/algorithm.md §2.1 reports min -45, max 114, mean 0 after normalisation.
      expect(min).toBeGreaterThanOrEqual(-50);
      expect(min).toBeLessThanOrEqual(-40);
      expect(max).toBeGreaterThanOrEqual(110);
      expect(Math.abs(truncDiv(sum, norm.length))).toBeLessThanOrEqual(2);
    },
  );
  if (!fmnistPresent)
    console.warn(
      `Fashion-MNIST test skipped: ${FASHION_MNIST_DIR} is absent (apt-get install dataset-fashion-mnist)`,
    );
});
