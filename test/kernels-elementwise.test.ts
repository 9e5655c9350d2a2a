/**
 * WebGPU vs CPU, element by element: NITRO scaling, NITRO-ReLU forward and backward, IntegerSGD,
 * fill and advance.
 *
 * Coverage (23 shapes, each run by every op): ranks 1, 2 and 4, from one element to 1000; batch 1
 * (5 shapes); [B, C, H, W] maps with 1 channel (2) and 3 channels (2); rows that are not whole
 * words and element counts that are not multiples of the 64-thread workgroup (65, 129, 1000).
 * These ops do not accumulate; the i32 edge cases are inputs at ±2^31 (scale, the NITRO-ReLU
 * backward's δ, IntegerSGD's w and gradient, where w − Δw wraps), scaling inputs at every
 * threshold k·SF ± 1 and at the ±127·SF clip, every int8 input for every allowed slope, and
 * the learning rate changed between (recorded) steps. Channels and kernel sizes are conv and
 * pool notions: see kernels-conv.test.ts and kernels-pool.test.ts.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/rng.ts';
import { randomInts } from './helpers.ts';
import { Twins } from './kernels-twin.ts';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const SLOPES = [3, 4, 5, 7, 8, 10, 15, 16, 20];

const SHAPES: number[][] = [
  [1],
  [3],
  [5],
  [7],
  [64],
  [65],
  [129],
  [1, 1],
  [1, 3],
  [2, 5],
  [3, 7],
  [4, 4],
  [6, 13],
  [17, 31],
  [64, 10],
  [9, 65],
  [1, 1000],
  [300, 3],
  [1, 1, 3, 3],
  [2, 3, 5, 7],
  [1, 3, 4, 4],
  [3, 1, 7, 7],
  [5, 2, 3, 1],
];

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const clampI32 = (v: number) => Math.min(INT32_MAX, Math.max(INT32_MIN, v));

/** int32 values concentrated around the scaling thresholds k·SF (and the clip at ±127·SF). */
function scaleInputs(rng: Rng, n: number, sf: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const kind = rng.below(4);
    if (kind === 0) out[i] = rng.int(INT32_MIN, INT32_MAX);
    else if (kind === 1) out[i] = clampI32(rng.int(-130, 130) * sf + rng.int(-1, 1));
    else if (kind === 2) out[i] = clampI32(rng.int(-1, 1) * 127 * sf + rng.int(-1, 1));
    else out[i] = [0, INT32_MIN, INT32_MAX, sf, -sf][rng.below(5)];
  }
  return out;
}

/** int32 gradients with the extremes ±2^31 and small values mixed in. */
function gradients(rng: Rng, n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const kind = rng.below(4);
    if (kind === 0) out[i] = rng.int(INT32_MIN, INT32_MAX);
    else if (kind === 1) out[i] = rng.int(-1000, 1000);
    else if (kind === 2) out[i] = INT32_MIN + rng.int(0, 3);
    else out[i] = INT32_MAX - rng.int(0, 3);
  }
  return out;
}

let twins: Twins;
beforeAll(async () => {
  twins = await Twins.create();
});
afterEach(() => twins.disposeAll());

