/**
 * Device loss: the GPU device is destroyed in the middle of a run (between two chunks of
 * steps, or while the caller reads a checkpoint). The trainer re-creates the backend, reloads
 * the host snapshot it takes every `snapshotEvery` steps, redoes the steps since (at most that
 * many), reports it through onRecover, and ends with exactly the weights and metrics of a run
 * that was never interrupted (training is deterministic, so the redone steps are the same).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import { createBackend } from '../src/backends.ts';
import type { Dataset } from '../src/data/dataset.ts';
import { DeviceLostError } from '../src/gpu/errors.ts';
import type { WebGPUBackend } from '../src/gpu/webgpu-backend.ts';
import { Model } from '../src/model/model.ts';
import { parseModelSpec } from '../src/model/spec.ts';
import { type EpochResult, Trainer, type TrainerOptions } from '../src/train/trainer.ts';
import { nitro, ROOT, requireBuild, stderrLines } from './cli-helpers.ts';
import { expectSameElements, Rng } from './helpers.ts';

// A small MLP with dropout, trained with crop+flip augmentation and a plateau that fires.
const SPEC = parseModelSpec({
  input: [1, 8, 8],
  classes: 4,
  hidden: [24, 12],
  dropout: { features: 0, hidden: 100 },
  training: { lrInv: 64 },
});
const BATCH = 16;
const EPOCHS = 3;
const STEPS = 16; // 256 samples / 16

function dataset(name: string, n: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const images = new Int8Array(n * 64);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = rng.int(0, 3);
    labels[i] = label;
    for (let p = 0; p < 64; p++)
      images[i * 64 + p] = (Math.floor(p / 16) === label ? 40 : -20) + rng.int(-30, 30);
  }
  return { name, images, labels, shape: [1, 8, 8], classes: 4 };
}

const TRAIN = dataset('train', BATCH * STEPS, 7);
const TEST = dataset('test', 64, 8);

function options(extra: Partial<TrainerOptions>): TrainerOptions {
  return {
    batch: BATCH,
    epochs: EPOCHS,
    seed: 5,
    augment: { pad: 1, flip: true },
    plateau: { factor: 3, minDeltaBp: 10_000, patience: 1, fromEpoch: 1 },
    stepsPerSubmit: 1,
    ...extra,
  };
}

/** Epoch results without the timings. */
function facts(results: EpochResult[]) {
  return results.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest);
}

interface Outcome {
  results: EpochResult[];
  weights: Map<string, Int32Array>;
  trainer: Trainer;
}

async function run(backend: Backend, extra: Partial<TrainerOptions>): Promise<Outcome> {
  const model = Model.create(backend, SPEC, { seed: 3 });
  const trainer = new Trainer(model, TRAIN, TEST, options(extra));
  const results = await trainer.fit();
  const weights = await trainer.model.getWeights();
  trainer.dispose();
  return { results, weights, trainer };
}

let reference: Promise<Outcome> | undefined;
function uninterrupted(): Promise<Outcome> {
  reference ??= createBackend('webgpu').then(async (b) => {
    const r = await run(b, { snapshotEvery: 4 });
    b.destroy();
    return r;
  });
  return reference;
}

function expectSameRun(got: Outcome, want: Outcome): void {
  expect(facts(got.results)).toEqual(facts(want.results));
  expect([...got.weights.keys()]).toEqual([...want.weights.keys()]);
  for (const [name, w] of want.weights) expectSameElements(got.weights.get(name)!, w, name);
}

/** Destroys the device the trainer is using (as a driver reset or a lost adapter would). */
function loseDevice(trainer: { model: Model }): void {
  (trainer.model.backend as WebGPUBackend).device.destroy();
}

