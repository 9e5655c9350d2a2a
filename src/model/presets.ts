/**
 * Named models with the paper's architectures, hyper-parameters and training protocol
 * (docs/algorithm.md §7.1, §7.2), plus a small CNN for quick runs. Percentages are integer basis
 * points (1 percentage point = 100).
 */
import { type FeatureSpec, type ModelSpec, parseModelSpec } from './spec.ts';

/** The data sets the presets train on. */
export type DatasetName = 'mnist' | 'fashion-mnist' | 'cifar10';

/** Per batch, each transform applied with probability 1/2 (the same one for the whole batch). */
export type AugmentMode = 'none' | 'crop' | 'crop-flip';

/** A preset's training protocol: batch, epochs, augmentation, LR plateau and early stopping. */
export interface TrainingProtocol {
  batch: number;
  /** Maximum number of epochs. */
  epochs: number;
  augment: AugmentMode;
  /** Random-crop padding in pixels (0 without augmentation). */
  augmentPad: number;
  /** lrInv is multiplied by `factor` when test accuracy has not improved by `minDelta` basis points for `patience` epochs, counting from epoch `fromEpoch` (1-based). */
  plateau: { factor: number; minDelta: number; patience: number; fromEpoch: number };
  /** Training stops when test accuracy has not improved by `minDelta` basis points for `patience` epochs, counting from epoch `fromEpoch`. */
  earlyStopping: { minDelta: number; patience: number; fromEpoch: number };
  /** Training samples (after the seeded shuffle) from which normalisation mean and MAD are taken. */
  statsSamples: number;
  seed: number;
}

/** A named model: spec, data set, protocol and the paper's accuracy. */
export interface Preset {
  name: string;
  description: string;
  dataset: DatasetName;
  spec: ModelSpec;
  protocol: TrainingProtocol;
  /** The paper's test accuracy over 10 seeds, mean and 2·std, in basis points (absent for presets not in the paper). */
  paper?: { testAccuracy: number; interval: number };
}

const PAPER_PROTOCOL: Omit<TrainingProtocol, 'augment' | 'augmentPad'> = {
  batch: 64,
  epochs: 150,
  plateau: { factor: 3, minDelta: 100, patience: 15, fromEpoch: 10 },
  earlyStopping: { minDelta: 100, patience: 35, fromEpoch: 30 },
  statsSamples: 25_000,
  seed: 42,
};

/** The paper's augmentation per data set (docs/algorithm.md §7.1). */
const PAPER_AUGMENT: Record<DatasetName, Pick<TrainingProtocol, 'augment' | 'augmentPad'>> = {
  mnist: { augment: 'crop', augmentPad: 2 },
  'fashion-mnist': { augment: 'crop-flip', augmentPad: 2 },
  cifar10: { augment: 'crop-flip', augmentPad: 4 },
};

const NO_AUGMENT = { augment: 'none', augmentPad: 0 } as const;

const INPUT: Record<DatasetName, [number, number, number]> = {
  mnist: [1, 28, 28],
  'fashion-mnist': [1, 28, 28],
  cifar10: [3, 32, 32],
};

const C = (filters: number): FeatureSpec => ({ conv: filters, kernel: 3, padding: 1 });
const P: FeatureSpec = { pool: 2 };
const VGG8B: FeatureSpec[] = [C(128), C(256), P, C(256), C(512), P, C(512), P, C(512), P];
const VGG11B: FeatureSpec[] = [
  C(128),
  C(128),
  C(128),
  C(256),
  P,
  C(256),
  C(512),
  P,
  C(512),
  C(512),
  P,
  C(512),
  P,
];

interface PaperRun {
  name: string;
  description: string;
  dataset: DatasetName;
  features?: FeatureSpec[];
  hidden: number[];
  augment: boolean;
  /** Per mille. */
  dropout?: number;
  forwardDecayInv: number;
  headDecayInv: number;
  testAccuracy: number;
  interval: number;
}

/** A paper experiment (docs/algorithm.md §7.2): compat "reference", since its numbers were produced with the reference's quirks. */
function paper(run: PaperRun): Preset {
  const features = run.features ?? [];
  const spec = parseModelSpec(
    {
      input: INPUT[run.dataset],
      classes: 10,
      features,
      hidden: run.hidden,
      headDim: 4096,
      negativeSlopeInv: 4,
      bias: false,
      training: {
        lrInv: 512,
        lrAmp: 640,
        forwardDecayInv: run.forwardDecayInv,
        headDecayInv: run.headDecayInv,
      },
      compat: 'reference',
      ...(run.dropout ? { dropout: { features: 0, hidden: run.dropout } } : {}),
    },
    `preset ${run.name}`,
  );
  return {
    name: run.name,
    description: run.description,
    dataset: run.dataset,
    spec,
    protocol: { ...PAPER_PROTOCOL, ...(run.augment ? PAPER_AUGMENT[run.dataset] : NO_AUGMENT) },
    paper: { testAccuracy: run.testAccuracy, interval: run.interval },
  };
}

