/**
 * The layer plan of a model spec: per block its shapes, fan-in and NITRO scaling factor, the
 * learning head's pooling (docs/algorithm.md §1.4), the plain pools and dropout around it, how often
 * it is updated per step; the output layer; the checkpoint tensors (docs/contract.md §2) in order;
 * and the arithmetic cost per sample. Pure integer bookkeeping, no device.
 */
import type { PadMode } from '../backend.ts';
import { type HeadPooling, headPooling } from './head-pooling.ts';
import type { ConvFeature, ModelSpec } from './spec-types.ts';

export { type HeadPooling, headPooling };

/** Multiply-accumulates per sample. */
export interface BlockMacs {
  /** The forward layer (conv or linear). */
  forward: number;
  /** The learning head's linear layer (forward; its input gradient and weight gradient cost the same each). */
  head: number;
  /** The forward layer's weight gradient. */
  weightGrad: number;
}

export interface BlockGeometry {
  /** Network order: conv blocks first, then linear blocks. */
  index: number;
  kind: 'conv' | 'linear';
  /** Per-sample input shape: [C, H, W] (conv) or [K] (linear). */
  inShape: number[];
  /** Per-sample output shape: [F, Ho, Wo] or [O]. */
  outShape: number[];
  inFeatures: number;
  outFeatures: number;
  /** [F, C, k, k] or [O, K]. */
  weightShape: number[];
  /** Conv kernel size and zero padding (0 for linear blocks). */
  kernel: number;
  padding: number;
  /** C·k² or K. */
  fanIn: number;
  /** NITRO scaling factor of the forward layer: 256 · fanIn. */
  sf: number;
  head: HeadPooling & {
    /** 256 · d_lr. */
    sf: number;
    /** [classes, d_lr]. */
    weightShape: [number, number];
  };
  /** Dropout on the block output (training only) in per-mille; the head sees the output before it. */
  dropoutPermille?: number;
  /** Plain max-pool (kernel = stride, no padding, floor) after the block (and its dropout). */
  poolAfter?: { kernel: [number, number]; outShape: number[] };
  /** 2 for a CNN's linear blocks in compat "reference" (docs/algorithm.md §4 item 5), else 1. */
  updatesPerStep: 1 | 2;
  /** Checkpoint tensor names. */
  tensors: { weight: string; bias?: string; headWeight: string; headBias?: string };
  macs: BlockMacs;
}

export interface ParameterGeometry {
  /** docs/contract.md §2 name, e.g. "blocks.0.head.weight". */
  name: string;
  shape: number[];
  size: number;
  /** Fan-in of the layer the tensor belongs to (for initialisation). */
  fanIn: number;
  /** Forward layer of a block, learning head of a block, or the output layer. */
  role: 'forward' | 'head' | 'output';
  /** The block it belongs to; absent for the output layer. */
  block?: number;
}

export interface ModelCost {
  /** Trainable int32 values. */
  parameters: number;
  /** Per sample, prediction: forward layers and output layer (no heads). */
  inferenceMacs: number;
  /** Per sample, one training step's forward pass: forward layers, heads and output layer. */
  trainForwardMacs: number;
  /**
   * Per sample, one training step's backward pass: head input and weight gradients, forward
   * weight gradients, output weight gradient; a block updated twice also recomputes its head.
   */
  trainBackwardMacs: number;
  trainMacs: number;
}

export interface ModelGeometry {
  input: [number, number, number];
  classes: number;
  blocks: BlockGeometry[];
  /** Number of conv blocks (they come first). */
  convBlocks: number;
  /**
   * Where the network flattens (C-order): the feature extractor's output (after the last
   * conv block and its pool) for a CNN, the input for an MLP. Feeds the first linear block,
   * or the output layer when there is none.
   */
  flatten: { shape: number[]; features: number };
  output: {
    inFeatures: number;
    sf: number;
    weightShape: [number, number];
    tensors: { weight: string; bias?: string };
  };
  /** Checkpoint tensors in checkpoint order: per block weight, bias, head weight, head bias; then the output layer. */
  parameters: ParameterGeometry[];
  /** Learning-head pool padding: 0 (the reference, docs/algorithm.md §10 item 3) or never winning. */
  headPoolPadMode: PadMode;
  cost: ModelCost;
}

