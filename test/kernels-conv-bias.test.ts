/**
 * Conv bias (docs/algorithm.md §2.2, §4, §5): one value per filter, its gradient δ summed over
 * the batch and every output position (i32, wrapping), updated by IntegerSGD with decay like
 * the weights. Checked by hand on a small case, WebGPU vs CPU element by element at random
 * shapes (wrapping sums included), and in whole training steps of a CNN with `bias: true`
 * (a conv block with bias, then a linear block with bias, updated twice per step).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../src/backend.ts';
import { Model } from '../src/model/model.ts';
import { parseModelSpec } from '../src/model/spec.ts';
import { Rng } from '../src/rng.ts';
import { ShapeBackend } from '../src/train/shape-backend.ts';
import { cpu, expectSameElements, randomInts, webgpu } from './helpers.ts';
import { Twins } from './kernels-twin.ts';

let twins: Twins;
beforeAll(async () => {
  twins = await Twins.create();
});
afterEach(() => twins.disposeAll());

describe('conv2dBiasGrad by hand', () => {
  // delta [B 2, F 2, 2, 2]: filter 0 sums 1+2+3+4 + 5+6+7+8 = 36, filter 1 sums
  // -1-1-1-1 + 10+0+0+0 = 6.
  const delta = [1, 2, 3, 4, -1, -1, -1, -1, 5, 6, 7, 8, 10, 0, 0, 0];

  it('sums delta per filter over the batch and every position', async () => {
    const d = twins.tensor([2, 2, 2, 2], 'i32', delta);
    const out = twins.tensor([2], 'i32');
    twins.run((ops, on) => ops.conv2dBiasGrad({ delta: on(d), out: on(out) }));
    expect([...(await twins.expectSame(out, 'bias gradient'))]).toEqual([36, 6]);
  });

  it('applies IntegerSGD with decay to the bias in place', async () => {
    const d = twins.tensor([2, 2, 2, 2], 'i32', delta);
    const bias = twins.tensor([2], 'i32', [100, -37]);
    const lrInv = twins.tensor([1], 'i32', [3]);
    // b - (trunc(trunc(g / amp) / lrInv) + trunc(b / decayInv)), amp 2, lrInv 3, decayInv 16:
    // 100 - (trunc(18 / 3) + trunc(100 / 16)) = 100 - (6 + 6) = 88;
    // -37 - (trunc(3 / 3) + trunc(-37 / 16)) = -37 - (1 - 2) = -36.
    twins.run((ops, on) =>
      ops.conv2dBiasGrad({
        delta: on(d),
        sgd: { w: on(bias), lrInv: on(lrInv), amp: 2, decayInv: 16 },
      }),
    );
    expect([...(await twins.expectSame(bias, 'bias'))]).toEqual([88, -36]);
  });
});

describe('conv2dBiasGrad WebGPU == CPU', () => {
  /** [B, F, HO, WO], and whether delta takes full-range i32 values (the sums wrap). */
  const SHAPES: [number[], boolean][] = [
    [[1, 1, 1, 1], false],
    [[3, 5, 7, 9], false],
    [[2, 16, 28, 28], false],
    [[64, 4, 8, 8], true],
    [[5, 70, 3, 3], true],
    [[1, 3, 65, 1], false],
  ];
  it.each(SHAPES)('%j (full range %s)', async (shape, full) => {
    const rng = new Rng(shape.reduce((a, b) => a * 31 + b, 7));
    const n = shape.reduce((a, b) => a * b, 1);
    const values = full
      ? randomInts(rng, n, -2147483648, 2147483647)
      : randomInts(rng, n, -100000, 100000);
    const d = twins.tensor(shape, 'i32', values);
    const F = shape[1];
    const out = twins.tensor([F], 'i32');
    const bias = twins.tensor([F], 'i32', randomInts(rng, F, -5000, 5000));
    const lrInv = twins.tensor([1], 'i32', [7]);
    twins.run((ops, on) => {
      ops.conv2dBiasGrad({ delta: on(d), out: on(out) });
      ops.conv2dBiasGrad({
        delta: on(d),
        sgd: { w: on(bias), lrInv: on(lrInv), amp: 3, decayInv: 50 },
      });
    });
    const got = await twins.expectSame(out, 'bias gradient');
    // The exact sums, wrapped to i32 (every |sum| here is below 2^53).
    const hw = shape[2] * shape[3];
    for (let f = 0; f < F; f++) {
      let sum = 0;
      for (let b = 0; b < shape[0]; b++)
        for (let q = 0; q < hw; q++) sum += values[(b * F + f) * hw + q];
      expect(got[f], `filter ${f}`).toBe(sum | 0);
    }
    await twins.expectSame(bias, 'updated bias');
  });

  it('refuses a bias that does not have one value per filter, on both backends', () => {
    const d = twins.tensor([2, 3, 4, 4], 'i32');
    const out = twins.tensor([4], 'i32');
    const messages: string[] = [];
    twins.run((ops, on) => {
      try {
        ops.conv2dBiasGrad({ delta: on(d), out: on(out) });
      } catch (e) {
        messages.push((e as Error).message);
      }
    });
    expect(messages).toHaveLength(2);
    for (const m of messages) expect(m).toMatch(/^conv2dBiasGrad: .*\[4\].*3/);
  });
});

