/**
 * What the data-parallel tests (in-process and over NATS) share: a small dataset whose class
 * is the band of the image that is bright, and one training run's weights and epoch results.
 */
import type { Backend } from '../src/backend.ts';
import type { Dataset } from '../src/data/dataset.ts';
import { Model } from '../src/model/model.ts';
import type { ModelSpec } from '../src/model/spec.ts';
import { type EpochResult, Trainer, type TrainerOptions } from '../src/train/trainer.ts';
import { Rng } from './helpers.ts';

/** `n` 8x8 images in 4 classes: class k has its k-th band of 16 pixels bright, plus noise. */
export function bandDataset(name: string, n: number, seed: number): Dataset {
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

/** Two epochs at `batch`, optionally with crops and flips. */
export function trainerOptions(
  batch: number,
  augment: boolean,
  seed: number,
  stepsPerSubmit: number,
): TrainerOptions {
  return {
    batch,
    epochs: 2,
    seed,
    augment: augment ? { pad: 1, flip: true } : undefined,
    stepsPerSubmit,
  };
}

/** A finished run: every weight and each epoch's results. */
export interface Run {
  weights: Map<string, Int32Array>;
  results: EpochResult[];
}

/** Trains `spec` from seeded weights on `backend` and returns the run. */
export async function trainRun(
  backend: Backend,
  spec: ModelSpec,
  data: { train: Dataset; test: Dataset },
  opts: TrainerOptions,
  weightSeed: number,
): Promise<Run> {
  const model = Model.create(backend, spec, { seed: weightSeed });
  const trainer = new Trainer(model, data.train, data.test, opts);
  try {
    const results = await trainer.fit();
    return { weights: await trainer.model.getWeights(), results };
  } finally {
    trainer.dispose();
  }
}