describe('device lost mid-run: re-created, resumed from the last host snapshot, same result', () => {
  it('the uninterrupted run learns and the plateau fires (so the comparison means something)', async () => {
    const ref = await uninterrupted();
    expect(ref.results).toHaveLength(EPOCHS);
    expect(ref.results.some((r) => r.plateau)).toBe(true);
    expect(ref.results[EPOCHS - 1].train.output.correct).toBeGreaterThan(
      ref.results[0].train.output.correct,
    );
  });

  it.each([
    // [snapshotEvery, epoch, after step]: lost steps = step - the last multiple of N (0 = epoch start only).
    [4, 2, 6],
    [4, 1, 4],
    [5, 3, 14],
    [0, 2, 9],
    [1, 1, 3],
  ])(
    'snapshot every %i steps, device destroyed in epoch %i after step %i',
    async (snapshotEvery, epoch, step) => {
      const backend = await createBackend('webgpu');
      const recoveries: { epoch: number; step: number; lostSteps: number; message: string }[] = [];
      let position = { epoch: 0, step: 0 };
      let lost = false;
      let trainer: Trainer | undefined;
      const made: Backend[] = [];
      const model = Model.create(backend, SPEC, { seed: 3 });
      trainer = new Trainer(
        model,
        TRAIN,
        TEST,
        options({
          snapshotEvery,
          onStep: (p) => {
            position = { epoch: p.epoch, step: p.step };
          },
          beforeChunk: () => {
            if (!lost && position.epoch === epoch && position.step === step) {
              lost = true;
              loseDevice(trainer!);
            }
          },
          recreateBackend: async () => {
            const b = await createBackend('webgpu');
            made.push(b);
            return b;
          },
          onRecover: (info) => recoveries.push(info),
        }),
      );
      const results = await trainer.fit();
      const weights = await trainer.model.getWeights();
      expect(lost).toBe(true);
      const snapshotAt = snapshotEvery > 0 ? step - (step % snapshotEvery) : 0;
      expect(recoveries).toHaveLength(1);
      expect(recoveries[0]).toMatchObject({
        epoch,
        step: snapshotAt,
        lostSteps: step - snapshotAt,
      });
      expect(recoveries[0].message).toMatch(/GPU device lost/);
      if (snapshotEvery > 0) expect(recoveries[0].lostSteps).toBeLessThanOrEqual(snapshotEvery);
      expect(made).toHaveLength(1);
      expect(trainer.model.backend).toBe(made[0]);
      expectSameRun({ results, weights, trainer }, await uninterrupted());
      trainer.dispose();
      made[0].destroy();
    },
  );

  it('device destroyed while the caller reads a checkpoint after an epoch: the callback runs again on the new device', async () => {
    const backend = await createBackend('webgpu');
    const calls: number[] = [];
    const checkpoints = new Map<number, Map<string, Int32Array>>();
    const recoveries: { epoch: number; step: number; lostSteps: number }[] = [];
    const made: Backend[] = [];
    const trainer = new Trainer(
      Model.create(backend, SPEC, { seed: 3 }),
      TRAIN,
      TEST,
      options({
        snapshotEvery: 4,
        onEpoch: async (r, t) => {
          calls.push(r.epoch);
          if (r.epoch === 1 && calls.length === 1) loseDevice(t);
          checkpoints.set(r.epoch, await t.model.getWeights());
        },
        recreateBackend: async () => {
          const b = await createBackend('webgpu');
          made.push(b);
          return b;
        },
        onRecover: (info) => recoveries.push(info),
      }),
    );
    const results = await trainer.fit();
    expect(calls).toEqual([1, 1, 2, 3]);
    // Resumed from the end-of-epoch snapshot: nothing to redo.
    expect(recoveries).toEqual([expect.objectContaining({ epoch: 2, step: 0, lostSteps: 0 })]);
    const ref = await uninterrupted();
    expectSameRun({ results, weights: checkpoints.get(EPOCHS)!, trainer }, ref);
    trainer.dispose();
    made[0].destroy();
  });

  it('without recreateBackend the loss is an error (DeviceLostError), not a silent stop', async () => {
    const backend = await createBackend('webgpu');
    let steps = 0;
    const trainer = new Trainer(
      Model.create(backend, SPEC, { seed: 3 }),
      TRAIN,
      TEST,
      options({
        snapshotEvery: 4,
        onStep: () => {
          steps++;
        },
        beforeChunk: () => {
          if (steps === 3) loseDevice(trainer);
        },
      }),
    );
    await expect(trainer.fit()).rejects.toBeInstanceOf(DeviceLostError);
    expect(trainer.state.epoch).toBe(0);
  });
});

