/**
 * WebGPU vs CPU, element by element: loss gradient with int8 wrap, accuracy (argmax, first
 * index on ties) and 64-bit RSS metrics accumulated over several calls, confusion counts.
 *
 * Coverage: 23 [batch, classes] shapes for lossGradient, the 22 with at most 255 classes for
 * confusion: batch 1 (3 shapes) up to 200; 1, 2, 3 and 4 classes up to 1000; rows that are not
 * whole words and batches past and not a multiple of the 64-thread workgroup (65, 100, 129,
 * 200). Predictions over the full int8 range, on the true class at ≤ −97 so ŷ − 32 wraps in
 * int8, or only −1..1 (argmax ties); one-hot values other than 32; the RSS sum carried from the
 * low into the high word. Channels and kernel sizes do not apply to these ops.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/rng.ts';
import { randomInts } from './helpers.ts';
import { Twins } from './kernels-twin.ts';

/** [batch, classes]: batch 1, odd class counts, rows that are not whole words, more than a workgroup. */
const SHAPES: [number, number][] = [
  [1, 10],
  [1, 1],
  [2, 2],
  [3, 3],
  [5, 7],
  [4, 10],
  [7, 5],
  [8, 12],
  [13, 9],
  [16, 10],
  [31, 6],
  [63, 10],
  [64, 10],
  [65, 10],
  [100, 13],
  [129, 4],
  [3, 100],
  [17, 33],
  [200, 10],
  [9, 1000],
  [2, 255],
  [1, 3],
  [33, 65],
];

const rss = (m: Int32Array, offset: number) =>
  BigInt(m[offset + 1] >>> 0) + (BigInt(m[offset + 2] >>> 0) << 32n);

/**
 * Predictions: full int8 range, values that trigger the int8 wrap on the true class
 * (yhat <= -97 with one-hot 32), or few distinct values (argmax ties).
 */
function predictions(
  rng: Rng,
  batch: number,
  classes: number,
  labels: Int32Array,
  kind: number,
): Int32Array {
  if (kind === 2) return randomInts(rng, batch * classes, -1, 1);
  const y = randomInts(rng, batch * classes, -128, 127);
  if (kind === 1) for (let b = 0; b < batch; b++) y[b * classes + labels[b]] = rng.int(-128, -97);
  return y;
}

let twins: Twins;
beforeAll(async () => {
  twins = await Twins.create();
});
afterEach(() => twins.disposeAll());