describe('scale', () => {
  it('matches the CPU backend on every shape', async () => {
    const rng = new Rng(101);
    const factors = [1, 2, 768, 2304, 1179648, 786432, INT32_MAX];
    for (const [i, shape] of SHAPES.entries()) {
      const sf = i < factors.length ? factors[i] : rng.int(1, 300000);
      const x = twins.tensor(shape, 'i32', scaleInputs(rng, count(shape), sf), 'x');
      const out = twins.tensor(shape, 'i8', undefined, 'out');
      twins.run((ops, on) => ops.scale({ x: on(x), out: on(out), scale: sf }));
      await twins.expectSame(out, `scale [${shape}] SF ${sf}`);
    }
  });

  it('reproduces the docs/algorithm.md §9.2 vector', async () => {
    const x = twins.tensor(
      [10],
      'i32',
      [-100000, -769, -768, -767, 0, 767, 768, 97535, 97536, 200000],
    );
    const out = twins.tensor([10], 'i8');
    twins.run((ops, on) => ops.scale({ x: on(x), out: on(out), scale: 768 }));
    expect([...(await twins.expectSame(out, 'scale §9.2'))]).toEqual([
      -127, -1, -1, 0, 0, 0, 1, 126, 127, 127,
    ]);
  });

  it('writes into a flattened view', async () => {
    const rng = new Rng(102);
    const x = twins.tensor([3, 2, 5, 5], 'i32', scaleInputs(rng, 150, 300));
    const out = twins.tensor([3, 2, 5, 5], 'i8');
    twins.run((ops, on) => ops.scale({ x: on(x), out: on(twins.view(out, [3, 50])), scale: 300 }));
    await twins.expectSame(out, 'scale into view');
  });
});

describe('nitroRelu', () => {
  it('matches the CPU backend on every shape', async () => {
    const rng = new Rng(201);
    for (const [i, shape] of SHAPES.entries()) {
      const slopeInv = SLOPES[i % SLOPES.length];
      const x = twins.tensor(shape, 'i8', randomInts(rng, count(shape), -128, 127), 'x');
      const out = twins.tensor(shape, 'i8', undefined, 'out');
      twins.run((ops, on) => ops.nitroRelu({ x: on(x), out: on(out), slopeInv }));
      await twins.expectSame(out, `nitroRelu [${shape}] s ${slopeInv}`);
    }
  });

  it('matches on every int8 input for every allowed slope, also in place', async () => {
    const all = Array.from({ length: 256 }, (_, i) => i - 128);
    for (const slopeInv of SLOPES) {
      const x = twins.tensor([2, 256], 'i8', [...all, ...[...all].reverse()], 'x');
      const out = twins.tensor([2, 256], 'i8', undefined, 'out');
      twins.run((ops, on) => ops.nitroRelu({ x: on(x), out: on(out), slopeInv }));
      const expected = await twins.expectSame(out, `nitroRelu all int8, s ${slopeInv}`);
      twins.run((ops, on) => ops.nitroRelu({ x: on(x), out: on(x), slopeInv }));
      expect([...(await twins.expectSame(x, `nitroRelu in place, s ${slopeInv}`))]).toEqual([
        ...expected,
      ]);
    }
  });

  it('reproduces the docs/algorithm.md §9.3 forward vector', async () => {
    const x = twins.tensor([10], 'i8', [-127, -100, -5, -4, -3, -1, 0, 1, 126, 127]);
    const out = twins.tensor([10], 'i8');
    twins.run((ops, on) => ops.nitroRelu({ x: on(x), out: on(out), slopeInv: 4 }));
    expect([...(await twins.expectSame(out, 'nitroRelu §9.3'))]).toEqual([
      -67, -61, -37, -37, -36, -36, -36, -35, 90, 91,
    ]);
  });

  it('rejects a slope without a mean correction', () => {
    const x = twins.tensor([4], 'i8');
    expect(() => twins.gpu.ops.nitroRelu({ x: x.gpu, out: x.gpu, slopeInv: 6 })).toThrow(
      /slopeInv/,
    );
  });
});

