/**
 * The model spec's types (docs/contract.md §1), apart from its parser (./spec.ts), so that
 * modules the parser uses, such as ./geometry.ts, can name them without importing it back.
 */
/** NITRO-ReLU inverse slopes with a published mean-correction constant (docs/algorithm.md §1.3). */
export const SLOPE_INVS = [3, 4, 5, 7, 8, 10, 15, 16, 20] as const;
export type SlopeInv = (typeof SLOPE_INVS)[number];

/** A local-loss conv block: stride 1, zero padding, `conv` filters of `kernel`×`kernel`. */
export interface ConvFeature {
  conv: number;
  kernel: number;
  padding: number;
}

/** A plain max-pool after a conv block: kernel = stride = `pool`, no padding, floor. */
export interface PoolFeature {
  pool: number;
}

export type FeatureSpec = ConvFeature | PoolFeature;

export interface TrainingSpec {
  /** IntegerSGD inverse learning rate. */
  lrInv: number;
  /** Amplification of the forward layer of every block (heads and output use 1). */
  lrAmp: number;
  /** Inverse weight decay of the blocks' forward layers, 0 = off. */
  forwardDecayInv: number;
  /** Inverse weight decay of the learning heads and the output layer, 0 = off. */
  headDecayInv: number;
}

/** Dropout rates in per-mille (100 = 0.1); see the placement rules at the top of this file. */
export interface DropoutSpec {
  features: number;
  hidden: number;
}

/** "reference": reproduce the published reference bit for bit, quirks included (docs/algorithm.md §10). */
export type Compat = 'reference' | 'none';

/** A parsed model spec (docs/contract.md §1) with every optional key filled in. */
export interface ModelSpec {
  /** [channels, height, width]. An MLP flattens it in C-order. */
  input: [number, number, number];
  classes: number;
  /** Conv blocks and the pools between them; [] for an MLP. */
  features: FeatureSpec[];
  /** Widths of the local-loss linear blocks after the flatten. */
  hidden: number[];
  /** Target (largest) flattened size d_lr of a conv block's learning head. */
  headDim: number;
  negativeSlopeInv: SlopeInv;
  bias: boolean;
  training: TrainingSpec;
  compat: Compat;
  dropout?: DropoutSpec;
}
