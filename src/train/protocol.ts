/**
 * A preset's training protocol applied to data and to the trainer: the two steps every
 * front end (CLI, demo page, library user) runs before `new Trainer(...)`, kept here so that
 * equal settings give equal bytes everywhere.
 */
import { statsOrder } from '../data/batches.ts';
import type { Dataset, DataSplit } from '../data/dataset.ts';
import { computeNormStats, type NormStats, normalizeDataset } from '../data/normalize.ts';
import type { Preset } from '../model/presets.ts';
import type { TrainerOptions } from './trainer.ts';

/** First `n` samples of a data set (all when n is undefined or larger). */
export function firstSamples(ds: Dataset, n?: number): Dataset {
  const total = ds.labels.length;
  if (n === undefined || n >= total) return ds;
  const size = ds.images.length / total;
  return { ...ds, images: ds.images.subarray(0, n * size), labels: ds.labels.subarray(0, n) };
}

/**
 * Normalises both splits with statistics of the training split (docs/algorithm.md §2.1), drawn from
 * the protocol's seeded sample order, as the reference does.
 */
export function normalizeSplit(
  raw: DataSplit,
  protocol: Pick<Preset['protocol'], 'seed' | 'statsSamples'>,
): { split: DataSplit; stats: NormStats } {
  const stats = computeNormStats(raw.train.images, raw.train.shape, {
    order: statsOrder(raw.train.labels.length, protocol.seed),
    statsSamples: protocol.statsSamples,
  });
  return {
    stats,
    split: { train: normalizeDataset(raw.train, stats), test: normalizeDataset(raw.test, stats) },
  };
}

/** Trainer options of a preset's protocol: batch, epochs, seed, augmentation, LR plateau, early stop. */
export function protocolOptions(
  preset: Preset,
): Pick<TrainerOptions, 'batch' | 'epochs' | 'seed' | 'augment' | 'plateau' | 'earlyStopping'> {
  const p = preset.protocol;
  return {
    batch: p.batch,
    epochs: p.epochs,
    seed: p.seed,
    augment:
      p.augment === 'none' ? undefined : { pad: p.augmentPad, flip: p.augment === 'crop-flip' },
    plateau: { ...p.plateau, minDeltaBp: p.plateau.minDelta },
    earlyStopping: { ...p.earlyStopping, minDeltaBp: p.earlyStopping.minDelta },
  };
}
