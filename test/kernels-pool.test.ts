/**
 * WebGPU vs CPU, element by element: max pooling (kernel = stride) forward and backward, for
 * every pooling geometry the models use and both pad modes.
 *
 * Coverage: 20 input shapes (16 run under each of 9 geometries, 4 learning-head pools), both
 * pad modes, both ops: batch 1 (8 shapes) up to 6; 1 channel (6 shapes) and 3 channels (9),
 * also 2 and 4-5; kernels 1, 2, 3, 4, 5 and 8 (square and not), paddings up to half the kernel;
 * odd, non-square maps whose trailing rows/columns no window covers, rows that are not whole
 * words and thread counts that are not multiples of the 64-thread workgroup. Inputs: full
 * range, all negative (a zero pad cell wins) and few distinct values (ties); deltas are
 * full-range i32 (no accumulation here: each cell gets at most one window's delta). The last
 * block checks the backward fused with the head's input gradient and NITRO-ReLU's backward.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MaxPoolBackwardParams, PadMode, Tensor } from '../src/backend.ts';
import { ALLOWED_SLOPES } from '../src/ops/activation/contract.ts';
import { Rng } from '../src/rng.ts';
import { expectSameElements, randomInts } from './helpers.ts';
import { type Twin, Twins } from './kernels-twin.ts';

type Pair = readonly [number, number];

/** Plain 2×2 pooling, the learning heads' pools (docs/algorithm.md §1.4) and other kernels the op allows. */
const GEOMETRIES: { kernel: Pair; padding: Pair }[] = [
  { kernel: [2, 2], padding: [0, 0] },
  { kernel: [4, 4], padding: [2, 2] },
  { kernel: [4, 2], padding: [2, 1] },
  { kernel: [8, 4], padding: [4, 0] },
  { kernel: [2, 1], padding: [1, 0] },
  { kernel: [1, 1], padding: [0, 0] },
  { kernel: [3, 3], padding: [1, 1] },
  { kernel: [5, 5], padding: [2, 2] },
  { kernel: [3, 2], padding: [0, 1] },
];

/** [B, C, H, W] inputs (every one fits every geometry above). */
const SHAPES: number[][] = [
  [1, 1, 7, 7],
  [2, 3, 9, 5],
  [1, 3, 13, 11],
  [5, 2, 3, 6],
  [1, 1, 3, 4],
  [1, 3, 4, 4],
  [3, 1, 10, 10],
  [2, 1, 17, 9],
  [1, 3, 28, 28],
  [4, 3, 5, 12],
  [1, 2, 8, 8],
  [3, 3, 6, 7],
  [1, 1, 33, 31],
  [2, 4, 11, 5],
  [6, 1, 4, 9],
  [1, 3, 16, 16],
];

const MODES: PadMode[] = ['zero', 'ignore'];

const outSize = (n: number, k: number, p: number) => Math.floor((n + 2 * p - k) / k) + 1;
const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** int8 inputs: full range, all negative (a zero pad cell wins), or few distinct values (ties). */
function poolInputs(rng: Rng, n: number, kind: number): Int32Array {
  if (kind === 0) return randomInts(rng, n, -128, 127);
  if (kind === 1) return randomInts(rng, n, -128, -1);
  return randomInts(rng, n, -2, 0);
}

let twins: Twins;
beforeAll(async () => {
  twins = await Twins.create();
});
afterEach(() => twins.disposeAll());

