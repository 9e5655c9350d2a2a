/**
 * A NITRO-D network on a backend: its parameters, the activations for one batch size, and
 * the recorded programs that train on a batch or predict one. The training step is recorded
 * once and replayed every step: gather the batch, forward every block, then every head's loss,
 * backward and IntegerSGD update (fused into the weight-gradient ops), with no host round trip
 * inside it.
 *
 * Each block learns from its own head only (nothing crosses block boundaries backwards), so
 * the scratch tensors for gradients are shared by all blocks and sized for the largest.
 */
import {
  type Backend,
  isReducing,
  type Ops,
  type Program,
  type ReducingOps,
  type Tensor,
} from '../backend.ts';
import type { NetworkPlan } from './plan.ts';

/** Metric slots: [correct, lossLo, lossHi] for each block head, then the output layer. */
export const METRIC_WORDS = 3;

export interface Parameters {
  /** Weight tensors by checkpoint name (docs/contract.md §2). */
  readonly tensors: Map<string, Tensor>;
}

/** Allocates every parameter tensor of a plan (zero-filled). */
export function allocateParameters(backend: Backend, plan: NetworkPlan): Parameters {
  const tensors = new Map<string, Tensor>();
  for (const { name, shape } of plan.parameters)
    tensors.set(name, backend.tensor(shape, 'i32', name));
  return { tensors };
}

export async function readParameters(
  backend: Backend,
  params: Parameters,
): Promise<Map<string, Int32Array>> {
  const out = new Map<string, Int32Array>();
  for (const [name, t] of params.tensors) out.set(name, await backend.read(t));
  return out;
}

export function writeParameters(
  backend: Backend,
  params: Parameters,
  values: Map<string, ArrayLike<number>>,
): void {
  for (const [name, t] of params.tensors) {
    const v = values.get(name);
    if (!v) throw new Error(`weights: missing tensor ${name}`);
    backend.write(t, v);
  }
}

/** Where a batch comes from: a dataset tensor on the device and the indices of each step. */
export interface BatchSource {
  /** [N, C, H, W] or [N, K] int8-valued samples. */
  data: Tensor;
  /** [N] class indices. */
  labels: Tensor;
  /** [T] sample indices; step t uses indices[t*B .. t*B+B). */
  indices: Tensor;
  /** [S, 5] augmentation parameters per step (see Ops.gather), when augmenting. */
  augment?: { params: Tensor; pad: number };
}

interface BlockTensors {
  /** Saved NITRO scaling output (input of NITRO-ReLU), [B, ...out]. */
  s: Tensor;
  /** Block output a (NITRO-ReLU), [B, ...out]. */
  a: Tensor;
  /** Block output after dropout (the next block's input), when the block has dropout. */
  dropped?: Tensor;
  /** Pooled a fed to a conv block's head, [B, C, dh, dw]. */
  pooled?: Tensor;
  /** Output of the plain max-pool after the block (input of the next conv block). */
  next?: Tensor;
  /** Head prediction and its loss gradient, [B, classes]. */
  yhat: Tensor;
  g: Tensor;
}

export interface NetworkOptions {
  /** Seed for dropout masks. */
  dropoutSeed?: number;
  /**
   * Rows of the global batch before this network's first row, when it trains one shard of a
   * data-parallel step (dropout masks are keyed by the global batch's rows). Default 0.
   */
  rowOffset?: number;
}

/** One IntegerSGD update of a data-parallel step: a parameter and its summed gradient. */
interface PendingUpdate {
  w: Tensor;
  grad: Tensor;
  amp: number;
  decayInv: number;
}

export class Network {
  readonly batch: number;
  /** Current inverse learning rate (i32 [1]); change it with setLrInv. */
  readonly lrInv: Tensor;
  /** Step cursor (i32 [1]): which batch of the source the next step takes. */
  readonly cursor: Tensor;
  /** Per-epoch metrics, METRIC_WORDS per head and for the output layer. */
  readonly metrics: Tensor;
  /** [B, ...input] gathered batch and [B] its labels. */
  readonly x: Tensor;
  readonly y: Tensor;
  /** Output-layer prediction [B, classes]. */
  readonly logits: Tensor;
  private readonly gOut: Tensor;
  private readonly blocks: BlockTensors[];
  /**
   * Shared δ scratch: the int32 gradient of a block output, sized for the largest. The head's
   * input gradient needs no buffer of its own: behind a head pool it is computed inside the pool
   * backward, and without one it is the block output's gradient. There is no weight-gradient
   * buffer either: every weight gradient is reduced straight into its IntegerSGD update.
   */
  private readonly scratch: { delta: Tensor };
  private readonly tensors: Tensor[] = [];

