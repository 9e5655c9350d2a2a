/**
 * WebGPU vs CPU, element by element: batch gather (with and without augmentation), input
 * normalisation and training dropout.
 *
 * Coverage: 22 data sets [N, C, H, W] for gather and normalize: a single sample (N = 1),
 * batch 1 (4 sets), 1 channel (12) and 3 channels (9), maps from 1×1 to 32×32, odd and
 * non-square, so rows are not whole words; batches up to 65 and element counts that are not
 * multiples of the 64-thread workgroup; random crop offsets with pads 0-4, flips, and the
 * cursor at several steps, eager and recorded. normalize: means over the pixel range, MADs
 * from 1 (saturating at −128/127) to 128, in place, and flattened rows. dropout: 20 shapes
 * (ranks 1, 2 and 4, 1 to 2145 elements, batch 1, 1 and 3 channels), every rate on 8 of them,
 * several seeds and cursors. No op here accumulates, so i32 wrap does not apply; kernel sizes
 * are conv/pool notions.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/rng.ts';
import { randomInts } from './helpers.ts';
import { Twins } from './kernels-twin.ts';

/** Data sets [N, C, H, W] with the batch size and crop padding to gather them with. */
const IMAGES: { shape: number[]; batch: number; pad: number }[] = [
  { shape: [10, 1, 5, 7], batch: 3, pad: 2 },
  { shape: [4, 1, 1, 1], batch: 1, pad: 0 },
  { shape: [6, 1, 2, 3], batch: 2, pad: 1 },
  { shape: [20, 3, 8, 8], batch: 4, pad: 4 },
  { shape: [5, 1, 28, 28], batch: 1, pad: 2 },
  { shape: [9, 3, 3, 5], batch: 5, pad: 1 },
  { shape: [12, 1, 7, 7], batch: 6, pad: 2 },
  { shape: [8, 3, 4, 3], batch: 8, pad: 3 },
  { shape: [30, 1, 6, 9], batch: 7, pad: 2 },
  { shape: [3, 3, 11, 13], batch: 2, pad: 4 },
  { shape: [16, 1, 4, 4], batch: 16, pad: 1 },
  { shape: [7, 3, 1, 9], batch: 3, pad: 2 },
  { shape: [70, 1, 3, 3], batch: 65, pad: 1 },
  { shape: [11, 2, 5, 5], batch: 4, pad: 2 },
  { shape: [6, 3, 32, 32], batch: 2, pad: 4 },
  { shape: [9, 1, 9, 2], batch: 9, pad: 2 },
  { shape: [10, 3, 2, 2], batch: 5, pad: 1 },
  { shape: [13, 1, 13, 1], batch: 3, pad: 3 },
  { shape: [5, 3, 6, 6], batch: 1, pad: 2 },
  { shape: [40, 1, 10, 10], batch: 33, pad: 2 },
  { shape: [8, 1, 14, 14], batch: 2, pad: 2 },
  { shape: [1, 3, 5, 5], batch: 1, pad: 2 },
];

/** Steps per epoch plan; the cursor visits several of them. */
const STEPS = 4;
const RATES = [50, 100, 150, 200, 250];
/** NITRO-ReLU outputs (s = 3 gives the widest range), the only inputs dropout sees. */
const ACTIVATION_RANGE: [number, number] = [-73, 96];

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Per-step augmentation rows (crop, dy, dx, flip, pad value), every crop/flip combination. */
function augmentParams(rng: Rng, pad: number): number[] {
  const rows: number[] = [];
  for (let s = 0; s < STEPS; s++)
    rows.push(s & 1, rng.int(0, 2 * pad), rng.int(0, 2 * pad), (s >> 1) & 1, rng.int(-128, 127));
  return rows;
}

let twins: Twins;
beforeAll(async () => {
  twins = await Twins.create();
});
afterEach(() => twins.disposeAll());

