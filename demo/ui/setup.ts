/**
 * Run settings and data preparation, the same steps `nitro-d train` takes (src/cli/commands/train.ts:
 * resolvePreset and prepareData), so that for equal settings the page writes the same checkpoint
 * bytes as the CLI. Both build on the library's firstSamples, normalizeSplit and protocolOptions
 * (src/train/protocol.ts); the CLI module itself reads files through node:fs, hence the page's own
 * resolveRunPreset and prepareRunData. e2e/demo.spec.ts compares the two checkpoints byte for byte.
 */
import {
  type DataSplit,
  type Dataset,
  type DatasetName,
  firstSamples,
  getPreset,
  type NormStats,
  normalizeSplit,
  planFromSpec,
  type Preset,
} from '../../src/index.ts';

/** What the page's form holds; each field corresponds to a `nitro-d train` flag. */
export interface RunSettings {
  /** --preset */
  preset: string;
  /** --dataset: what the data actually is (recorded in the checkpoint). */
  dataset: DatasetName;
  /** --epochs */
  epochs: number;
  /** --batch */
  batch: number;
  /** --lr-inv */
  lrInv: number;
  /** --seed */
  seed: number;
  /** false = --no-augment */
  augment: boolean;
  /** --train-limit, --test-limit (undefined: every sample) */
  trainLimit?: number;
  testLimit?: number;
}

/** The settings a preset starts with on the page (a demo-sized epoch count). */
export function presetDefaults(name: string, dataset: DatasetName, epochs = 10): RunSettings {
  const p = getPreset(name);
  return {
    preset: name,
    dataset,
    epochs,
    batch: p.protocol.batch,
    lrInv: p.spec.training.lrInv,
    seed: p.protocol.seed,
    augment: p.protocol.augment !== 'none',
  };
}

/** resolvePreset: the preset with the protocol and learning-rate overrides applied. */
export function resolveRunPreset(s: RunSettings): Preset {
  const base = getPreset(s.preset);
  const protocol = { ...base.protocol };
  protocol.epochs = s.epochs;
  protocol.batch = s.batch;
  protocol.seed = s.seed;
  if (!s.augment) {
    protocol.augment = 'none';
    protocol.augmentPad = 0;
  }
  const spec = base.spec;
  return {
    ...base,
    dataset: s.dataset,
    spec: { ...spec, training: { ...spec.training, lrInv: s.lrInv } },
    protocol,
  };
}

export interface PreparedData {
  /** Normalised train and test sets. */
  split: DataSplit;
  /** Raw test images (pixel - 128) for display, same order as split.test. */
  rawTest: Dataset;
  stats: NormStats;
}

/** prepareData: limits, statistics from the training set in the seeded order, normalisation of both splits. */
export function prepareRunData(
  preset: Preset,
  raw: DataSplit,
  s: Pick<RunSettings, 'trainLimit' | 'testLimit'>,
): PreparedData {
  const trainRaw = firstSamples(raw.train, s.trainLimit);
  const testRaw = firstSamples(raw.test, s.testLimit);
  const expected = planFromSpec(preset.spec).input;
  if (trainRaw.shape.some((d, i) => d !== expected[i])) {
    throw new Error(
      `${preset.dataset} samples are [${trainRaw.shape.join(', ')}], the model expects [${expected.join(', ')}]`,
    );
  }
  const { split, stats } = normalizeSplit({ train: trainRaw, test: testRaw }, preset.protocol);
  return { stats, rawTest: testRaw, split };
}

/** The equivalent command line, shown on the page so a run can be repeated outside the browser. */
export function cliCommand(s: RunSettings, dataDir: string): string {
  const p = getPreset(s.preset);
  const parts = ['npx nitro-d train', `--preset ${s.preset}`];
  if (s.dataset !== p.dataset) parts.push(`--dataset ${s.dataset}`);
  parts.push(`--data ${dataDir}`, `--epochs ${s.epochs}`);
  if (s.batch !== p.protocol.batch) parts.push(`--batch ${s.batch}`);
  if (s.lrInv !== p.spec.training.lrInv) parts.push(`--lr-inv ${s.lrInv}`);
  if (s.seed !== p.protocol.seed) parts.push(`--seed ${s.seed}`);
  if (!s.augment && p.protocol.augment !== 'none') parts.push('--no-augment');
  if (s.trainLimit !== undefined) parts.push(`--train-limit ${s.trainLimit}`);
  if (s.testLimit !== undefined) parts.push(`--test-limit ${s.testLimit}`);
  return parts.join(' ');
}
