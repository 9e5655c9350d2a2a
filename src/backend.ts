/**
 * The one interface the model and the trainer speak to. Every NITRO-D op exists twice behind
 * it: as a WGSL kernel (src/kernels, shaders/) and as plain TypeScript (src/cpu). Tests run
 * the same op on both backends and compare every element.
 *
 * Ops write into tensors allocated up front, so a whole training step can be recorded once
 * (`backend.record`) and replayed every step without allocating, uploading or reading back.
 */

/** `i8`: int8-valued (packed four to a u32 on the GPU). `i32`: int32 values. */
export type DType = 'i8' | 'i32';

/** A tensor on a backend: shape, dtype and a label for error messages; the storage is the backend's. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly label: string;
  /** Number of logical elements (product of the shape). */
  readonly size: number;
}

/**
 * Rows of a tensor: the first dimension for rank >= 2, otherwise one row.
 * An `i8` tensor on the GPU pads each row to a multiple of four elements (one u32 word),
 * so a row of a packed tensor is word aligned and flattening [B, C, H, W] -> [B, C*H*W] is free.
 */
export function rowsOf(shape: readonly number[]): { rows: number; rowLength: number } {
  if (shape.length === 0) return { rows: 1, rowLength: 1 };
  if (shape.length === 1) return { rows: 1, rowLength: shape[0] };
  return { rows: shape[0], rowLength: shape.slice(1).reduce((a, b) => a * b, 1) };
}

/** Number of elements of a shape (the product of its dimensions). */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Words per row of a packed int8 tensor. */
export function packedRowWords(rowLength: number): number {
  return Math.ceil(rowLength / 4);
}

/** Bytes a tensor occupies on the GPU (packed int8 rows padded to whole words). */
export function deviceBytes(shape: readonly number[], dtype: DType): number {
  if (dtype === 'i32') return 4 * sizeOf(shape);
  const { rows, rowLength } = rowsOf(shape);
  return 4 * rows * packedRowWords(rowLength);
}

/** How max-pooling treats padding cells. */
export type PadMode =
  /** Pad cells hold 0 and take part in the max (the reference's behaviour, docs/algorithm.md §10.3). */
  | 'zero'
  /** Pad cells never win (the intended -inf padding). */
  | 'ignore';

/** NITRO scaling (and optionally NITRO-ReLU) applied to an integer layer's int32 result. */
export interface Epilogue {
  /** Scaling factor SF: out = clip(trunc(z / SF), -127, 127). */
  scale: number;
  /** When set, `out` holds the scaled values and `relu.out` the NITRO-ReLU of them. */
  relu?: { out: Tensor; slopeInv: number };
}

/** Parameters of `Ops.linear`: z = x·wᵀ (+ bias) into `out`, then the optional epilogue. */
export interface LinearParams {
  /** [B, K] int8-valued input. */
  x: Tensor;
  /** [O, K] int32 weights. */
  w: Tensor;
  /** [O] int32 bias, or undefined. */
  bias?: Tensor;
  /** Shape [B, O]: i32 for the raw accumulation z = x·wᵀ + bias (no epilogue), i8 with an epilogue. */
  out: Tensor;
  epilogue?: Epilogue;
}

/** Parameters of `Ops.conv2d`: stride-1 zero-padded cross-correlation into `out`, then the optional epilogue. */
export interface Conv2dParams {
  /** [B, C, H, W] int8-valued input. */
  x: Tensor;
  /** [F, C, k, k] int32 weights (cross-correlation, stride 1). */
  w: Tensor;
  bias?: Tensor;
  padding: number;
  /** Shape [B, F, H+2p-k+1, W+2p-k+1]: i32 raw, or i8 with an epilogue. */
  out: Tensor;
  epilogue?: Epilogue;
}