describe('nitroReluBackward', () => {
  it('matches the CPU backend on every shape', async () => {
    const rng = new Rng(301);
    for (const [i, shape] of SHAPES.entries()) {
      const slopeInv = SLOPES[(i * 4) % SLOPES.length];
      const n = count(shape);
      const x = twins.tensor(shape, 'i8', randomInts(rng, n, -128, 127), 'x');
      const delta = twins.tensor(shape, 'i32', gradients(rng, n), 'delta');
      const out = twins.tensor(shape, 'i32', undefined, 'out');
      twins.run((ops, on) =>
        ops.nitroReluBackward({ delta: on(delta), x: on(x), out: on(out), slopeInv }),
      );
      const expected = await twins.expectSame(out, `nitroReluBackward [${shape}] s ${slopeInv}`);
      if (i % 4 === 0) {
        twins.run((ops, on) =>
          ops.nitroReluBackward({ delta: on(delta), x: on(x), out: on(delta), slopeInv }),
        );
        expect([
          ...(await twins.expectSame(delta, `nitroReluBackward in place [${shape}]`)),
        ]).toEqual([...expected]);
      }
    }
  });

  it('matches at the extremes of delta for every int8 input and slope', async () => {
    const rng = new Rng(302);
    const x = Array.from({ length: 256 * 4 }, (_, i) => (i % 256) - 128);
    const extremes = [INT32_MIN, INT32_MIN + 1, INT32_MAX, INT32_MAX - 1];
    const delta = x.map((_, i) =>
      i < 256 ? extremes[i % 4] : i < 512 ? rng.int(-100, 100) : rng.int(INT32_MIN, INT32_MAX),
    );
    for (const slopeInv of SLOPES) {
      const tx = twins.tensor([4, 256], 'i8', x, 'x');
      const td = twins.tensor([1024], 'i32', delta, 'delta');
      const out = twins.tensor([4, 256], 'i32', undefined, 'out');
      twins.run((ops, on) =>
        ops.nitroReluBackward({ delta: on(td), x: on(tx), out: on(out), slopeInv }),
      );
      await twins.expectSame(out, `nitroReluBackward extremes, s ${slopeInv}`);
    }
  });

  it('takes a flattened delta for a [B, C, H, W] input', async () => {
    const rng = new Rng(303);
    const x = twins.tensor([2, 3, 5, 7], 'i8', randomInts(rng, 210, -128, 127));
    const delta = twins.tensor([2, 105], 'i32', gradients(rng, 210));
    const out = twins.tensor([2, 105], 'i32');
    twins.run((ops, on) =>
      ops.nitroReluBackward({ delta: on(delta), x: on(x), out: on(out), slopeInv: 4 }),
    );
    await twins.expectSame(out, 'nitroReluBackward flattened');
  });

  it('reproduces the docs/algorithm.md §9.3 backward vector', async () => {
    const x = twins.tensor([10], 'i8', [-127, -100, -5, -4, -3, -1, 0, 1, 126, 127]);
    const delta = twins.tensor([10], 'i32', [100, -100, 7, -7, 7, -7, 50, -50, 9, 9]);
    const out = twins.tensor([10], 'i32');
    twins.run((ops, on) =>
      ops.nitroReluBackward({ delta: on(delta), x: on(x), out: on(out), slopeInv: 4 }),
    );
    expect([...(await twins.expectSame(out, 'nitroReluBackward §9.3'))]).toEqual([
      25, -25, 1, -1, 1, -1, 50, -50, 9, 0,
    ]);
  });
});

