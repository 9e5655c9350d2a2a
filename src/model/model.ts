/**
 * A NITRO-D model on a backend: spec, plan, parameters resident on the device, and one
 * Network (activations + recorded programs) per batch size in use. The user-facing object of
 * the library: create or load, train on batches, predict, save.
 */
import type { Backend, Tensor } from '../backend.ts';
import { checkpointMetadata, parseCheckpoint, serializeCheckpoint } from '../io/checkpoint.ts';
import {
  type BatchSource,
  Network,
  type Parameters,
  allocateParameters,
  readParameters,
  writeParameters,
} from './network.ts';
import { type NetworkPlan, planFromSpec } from './plan.ts';
import { initWeights } from './init.ts';
import { type ModelSpec, parseModelSpec } from './spec.ts';

/** Predictions of N samples: output logits and every block head's. */
export interface PredictResult {
  /** [N, classes] int8 output of the output layers. */
  logits: Int32Array;
  /** [N, classes] per block head. */
  heads: Int32Array[];
}

/** A NITRO-D model on a backend (see the top of this file). */
export class Model {
  readonly plan: NetworkPlan;
  readonly params: Parameters;
  private readonly networks = new Map<number, Network>();

  private constructor(
    readonly backend: Backend,
    readonly spec: ModelSpec,
  ) {
    this.plan = planFromSpec(spec);
    this.params = allocateParameters(backend, this.plan);
  }

  /** A model with seeded integer Kaiming weights (or the given ones). */
  static create(
    backend: Backend,
    spec: ModelSpec | unknown,
    options: { seed?: number; weights?: Map<string, ArrayLike<number>> } = {},
  ): Model {
    const parsed = parseModelSpec(spec);
    const model = new Model(backend, parsed);
    model.setWeights(options.weights ?? initWeights(parsed, options.seed ?? 42));
    return model;
  }

  /** A model with weights from a safetensors checkpoint (docs/contract.md §2), validated against the spec. */
  static fromCheckpoint(
    backend: Backend,
    spec: ModelSpec | unknown,
    bytes: Uint8Array,
    source = 'checkpoint',
  ): Model {
    const parsed = parseModelSpec(spec);
    const plan = planFromSpec(parsed);
    const { tensors } = parseCheckpoint(bytes, plan.parameters, source);
    return Model.create(backend, parsed, { weights: tensors });
  }

  /** Uploads every parameter tensor (checked by name and size). */
  setWeights(weights: Map<string, ArrayLike<number>>): void {
    for (const { name, shape } of this.plan.parameters) {
      const v = weights.get(name);
      if (!v) throw new Error(`weights: missing tensor ${name}`);
      const n = shape.reduce((a, b) => a * b, 1);
      if (v.length !== n)
        throw new Error(
          `weights: tensor ${name} has ${v.length} values, expected ${n} for [${shape.join(', ')}]`,
        );
    }
    writeParameters(this.backend, this.params, weights);
  }

  /** Reads every parameter tensor back, by name. */
  getWeights(): Promise<Map<string, Int32Array>> {
    return readParameters(this.backend, this.params);
  }

  /** The checkpoint as safetensors bytes, with the spec and `metadata` in the header. */
  async toCheckpoint(metadata: Record<string, string> = {}): Promise<Uint8Array> {
    return serializeCheckpoint(
      this.plan.parameters,
      await this.getWeights(),
      checkpointMetadata(this.spec, metadata),
    );
  }

  /** The network (activations, programs) for a batch size, created on first use. */
  network(batch: number): Network {
    let n = this.networks.get(batch);
    if (!n) {
      n = new Network(this.backend, this.plan, this.params, batch);
      this.networks.set(batch, n);
    }
    return n;
  }

  /**
   * Runs S training steps on pre-made batches (x: S*B samples of the input shape, y: S*B
   * labels), one IntegerSGD update per step, all in one submission.
   */
  async trainOnBatches(
    x: ArrayLike<number>,
    y: ArrayLike<number>,
    steps: number,
    batch: number,
  ): Promise<void> {
    const sampleSize = this.plan.input.reduce((a, b) => a * b, 1);
    if (x.length !== steps * batch * sampleSize) {
      throw new Error(
        `batches: x has ${x.length} values, expected ${steps}×${batch}×${sampleSize}`,
      );
    }
    if (y.length !== steps * batch)
      throw new Error(`batches: y has ${y.length} labels, expected ${steps * batch}`);
    const net = this.network(batch);
    const source = this.uploadSource(x, y, steps * batch);
    try {
      this.backend.write(net.cursor, [0]);
      const program = net.recordTrainStep(source);
      this.backend.run(program, steps);
      await this.backend.sync();
    } finally {
      this.disposeSource(source);
    }
  }

  /** Forward pass of N samples: output logits and every head's prediction. */
  async predict(x: ArrayLike<number>, n: number, batch = Math.min(n, 256)): Promise<PredictResult> {
    const sampleSize = this.plan.input.reduce((a, b) => a * b, 1);
    if (x.length !== n * sampleSize)
      throw new Error(`predict: input has ${x.length} values, expected ${n}×${sampleSize}`);
    const C = this.plan.classes;
    const net = this.network(batch);
    const program = net.recordPredict();
    const logits = new Int32Array(n * C);
    const heads = this.plan.blocks.map(() => new Int32Array(n * C));
    for (let start = 0; start < n; start += batch) {
      const count = Math.min(batch, n - start);
      // A short last batch is padded with zeros; samples are independent in the forward pass.
      const chunk = new Int32Array(batch * sampleSize);
      for (let i = 0; i < count * sampleSize; i++) chunk[i] = x[start * sampleSize + i];
      this.backend.write(net.x, chunk);
      this.backend.run(program);
      const out = await this.backend.read(net.logits);
      logits.set(out.subarray(0, count * C), start * C);
      for (let h = 0; h < heads.length; h++) {
        const hv = await this.backend.read(net.headPrediction(h));
        heads[h].set(hv.subarray(0, count * C), start * C);
      }
    }
    return { logits, heads };
  }

  /** Uploads samples and labels as a batch source with indices 0..count-1. */
  uploadSource(x: ArrayLike<number>, y: ArrayLike<number>, count: number): BatchSource {
    const b = this.backend;
    const data = b.tensor([count, ...this.plan.input], 'i8', 'data');
    b.write(data, x);
    const labels = b.tensor([count], 'i32', 'labels');
    for (let i = 0; i < count; i++) {
      const v = y[i];
      if (!Number.isInteger(v) || v < 0 || v >= this.plan.classes) {
        throw new Error(
          `labels: label ${v} at index ${i} is not a class index in [0, ${this.plan.classes - 1}]`,
        );
      }
    }
    b.write(labels, y);
    const indices = b.tensor([count], 'i32', 'indices');
    b.write(
      indices,
      Int32Array.from({ length: count }, (_, i) => i),
    );
    return { data, labels, indices };
  }

  /** Frees the tensors of an uploaded batch source. */
  disposeSource(source: BatchSource): void {
    const tensors: Tensor[] = [source.data, source.labels, source.indices];
    if (source.augment) tensors.push(source.augment.params);
    for (const t of tensors) this.backend.dispose(t);
  }

  /** Frees the model's parameters and networks. */
  dispose(): void {
    for (const n of this.networks.values()) n.dispose();
    this.networks.clear();
    for (const t of this.params.tensors.values()) this.backend.dispose(t);
  }
}