  constructor(
    readonly backend: Backend,
    readonly plan: NetworkPlan,
    readonly params: Parameters,
    batch: number,
    readonly options: NetworkOptions = {},
  ) {
    if (!Number.isInteger(batch) || batch <= 0)
      throw new Error(`batch must be a positive integer, got ${batch}`);
    this.batch = batch;
    const B = batch;
    const C = plan.classes;
    const t = (shape: number[], dtype: 'i8' | 'i32', label: string) => {
      const tensor = backend.tensor(shape, dtype, label);
      this.tensors.push(tensor);
      return tensor;
    };
    this.lrInv = t([1], 'i32', 'lrInv');
    backend.write(this.lrInv, [plan.lrInv]);
    this.cursor = t([1], 'i32', 'cursor');
    this.metrics = t([(plan.blocks.length + 1) * METRIC_WORDS], 'i32', 'metrics');
    this.x = t([B, ...plan.input], 'i8', 'x');
    this.y = t([B], 'i32', 'y');
    this.blocks = plan.blocks.map((b) => {
      const i = b.index;
      const bt: BlockTensors = {
        s: t([B, ...b.outShape], 'i8', `blocks.${i}.s`),
        a: t([B, ...b.outShape], 'i8', `blocks.${i}.a`),
        yhat: t([B, C], 'i8', `blocks.${i}.head.yhat`),
        g: t([B, C], 'i8', `blocks.${i}.head.g`),
      };
      if (b.dropoutPermille) bt.dropped = t([B, ...b.outShape], 'i8', `blocks.${i}.dropout`);
      if (b.head.pool) bt.pooled = t([B, ...b.head.pooledShape], 'i8', `blocks.${i}.head.pool`);
      if (b.poolAfter) bt.next = t([B, ...b.poolAfter.outShape], 'i8', `blocks.${i}.pool`);
      return bt;
    });
    this.logits = t([B, C], 'i8', 'output.yhat');
    this.gOut = t([B, C], 'i8', 'output.g');
    const outSize = Math.max(1, ...plan.blocks.map((b) => b.outShape.reduce((p, q) => p * q, 1)));
    this.scratch = { delta: t([B * outSize], 'i32', 'scratch.delta') };
  }

  /** Every tensor this network allocated (activations and scratch; parameters are separate). */
  get activationTensors(): readonly Tensor[] {
    return this.tensors;
  }

  setLrInv(lrInv: number): void {
    if (!Number.isInteger(lrInv) || lrInv <= 0 || lrInv > 0x7fffffff) {
      throw new Error(`lrInv must be a positive 32-bit integer, got ${lrInv}`);
    }
    this.backend.write(this.lrInv, [lrInv]);
  }

  private weight(name: string): Tensor {
    const w = this.params.tensors.get(name);
    if (!w) throw new Error(`network: no parameter ${name}`);
    return w;
  }

  private view(t: Tensor, shape: number[]): Tensor {
    return this.backend.view(t, shape);
  }