describe('maxPool and maxPoolBackward', () => {
  for (const { kernel, padding } of GEOMETRIES) {
    it(`kernel ${kernel.join('x')} padding ${padding.join(',')}: match the CPU backend`, async () => {
      const rng = new Rng(1000 + kernel[0] * 10 + kernel[1]);
      let cases = 0;
      for (const [s, shape] of SHAPES.entries()) {
        const [b, c, h, w] = shape;
        const outShape = [
          b,
          c,
          outSize(h, kernel[0], padding[0]),
          outSize(w, kernel[1], padding[1]),
        ];
        for (const [m, padMode] of MODES.entries()) {
          const what = `[${shape}] ${padMode}`;
          const x = twins.tensor(shape, 'i8', poolInputs(rng, count(shape), (s + m) % 3), 'x');
          const out = twins.tensor(outShape, 'i8', undefined, 'out');
          twins.run((ops, on) => ops.maxPool({ x: on(x), kernel, padding, padMode, out: on(out) }));
          const delta = twins.tensor(
            outShape,
            'i32',
            randomInts(rng, count(outShape), -2147483648, 2147483647),
            'delta',
          );
          // Garbage first: every input cell must be written, covered by a window or not.
          const grad = twins.tensor(shape, 'i32', new Array(count(shape)).fill(-12345), 'grad');
          twins.run((ops, on) =>
            ops.maxPoolBackward({
              x: on(x),
              kernel,
              padding,
              padMode,
              delta: on(delta),
              out: on(grad),
            }),
          );
          await twins.expectSame(out, `maxPool ${what}`);
          await twins.expectSame(grad, `maxPoolBackward ${what}`);
          cases++;
        }
      }
      expect(cases).toBe(MODES.length * SHAPES.length);
    });
  }

  it('the learning-head pools of the MNIST models, output and delta flattened', async () => {
    const rng = new Rng(1100);
    // (channels, size, kernel, padding) from docs/algorithm.md §1.4, with fewer channels.
    const heads: [number, number, Pair, Pair][] = [
      [3, 28, [8, 4], [4, 0]],
      [2, 14, [4, 4], [2, 2]],
      [3, 7, [4, 2], [2, 1]],
      [5, 3, [2, 1], [1, 0]],
    ];
    for (const [c, size, kernel, padding] of heads) {
      for (const padMode of MODES) {
        const shape = [3, c, size, size];
        const flat = [
          3,
          c * outSize(size, kernel[0], padding[0]) * outSize(size, kernel[1], padding[1]),
        ];
        const x = twins.tensor(shape, 'i8', poolInputs(rng, count(shape), 1 + (size % 2)), 'x');
        const out = twins.tensor(flat, 'i8', undefined, 'out');
        twins.run((ops, on) => ops.maxPool({ x: on(x), kernel, padding, padMode, out: on(out) }));
        await twins.expectSame(out, `head pool ${size} ${kernel} ${padMode}`);
        const delta = twins.tensor(flat, 'i32', randomInts(rng, count(flat), -1000, 1000), 'delta');
        const grad = twins.tensor(shape, 'i32', undefined, 'grad');
        twins.run((ops, on) =>
          ops.maxPoolBackward({
            x: on(x),
            kernel,
            padding,
            padMode,
            delta: on(delta),
            out: on(grad),
          }),
        );
        await twins.expectSame(grad, `head pool backward ${size} ${kernel} ${padMode}`);
      }
    }
  });

  it('reproduces the docs/algorithm.md §9.7 tie-break and §9.8 padded head vectors', async () => {
    const tie = twins.tensor([1, 1, 2, 2], 'i8', [5, 5, 5, 5]);
    const tieOut = twins.tensor([1, 1, 1, 1], 'i8');
    const tieDelta = twins.tensor([1, 1, 1, 1], 'i32', [9]);
    const tieGrad = twins.tensor([1, 1, 2, 2], 'i32');
    const k2: Pair = [2, 2];
    const p0: Pair = [0, 0];
    twins.run((ops, on) => {
      ops.maxPool({ x: on(tie), kernel: k2, padding: p0, padMode: 'zero', out: on(tieOut) });
      ops.maxPoolBackward({
        x: on(tie),
        kernel: k2,
        padding: p0,
        padMode: 'zero',
        delta: on(tieDelta),
        out: on(tieGrad),
      });
    });
    expect([...(await twins.expectSame(tieOut, '§9.7 forward'))]).toEqual([5]);
    expect([...(await twins.expectSame(tieGrad, '§9.7 backward'))]).toEqual([9, 0, 0, 0]);

    const x = twins.tensor(
      [1, 1, 7, 7],
      'i8',
      Array.from({ length: 49 }, (_, i) => i - 60),
    );
    const out = twins.tensor([1, 1, 2, 2], 'i8');
    const delta = twins.tensor([1, 1, 2, 2], 'i32', [1, 2, 3, 4]);
    const grad = twins.tensor([1, 1, 7, 7], 'i32');
    const k4: Pair = [4, 4];
    const p2: Pair = [2, 2];
    twins.run((ops, on) => {
      ops.maxPool({ x: on(x), kernel: k4, padding: p2, padMode: 'zero', out: on(out) });
      ops.maxPoolBackward({
        x: on(x),
        kernel: k4,
        padding: p2,
        padMode: 'zero',
        delta: on(delta),
        out: on(grad),
      });
    });
    expect([...(await twins.expectSame(out, '§9.8 forward'))]).toEqual([0, 0, 0, -20]);
    const expected = new Array(49).fill(0);
    expected[5 * 7 + 5] = 4;
    expect([...(await twins.expectSame(grad, '§9.8 backward'))]).toEqual(expected);
  });
});