const PRESETS: Preset[] = [
  paper({
    name: 'mlp1',
    description: 'MLP 784-100-50-10 on MNIST (paper: mlp_1_mnist)',
    dataset: 'mnist',
    hidden: [100, 50],
    augment: false,
    forwardDecayInv: 12_000,
    headDecayInv: 3_000,
    testAccuracy: 9736,
    interval: 23,
  }),
  paper({
    name: 'mlp2',
    description: 'MLP 784-200-100-50-10 on Fashion-MNIST (paper: mlp_2_fmnist)',
    dataset: 'fashion-mnist',
    hidden: [200, 100, 50],
    augment: false,
    forwardDecayInv: 10_000,
    headDecayInv: 8_000,
    testAccuracy: 8866,
    interval: 46,
  }),
  paper({
    name: 'mlp3',
    description: 'MLP 784-1024-1024-1024-10 on Fashion-MNIST, augmented (paper: mlp_3_fmnist)',
    dataset: 'fashion-mnist',
    hidden: [1024, 1024, 1024],
    augment: true,
    forwardDecayInv: 29_000,
    headDecayInv: 6_000,
    testAccuracy: 8913,
    interval: 41,
  }),
  paper({
    name: 'mlp3-mnist',
    description: 'MLP 784-1024-1024-1024-10 on MNIST, augmented (paper: mlp_3_mnist)',
    dataset: 'mnist',
    hidden: [1024, 1024, 1024],
    augment: true,
    forwardDecayInv: 28_000,
    headDecayInv: 500,
    testAccuracy: 9828,
    interval: 8,
  }),
  paper({
    name: 'mlp4',
    description:
      'MLP 3072-3000-3000-3000-10 on CIFAR-10, augmented, dropout 0.1 after each block (paper: mlp_4_cifar10)',
    dataset: 'cifar10',
    hidden: [3000, 3000, 3000],
    augment: true,
    dropout: 100,
    forwardDecayInv: 19_000,
    headDecayInv: 7_500,
    testAccuracy: 6103,
    interval: 60,
  }),
  paper({
    name: 'vgg8b',
    description: 'VGG8B on Fashion-MNIST, augmented, classifier dropout 0.1 (paper: vgg8b_fmnist)',
    dataset: 'fashion-mnist',
    features: VGG8B,
    hidden: [1024],
    augment: true,
    dropout: 100,
    forwardDecayInv: 28_000,
    headDecayInv: 3_500,
    testAccuracy: 9366,
    interval: 40,
  }),
  paper({
    name: 'vgg8b-mnist',
    description: 'VGG8B on MNIST, augmented (paper: vgg8b_mnist)',
    dataset: 'mnist',
    features: VGG8B,
    hidden: [1024],
    augment: true,
    forwardDecayInv: 30_000,
    headDecayInv: 3_000,
    testAccuracy: 9945,
    interval: 5,
  }),
  paper({
    name: 'vgg8b-cifar10',
    description: 'VGG8B on CIFAR-10, augmented, classifier dropout 0.15 (paper: vgg8b_cifar10)',
    dataset: 'cifar10',
    features: VGG8B,
    hidden: [1024],
    augment: true,
    dropout: 150,
    forwardDecayInv: 25_000,
    headDecayInv: 3_000,
    testAccuracy: 8796,
    interval: 39,
  }),
  paper({
    name: 'vgg11b',
    description: 'VGG11B on CIFAR-10, augmented (paper: vgg11b_cifar10)',
    dataset: 'cifar10',
    features: VGG11B,
    hidden: [1024],
    augment: true,
    forwardDecayInv: 28_000,
    headDecayInv: 4_500,
    testAccuracy: 8739,
    interval: 64,
  }),
  {
    name: 'cnn-small',
    description:
      'Small CNN (conv16, pool, conv32, pool, 128) on Fashion-MNIST for quick runs, e.g. on a software GPU',
    dataset: 'fashion-mnist',
    spec: parseModelSpec(
      {
        input: [1, 28, 28],
        classes: 10,
        features: [{ conv: 16, kernel: 3, padding: 1 }, P, { conv: 32, kernel: 3, padding: 1 }, P],
        hidden: [128],
        // Heads of 1568 inputs on both conv blocks: (4,2) and (2,2) pools, a few % of the step's work.
        headDim: 2048,
        negativeSlopeInv: 4,
        bias: false,
        training: { lrInv: 512, lrAmp: 640, forwardDecayInv: 25_000, headDecayInv: 3_500 },
      },
      'preset cnn-small',
    ),
    // Short schedule: no augmentation (faster convergence), plateau and stopping scaled to 20 epochs.
    protocol: {
      ...PAPER_PROTOCOL,
      ...NO_AUGMENT,
      epochs: 20,
      plateau: { factor: 3, minDelta: 100, patience: 4, fromEpoch: 5 },
      earlyStopping: { minDelta: 100, patience: 8, fromEpoch: 8 },
    },
  },
];

/** The preset names, in the order the CLI lists them. */
export const presetNames: readonly string[] = PRESETS.map((p) => p.name);

/** A fresh copy of a preset (callers may edit it). */
export function getPreset(name: string): Preset {
  const p = PRESETS.find((q) => q.name === name);
  if (!p) throw new Error(`unknown preset "${name}"; valid presets: ${presetNames.join(', ')}`);
  return structuredClone(p);
}
