/**
 * nitro-d/inference: load a checkpoint and predict, without the training code (trainer, data
 * loaders, benchmarks) in an app's bundle.
 *
 *   import { loadModel } from 'nitro-d/inference';
 *   const model = await loadModel(new Uint8Array(await (await fetch('best.safetensors')).arrayBuffer()));
 *   const { classes } = await model.predictPixels(pixels); // 8-bit pixels, [N, C, H, W]
 *
 * The model spec comes from the checkpoint's metadata unless given; inputs in pixels are
 * normalised with the statistics the training run stored in the checkpoint (docs/algorithm.md
 * §2.1), so predictions match what `nitro-d eval` computes.
 */
import type { Backend } from './backend.ts';
import { applyNormalization, type NormStats } from './data/normalize.ts';
import { CpuBackend } from './cpu-backend.ts';
import { WebGPUBackend } from './gpu/webgpu-backend.ts';
import { parseCheckpoint } from './io/checkpoint.ts';
import { checkpointVersion, peekSafetensorsMetadata } from './io/formats.ts';
import { parseSafetensors } from './io/safetensors.ts';
import { Model } from './model/model.ts';
import { type ModelSpec, parseModelSpec } from './model/spec.ts';
import { planFromSpec } from './model/plan.ts';

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /**
   * A backend to run on (the caller keeps ownership), or which one to create: "webgpu", "cpu",
   * or "auto" (default: WebGPU when the runtime has it, else the CPU backend).
   */
  backend?: Backend | 'webgpu' | 'cpu' | 'auto';
  /** Names the checkpoint in error messages (default "checkpoint"). */
  file?: string;
}

/** What {@link InferenceModel.predict} returns for N samples. */
export interface Prediction {
  /** [N] predicted class: the index of the largest logit (the lowest index on a tie). */
  classes: Int32Array;
  /** [N, classes] int8-valued output logits. */
  logits: Int32Array;
  /** [N, classes] per block's learning head. */
  heads: Int32Array[];
}

/** A model loaded from a checkpoint, ready to predict. */
export class InferenceModel {
  /** @internal */
  constructor(
    private readonly model: Model,
    private readonly ownsBackend: boolean,
    /** The checkpoint's metadata strings ("model", "normalization", "format", ...). */
    readonly metadata: Record<string, string>,
    /** The normalisation the training run used, when the checkpoint records it. */
    readonly normalization: NormStats | undefined,
  ) {}

  /** The model spec (defaults filled in). */
  get spec(): ModelSpec {
    return this.model.spec;
  }

  /** [C, H, W] of one input sample. */
  get inputShape(): [number, number, number] {
    return [...this.model.plan.input] as [number, number, number];
  }

  /** The backend predictions run on. */
  get backend(): Backend {
    return this.model.backend;
  }

  /**
   * Predicts N samples of already-normalised integer inputs (values in [-128, 127], [N, C, H, W]
   * in C order). N defaults to the number of whole samples in `x`.
   */
  async predict(x: ArrayLike<number>, n?: number): Promise<Prediction> {
    const count = n ?? this.count(x);
    const { logits, heads } = await this.model.predict(x, count);
    const C = this.model.plan.classes;
    const classes = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (logits[i * C + c] > logits[i * C + best]) best = c;
      classes[i] = best;
    }
    return { classes, logits, heads };
  }

  /**
   * Predicts N images of 8-bit pixels (integers in [0, 255], [N, C, H, W] in C order): each
   * value becomes pixel - 128 and is normalised with the checkpoint's statistics (or `stats`).
   */
  async predictPixels(pixels: ArrayLike<number>, stats = this.normalization): Promise<Prediction> {
    if (!stats)
      throw new Error(
        'predictPixels: the checkpoint records no normalization; pass the statistics the model was trained with',
      );
    const n = this.count(pixels);
    const centred = new Int8Array(pixels.length);
    for (let i = 0; i < pixels.length; i++) {
      const v = pixels[i];
      if (!Number.isInteger(v) || v < 0 || v > 255)
        throw new Error(`predictPixels: pixel value ${v} at ${i} is not an integer in [0, 255]`);
      centred[i] = v - 128;
    }
    return this.predict(applyNormalization(centred, this.inputShape, stats), n);
  }

  /** Frees the model's device memory, and the backend when loadModel created it. */
  dispose(): void {
    const backend = this.model.backend;
    this.model.dispose();
    if (this.ownsBackend) backend.destroy();
  }

  private count(x: ArrayLike<number>): number {
    const size = this.inputShape.reduce((a, b) => a * b, 1);
    if (x.length % size !== 0)
      throw new Error(
        `predict: ${x.length} values are not whole samples of [${this.inputShape.join(', ')}]`,
      );
    return x.length / size;
  }
}

function normalizationOf(meta: Record<string, string>, file: string): NormStats | undefined {
  const text = meta.normalization;
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as { mean: Record<string, number>; mad: Record<string, number> };
    // Typed arrays serialise as {"0": .., "1": ..}; plain arrays are read as well.
    const values = (o: Record<string, number>) => Int32Array.from(Object.values(o));
    return { mean: values(v.mean), mad: values(v.mad) };
  } catch {
    throw new Error(`checkpoint ${file}: metadata "normalization" is not valid JSON`);
  }
}

async function backendFor(choice: LoadModelOptions['backend']): Promise<Backend> {
  if (choice === 'cpu') return CpuBackend.create();
  if (choice === 'webgpu') return WebGPUBackend.create();
  try {
    return await WebGPUBackend.create();
  } catch {
    return CpuBackend.create();
  }
}

/**
 * Loads a checkpoint (safetensors bytes, docs/contract.md §2). The spec is read from the
 * checkpoint's "model" metadata when `spec` is omitted; either way the tensors are checked
 * against it with one-line errors.
 */
export async function loadModel(
  checkpoint: Uint8Array,
  spec?: ModelSpec | unknown,
  options: LoadModelOptions = {},
): Promise<InferenceModel> {
  const file = options.file ?? 'checkpoint';
  let parsedSpec: ModelSpec;
  if (spec === undefined) {
    // The header alone; parseCheckpoint below checks the version and every tensor.
    checkpointVersion(peekSafetensorsMetadata(checkpoint), file);
    const meta =
      peekSafetensorsMetadata(checkpoint) ??
      parseSafetensors(checkpoint, { file, kind: 'checkpoint' }).metadata;
    const text = meta.model;
    if (text === undefined)
      throw new Error(`checkpoint ${file}: no "model" spec in its metadata; pass the spec`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`checkpoint ${file}: metadata "model" is not valid JSON`);
    }
    parsedSpec = parseModelSpec(json, `checkpoint ${file}: metadata "model"`);
  } else {
    parsedSpec = parseModelSpec(spec);
  }
  const ckpt = parseCheckpoint(checkpoint, planFromSpec(parsedSpec).parameters, file);
  const normalization = normalizationOf(ckpt.metadata, file);
  const given = typeof options.backend === 'object' ? options.backend : undefined;
  const backend = given ?? (await backendFor(options.backend as 'webgpu' | 'cpu' | 'auto'));
  try {
    const model = Model.create(backend, parsedSpec, { weights: ckpt.tensors });
    return new InferenceModel(model, !given, ckpt.metadata, normalization);
  } catch (e) {
    if (!given) backend.destroy();
    throw e;
  }
}

/** Predicts with a loaded model: `model.predict(x, n)`. */
export function predict(
  model: InferenceModel,
  x: ArrayLike<number>,
  n?: number,
): Promise<Prediction> {
  return model.predict(x, n);
}