/**
 * The head's backward fused into the pool backward: window deltas computed from the head's g and
 * weights (head) and/or NITRO-ReLU's backward applied to the routed values (relu), against the
 * CPU backend and against the unfused ops (linearInputGrad, maxPoolBackward, nitroReluBackward)
 * on the same backend, every element. Shapes are random (pads up to half the kernel, odd sizes
 * whose trailing rows and columns no window covers) plus the learning-head pools of cnn-small and
 * VGG8B with fewer channels; head weights are full-range i32 (products and sums wrap) or small;
 * the saved s is full-range int8 (±127 and -128 reach every branch of g_inv).
 */
describe('maxPoolBackward with head and relu', () => {
  const randomShape = (rng: Rng): { shape: number[]; kernel: Pair; padding: Pair } => {
    const kernel: Pair = [rng.int(1, 5), rng.int(1, 5)];
    const padding: Pair = [rng.int(0, kernel[0] >> 1), rng.int(0, kernel[1] >> 1)];
    const side = (k: number, p: number) => rng.int(Math.max(1, k - 2 * p), 3 * k + 4);
    return {
      shape: [
        rng.int(1, 4),
        rng.int(1, 4),
        side(kernel[0], padding[0]),
        side(kernel[1], padding[1]),
      ],
      kernel,
      padding,
    };
  };
  const fixed: { shape: number[]; kernel: Pair; padding: Pair }[] = [
    { shape: [2, 3, 28, 28], kernel: [4, 2], padding: [0, 0] },
    { shape: [2, 4, 14, 14], kernel: [2, 2], padding: [0, 0] },
    { shape: [1, 3, 28, 28], kernel: [8, 4], padding: [4, 0] },
    { shape: [2, 2, 7, 7], kernel: [4, 2], padding: [2, 1] },
    { shape: [3, 5, 3, 3], kernel: [2, 1], padding: [1, 0] },
    { shape: [1, 2, 9, 11], kernel: [4, 4], padding: [0, 0] },
  ];
  const slopes = ALLOWED_SLOPES;

  it('GPU == CPU == the unfused ops, random shapes and the head pools, both pad modes', async () => {
    const rng = new Rng(1200);
    const cases = [...fixed, ...Array.from({ length: 12 }, () => randomShape(rng))];
    let checked = 0;
    for (const [i, { shape, kernel, padding }] of cases.entries()) {
      const [b, c, h, w] = shape;
      const pooled = [b, c, outSize(h, kernel[0], padding[0]), outSize(w, kernel[1], padding[1])];
      const J = count(pooled) / b;
      for (const [m, padMode] of MODES.entries()) {
        const classes = rng.int(1, 12);
        const slopeInv = slopes[rng.below(slopes.length)];
        const wide = (i + m) % 2 === 0;
        const x = twins.tensor(shape, 'i8', poolInputs(rng, count(shape), (i + m) % 3), 'x');
        const s = twins.tensor(shape, 'i8', randomInts(rng, count(shape), -128, 127), 's');
        const g = twins.tensor([b, classes], 'i8', randomInts(rng, b * classes, -128, 127), 'g');
        const hw = twins.tensor(
          [classes, J],
          'i32',
          wide
            ? randomInts(rng, classes * J, -2147483648, 2147483647)
            : randomInts(rng, classes * J, -3000, 3000),
          'headW',
        );
        const delta = twins.tensor(
          pooled,
          'i32',
          randomInts(rng, count(pooled), -2147483648, 2147483647),
          'delta',
        );
        const geometry = { kernel, padding, padMode };
        const what = `#${i} [${shape}] kernel ${kernel} padding ${padding} ${padMode} classes ${classes} slope 1/${slopeInv}`;
        for (const variant of ['head+relu', 'head', 'delta+relu'] as const) {
          const withHead = variant !== 'delta+relu';
          const withRelu = variant !== 'head';
          // Garbage first: every cell must be written.
          const fused = twins.tensor(shape, 'i32', new Array(count(shape)).fill(-12345), 'fused');
          twins.run((ops, on) =>
            ops.maxPoolBackward({
              ...geometry,
              x: on(x),
              ...(withHead ? { head: { g: on(g), w: on(hw) } } : { delta: on(delta) }),
              ...(withRelu ? { relu: { x: on(s), slopeInv } } : {}),
              out: on(fused),
            }),
          );
          const got = await twins.expectSame(fused, `${variant} ${what}`);
          const hd = twins.tensor([b, J], 'i32', undefined, 'hd');
          const unfused = twins.tensor(
            shape,
            'i32',
            new Array(count(shape)).fill(-12345),
            'unfused',
          );
          twins.run((ops, on) => {
            if (withHead) ops.linearInputGrad({ g: on(g), w: on(hw), out: on(hd) });
            const d = withHead ? on(twins.view(hd, pooled)) : on(delta);
            ops.maxPoolBackward({ ...geometry, x: on(x), delta: d, out: on(unfused) });
            if (withRelu)
              ops.nitroReluBackward({ delta: on(unfused), x: on(s), out: on(unfused), slopeInv });
          });
          expectSameElements(
            got,
            await twins.expectSame(unfused, `unfused ${variant} ${what}`),
            `fused vs unfused ${variant} ${what}`,
          );
          checked++;
        }
        twins.disposeAll();
      }
    }
    expect(checked).toBe(cases.length * MODES.length * 3);
  });

  it('refuses params without exactly one of delta and head, and a bad head or slope, in one line', () => {
    const x = twins.tensor([2, 3, 8, 8], 'i8', undefined, 'x');
    const delta = twins.tensor([2, 3, 4, 4], 'i32', undefined, 'delta');
    const g = twins.tensor([2, 10], 'i8', undefined, 'g');
    const hw = twins.tensor([10, 48], 'i32', undefined, 'headW');
    const badW = twins.tensor([10, 47], 'i32', undefined, 'headW');
    const s = twins.tensor([2, 3, 8, 8], 'i8', undefined, 's');
    const out = twins.tensor([2, 3, 8, 8], 'i32', undefined, 'out');
    const cases: [string, (on: (t: Twin) => Tensor) => MaxPoolBackwardParams, RegExp][] = [
      [
        'neither',
        (on) => ({ ...base(on), out: on(out) }),
        /^maxPoolBackward: needs exactly one of delta .* and head/,
      ],
      [
        'both',
        (on) => ({ ...base(on), delta: on(delta), head: { g: on(g), w: on(hw) }, out: on(out) }),
        /^maxPoolBackward: needs exactly one of delta .* and head/,
      ],
      [
        'head weights',
        (on) => ({ ...base(on), head: { g: on(g), w: on(badW) }, out: on(out) }),
        /^maxPoolBackward: .*headW.*\[10, 48\]/,
      ],
      [
        'slope',
        (on) => ({ ...base(on), delta: on(delta), relu: { x: on(s), slopeInv: 6 }, out: on(out) }),
        /^maxPoolBackward: .*\b6 is not one of/,
      ],
    ];
    function base(on: (t: Twin) => Tensor) {
      return {
        x: on(x),
        kernel: [2, 2] as Pair,
        padding: [0, 0] as Pair,
        padMode: 'zero' as const,
      };
    }
    for (const [what, params, message] of cases) {
      for (const backend of [twins.gpu, twins.cpu]) {
        const on = (t: Twin) => (backend === twins.gpu ? t.gpu : t.cpu);
        let error: Error | undefined;
        try {
          backend.ops.maxPoolBackward(params(on));
        } catch (e) {
          error = e as Error;
        }
        expect(error?.message, `${what} on ${backend.kind}`).toMatch(message);
        expect(error?.message, `${what} on ${backend.kind}`).not.toContain('\n');
      }
    }
  });
});