  /** Forward pass of every block and of the output layer on this.x (training mode when `train`). */
  private forward(ops: Ops, train: boolean): void {
    const B = this.batch;
    const plan = this.plan;
    let input = this.x;
    for (const b of plan.blocks) {
      const bt = this.blocks[b.index];
      const w = this.weight(`blocks.${b.index}.weight`);
      const bias = plan.bias ? this.weight(`blocks.${b.index}.bias`) : undefined;
      const epilogue = { scale: b.sf, relu: { out: bt.a, slopeInv: plan.slopeInv } };
      if (b.kind === 'conv') {
        ops.conv2d({ x: input, w, bias, padding: b.padding, out: bt.s, epilogue });
      } else {
        ops.linear({ x: this.view(input, [B, b.inFeatures]), w, bias, out: bt.s, epilogue });
      }
      input = bt.a;
      if (bt.dropped && train) {
        ops.dropout({
          x: bt.a,
          out: bt.dropped,
          ratePermille: b.dropoutPermille!,
          seed: (this.options.dropoutSeed ?? 0) + b.index,
          cursor: this.cursor,
          rowOffset: this.options.rowOffset,
        });
        input = bt.dropped;
      }
      if (bt.next && b.poolAfter) {
        ops.maxPool({
          x: input,
          kernel: b.poolAfter.kernel,
          padding: [0, 0],
          padMode: 'ignore',
          out: bt.next,
        });
        input = bt.next;
      }
    }
    const w = this.weight('output.weight');
    const bias = plan.bias ? this.weight('output.bias') : undefined;
    ops.linear({
      x: this.view(input, [B, plan.output.inFeatures]),
      w,
      bias,
      out: this.logits,
      epilogue: { scale: plan.output.sf },
    });
  }

  /** A block's head prediction from its saved output a and the current head weights. */
  private headForward(ops: Ops, blockIndex: number): Tensor {
    const b = this.plan.blocks[blockIndex];
    const bt = this.blocks[blockIndex];
    let flatSource = bt.a;
    if (b.head.pool && bt.pooled) {
      ops.maxPool({
        x: bt.a,
        kernel: b.head.pool.kernel,
        padding: b.head.pool.padding,
        padMode: this.plan.headPoolPadMode,
        out: bt.pooled,
      });
      flatSource = bt.pooled;
    }
    const flat = this.view(flatSource, [this.batch, b.head.dlr]);
    ops.linear({
      x: flat,
      w: this.weight(`blocks.${blockIndex}.head.weight`),
      bias: this.plan.bias ? this.weight(`blocks.${blockIndex}.head.bias`) : undefined,
      out: bt.yhat,
      epilogue: { scale: b.head.sf },
    });
    return flat;
  }

  /**
   * A block's head loss (metrics into `words` when given) and the δ at the block's output:
   * through the head with P before its update, then NITRO-ReLU's backward. Returns the head's
   * flattened input, P and δ (a view of the delta scratch).
   */
  private headBackward(
    ops: Ops,
    blockIndex: number,
    words: Tensor | undefined,
  ): { flat: Tensor; P: Tensor; deltaS: Tensor } {
    const B = this.batch;
    const plan = this.plan;
    const b = plan.blocks[blockIndex];
    const bt = this.blocks[blockIndex];
    const flat = this.headForward(ops, blockIndex);
    ops.lossGradient({
      yhat: bt.yhat,
      labels: this.y,
      oneHot: plan.oneHot,
      out: bt.g,
      metrics: words ? { tensor: words, offset: blockIndex * METRIC_WORDS } : undefined,
    });
    const P = this.weight(`blocks.${blockIndex}.head.weight`);
    // δ through the head uses P before its update, so it comes first.
    const deltaS = this.view(this.scratch.delta, [B, ...b.outShape]);
    const relu = { x: bt.s, slopeInv: plan.slopeInv };
    if (b.head.pool) {
      // One pass: each window's δ = g·P (never stored), routed to its first maximum and divided
      // by NITRO-ReLU's slope there; every other cell gets 0.
      ops.maxPoolBackward({
        x: bt.a,
        kernel: b.head.pool.kernel,
        padding: b.head.pool.padding,
        padMode: plan.headPoolPadMode,
        head: { g: bt.g, w: P },
        relu,
        out: deltaS,
      });
    } else {
      // Without a pool the head's input is the block output: δ = g·P through NITRO-ReLU's
      // backward, in one pass.
      const shape = [B, b.head.dlr];
      ops.linearInputGrad({
        g: bt.g,
        w: P,
        out: this.view(deltaS, shape),
        relu: { x: this.view(bt.s, shape), slopeInv: plan.slopeInv },
      });
    }
    return { flat, P, deltaS };
  }