describe('lossGradient', () => {
  it('matches the CPU backend on every shape, metrics accumulated over several calls', async () => {
    const rng = new Rng(501);
    // Metrics of all shapes share one tensor at different offsets; each shape runs three calls.
    const metrics = twins.tensor([3 * SHAPES.length + 2], 'i32', undefined, 'metrics');
    for (const [i, [batch, classes]] of SHAPES.entries()) {
      const labelValues = randomInts(rng, batch, 0, classes - 1);
      const labels = twins.tensor([batch], 'i32', labelValues, 'labels');
      const out = twins.tensor([batch, classes], 'i8', undefined, 'out');
      const oneHot = i % 5 === 4 ? rng.int(-128, 127) : 32;
      for (let call = 0; call < 3; call++) {
        const yhat = twins.tensor(
          [batch, classes],
          'i8',
          predictions(rng, batch, classes, labelValues, (i + call) % 3),
          'yhat',
        );
        twins.run((ops, on) =>
          ops.lossGradient({
            yhat: on(yhat),
            labels: on(labels),
            oneHot,
            out: on(out),
            metrics: { tensor: on(metrics), offset: 1 + 3 * i },
          }),
        );
        await twins.expectSame(
          out,
          `lossGradient [${batch}, ${classes}] one-hot ${oneHot} call ${call}`,
        );
      }
    }
    await twins.expectSame(metrics, 'metrics');
  });

  it('matches without metrics, and into a flattened gradient view', async () => {
    const rng = new Rng(502);
    for (const [i, [batch, classes]] of SHAPES.slice(0, 6).entries()) {
      const labelValues = randomInts(rng, batch, 0, classes - 1);
      const labels = twins.tensor([batch], 'i32', labelValues);
      const yhat = twins.tensor(
        [batch, classes],
        'i8',
        predictions(rng, batch, classes, labelValues, i % 3),
      );
      const out = twins.tensor([batch, 1, classes], 'i8');
      twins.run((ops, on) =>
        ops.lossGradient({
          yhat: on(yhat),
          labels: on(labels),
          oneHot: 32,
          out: on(twins.view(out, [batch, classes])),
        }),
      );
      await twins.expectSame(out, `lossGradient without metrics [${batch}, ${classes}]`);
    }
  });

  it('carries the RSS into the high word across calls', async () => {
    const rng = new Rng(503);
    const [batch, classes] = [300, 100];
    const labelValues = randomInts(rng, batch, 0, classes - 1);
    const labels = twins.tensor([batch], 'i32', labelValues);
    // Extreme predictions: each call adds more than 10^9, so the low word overflows within a few calls.
    const values = Int32Array.from({ length: batch * classes }, (_, j) =>
      j % 3 === 0 ? 127 : -128,
    );
    const yhat = twins.tensor([batch, classes], 'i8', values);
    const out = twins.tensor([batch, classes], 'i8');
    const metrics = twins.tensor([5], 'i32', [0, 7, -5, 1, 0]);
    for (let call = 0; call < 5; call++) {
      twins.run((ops, on) =>
        ops.lossGradient({
          yhat: on(yhat),
          labels: on(labels),
          oneHot: 32,
          out: on(out),
          metrics: { tensor: on(metrics), offset: 1 },
        }),
      );
    }
    const m = await twins.expectSame(metrics, 'metrics with carry');
    let perCall = 0n;
    for (let b = 0; b < batch; b++) {
      for (let k = 0; k < classes; k++) {
        const d = BigInt(values[b * classes + k] - (k === labelValues[b] ? 32 : 0));
        perCall += d * d;
      }
    }
    expect(rss(m, 1)).toBe(2n ** 32n - 5n + 5n * perCall + (1n << 32n));
    expect(m[4]).toBe(0);
    expect(m[0]).toBe(0);
  });

  it('reproduces the docs/algorithm.md §9.4 wrap vector', async () => {
    // One sample per value; labels pick the class holding y = 32.
    const yhat = twins.tensor([5, 2], 'i8', [-127, 0, -96, 0, -97, 0, 127, 0, 0, 0]);
    const labels = twins.tensor([5], 'i32', [0, 1, 0, 0, 1]);
    const out = twins.tensor([5, 2], 'i8');
    twins.run((ops, on) =>
      ops.lossGradient({ yhat: on(yhat), labels: on(labels), oneHot: 32, out: on(out) }),
    );
    const g = await twins.expectSame(out, '§9.4');
    expect([0, 2, 4, 6, 8].map((j) => g[j])).toEqual([97, -96, 127, 95, 0]);
  });
});

describe('confusion', () => {
  it('matches the CPU backend on every shape, counts accumulated over several calls', async () => {
    const rng = new Rng(601);
    for (const [i, [batch, classes]] of SHAPES.entries()) {
      if (classes > 255) continue; // keeps the [C, C] matrix small
      const out = twins.tensor([classes, classes], 'i32', undefined, 'confusion');
      for (let call = 0; call < 3; call++) {
        const labelValues = randomInts(rng, batch, 0, classes - 1);
        const labels = twins.tensor([batch], 'i32', labelValues, 'labels');
        const yhat = twins.tensor(
          [batch, classes],
          'i8',
          predictions(rng, batch, classes, labelValues, (i + call) % 3),
          'yhat',
        );
        twins.run((ops, on) => ops.confusion({ yhat: on(yhat), labels: on(labels), out: on(out) }));
      }
      const counts = await twins.expectSame(out, `confusion [${batch}, ${classes}]`);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(3 * batch);
    }
  });
});