/** Parameters of `Ops.maxPool`: windows of `kernel`×`kernel` at `stride`, with padding and the padded value set by `padMode`. */
export interface MaxPoolParams {
  /** [B, C, H, W] int8-valued. */
  x: Tensor;
  /** Window = stride. */
  kernel: readonly [number, number];
  padding: readonly [number, number];
  padMode: PadMode;
  /** [B, C, Ho, Wo] int8, Ho = floor((H + 2 ph - kh) / kh) + 1. */
  out: Tensor;
}

/** Parameters of `Ops.maxPoolBackward`: routes each window's gradient to its first maximum. */
export interface MaxPoolBackwardParams extends Omit<MaxPoolParams, 'out'> {
  /** [B, C, Ho, Wo] int32 gradient at the pool output. Exactly one of delta and head. */
  delta?: Tensor;
  /**
   * The pool feeds a linear head (g [B, classes] int8, w [classes, C*Ho*Wo] int32): window j of
   * sample b gets Σ_k g[b,k]·w[k,j] (i32, wrapping), what linearInputGrad({ g, w }) would store
   * in delta, computed where it is routed instead of stored.
   */
  head?: { g: Tensor; w: Tensor };
  /**
   * NITRO-ReLU's backward fused in: each routed value v becomes trunc(v / g_inv(x)) at its cell,
   * as nitroReluBackward({ x, slopeInv }) of out would make it (x: the saved int8 input, [B, C, H, W]).
   */
  relu?: { x: Tensor; slopeInv: number };
  /** [B, C, H, W] int32: delta routed to the first maximum (row-major) of each window, 0 elsewhere. */
  out: Tensor;
}

/** Parameters of `Ops.lossGradient`: the int8 loss gradient of a head or the output, with optional metrics. */
export interface LossParams {
  /** [B, classes] int8 prediction. */
  yhat: Tensor;
  /** [B] int32 class indices. */
  labels: Tensor;
  /** One-hot value of the true class (32 in every published run). */
  oneHot: number;
  /** [B, classes] int8: wrap_int8(yhat - y). */
  out: Tensor;
  /**
   * Accumulates into metrics[offset .. offset+3): correct predictions (argmax, first index on
   * ties), then the RSS loss sum Σ(yhat - y)² as a 64-bit integer (low word, high word).
   */
  metrics?: { tensor: Tensor; offset: number };
}

/**
 * IntegerSGD fused into a weight-gradient op: instead of leaving the gradient in `out`, the op
 * updates `w` in place exactly as integerSgd({ w, grad: out, lrInv, amp, decayInv }) would right
 * after it (`w` has the gradient's shape). `out` may then be left out, and if given its contents
 * afterwards are unspecified: the GPU kernels update w from the sums in registers and never
 * store the gradient, so training holds no weight-gradient buffer at all.
 */
export interface SgdUpdate {
  w: Tensor;
  lrInv: Tensor;
  amp: number;
  decayInv: number;
}