  /** One local-loss update of a block: head loss, head update, backward to W, W update. */
  private blockUpdate(ops: Ops, blockIndex: number, input: Tensor, withMetrics: boolean): void {
    const B = this.batch;
    const plan = this.plan;
    const b = plan.blocks[blockIndex];
    const bt = this.blocks[blockIndex];
    const words = withMetrics ? this.metrics : undefined;
    const { flat, P, deltaS } = this.headBackward(ops, blockIndex, words);
    ops.linearWeightGrad({
      g: bt.g,
      x: flat,
      sgd: { w: P, lrInv: this.lrInv, amp: 1, decayInv: plan.headDecayInv },
    });
    if (plan.bias)
      this.biasUpdate(ops, `blocks.${blockIndex}.head.bias`, bt.g, 1, plan.headDecayInv);

    const W = this.weight(`blocks.${blockIndex}.weight`);
    const sgd = { w: W, lrInv: this.lrInv, amp: plan.lrAmp, decayInv: plan.forwardDecayInv };
    if (b.kind === 'conv') {
      ops.conv2dWeightGrad({ delta: deltaS, x: input, padding: b.padding, sgd });
    } else {
      ops.linearWeightGrad({
        g: this.view(deltaS, [B, b.outFeatures]),
        x: this.view(input, [B, b.inFeatures]),
        sgd,
      });
    }
    if (plan.bias) {
      const name = `blocks.${blockIndex}.bias`;
      // A conv bias has one value per filter: δ summed over the batch and every position.
      if (b.kind === 'conv')
        ops.conv2dBiasGrad({ delta: deltaS, sgd: { ...sgd, w: this.weight(name) } });
      else {
        const g = this.view(deltaS, [B, b.outFeatures]);
        this.biasUpdate(ops, name, g, plan.lrAmp, plan.forwardDecayInv);
      }
    }
  }

  /** Bias gradient = column sums of g: computed as gᵀ·1 with a ones "input". */
  private biasUpdate(ops: Ops, name: string, g: Tensor, amp: number, decayInv: number): void {
    const bias = this.weight(name);
    const ones = this.ones(g.shape[0]);
    ops.linearWeightGrad({ g, x: ones, sgd: { w: bias, lrInv: this.lrInv, amp, decayInv } });
  }

  private onesTensor: Tensor | undefined;
  private ones(rows: number): Tensor {
    if (!this.onesTensor) {
      this.onesTensor = this.backend.tensor([rows, 1], 'i8', 'ones');
      this.tensors.push(this.onesTensor);
      this.backend.write(this.onesTensor, new Array(rows).fill(1));
    }
    return this.onesTensor;
  }

  /** Inputs of each block as seen in the forward pass (after dropout and plain pooling). */
  private blockInputs(): Tensor[] {
    const inputs: Tensor[] = [];
    let input = this.x;
    for (const b of this.plan.blocks) {
      inputs.push(input);
      const bt = this.blocks[b.index];
      input = bt.dropped ?? bt.a;
      if (bt.next) input = bt.next;
    }
    inputs.push(input);
    return inputs;
  }

  /** Records the ops of one training step on the batch already in this.x / this.y. */
  private trainOps(ops: Ops): void {
    const plan = this.plan;
    const B = this.batch;
    this.forward(ops, true);
    const inputs = this.blockInputs();
    const outIn = this.view(inputs[plan.blocks.length], [B, plan.output.inFeatures]);
    ops.lossGradient({
      yhat: this.logits,
      labels: this.y,
      oneHot: plan.oneHot,
      out: this.gOut,
      metrics: { tensor: this.metrics, offset: plan.blocks.length * METRIC_WORDS },
    });
    const outSgd = {
      w: this.weight('output.weight'),
      lrInv: this.lrInv,
      amp: 1,
      decayInv: plan.headDecayInv,
    };
    ops.linearWeightGrad({ g: this.gOut, x: outIn, sgd: outSgd });
    if (plan.bias) this.biasUpdate(ops, 'output.bias', this.gOut, 1, plan.headDecayInv);
    for (const b of plan.blocks) {
      for (let u = 0; u < b.updatesPerStep; u++)
        this.blockUpdate(ops, b.index, inputs[b.index], u === 0);
    }
  }

