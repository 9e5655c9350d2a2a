/**
 * Tensors larger than one binding: ops over them run in chunks of the batch, each binding a
 * window of the batch tensors (src/ops/chunked.ts), with the same bits. A WebGPU backend forced
 * to a small maxStorageBufferBindingSize trains an MLP and a CNN (conv with bias, pooling, a
 * linear block) and must match the unsplit backend and the CPU backend in every weight and
 * prediction; the memory plan finds the same splits without a device, and VGG8B at batch 256
 * plans on a 128 MiB-binding adapter.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import { WebGPUBackend } from '../src/gpu/webgpu-backend.ts';
import { Model } from '../src/model/model.ts';
import { getPreset } from '../src/model/presets.ts';
import { parseModelSpec } from '../src/model/spec.ts';
import { BindingLimitError } from '../src/ops/chunked.ts';
import {
  checkFits,
  formatSplits,
  planSplits,
  plannedScratch,
  plannedTensors,
} from '../src/train/memory.ts';
import { cpu, expectSameElements, randomInts, Rng, webgpu } from './helpers.ts';

const MiB = 1 << 20;

/** Two linear blocks: the input and δ ([B, 16] i32) exceed 4 KiB at batch 100. */
const MLP = { input: [1, 8, 8], classes: 4, hidden: [16, 16] };
/** A conv block with bias and a pool, then a linear block: δ [B, 4, 8, 8] i32 takes 1 KiB a row. */
const CNN = {
  input: [1, 8, 8],
  classes: 4,
  features: [{ conv: 4, kernel: 3, padding: 1 }, { pool: 2 }],
  hidden: [16],
  headDim: 16,
  bias: true,
};

const CASES = [
  { name: 'MLP', spec: MLP, batch: 100, binding: 4096 },
  { name: 'CNN', spec: CNN, batch: 320, binding: 64 * 1024 },
] as const;

/** Trains `steps` steps on seeded batches; returns the weights, metrics and the last batch's predictions. */
async function train(backend: Backend, json: object, batch: number, steps = 3) {
  const spec = parseModelSpec(json, 'spec');
  const model = Model.create(backend, spec, { seed: 3 });
  const inSize = spec.input.reduce((a, b) => a * b, 1);
  const rng = new Rng(9);
  const net = model.network(batch);
  // The batch is written straight into the network: no data set on the device to bind whole.
  const program = net.recordTrainOnBatch();
  let x: Int32Array = new Int32Array(0);
  for (let s = 0; s < steps; s++) {
    x = randomInts(rng, batch * inSize, -128, 127);
    backend.write(net.x, x);
    backend.write(net.y, randomInts(rng, batch, 0, spec.classes - 1));
    backend.run(program);
  }
  const metrics = await backend.read(net.metrics);
  const weights = await model.getWeights();
  const predicted = await model.predict(x, batch, batch);
  model.dispose();
  return { weights, metrics, predicted };
}

const forced: WebGPUBackend[] = [];
afterAll(() => {
  for (const b of forced) b.destroy();
});

describe.each(CASES)('$name under a forced binding limit of $binding bytes', (c) => {
  it('trains and predicts with the bits of the unsplit run and the CPU backend', async () => {
    const small = await WebGPUBackend.create({
      limits: { maxStorageBufferBindingSize: c.binding },
    });
    forced.push(small);
    expect(small.limits.maxStorageBufferBindingSize).toBe(c.binding);
    const split = await train(small, c.spec, c.batch);
    const whole = await train(await webgpu(), c.spec, c.batch);
    const ref = await train(await cpu(), c.spec, c.batch);
    // Ops really ran in chunks, and no binding exceeded the limit (the backend refuses one).
    const splits = small.splitPlans();
    expect(splits.length).toBeGreaterThan(0);
    for (const s of splits) {
      expect(s.chunks, s.op).toBeGreaterThan(1);
      expect(s.bytes, s.op).toBeGreaterThan(c.binding);
      expect(s.bindingBytes, s.op).toBeLessThanOrEqual(c.binding);
    }
    for (const r of small.scratch.roles().values()) expect(r).toBeLessThanOrEqual(c.binding);
    // Reductions over the batch are split (weight gradients, conv bias gradient on the CNN).
    const ops = new Set(splits.map((s) => s.op));
    expect(ops.has(c.name === 'CNN' ? 'conv2dWeightGrad' : 'linearWeightGrad')).toBe(true);
    if (c.name === 'CNN') {
      for (const op of ['conv2d', 'conv2dBiasGrad', 'maxPoolBackward'] as const)
        expect(ops.has(op), op).toBe(true);
    }
    const names = [...ref.weights.keys()];
    expect([...split.weights.keys()]).toEqual(names);
    for (const name of names) {
      expectSameElements(split.weights.get(name)!, ref.weights.get(name)!, `split ${name}`);
      expectSameElements(whole.weights.get(name)!, ref.weights.get(name)!, `whole ${name}`);
    }
    expectSameElements(split.metrics, ref.metrics, 'metrics');
    expectSameElements(split.predicted.logits, ref.predicted.logits, 'logits');
    expectSameElements(whole.predicted.logits, ref.predicted.logits, 'unsplit logits');
    for (const [i, h] of ref.predicted.heads.entries())
      expectSameElements(split.predicted.heads[i], h, `heads.${i}`);
    // The plan, traced without a device, splits the same ops in the same way.
    const planned = planSplits(parseModelSpec(c.spec, 'spec'), c.batch, small.limits);
    const key = (s: (typeof planned)[number]) =>
      `${s.op} ${s.weight} ${s.what} ${s.rows}x${s.chunks} ${s.bindingBytes}`;
    expect(planned.map(key).sort()).toEqual(splits.map(key).sort());
  }, 60_000);
});

