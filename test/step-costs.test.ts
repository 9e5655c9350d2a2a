/**
 * Guards: a change that makes a training step take more dispatches, submits or device bytes
 * than the committed table test/guards/step-costs.json fails here until the table is rewritten
 * (the message says how), so a slowdown is a decision, not an accident. The counts come from the
 * engine's own code without a device; the last tests check them against a WebGPU backend.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Model } from '../src/model/model.ts';
import { getPreset } from '../src/model/presets.ts';
import { planFromSpec } from '../src/model/plan.ts';
import { protocolOptions } from '../src/train/protocol.ts';
import {
  currentStepCosts,
  GUARD_BATCH,
  guardedPresets,
  measuredSubmits,
  plannedStepCost,
  type StepCost,
  type StepCostTable,
  SubmitCountingBackend,
  TABLE_FILE,
  UPDATE_COMMAND,
} from './guards/step-costs.ts';
import { webgpu } from './helpers.ts';

const committed = JSON.parse(readFileSync(TABLE_FILE, 'utf8')) as {
  batch: number;
  presets: StepCostTable;
};

/** Every difference between the table and the counts, one line each (empty when they agree). */
function tableDifferences(table: StepCostTable, now: StepCostTable): string[] {
  const out: string[] = [];
  for (const name of new Set([...Object.keys(table), ...Object.keys(now)])) {
    if (!table[name]) out.push(`${name}: not in ${TABLE_FILE}`);
    else if (!now[name]) out.push(`${name}: in ${TABLE_FILE} but no longer a preset`);
    else
      for (const key of Object.keys(now[name]) as (keyof StepCost)[]) {
        const was = table[name][key];
        const is = now[name][key];
        if (is > was) out.push(`${name} ${key} rose from ${was} to ${is}`);
        else if (is < was) out.push(`${name} ${key} fell from ${was} to ${is} (lock the gain in)`);
      }
  }
  return out;
}

describe(`step costs at batch ${GUARD_BATCH}`, () => {
  it('match the committed table for every preset', async () => {
    expect(committed.batch).toBe(GUARD_BATCH);
    const diff = tableDifferences(committed.presets, await currentStepCosts());
    expect(
      diff,
      `${diff.join('; ')}. If the change is intended, run \`${UPDATE_COMMAND}\` and commit ${TABLE_FILE} with the reason`,
    ).toEqual([]);
  });

  it('report a rise, a fall and a new preset', () => {
    const row = committed.presets.mlp2;
    const now = {
      mlp2: {
        ...row,
        dispatchesPerStep: row.dispatchesPerStep + 1,
        scratchBytes: row.scratchBytes - 4,
      },
      extra: row,
    };
    expect(tableDifferences({ mlp2: row }, now)).toEqual([
      `mlp2 dispatchesPerStep rose from ${row.dispatchesPerStep} to ${row.dispatchesPerStep + 1}`,
      `mlp2 scratchBytes fell from ${row.scratchBytes} to ${row.scratchBytes - 4} (lock the gain in)`,
      `extra: not in ${TABLE_FILE}`,
    ]);
  });

  it('cover every preset', () => {
    expect(Object.keys(committed.presets)).toEqual(guardedPresets());
  });

  // The WebGPU backend on a software adapter: the two small presets, an MLP and a CNN.
  for (const name of ['mlp2', 'cnn-small']) {
    it(`${name}: the WebGPU backend dispatches, submits and allocates what is counted`, async () => {
      const gpu = await webgpu();
      const planned = plannedStepCost(name);
      const preset = getPreset(name);
      const plan = planFromSpec(preset.spec);
      const before = gpu.bytesInUse();
      const model = Model.create(gpu, preset.spec, { seed: 1 });
      try {
        const net = model.network(GUARD_BATCH);
        expect(gpu.bytesInUse() - before).toBe(planned.tensorBytes);
        const n = 4 * GUARD_BATCH;
        const augment = protocolOptions(preset).augment;
        const source = {
          data: gpu.tensor([n, ...plan.input], 'i8', 'data'),
          labels: gpu.tensor([n], 'i32', 'labels'),
          indices: gpu.tensor([n], 'i32', 'indices'),
          augment: augment
            ? { params: gpu.tensor([4, 5], 'i32', 'augment'), pad: augment.pad }
            : undefined,
        };
        const program = net.recordTrainStep(source);
        expect(gpu.dispatchCount(program)).toBe(planned.dispatchesPerStep);
        for (const t of [source.data, source.labels, source.indices]) gpu.dispose(t);
        if (source.augment) gpu.dispose(source.augment.params);
      } finally {
        model.dispose();
      }
      const counted = await measuredSubmits(new SubmitCountingBackend(), name);
      expect(await measuredSubmits(gpu, name)).toEqual(counted);
    });
  }
});