/** The full layer plan of a parsed (valid) spec. */
export function modelGeometry(spec: ModelSpec): ModelGeometry {
  const { classes, bias } = spec;
  const reference = spec.compat === 'reference';
  const isCnn = spec.features.length > 0;
  const fcDrop = spec.dropout?.hidden ?? 0;
  const feDrop = spec.dropout?.features ?? 0;
  const blocks: BlockGeometry[] = [];

  const names = (prefix: string) => ({
    weight: `${prefix}.weight`,
    ...(bias ? { bias: `${prefix}.bias` } : {}),
    headWeight: `${prefix}.head.weight`,
    ...(bias ? { headBias: `${prefix}.head.bias` } : {}),
  });

  // Feature extractor.
  let [c, h, w] = spec.input;
  const convs = spec.features.filter((f): f is ConvFeature => 'conv' in f).length;
  for (const f of spec.features) {
    if ('conv' in f) {
      const index = blocks.length;
      const ho = h + 2 * f.padding - f.kernel + 1;
      const wo = w + 2 * f.padding - f.kernel + 1;
      const fanIn = c * f.kernel * f.kernel;
      const pooling = headPooling(f.conv, ho, wo, spec.headDim);
      const outFeatures = f.conv * ho * wo;
      const last = index === convs - 1;
      const drop = last && fcDrop > 0 ? fcDrop : feDrop;
      blocks.push({
        index,
        kind: 'conv',
        inShape: [c, h, w],
        outShape: [f.conv, ho, wo],
        inFeatures: c * h * w,
        outFeatures,
        weightShape: [f.conv, c, f.kernel, f.kernel],
        kernel: f.kernel,
        padding: f.padding,
        fanIn,
        sf: 256 * fanIn,
        head: { ...pooling, sf: 256 * pooling.dlr, weightShape: [classes, pooling.dlr] },
        ...(drop > 0 ? { dropoutPermille: drop } : {}),
        updatesPerStep: 1,
        tensors: names(`blocks.${index}`),
        macs: {
          forward: outFeatures * fanIn,
          head: classes * pooling.dlr,
          weightGrad: outFeatures * fanIn,
        },
      });
      [c, h, w] = [f.conv, ho, wo];
    } else {
      // Validation guarantees a pool follows a conv block.
      h = div(h, f.pool);
      w = div(w, f.pool);
      blocks[blocks.length - 1].poolAfter = { kernel: [f.pool, f.pool], outShape: [c, h, w] };
    }
  }
  const flatten = { shape: isCnn ? [c, h, w] : [...spec.input], features: c * h * w };

  // Classifier.
  let k = flatten.features;
  for (const out of spec.hidden) {
    const index = blocks.length;
    blocks.push({
      index,
      kind: 'linear',
      inShape: [k],
      outShape: [out],
      inFeatures: k,
      outFeatures: out,
      weightShape: [out, k],
      kernel: 0,
      padding: 0,
      fanIn: k,
      sf: 256 * k,
      head: { pooledShape: [out], dlr: out, sf: 256 * out, weightShape: [classes, out] },
      ...(fcDrop > 0 ? { dropoutPermille: fcDrop } : {}),
      updatesPerStep: reference && isCnn ? 2 : 1,
      tensors: names(`blocks.${index}`),
      macs: { forward: out * k, head: classes * out, weightGrad: out * k },
    });
    k = out;
  }

  const output = {
    inFeatures: k,
    sf: 256 * k,
    weightShape: [classes, k] as [number, number],
    tensors: { weight: 'output.weight', ...(bias ? { bias: 'output.bias' } : {}) },
  };

  const parameters: ParameterGeometry[] = [];
  const add = (
    name: string,
    shape: number[],
    fanIn: number,
    role: ParameterGeometry['role'],
    block?: number,
  ) => {
    parameters.push({
      name,
      shape,
      size: shape.reduce((a, b) => a * b, 1),
      fanIn,
      role,
      ...(block === undefined ? {} : { block }),
    });
  };
  for (const b of blocks) {
    add(b.tensors.weight, b.weightShape, b.fanIn, 'forward', b.index);
    if (b.tensors.bias) add(b.tensors.bias, [b.weightShape[0]], b.fanIn, 'forward', b.index);
    add(b.tensors.headWeight, b.head.weightShape, b.head.dlr, 'head', b.index);
    if (b.tensors.headBias) add(b.tensors.headBias, [classes], b.head.dlr, 'head', b.index);
  }
  add(output.tensors.weight, output.weightShape, k, 'output');
  if (output.tensors.bias) add(output.tensors.bias, [classes], k, 'output');

  const outMacs = classes * k;
  let inferenceMacs = outMacs;
  let trainForwardMacs = outMacs;
  let trainBackwardMacs = outMacs;
  for (const b of blocks) {
    inferenceMacs += b.macs.forward;
    trainForwardMacs += b.macs.forward + b.macs.head;
    const u = b.updatesPerStep;
    trainBackwardMacs += u * (2 * b.macs.head + b.macs.weightGrad) + (u - 1) * b.macs.head;
  }

  return {
    input: [...spec.input],
    classes,
    blocks,
    convBlocks: convs,
    flatten,
    output,
    parameters,
    headPoolPadMode: reference ? 'zero' : 'ignore',
    cost: {
      parameters: parameters.reduce((a, p) => a + p.size, 0),
      inferenceMacs,
      trainForwardMacs,
      trainBackwardMacs,
      trainMacs: trainForwardMacs + trainBackwardMacs,
    },
  };
}

/** Integer operations (2 per multiply-accumulate) of one training step on a batch. */
export function trainingStepOps(geometry: ModelGeometry, batch: number): number {
  return 2 * geometry.cost.trainMacs * batch;
}

/** Integer division of non-negative integers below 2^53 (the double quotient truncates exactly). */
function div(a: number, b: number): number {
  return Math.trunc(a / b);
}