/** The NITRO-D ops every backend implements with the same bits (docs/algorithm.md). */
export interface Ops {
  /** z = x·wᵀ (+ bias), then the optional epilogue. i32 accumulation wraps. */
  linear(p: LinearParams): void;
  /** Stride-1 zero-padded cross-correlation, then the optional epilogue. */
  conv2d(p: Conv2dParams): void;
  /** NITRO scaling alone: out(i8) = clip(trunc(x / scale), -127, 127) for x i32. */
  scale(p: { x: Tensor; out: Tensor; scale: number }): void;
  /** NITRO-ReLU forward on int8 values (docs/algorithm.md §1.3). */
  nitroRelu(p: { x: Tensor; out: Tensor; slopeInv: number }): void;
  /** NITRO-ReLU backward: out = trunc(delta / g_inv(x)) with x the saved int8 input of the activation. */
  nitroReluBackward(p: { delta: Tensor; x: Tensor; out: Tensor; slopeInv: number }): void;
  /** Max-pool forward: each window's largest value. */
  maxPool(p: MaxPoolParams): void;
  /** Routes each window's gradient to its first maximum, optionally from a head and through NITRO-ReLU's backward. */
  maxPoolBackward(p: MaxPoolBackwardParams): void;
  /** Loss gradient with int8 wrap and optional metric accumulation. */
  lossGradient(p: LossParams): void;
  /**
   * out[B, K] (i32) = g[B, O] · w[O, K]; g is i8 or i32. With `relu`, NITRO-ReLU's backward at
   * the saved int8 input x [B, K] is applied in the store, as nitroReluBackward of out would.
   */
  linearInputGrad(p: {
    g: Tensor;
    w: Tensor;
    out: Tensor;
    relu?: { x: Tensor; slopeInv: number };
  }): void;
  /** out[O, K] (i32) = gᵀ · x; g [B, O] is i8 or i32, x [B, K] is i8. `out` or `sgd` (see SgdUpdate). */
  linearWeightGrad(p: { g: Tensor; x: Tensor; out?: Tensor; sgd?: SgdUpdate }): void;
  /** out[F, C, k, k] (i32) = Σ_b,i,j delta[b,f,i,j] · xpad[b,c,i+u,j+v]. `out` or `sgd` (see SgdUpdate). */
  conv2dWeightGrad(p: {
    delta: Tensor;
    x: Tensor;
    padding: number;
    out?: Tensor;
    sgd?: SgdUpdate;
  }): void;
  /**
   * out[F] (i32) = Σ_b,i,j delta[b,f,i,j]: a conv bias gradient, one value per filter summed over
   * the batch and every output position (i32, wrapping; the reference sums bias gradients in
   * int64, docs/algorithm.md §10 item 11). `out` or `sgd` (see SgdUpdate).
   */
  conv2dBiasGrad(p: { delta: Tensor; out?: Tensor; sgd?: SgdUpdate }): void;
  /**
   * IntegerSGD in place: w -= trunc(trunc(grad / amp) / lrInv) + (decayInv > 0 ? trunc(w / decayInv) : 0).
   * `lrInv` is an i32 [1] tensor so a recorded step picks up learning-rate changes.
   */
  integerSgd(p: { w: Tensor; grad: Tensor; lrInv: Tensor; amp: number; decayInv: number }): void;
  /** Adds the confusion counts of argmax(yhat) against labels into out[true, predicted] (i32 [C, C]). */
  confusion(p: { yhat: Tensor; labels: Tensor; out: Tensor }): void;
  /**
   * Copies a batch of samples chosen by an index list: out[b] = data[indices[cursor[0]*B + b]],
   * outLabels[b] = labels[same]. data [N, ...] i8, labels [N] i32, indices [T] i32, cursor [1] i32.
   * With `augment`, per-step parameters aug[cursor[0]] = (crop?, dy, dx, flip, padValue) apply
   * a random crop of a `pad`-padded image and a horizontal flip to the whole batch (docs/algorithm.md §7.1).
   */
  gather(p: {
    data: Tensor;
    labels: Tensor;
    indices: Tensor;
    cursor: Tensor;
    out: Tensor;
    outLabels: Tensor;
    augment?: { params: Tensor; pad: number };
  }): void;
  /**
   * Integer input normalisation (docs/algorithm.md §2.1): out = clip(trunc((x - mean_c) * 51 / mad_c), -128, 127)
   * with x [N, C, H, W] i8 holding pixel - 128 and stats i32 [2, C] = (mean_c..., mad_c...).
   */
  normalize(p: { x: Tensor; stats: Tensor; out: Tensor }): void;
  /**
   * Training-mode dropout (docs/algorithm.md §1.6): out = trunc(x * keep * R / 1000), keep drawn from an
   * integer hash of (seed, cursor[0], element index) with P(drop) = ratePermille / 1000.
   * R comes from the reference's table; outputs must stay int8 (rates up to 0.25).
   */
  dropout(p: {
    x: Tensor;
    out: Tensor;
    ratePermille: number;
    seed: number;
    cursor: Tensor;
    /**
     * Rows of the whole batch before x's first row (default 0): a shard of a data-parallel
     * step keys its masks by the element index in the global batch, so the bits stay those of
     * one device.
     */
    rowOffset?: number;
  }): void;
  /** cursor[0] += 1 (advances a recorded step to its next batch). */
  advance(p: { cursor: Tensor }): void;
  /** Fills a tensor with a constant. */
  fill(p: { out: Tensor; value: number }): void;
}

