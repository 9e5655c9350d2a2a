/**
 * The golden cases computed by the NITRO-D reference (test/golden): the training steps
 * and the predictions must match on both backends (the CPU one on 1, 2 and 3 threads), every
 * element of every tensor.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import { parseBatches, parseInputs } from '../src/io/batches.ts';
import { parseCheckpoint } from '../src/io/checkpoint.ts';
import { parseSafetensors } from '../src/io/safetensors.ts';
import { Model } from '../src/model/model.ts';
import { parseModelSpec } from '../src/model/spec.ts';
import { planFromSpec } from '../src/model/plan.ts';
import { cpu, cpuThreads, expectSameElements, webgpu } from './helpers.ts';

const GOLDEN_DIR = new URL('./golden/', import.meta.url).pathname;

function goldenCases(): string[] {
  if (!existsSync(GOLDEN_DIR))
    throw new Error(`golden cases not found at ${GOLDEN_DIR} (test/golden)`);
  return readdirSync(GOLDEN_DIR)
    .filter((d) => existsSync(join(GOLDEN_DIR, d, 'model.json')))
    .sort();
}

function read(name: string, file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(GOLDEN_DIR, name, file)));
}

const backends: [string, () => Promise<Backend>][] = [
  ['cpu', cpu],
  ['cpu on 2 threads', () => cpuThreads(2)],
  ['cpu on 3 threads', () => cpuThreads(3)],
  ['webgpu', webgpu],
];

describe.each(backends)('golden cases on %s', (_, make) => {
  it.each(goldenCases())('%s: training steps reproduce expected.safetensors', async (name) => {
    const backend = await make();
    const spec = parseModelSpec(
      JSON.parse(new TextDecoder().decode(read(name, 'model.json'))),
      `${name}/model.json`,
    );
    const plan = planFromSpec(spec);
    const model = Model.fromCheckpoint(
      backend,
      spec,
      read(name, 'init.safetensors'),
      `${name}/init.safetensors`,
    );
    try {
      const b = parseBatches(read(name, 'batches.safetensors'), `${name}/batches.safetensors`);
      await model.trainOnBatches(b.x, b.y, b.steps, b.batch);
      const expected = parseCheckpoint(
        read(name, 'expected.safetensors'),
        plan.parameters,
        `${name}/expected.safetensors`,
      );
      const got = await model.getWeights();
      expect([...got.keys()]).toEqual([...expected.tensors.keys()]);
      for (const [tensor, values] of expected.tensors)
        expectSameElements(got.get(tensor)!, values, `${name} ${tensor}`);
    } finally {
      model.dispose();
    }
  });

  it.each(goldenCases())('%s: predictions reproduce expected-predict.safetensors', async (name) => {
    const backend = await make();
    const spec = parseModelSpec(
      JSON.parse(new TextDecoder().decode(read(name, 'model.json'))),
      `${name}/model.json`,
    );
    const model = Model.fromCheckpoint(
      backend,
      spec,
      read(name, 'expected.safetensors'),
      `${name}/expected.safetensors`,
    );
    try {
      const inputs = parseInputs(
        read(name, 'predict-input.safetensors'),
        `${name}/predict-input.safetensors`,
      );
      const { logits, heads } = await model.predict(inputs.x, inputs.count);
      const expected = parseSafetensors(read(name, 'expected-predict.safetensors'), {
        file: 'expected-predict',
      }).tensors;
      expect(expected.size).toBe(1 + heads.length);
      expectSameElements(logits, expected.get('logits')!.data, `${name} logits`);
      for (const [i, h] of heads.entries())
        expectSameElements(h, expected.get(`heads.${i}`)!.data, `${name} heads.${i}`);
    } finally {
      model.dispose();
    }
  });
});