/** A conv block with bias (then a pool), a linear block with bias, decay on everywhere; compat
 * 'reference' updates a CNN's linear blocks twice per step, as the reference does. */
const SPEC = {
  input: [2, 8, 8],
  classes: 4,
  features: [{ conv: 6, kernel: 3, padding: 1 }, { pool: 2 }],
  hidden: [12],
  headDim: 16,
  negativeSlopeInv: 4,
  bias: true,
  compat: 'reference',
  training: { lrInv: 2, lrAmp: 3, forwardDecayInv: 40, headDecayInv: 30 },
};

describe('a CNN with bias trains and predicts on both backends', () => {
  const STEPS = 4;
  const BATCH = 8;

  async function train(backend: Backend) {
    const spec = parseModelSpec(SPEC, 'conv-bias spec');
    const model = Model.create(backend, spec, { seed: 11 });
    const init = await model.getWeights();
    const rng = new Rng(5);
    const x = randomInts(rng, STEPS * BATCH * 2 * 64, -128, 127);
    const y = randomInts(rng, STEPS * BATCH, 0, 3);
    await model.trainOnBatches(x, y, STEPS, BATCH);
    const trained = await model.getWeights();
    const predicted = await model.predict(x.subarray(0, BATCH * 2 * 64), BATCH);
    model.dispose();
    return { init, trained, predicted };
  }

  it('every parameter and prediction matches, element by element, and the biases move', async () => {
    const gpu = await train(await webgpu());
    const ref = await train(await cpu());
    const names = [...ref.trained.keys()];
    expect(names).toContain('blocks.0.bias');
    expect(names).toContain('blocks.1.bias');
    expect([...gpu.trained.keys()]).toEqual(names);
    for (const name of names) {
      expectSameElements(gpu.init.get(name)!, ref.init.get(name)!, `init ${name}`);
      expectSameElements(gpu.trained.get(name)!, ref.trained.get(name)!, name);
    }
    for (const name of ['blocks.0.bias', 'blocks.1.bias', 'blocks.0.head.bias', 'output.bias']) {
      const before = ref.init.get(name)!;
      const after = ref.trained.get(name)!;
      expect(
        after.some((v, i) => v !== before[i]),
        `${name} changed in training`,
      ).toBe(true);
    }
    expectSameElements(gpu.predicted.logits, ref.predicted.logits, 'logits');
    for (const [i, h] of ref.predicted.heads.entries())
      expectSameElements(gpu.predicted.heads[i], h, `heads.${i}`);
  });

  it('updates the conv bias once and the linear block (bias included) twice per step', () => {
    const shapes = new ShapeBackend();
    const model = Model.create(shapes, parseModelSpec(SPEC, 'conv-bias spec'), { seed: 1 });
    model.network(BATCH).recordTrainOnBatch();
    const updated = (name: string) =>
      shapes.calls.filter((c) => {
        const p = c.params as { sgd?: { w: Tensor } };
        return p.sgd?.w.label === name;
      }).length;
    expect(updated('blocks.0.bias')).toBe(1);
    expect(updated('blocks.0.weight')).toBe(1);
    expect(updated('blocks.1.bias')).toBe(2);
    expect(updated('blocks.1.weight')).toBe(2);
    expect(updated('blocks.1.head.bias')).toBe(2);
    expect(shapes.calls.filter((c) => c.op === 'conv2dBiasGrad')).toHaveLength(1);
  });
});