/** A recorded sequence of ops that can be replayed without re-encoding. */
export interface Program {
  readonly label: string;
}

/** Where tensors live and ops run: the WebGPU engine or the CPU reference (`createBackend`). */
export interface Backend {
  /** Which backend this is. */
  readonly kind: 'webgpu' | 'cpu';
  /** Human-readable description of the device (adapter, or the CPU). */
  readonly description: string;
  /** Ops execute eagerly, except inside `record`. */
  readonly ops: Ops;
  /** A zero-filled tensor. */
  tensor(shape: readonly number[], dtype: DType, label: string): Tensor;
  /**
   * A tensor sharing `t`'s storage with another shape and the same dtype, e.g. [B, C, H, W]
   * as [B, C*H*W], or a smaller shape at the start of a larger scratch tensor. Its device size
   * (deviceBytes) must not exceed t's. Writes through either are seen by both.
   */
  view(t: Tensor, shape: readonly number[], label?: string): Tensor;
  /** Writes logical values (one number per element, C-order). */
  write(t: Tensor, values: ArrayLike<number>): void;
  /** Reads logical values back (one int32 per element, C-order). */
  read(t: Tensor): Promise<Int32Array>;
  /**
   * Reads them into `into` (exactly t's size) instead of a new array, where a backend can:
   * for a caller that reads the same tensor every step without making garbage of it.
   */
  readInto?(t: Tensor, into: Int32Array): Promise<void>;
  /** Frees a tensor's storage (a view frees nothing). */
  dispose(t: Tensor): void;
  /** Records the ops `build` issues into a program instead of running them. */
  record(label: string, build: (ops: Ops) => void): Program;
  /** Runs a program `times` times in a row (one submission on the GPU). */
  run(program: Program, times?: number): void;
  /** Resolves when everything submitted so far has finished (and throws the first GPU error). */
  sync(): Promise<void>;
  /** Bytes held by live tensors. */
  bytesInUse(): number;
  /** Releases the device and everything on it; the backend cannot be used afterwards. */
  destroy(): void;
}

/**
 * Parameters of a cross-replica sum in a data-parallel step (see {@link ReducingOps}): every
 * tensor (i32) becomes the elementwise wrapping sum of its values on every replica, and the
 * metric words of the step are summed (the 64-bit loss words with carry) and added into `into`.
 */
export interface ReduceParams {
  /** i32 gradient sums of this phase, in an order every replica shares. */
  tensors: readonly Tensor[];
  /** The step's metric words ([correct, lossLo, lossHi] slots) and the run's totals. */
  metrics?: { words: Tensor; into: Tensor };
}

/**
 * The ops of a backend that trains one shard of a batch among several replicas: a step then
 * keeps its weight gradients (unfused) and sums them across replicas at `reduce` before the
 * IntegerSGD updates. Plain backends' ops have no `reduce`; a Network records the fused step
 * for them.
 */
export interface ReducingOps extends Ops {
  /** The cross-replica sum of a phase's gradients and metric words (see ReduceParams). */
  reduce(p: ReduceParams): void;
}

/** Whether a recording's ops take part in a data-parallel step. */
export function isReducing(ops: Ops): ops is ReducingOps {
  // `in`, not a property read: a tracing proxy answers every read with a function.
  return 'reduce' in ops;
}