  /**
   * The ops of one training step: with `source`, gather the next batch first and advance the
   * cursor after. Ops that reduce (a data-parallel recording) get the step with unfused weight
   * gradients summed across replicas before every update; others the fused step. Both make the
   * same bits.
   */
  trainStepOps(ops: Ops, source?: BatchSource): void {
    if (source) this.gatherOps(ops, source);
    if (isReducing(ops)) this.reducingTrainOps(ops);
    else this.trainOps(ops);
    if (source) ops.advance({ cursor: this.cursor });
  }

  /** A program that takes the next batch from `source` (advancing the cursor) and trains on it. */
  recordTrainStep(source: BatchSource): Program {
    return this.backend.record('train step', (ops) => this.trainStepOps(ops, source));
  }

  /** A program that trains on the batch already written to this.x / this.y. */
  recordTrainOnBatch(): Program {
    return this.backend.record('train step', (ops) => this.trainStepOps(ops));
  }

  private grads?: Map<string, Tensor>;
  private stepWords?: Tensor;

  /** The gradient tensor of a parameter in the data-parallel step (made on first use). */
  private gradOf(name: string, shape: readonly number[]): Tensor {
    this.grads ??= new Map();
    let g = this.grads.get(name);
    if (!g) {
      g = this.backend.tensor(shape, 'i32', `${name}.grad`);
      this.tensors.push(g);
      this.grads.set(name, g);
    }
    return g;
  }

  /**
   * The training step of one replica of a data-parallel run (docs/algorithm.md §4): the same
   * forward pass and loss gradients as trainOps, but every weight gradient goes to a tensor, the
   * replicas' gradients (and the step's metrics) are summed at `reduce`, and only then does
   * IntegerSGD run, in the order the fused step updates. A block that updates twice per step
   * (a CNN's linear blocks, §9.12) takes its second gradient with the updated head, after a
   * second reduce. The sum of the shards' int32 gradients is the whole batch's, bit for bit.
   */
  private reducingTrainOps(ops: ReducingOps): void {
    const plan = this.plan;
    const B = this.batch;
    this.stepWords ??= (() => {
      const t = this.backend.tensor([this.metrics.size], 'i32', 'step.metrics');
      this.tensors.push(t);
      return t;
    })();
    const words = this.stepWords;
    ops.fill({ out: words, value: 0 });
    this.forward(ops, true);
    const inputs = this.blockInputs();
    const outIn = this.view(inputs[plan.blocks.length], [B, plan.output.inFeatures]);
    ops.lossGradient({
      yhat: this.logits,
      labels: this.y,
      oneHot: plan.oneHot,
      out: this.gOut,
      metrics: { tensor: words, offset: plan.blocks.length * METRIC_WORDS },
    });
    let updates: PendingUpdate[] = [];
    const outW = this.weight('output.weight');
    const outGrad = this.gradOf('output.weight', outW.shape);
    ops.linearWeightGrad({ g: this.gOut, x: outIn, out: outGrad });
    updates.push({ w: outW, grad: outGrad, amp: 1, decayInv: plan.headDecayInv });
    if (plan.bias) updates.push(this.biasGrad(ops, 'output.bias', this.gOut, 1, plan.headDecayInv));
    const passes = Math.max(1, ...plan.blocks.map((b) => b.updatesPerStep));
    for (let u = 0; u < passes; u++) {
      for (const b of plan.blocks) {
        if (u < b.updatesPerStep)
          updates.push(
            ...this.blockGrads(ops, b.index, inputs[b.index], u === 0 ? words : undefined),
          );
      }
      ops.reduce({
        tensors: updates.map((p) => p.grad),
        metrics: u === 0 ? { words, into: this.metrics } : undefined,
      });
      for (const p of updates) ops.integerSgd({ ...p, lrInv: this.lrInv });
      updates = [];
    }
  }