describe('gather', () => {
  it('matches the CPU backend with and without augmentation, at several cursors', async () => {
    const rng = new Rng(701);
    for (const { shape, batch, pad } of IMAGES) {
      const [n, c, h, w] = shape;
      const data = twins.tensor(shape, 'i8', randomInts(rng, count(shape), -128, 127), 'data');
      const labels = twins.tensor([n], 'i32', randomInts(rng, n, 0, 9), 'labels');
      const indices = twins.tensor(
        [STEPS * batch],
        'i32',
        randomInts(rng, STEPS * batch, 0, n - 1),
        'indices',
      );
      const params = twins.tensor([STEPS, 5], 'i32', augmentParams(rng, pad), 'aug');
      const cursor = twins.tensor([1], 'i32', undefined, 'cursor');
      const out = twins.tensor([batch, c, h, w], 'i8', undefined, 'out');
      const outLabels = twins.tensor([batch], 'i32', undefined, 'outLabels');
      for (let step = 0; step < STEPS; step++) {
        twins.write(cursor, [step]);
        for (const augmented of [false, true]) {
          if (augmented && step === 0) continue; // step 0 and 1 differ only in crop; keep the case count down
          const augment = augmented ? { params, pad } : undefined;
          twins.run((ops, on) =>
            ops.gather({
              data: on(data),
              labels: on(labels),
              indices: on(indices),
              cursor: on(cursor),
              out: on(out),
              outLabels: on(outLabels),
              ...(augment ? { augment: { params: on(augment.params), pad } } : {}),
            }),
          );
          const what = `gather [${shape}] batch ${batch} step ${step}${augmented ? ` augmented pad ${pad}` : ''}`;
          await twins.expectSame(out, what);
          await twins.expectSame(outLabels, `${what} labels`);
        }
      }
    }
  });

  it('advances through the batches of a recorded step', async () => {
    const rng = new Rng(702);
    const shape = [12, 3, 5, 5];
    const data = twins.tensor(shape, 'i8', randomInts(rng, count(shape), -128, 127));
    const labels = twins.tensor([12], 'i32', randomInts(rng, 12, 0, 9));
    const indices = twins.tensor([STEPS * 3], 'i32', randomInts(rng, STEPS * 3, 0, 11));
    const params = twins.tensor([STEPS, 5], 'i32', augmentParams(rng, 2));
    const cursor = twins.tensor([1], 'i32');
    const out = twins.tensor([3, 3, 5, 5], 'i8');
    const outLabels = twins.tensor([3], 'i32');
    const record = (b: 'gpu' | 'cpu') =>
      twins[b].record('gather', (ops) => {
        ops.gather({
          data: data[b],
          labels: labels[b],
          indices: indices[b],
          cursor: cursor[b],
          out: out[b],
          outLabels: outLabels[b],
          augment: { params: params[b], pad: 2 },
        });
        ops.advance({ cursor: cursor[b] });
      });
    const programs = { gpu: record('gpu'), cpu: record('cpu') };
    twins.gpu.run(programs.gpu, 3);
    twins.cpu.run(programs.cpu, 3);
    await twins.expectSame(out, 'gather recorded');
    await twins.expectSame(outLabels, 'gather recorded labels');
    expect([...(await twins.expectSame(cursor, 'cursor'))]).toEqual([3]);
  });
});

describe('normalize', () => {
  it('matches the CPU backend on every shape, also in place', async () => {
    const rng = new Rng(801);
    for (const [i, { shape }] of IMAGES.entries()) {
      const c = shape[1];
      const x = twins.tensor(shape, 'i8', randomInts(rng, count(shape), -128, 127), 'x');
      // Means in the pixel-128 range, MADs from tiny (saturating) to wide.
      const stats = twins.tensor(
        [2, c],
        'i32',
        [...randomInts(rng, c, -128, 127), ...randomInts(rng, c, 1, i % 2 ? 10 : 128)],
        'stats',
      );
      const out = twins.tensor(shape, 'i8', undefined, 'out');
      twins.run((ops, on) => ops.normalize({ x: on(x), stats: on(stats), out: on(out) }));
      const expected = await twins.expectSame(out, `normalize [${shape}]`);
      if (i % 5 === 0) {
        twins.run((ops, on) => ops.normalize({ x: on(x), stats: on(stats), out: on(x) }));
        expect([...(await twins.expectSame(x, `normalize in place [${shape}]`))]).toEqual([
          ...expected,
        ]);
      }
    }
  });

  it('takes flattened [N, C*H*W] rows', async () => {
    const rng = new Rng(802);
    const x = twins.tensor([7, 3 * 25], 'i8', randomInts(rng, 7 * 75, -128, 127));
    const stats = twins.tensor([2, 3], 'i32', [-20, 3, 40, 60, 55, 70]);
    const out = twins.tensor([7, 75], 'i8');
    twins.run((ops, on) => ops.normalize({ x: on(x), stats: on(stats), out: on(out) }));
    await twins.expectSame(out, 'normalize flattened');
  });
});