describe('nitro-d train --simulate-device-loss (the CLI wiring: recovery, console line, log event)', () => {
  it('recovers, says so on stderr and in log.jsonl, and writes the bytes of an unbroken run', async () => {
    requireBuild();
    const dir = mkdtempSync(join(tmpdir(), 'nitro-lost-'));
    const flags = [
      '--preset',
      'mlp1',
      '--data',
      join(ROOT, 'demo/public/data/fashion-mnist-sample'),
      '--train-limit',
      '256',
      '--test-limit',
      '128',
      '--batch',
      '32',
      '--epochs',
      '2',
      '--snapshot-every',
      '4',
    ];
    const plain = await nitro(['train', ...flags, '--out', join(dir, 'plain'), '--quiet']);
    expect(plain.code, plain.stderr).toBe(0);
    const lost = await nitro([
      'train',
      ...flags,
      '--out',
      join(dir, 'lost'),
      '--simulate-device-loss',
      '2:5',
    ]);
    expect(lost.code, lost.stderr).toBe(0);
    expect(stderrLines(lost.stderr)).toContain(
      'GPU device lost (destroyed): device was destroyed; re-created the device, resumed from the host snapshot at epoch 2 step 4 and redid 1 steps (at most 4 with --snapshot-every 4)',
    );
    const log = readFileSync(join(dir, 'lost', 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const events = log.filter((e) => e.event === 'device-lost');
    expect(events).toEqual([
      expect.objectContaining({ epoch: 2, step: 4, lostSteps: 1, snapshotEvery: 4 }),
    ]);
    expect(log.map((e) => e.event)).toEqual(['start', 'epoch', 'device-lost', 'epoch', 'end']);
    for (const f of ['last.safetensors', 'best.safetensors']) {
      expect(
        Buffer.compare(readFileSync(join(dir, 'plain', f)), readFileSync(join(dir, 'lost', f))),
        f,
      ).toBe(0);
    }
  }, 600_000);

  it('refuses a step outside the run in one line; cuts a submission to end at the step', async () => {
    const data = [
      '--preset',
      'mlp1',
      '--data',
      join(ROOT, 'demo/public/data/fashion-mnist-sample'),
      '--train-limit',
      '256',
      '--batch',
      '32',
      '--epochs',
      '1',
    ];
    const outside = await nitro([
      'train',
      ...data,
      '--simulate-device-loss',
      '1:8',
      '--out',
      join(tmpdir(), 'never'),
    ]);
    expect(outside.code, outside.stderr).toBe(2);
    // Refused before anything is printed.
    expect(stderrLines(outside.stderr)).toEqual([
      'nitro-d train: --simulate-device-loss 1:8 is outside the run (1 epochs of 8 steps)',
    ]);
    // A step inside a submission of 4: the trainer ends one there (steps 4..5), then loses the device.
    const cut = await nitro([
      'train',
      ...data,
      '--steps-per-submit',
      '4',
      '--snapshot-every',
      '4',
      '--simulate-device-loss',
      '1:6',
      '--test-limit',
      '64',
      '--out',
      mkdtempSync(join(tmpdir(), 'nitro-cut-')),
    ]);
    expect(cut.code, cut.stderr).toBe(0);
    expect(stderrLines(cut.stderr)).toContain(
      'GPU device lost (destroyed): device was destroyed; re-created the device, resumed from the host snapshot at epoch 1 step 4 and redid 2 steps (at most 4 with --snapshot-every 4)',
    );
  });

  it('is refused on the CPU backend', async () => {
    const r = await nitro([
      'train',
      '--preset',
      'mlp1',
      '--simulate-device-loss',
      '1:3',
      '--backend',
      'cpu',
      '--out',
      join(tmpdir(), 'never'),
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(stderrLines(r.stderr)).toEqual([
      'nitro-d train: --simulate-device-loss needs --backend webgpu',
    ]);
  });
});
