/**
 * The model as the scheduler needs it: per block the shapes, scaling factors, head geometry
 * and update count (src/model/geometry.ts), plus the training hyper-parameters of the spec.
 */
import { type BlockGeometry, type ModelGeometry, modelGeometry } from './geometry.ts';
import type { ModelSpec } from './spec.ts';

/** One-hot value of the true class (ohe_values = (0, 32) in every published run). */
export const ONE_HOT = 32;

export type BlockPlan = BlockGeometry;

export interface NetworkPlan
  extends Pick<ModelGeometry, 'input' | 'classes' | 'blocks' | 'headPoolPadMode'> {
  output: { inFeatures: number; sf: number };
  /** Checkpoint tensors in order (docs/contract.md §2). */
  parameters: { name: string; shape: number[] }[];
  geometry: ModelGeometry;
  bias: boolean;
  slopeInv: number;
  lrInv: number;
  lrAmp: number;
  forwardDecayInv: number;
  headDecayInv: number;
  oneHot: number;
}

/** The network plan of a spec: blocks, shapes, scaling factors and parameter tensors. */
export function planFromSpec(spec: ModelSpec): NetworkPlan {
  const g = modelGeometry(spec);
  return {
    input: g.input,
    classes: g.classes,
    blocks: g.blocks,
    headPoolPadMode: g.headPoolPadMode,
    output: { inFeatures: g.output.inFeatures, sf: g.output.sf },
    parameters: g.parameters.map((p) => ({ name: p.name, shape: p.shape })),
    geometry: g,
    bias: spec.bias,
    slopeInv: spec.negativeSlopeInv,
    lrInv: spec.training.lrInv,
    lrAmp: spec.training.lrAmp,
    forwardDecayInv: spec.training.forwardDecayInv,
    headDecayInv: spec.training.headDecayInv,
    oneHot: ONE_HOT,
  };
}