  /** blockUpdate's gradients into tensors: the head's (P, bias), then the block's (W, bias). */
  private blockGrads(
    ops: Ops,
    blockIndex: number,
    input: Tensor,
    words: Tensor | undefined,
  ): PendingUpdate[] {
    const B = this.batch;
    const plan = this.plan;
    const b = plan.blocks[blockIndex];
    const bt = this.blocks[blockIndex];
    const pName = `blocks.${blockIndex}.head.weight`;
    const { flat, P, deltaS } = this.headBackward(ops, blockIndex, words);
    const updates: PendingUpdate[] = [];
    const pGrad = this.gradOf(pName, P.shape);
    ops.linearWeightGrad({ g: bt.g, x: flat, out: pGrad });
    updates.push({ w: P, grad: pGrad, amp: 1, decayInv: plan.headDecayInv });
    if (plan.bias)
      updates.push(
        this.biasGrad(ops, `blocks.${blockIndex}.head.bias`, bt.g, 1, plan.headDecayInv),
      );
    const wName = `blocks.${blockIndex}.weight`;
    const W = this.weight(wName);
    const wGrad = this.gradOf(wName, W.shape);
    if (b.kind === 'conv') {
      ops.conv2dWeightGrad({ delta: deltaS, x: input, padding: b.padding, out: wGrad });
    } else {
      ops.linearWeightGrad({
        g: this.view(deltaS, [B, b.outFeatures]),
        x: this.view(input, [B, b.inFeatures]),
        out: wGrad,
      });
    }
    updates.push({ w: W, grad: wGrad, amp: plan.lrAmp, decayInv: plan.forwardDecayInv });
    if (plan.bias) {
      const name = `blocks.${blockIndex}.bias`;
      if (b.kind === 'conv') {
        const bias = this.weight(name);
        const grad = this.gradOf(name, bias.shape);
        ops.conv2dBiasGrad({ delta: deltaS, out: grad });
        updates.push({ w: bias, grad, amp: plan.lrAmp, decayInv: plan.forwardDecayInv });
      } else {
        const g = this.view(deltaS, [B, b.outFeatures]);
        updates.push(this.biasGrad(ops, name, g, plan.lrAmp, plan.forwardDecayInv));
      }
    }
    return updates;
  }

  /** biasUpdate's gradient (column sums of g) into a tensor. */
  private biasGrad(
    ops: Ops,
    name: string,
    g: Tensor,
    amp: number,
    decayInv: number,
  ): PendingUpdate {
    const bias = this.weight(name);
    const grad = this.gradOf(name, [bias.size, 1]);
    ops.linearWeightGrad({ g, x: this.ones(g.shape[0]), out: grad });
    return { w: bias, grad, amp, decayInv };
  }

  /**
   * A program that predicts the next batch of `source`: output logits and every head's
   * prediction, accumulating metrics and, when given, the output layer's confusion matrix.
   */
  recordEvalStep(source: BatchSource, confusion?: Tensor): Program {
    return this.backend.record('eval step', (ops) => {
      this.gatherOps(ops, source);
      this.predictOps(ops, true, confusion);
      ops.advance({ cursor: this.cursor });
    });
  }

  /** A program that predicts the batch already in this.x (labels unused, no metrics). */
  recordPredict(): Program {
    return this.backend.record('predict', (ops) => this.predictOps(ops, false));
  }

  private predictOps(ops: Ops, withMetrics: boolean, confusion?: Tensor): void {
    this.forward(ops, false);
    for (const b of this.plan.blocks) {
      this.headForward(ops, b.index);
      if (withMetrics) {
        const bt = this.blocks[b.index];
        ops.lossGradient({
          yhat: bt.yhat,
          labels: this.y,
          oneHot: this.plan.oneHot,
          out: bt.g,
          metrics: { tensor: this.metrics, offset: b.index * METRIC_WORDS },
        });
      }
    }
    if (withMetrics) {
      ops.lossGradient({
        yhat: this.logits,
        labels: this.y,
        oneHot: this.plan.oneHot,
        out: this.gOut,
        metrics: { tensor: this.metrics, offset: this.plan.blocks.length * METRIC_WORDS },
      });
      if (confusion) ops.confusion({ yhat: this.logits, labels: this.y, out: confusion });
    }
  }

  private gatherOps(ops: Ops, source: BatchSource): void {
    ops.gather({
      data: source.data,
      labels: source.labels,
      indices: source.indices,
      cursor: this.cursor,
      out: this.x,
      outLabels: this.y,
      augment: source.augment,
    });
  }

  /** Head prediction tensor of block i ([B, classes]). */
  headPrediction(i: number): Tensor {
    return this.blocks[i].yhat;
  }

  dispose(): void {
    for (const t of this.tensors) this.backend.dispose(t);
    this.tensors.length = 0;
  }
}