describe('dropout', () => {
  const SHAPES = [
    [3, 7],
    [1, 1],
    [2, 3, 5, 5],
    [1000],
    [65, 33],
    [1],
    [5],
    [64],
    [129],
    [1, 3],
    [4, 4],
    [2, 65],
    [1, 1, 3, 3],
    [1, 3, 7, 7],
    [3, 1, 4, 5],
    [2, 2, 1, 9],
    [17, 31],
    [1, 100],
    [5, 3, 11, 13],
    [9, 64],
  ];

  it('matches the CPU backend at every rate on several shapes, seeds and cursors', async () => {
    const rng = new Rng(901);
    for (const [i, shape] of SHAPES.entries()) {
      // Two rates per shape, every rate on 8 shapes.
      for (const ratePermille of [RATES[i % RATES.length], RATES[(i + 2) % RATES.length]]) {
        const n = count(shape);
        const x = twins.tensor(shape, 'i8', randomInts(rng, n, ...ACTIVATION_RANGE), 'x');
        const out = twins.tensor(shape, 'i8', undefined, 'out');
        const cursor = twins.tensor([1], 'i32', [rng.int(0, 100000)], 'cursor');
        const seed = [0, 42, -1, 0x7fffffff, rng.int(-2147483648, 2147483647)][i % 5];
        twins.run((ops, on) =>
          ops.dropout({ x: on(x), out: on(out), ratePermille, seed, cursor: on(cursor) }),
        );
        const values = await twins.expectSame(
          out,
          `dropout ${ratePermille}‰ [${shape}] seed ${seed}`,
        );
        if (n >= 1000) {
          // The hash drops about the requested share.
          const xs = await twins.gpu.read(x.gpu);
          let dropped = 0;
          for (let j = 0; j < n; j++) if (values[j] === 0 && xs[j] !== 0) dropped++;
          expect(Math.abs(dropped / n - ratePermille / 1000)).toBeLessThan(0.05);
        }
      }
    }
  });

  it('draws a new mask at every step and runs in place', async () => {
    const rng = new Rng(902);
    const shape = [4, 50];
    const values = randomInts(rng, 200, ...ACTIVATION_RANGE);
    const x = twins.tensor(shape, 'i8', values);
    const a = twins.tensor(shape, 'i8');
    const cursor = twins.tensor([1], 'i32', [7]);
    twins.run((ops, on) =>
      ops.dropout({ x: on(x), out: on(a), ratePermille: 250, seed: 5, cursor: on(cursor) }),
    );
    const first = await twins.expectSame(a, 'dropout step 7');
    twins.write(cursor, [8]);
    twins.run((ops, on) =>
      ops.dropout({ x: on(x), out: on(x), ratePermille: 250, seed: 5, cursor: on(cursor) }),
    );
    const second = await twins.expectSame(x, 'dropout step 8 in place');
    expect([...second]).not.toEqual([...first]);
  });

  it('a shard with rowOffset draws the rows of the whole batch, on both backends', async () => {
    const rng = new Rng(903);
    const [B, K] = [10, 37];
    const values = randomInts(rng, B * K, ...ACTIVATION_RANGE);
    const x = twins.tensor([B, K], 'i8', values);
    const whole = twins.tensor([B, K], 'i8');
    const cursor = twins.tensor([1], 'i32', [11]);
    twins.run((ops, on) =>
      ops.dropout({ x: on(x), out: on(whole), ratePermille: 250, seed: 9, cursor: on(cursor) }),
    );
    const expected = await twins.expectSame(whole, 'dropout whole batch');
    for (const [offset, rows] of [
      [0, 4],
      [4, 3],
      [7, 3],
      [9, 1],
    ]) {
      const part = values.slice(offset * K, (offset + rows) * K);
      const xs = twins.tensor([rows, K], 'i8', part);
      const out = twins.tensor([rows, K], 'i8');
      twins.run((ops, on) =>
        ops.dropout({
          x: on(xs),
          out: on(out),
          ratePermille: 250,
          seed: 9,
          cursor: on(cursor),
          rowOffset: offset,
        }),
      );
      const got = await twins.expectSame(out, `dropout rows ${offset}+${rows}`);
      expect([...got]).toEqual([...expected.subarray(offset * K, (offset + rows) * K)]);
    }
  });

  it('rejects rates outside the table', () => {
    const x = twins.tensor([4], 'i8');
    const cursor = twins.tensor([1], 'i32');
    for (const ratePermille of [0, 75, 300, 500]) {
      expect(() =>
        twins.gpu.ops.dropout({ x: x.gpu, out: x.gpu, ratePermille, seed: 1, cursor: cursor.gpu }),
      ).toThrow(/rate/);
    }
  });
});