describe('the plan of VGG8B at batch 256 on a 128 MiB-binding adapter', () => {
  const spec = getPreset('vgg8b').spec;
  const limits = {
    maxStorageBufferBindingSize: 128 * MiB,
    maxBufferSize: 2 ** 32 - 1,
    minStorageBufferOffsetAlignment: 256,
  };

  it('fits: the tensors over 128 MiB are bound in windows, no binding over 128 MiB', () => {
    const over = plannedTensors(spec, 256).filter((t) => t.bytes > 128 * MiB);
    expect(over.map((t) => t.label)).toEqual(['scratch.delta']);
    expect(() => checkFits(spec, 256, limits)).not.toThrow();
    const splits = planSplits(spec, 256, limits);
    expect(splits.length).toBeGreaterThan(0);
    for (const s of splits) {
      expect(s.bindingBytes).toBeLessThanOrEqual(128 * MiB);
      expect(s.rows * (s.chunks - 1)).toBeLessThan(256);
      expect(s.rows * s.chunks).toBeGreaterThanOrEqual(256);
    }
    // The second conv block's δ (256 filters of 28x28, 196 MiB) splits its weight gradient.
    expect(splits).toContainEqual(
      expect.objectContaining({
        op: 'conv2dWeightGrad',
        weight: 'blocks.1.weight',
        what: 'scratch.delta',
        bytes: 196 * MiB,
        chunks: 2,
        rows: 167,
      }),
    );
    for (const [role, bytes] of plannedScratch(spec, 256, undefined, limits))
      expect(bytes, role).toBeLessThanOrEqual(128 * MiB);
    const text = formatSplits(splits).join('\n');
    expect(text).toContain(
      'conv2dWeightGrad (blocks.1.weight): scratch.delta 196.00 MiB -> 2 chunks of 167 of 256 rows',
    );
  });

  it('is refused when one buffer cannot hold δ (maxBufferSize), naming the largest batch', () => {
    expect(() => checkFits(spec, 256, { ...limits, maxBufferSize: 128 * MiB })).toThrow(
      /^batch 256 does not fit the adapter: tensor scratch\.delta .* per buffer \(maxBufferSize\); use a batch of at most 167/,
    );
  });
});

describe('the plan lists every split op of every layer', () => {
  it('cnn-small at batch 256 on 4 MiB bindings: both pool backwards, both weight gradients', () => {
    const splits = planSplits(getPreset('cnn-small').spec, 256, {
      maxStorageBufferBindingSize: 4 * MiB,
    });
    expect(splits.map((s) => `${s.op} ${s.weight} ${s.chunks}`).sort()).toEqual([
      'conv2dWeightGrad blocks.0.weight 4',
      'conv2dWeightGrad blocks.1.weight 2',
      'maxPoolBackward blocks.0.head.weight 4',
      'maxPoolBackward blocks.1.head.weight 2',
    ]);
  });
});

describe('ops that cannot be split', () => {
  it('a batch whose windows cannot be aligned is refused with why', () => {
    // δ of 256 rows at 4 KiB a row would split, but windows of the [B, 10] head gradient
    // (12 bytes a row) start only at multiples of 64 rows, and 64 rows of δ take 256 KiB.
    const spec = parseModelSpec(
      { ...CNN, classes: 10, features: [{ conv: 16, kernel: 3, padding: 1 }, { pool: 2 }] },
      'spec',
    );
    expect(() => planSplits(spec, 256, { maxStorageBufferBindingSize: 64 * 1024 })).toThrow(
      BindingLimitError,
    );
    expect(() =>
      checkFits(spec, 256, { maxStorageBufferBindingSize: 64 * 1024, maxBufferSize: 2 ** 30 }),
    ).toThrow(/in maxPoolBackward \(even 64 rows at a time need 262144 bytes/);
  });

  it('a weight larger than a binding is refused: it is bound whole', () => {
    const spec = parseModelSpec(MLP, 'spec');
    expect(() => planSplits(spec, 8, { maxStorageBufferBindingSize: 1024 })).toThrow(
      /^linear: blocks\.0\.weight \[16, 64\] takes 4096 bytes, more than the adapter's 1024 bytes per binding .*bound whole/,
    );
  });
});