describe('integerSgd', () => {
  it('matches the CPU backend on every shape, decay on and off, gradients near ±2^31', async () => {
    const rng = new Rng(401);
    const amps = [1, 640, 7];
    const decays = [0, 12000, 3000, 1, INT32_MAX];
    const lrs = [512, 1, 1536, 3];
    for (const [i, shape] of SHAPES.entries()) {
      const n = count(shape);
      const amp = amps[i % amps.length];
      const decayInv = decays[i % decays.length];
      const w = twins.tensor(shape, 'i32', gradients(rng, n), 'w');
      const grad = twins.tensor(shape, 'i32', gradients(rng, n), 'grad');
      const lrInv = twins.tensor([1], 'i32', [lrs[i % lrs.length]], 'lrInv');
      // Three steps; the learning rate changes between them and is read when the op runs.
      for (let step = 0; step < 3; step++) {
        if (step > 0) twins.write(lrInv, [lrs[(i + step) % lrs.length]]);
        twins.run((ops, on) =>
          ops.integerSgd({ w: on(w), grad: on(grad), lrInv: on(lrInv), amp, decayInv }),
        );
      }
      await twins.expectSame(w, `integerSgd [${shape}] amp ${amp} decay ${decayInv}`);
    }
  });

  it('picks up a new learning rate in a recorded step', async () => {
    const rng = new Rng(402);
    const w = twins.tensor([37], 'i32', gradients(rng, 37));
    const grad = twins.tensor([37], 'i32', gradients(rng, 37));
    const lrInv = twins.tensor([1], 'i32', [2]);
    const step = (b: 'gpu' | 'cpu') =>
      twins[b].record('sgd', (ops) =>
        ops.integerSgd({ w: w[b], grad: grad[b], lrInv: lrInv[b], amp: 3, decayInv: 1000 }),
      );
    const programs = { gpu: step('gpu'), cpu: step('cpu') };
    twins.gpu.run(programs.gpu, 2);
    twins.cpu.run(programs.cpu, 2);
    twins.write(lrInv, [5]);
    twins.gpu.run(programs.gpu);
    twins.cpu.run(programs.cpu);
    await twins.expectSame(w, 'integerSgd recorded');
  });

  it('reproduces the docs/algorithm.md §9.5 vector', async () => {
    const w = twins.tensor([4], 'i32', [24000, -24001, 11999, -5]);
    const grad = twins.tensor([4], 'i32', [327679, -327681, 655360, -1]);
    const lrInv = twins.tensor([1], 'i32', [512]);
    twins.run((ops, on) =>
      ops.integerSgd({ w: on(w), grad: on(grad), lrInv: on(lrInv), amp: 640, decayInv: 12000 }),
    );
    expect([...(await twins.expectSame(w, 'integerSgd §9.5'))]).toEqual([23998, -23998, 11997, -5]);
  });
});

describe('fill and advance', () => {
  it('fill matches the CPU backend on every shape, i32 at any value and i8 rows', async () => {
    const rng = new Rng(501);
    for (const shape of SHAPES) {
      const n = count(shape);
      const value = rng.int(INT32_MIN, INT32_MAX);
      const t32 = twins.tensor(shape, 'i32', gradients(rng, n), 'fill i32');
      twins.run((ops, on) => ops.fill({ out: on(t32), value }));
      expect([...(await twins.expectSame(t32, `fill i32 [${shape}]`))]).toEqual(
        new Array(n).fill(value),
      );
      // Packed int8 rows padded to a word can only be cleared; whole-word rows take any int8 value.
      const rowLength = shape.length > 1 ? n / shape[0] : n;
      const v8 = rowLength % 4 === 0 ? rng.int(-128, 127) : 0;
      const t8 = twins.tensor(shape, 'i8', randomInts(rng, n, -128, 127), 'fill i8');
      twins.run((ops, on) => ops.fill({ out: on(t8), value: v8 }));
      expect([...(await twins.expectSame(t8, `fill i8 [${shape}] with ${v8}`))]).toEqual(
        new Array(n).fill(v8),
      );
    }
  });

  it('advance counts steps, eagerly and recorded, and wraps at 2^31', async () => {
    const cursor = twins.tensor([1], 'i32', [INT32_MAX - 2], 'cursor');
    for (let i = 0; i < 2; i++) twins.run((ops, on) => ops.advance({ cursor: on(cursor) }));
    expect([...(await twins.expectSame(cursor, 'advance eager'))]).toEqual([INT32_MAX]);
    const programs = {
      gpu: twins.gpu.record('advance', (ops) => ops.advance({ cursor: cursor.gpu })),
      cpu: twins.cpu.record('advance', (ops) => ops.advance({ cursor: cursor.cpu })),
    };
    twins.gpu.run(programs.gpu, 3);
    twins.cpu.run(programs.cpu, 3);
    expect([...(await twins.expectSame(cursor, 'advance recorded'))]).toEqual([INT32_MIN + 2]);
  });
});
