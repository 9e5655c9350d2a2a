/**
 * The training loop: epochs of recorded train steps replayed in chunks (several steps per
 * submission), test evaluation, ReduceLROnPlateau / EarlyStopping, best-model tracking, host
 * snapshots every N steps, and recovery from a lost GPU device by re-creating it and resuming
 * from the last snapshot. Metrics accumulate on the device and are read once per epoch.
 *
 * Every random choice derives from (seed, epoch), so a run resumed at an epoch boundary (or
 * from a snapshot) makes exactly the same updates as an uninterrupted one.
 */
import type { Backend, Tensor } from '../backend.ts';
import type { WebGPUBackend } from '../gpu/webgpu-backend.ts';
import { epochPlan } from '../data/batches.ts';
import type { Dataset } from '../data/dataset.ts';
import { DeviceLostError } from '../gpu/errors.ts';
import { checkpointMetadata, serializeCheckpoint } from '../io/checkpoint.ts';
import { Model } from '../model/model.ts';
import type { Preset } from '../model/presets.ts';
import type { ModelSpec } from '../model/spec.ts';
import type { NormStats } from '../data/normalize.ts';
import { type BatchSource, METRIC_WORDS, type Network } from '../model/network.ts';
import { addMetricWords } from '../parallel/reduce.ts';
import {
  checkResumePosition,
  checkTrainerState,
  type EpochSummary,
  type ResumePosition,
  type StateContext,
  type TrainerState,
} from './state.ts';
import {
  basisPoints,
  type EarlyStoppingConfig,
  newWatch,
  observe,
  type PlateauConfig,
} from './schedule.ts';

/** Correct predictions, accuracy and mean loss of one head or the output. */
export interface HeadMetrics {
  correct: number;
  total: number;
  /** Accuracy in basis points (integer). */
  accuracyBp: number;
  /** Mean RSS loss per sample (display only). */
  loss: number;
}

/** Metrics of one split: the output and every block head. */
export interface SplitMetrics {
  /** The output layer. */
  output: HeadMetrics;
  /** Every block's learning head. */
  heads: HeadMetrics[];
  /** [true][predicted] counts for the output layer (evaluation only). */
  confusion?: number[][];
}

/** What one training epoch gave: metrics, speed and the schedule's decisions. */
export interface EpochResult {
  epoch: number;
  lrInv: number;
  train: SplitMetrics;
  test?: SplitMetrics;
  seconds: number;
  imagesPerSecond: number;
  /** The test accuracy of this epoch is the best so far. */
  best: boolean;
  /** The learning-rate plateau fired after this epoch (lrInv multiplied). */
  plateau: boolean;
  /** Early stopping fired after this epoch. */
  stop: boolean;
}

/** Progress within an epoch, for progress bars. */
export interface StepProgress {
  epoch: number;
  step: number;
  steps: number;
  imagesPerSecond: number;
}

export type { EpochSummary, ResumePosition, TrainerState } from './state.ts';

/** Options of {@link Trainer}: the protocol, submission sizes, callbacks and recovery. */
export interface TrainerOptions {
  batch: number;
  epochs: number;
  seed: number;
  /** Random crop with this padding (and horizontal flip when `flip`), per batch, p = 1/2 each. */
  augment?: { pad: number; flip: boolean };
  plateau?: PlateauConfig;
  earlyStopping?: EarlyStoppingConfig;
  /** Steps replayed per submission (default: about a quarter second of work, at least 1). */
  stepsPerSubmit?: number;
  /** Take a host snapshot of the weights every this many steps (0: only at epoch ends). */
  snapshotEvery?: number;
  /** Evaluation batch size (default: the largest divisor of the test size up to 256). */
  evalBatch?: number;
  /** Called after every chunk of steps. */
  onStep?: (p: StepProgress) => void;
  /** Called after every epoch (awaited), e.g. to write a checkpoint. */
  onEpoch?: (r: EpochResult, trainer: Trainer) => void | Promise<void>;
  /** Called when the device is lost and training resumes from a snapshot. */
  onRecover?: (info: { epoch: number; step: number; lostSteps: number; message: string }) => void;
  /**
   * Stops after the current chunk of steps. Stopped inside an epoch, the trainer keeps a host
   * snapshot of that step (`stoppedAt`), which a checkpoint can carry to resume from.
   */
  signal?: AbortSignal;
  /** Awaited before every chunk of steps: a UI pauses training by returning a pending promise. */
  beforeChunk?: () => void | Promise<void>;
  /** Makes the backend again after a device loss (default: give up). */
  recreateBackend?: () => Promise<Backend>;
  /**
   * Destroys the GPU device once, before step `step` (0-based) of epoch `epoch`, to exercise the
   * recovery (WebGPU only); chunks of steps are cut so that one ends exactly there.
   */
  simulateDeviceLoss?: { epoch: number; step: number };
}

/** Training steps of an epoch (every one a full batch; the rest of the samples waits). */
export function stepsPerEpoch(samples: number, batch: number): number {
  return Math.floor(samples / batch);
}

export interface Snapshot {
  epoch: number;
  step: number;
  weights: Map<string, Int32Array>;
  metrics: Int32Array;
}

function metricsOf(
  words: Int32Array,
  blocks: number,
  classes: number,
  total: number,
): SplitMetrics {
  const at = (slot: number): HeadMetrics => {
    const correct = words[slot * METRIC_WORDS];
    const lo = words[slot * METRIC_WORDS + 1] >>> 0;
    const hi = words[slot * METRIC_WORDS + 2] >>> 0;
    const loss = total > 0 ? (hi * 0x100000000 + lo) / total : 0;
    void classes;
    return { correct, total, accuracyBp: basisPoints(correct, total), loss };
  };
  return { output: at(blocks), heads: Array.from({ length: blocks }, (_, i) => at(i)) };
}

/** A split's metrics with the integer words they were read from and the samples counted. */
interface MeasuredSplit {
  metrics: SplitMetrics;
  words: Int32Array;
  total: number;
}

/** The epoch result (without timings) that a state's `last` summary stands for. */
export function epochFromSummary(last: EpochSummary, blocks: number): EpochResult {
  const split = (w: { words: number[]; total: number }) =>
    metricsOf(Int32Array.from(w.words), blocks, 0, w.total);
  const result: EpochResult = {
    epoch: last.epoch,
    lrInv: last.lrInv,
    train: split(last.train),
    seconds: 0,
    imagesPerSecond: 0,
    best: last.best,
    plateau: last.plateau,
    stop: last.stop,
  };
  if (last.test) result.test = split(last.test);
  return result;
}

/** Largest divisor of n that is at most `max` (so evaluation covers every sample). */
export function evalBatchFor(n: number, max = 256): number {
  for (let b = Math.min(n, max); b > 1; b--) if (n % b === 0) return b;
  return 1;
}

/** Trains a model epoch by epoch with the paper's protocol, on device-resident data. */
export class Trainer {
  model: Model;
  state: TrainerState;
  /** Where an abort stopped training inside an epoch (its weights and metrics), if it did. */
  stoppedAt?: Snapshot;
  private backend: Backend;
  private trainData?: { data: Tensor; labels: Tensor };
  private testData?: { data: Tensor; labels: Tensor };
  private snapshot?: Snapshot;
  private lossPending?: { epoch: number; step: number };

  /**
   * `state` continues a run at an epoch boundary; with `position` too, inside the next epoch
   * (the model then holds that step's weights). Both are checked (TrainerStateError).
   */
  constructor(
    model: Model,
    readonly train: Dataset,
    readonly test: Dataset | undefined,
    readonly options: TrainerOptions,
    state?: TrainerState,
    position?: ResumePosition,
  ) {
    this.model = model;
    this.backend = model.backend;
    if (!Number.isInteger(options.batch) || options.batch <= 0)
      throw new Error(`batch must be a positive integer, got ${options.batch}`);
    if (options.batch > train.labels.length) {
      throw new Error(
        `batch ${options.batch} is larger than the training set (${train.labels.length} samples)`,
      );
    }
    const steps = stepsPerEpoch(train.labels.length, options.batch);
    const ctx = this.stateContext();
    this.state = state
      ? checkTrainerState(state, ctx, 'trainer state')
      : {
          epoch: 0,
          lrInv: model.plan.lrInv,
          plateau: newWatch(),
          early: newWatch(),
          bestCorrect: -1,
          bestEpoch: 0,
        };
    if (position) {
      const p = checkResumePosition(position, this.state, { ...ctx, steps }, 'resume position');
      this.pendingResume = { ...p, weights: new Map(), metrics: Int32Array.from(p.metrics) };
    }
    const loss = options.simulateDeviceLoss;
    if (loss) {
      if (model.backend.kind !== 'webgpu')
        throw new Error('simulateDeviceLoss needs the WebGPU backend');
      if (
        !Number.isInteger(loss.epoch) ||
        !Number.isInteger(loss.step) ||
        loss.epoch < 1 ||
        loss.epoch > options.epochs ||
        loss.step < 0 ||
        loss.step >= steps
      ) {
        throw new Error(
          `simulateDeviceLoss ${loss.epoch}:${loss.step} is outside the run (${options.epochs} epochs of ${steps} steps)`,
        );
      }
      this.lossPending = { ...loss };
    }
  }

  /** What checkTrainerState checks a state against for this model and protocol. */
  stateContext(): StateContext {
    const blocks = this.model.plan.blocks.length;
    return {
      blocks,
      metricWords: (blocks + 1) * METRIC_WORDS,
      plateauPatience: this.options.plateau?.patience,
      earlyPatience: this.options.earlyStopping?.patience,
    };
  }

  /** True once the device loss asked for by `simulateDeviceLoss` has happened. */
  get deviceLossSimulated(): boolean {
    return this.options.simulateDeviceLoss !== undefined && this.lossPending === undefined;
  }

  /** Trains until `epochs` are done or early stopping fires; returns every epoch's result. */
  async fit(): Promise<EpochResult[]> {
    const results: EpochResult[] = [];
    while (this.state.epoch < this.options.epochs) {
      if (this.options.signal?.aborted) break;
      const result = await this.withRecovery(() => this.runEpoch(this.state.epoch + 1));
      if (!result) break;
      results.push(result);
      // A device lost while the caller reads the weights (a checkpoint) recovers too: the
      // end-of-epoch snapshot holds them, and the callback runs again on the new device.
      await this.withRecovery(async () => {
        await this.options.onEpoch?.(result, this);
      });
      if (result.stop) break;
    }
    return results;
  }

  /** Evaluates a dataset with the current weights (every sample). */
  async evaluate(dataset: Dataset): Promise<SplitMetrics> {
    return (await this.evaluateWords(dataset)).metrics;
  }

  private async evaluateWords(
    dataset: Dataset,
  ): Promise<{ metrics: SplitMetrics; words: Int32Array }> {
    const device = this.deviceData(dataset, 'test');
    return evaluateWordsOn(this.model, device, dataset.labels.length, this.options.evalBatch);
  }

  private deviceData(dataset: Dataset, which: 'train' | 'test'): { data: Tensor; labels: Tensor } {
    const cached = which === 'train' ? this.trainData : this.testData;
    if (cached) return cached;
    const uploaded = uploadDataset(this.backend, dataset);
    if (which === 'train') this.trainData = uploaded;
    else this.testData = uploaded;
    return uploaded;
  }

  private async withRecovery<T>(fn: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof DeviceLostError) || !this.options.recreateBackend || !this.snapshot)
          throw e;
        await this.recover(e);
      }
    }
  }

  private async recover(error: Error): Promise<void> {
    const snap = this.snapshot!;
    const spec: ModelSpec = this.model.spec;
    const lost = this.backend;
    this.backend = await this.options.recreateBackend!();
    try {
      lost.destroy();
    } catch {}
    this.model = Model.create(this.backend, spec, { weights: snap.weights });
    this.trainData = undefined;
    this.testData = undefined;
    this.pendingResume = snap;
    this.options.onRecover?.({
      epoch: snap.epoch,
      step: snap.step,
      lostSteps: this.lastEpoch === snap.epoch ? this.lastStep - snap.step : 0,
      message: error.message,
    });
  }

  private pendingResume?: Snapshot;
  /** The last completed step (and its epoch), for the count of steps a recovery redoes. */
  private lastStep = 0;
  private lastEpoch = 0;

  private async takeSnapshot(net: Network, epoch: number, step: number): Promise<void> {
    this.snapshot = {
      epoch,
      step,
      weights: await this.model.getWeights(),
      // An epoch starts with zero metrics (the end-of-epoch snapshot is the next one's start).
      metrics: step === 0 ? new Int32Array(net.metrics.size) : await this.backend.read(net.metrics),
    };
  }

  private async runEpoch(epoch: number): Promise<EpochResult | undefined> {
    const { batch, seed } = this.options;
    const backend = this.backend;
    const n = this.train.labels.length;
    const plan = epochPlan({
      samples: n,
      batch,
      seed,
      epoch,
      augment: this.options.augment,
      images: this.train,
    });
    const steps = plan.steps;
    const net = this.model.network(batch);
    net.setLrInv(this.state.lrInv);
    const device = this.deviceData(this.train, 'train');
    const indices = backend.tensor([steps * batch], 'i32', 'epoch.indices');
    backend.write(indices, plan.indices);
    let augParams: Tensor | undefined;
    if (plan.augment && this.options.augment) {
      augParams = backend.tensor([steps, 5], 'i32', 'epoch.augment');
      backend.write(augParams, plan.augment);
    }
    const source: BatchSource = {
      data: device.data,
      labels: device.labels,
      indices,
      augment: augParams ? { params: augParams, pad: this.options.augment!.pad } : undefined,
    };
    try {
      let step = 0;
      const resume = this.pendingResume;
      this.pendingResume = undefined;
      if (resume && resume.epoch === epoch) {
        step = resume.step;
        backend.write(net.metrics, resume.metrics);
      } else {
        backend.write(net.metrics, new Int32Array(net.metrics.size));
      }
      backend.write(net.cursor, [step]);
      this.lastStep = step;
      this.lastEpoch = epoch;
      if (!this.snapshot || this.snapshot.epoch !== epoch || this.snapshot.step !== step) {
        await this.takeSnapshot(net, epoch, step);
      }
      const program = net.recordTrainStep(source);
      const started = performance.now();
      const firstStep = step;
      let chunk = this.options.stepsPerSubmit ?? 1;
      const adaptive = this.options.stepsPerSubmit === undefined;
      const snapshotEvery = this.options.snapshotEvery ?? 0;
      while (step < steps) {
        await this.options.beforeChunk?.();
        if (this.options.signal?.aborted) {
          if (step > 0) {
            await this.takeSnapshot(net, epoch, step);
            this.stoppedAt = this.snapshot;
          }
          return undefined;
        }
        const loss = this.lossPending;
        if (loss && loss.epoch === epoch && loss.step === step) {
          this.lossPending = undefined;
          (backend as WebGPUBackend).device.destroy();
        }
        let k = Math.min(chunk, steps - step);
        if (snapshotEvery > 0) k = Math.min(k, snapshotEvery - (step % snapshotEvery));
        if (loss && loss.epoch === epoch && loss.step > step) k = Math.min(k, loss.step - step);
        const t0 = performance.now();
        backend.run(program, k);
        await backend.sync();
        step += k;
        this.lastStep = step;
        const dt = performance.now() - t0;
        if (adaptive && dt < 250 && chunk < 256) chunk *= 2;
        if (snapshotEvery > 0 && step % snapshotEvery === 0 && step < steps)
          await this.takeSnapshot(net, epoch, step);
        const elapsed = (performance.now() - started) / 1000;
        this.options.onStep?.({
          epoch,
          step,
          steps,
          imagesPerSecond: ((step - firstStep) * batch) / Math.max(elapsed, 1e-9),
        });
      }
      const seconds = (performance.now() - started) / 1000;
      const words = await backend.read(net.metrics);
      const train = metricsOf(
        words,
        this.model.plan.blocks.length,
        this.model.plan.classes,
        steps * batch,
      );
      const test = this.test ? await this.evaluateWords(this.test) : undefined;
      return this.finishEpoch(
        epoch,
        { metrics: train, words, total: steps * batch },
        test && { ...test, total: this.test!.labels.length },
        seconds,
        ((steps - firstStep) * batch) / Math.max(seconds, 1e-9),
        net,
      );
    } finally {
      backend.dispose(indices);
      if (augParams) backend.dispose(augParams);
    }
  }

  private async finishEpoch(
    epoch: number,
    trainSplit: MeasuredSplit,
    testSplit: MeasuredSplit | undefined,
    seconds: number,
    imagesPerSecond: number,
    net: Network,
  ): Promise<EpochResult> {
    // The epoch's weights are final: snapshot them before the state moves on, so a device lost
    // while taking it replays the end of this epoch rather than starting the next one.
    await this.takeSnapshot(net, epoch + 1, 0);
    const train = trainSplit.metrics;
    const test = testSplit?.metrics;
    const s = this.state;
    const lrInv = s.lrInv;
    let best = false;
    let plateau = false;
    let stop = false;
    const watched = test?.output ?? train.output;
    if (s.bestCorrect < 0 || watched.correct > s.bestCorrect) {
      s.bestCorrect = watched.correct;
      s.bestEpoch = epoch;
      best = true;
    }
    const { plateau: pc, earlyStopping: ec } = this.options;
    if (pc && observe(s.plateau, pc, epoch, watched.correct, watched.total)) {
      const next = s.lrInv * pc.factor;
      if (next <= 0x7fffffff) {
        s.lrInv = next;
        plateau = true;
      }
    }
    if (ec && observe(s.early, ec, epoch, watched.correct, watched.total)) stop = true;
    s.epoch = epoch;
    const words = (m: MeasuredSplit) => ({ words: Array.from(m.words), total: m.total });
    s.last = { epoch, lrInv, train: words(trainSplit), best, plateau, stop };
    if (testSplit) s.last.test = words(testSplit);
    return { epoch, lrInv, train, test, seconds, imagesPerSecond, best, plateau, stop };
  }

  /** Frees the uploaded data sets (the model stays the caller's). */
  dispose(): void {
    for (const d of [this.trainData, this.testData]) {
      if (d) {
        this.backend.dispose(d.data);
        this.backend.dispose(d.labels);
      }
    }
    this.trainData = undefined;
    this.testData = undefined;
  }
}

/** Uploads a (normalised) dataset to the device as [N, ...shape] int8 samples and [N] labels. */
export function uploadDataset(
  backend: Backend,
  dataset: Dataset,
): { data: Tensor; labels: Tensor } {
  const n = dataset.labels.length;
  const data = backend.tensor([n, ...dataset.shape], 'i8', `${dataset.name}.images`);
  backend.write(data, dataset.images);
  const labels = backend.tensor([n], 'i32', `${dataset.name}.labels`);
  backend.write(labels, dataset.labels);
  return { data, labels };
}

/** Evaluates every sample of a device dataset: output and head accuracy, loss, confusion matrix. */
export async function evaluateOn(
  model: Model,
  device: { data: Tensor; labels: Tensor },
  n: number,
  evalBatch?: number,
): Promise<SplitMetrics> {
  return (await evaluateWordsOn(model, device, n, evalBatch)).metrics;
}

/** evaluateOn, with the metric words the metrics were read from. */
async function evaluateWordsOn(
  model: Model,
  device: { data: Tensor; labels: Tensor },
  n: number,
  evalBatch?: number,
): Promise<{ metrics: SplitMetrics; words: Int32Array }> {
  const backend = model.backend;
  const B = evalBatch ?? evalBatchFor(n);
  const C = model.plan.classes;
  const blocks = model.plan.blocks.length;
  const full = Math.floor(n / B);
  const rest = n - full * B;
  const confusion = backend.tensor([C, C], 'i32', 'confusion');
  const words = new Int32Array((blocks + 1) * METRIC_WORDS);
  const parts: { net: Network; start: number; steps: number }[] = [];
  if (full > 0) parts.push({ net: model.network(B), start: 0, steps: full });
  if (rest > 0) parts.push({ net: model.network(rest), start: full * B, steps: 1 });
  try {
    for (const part of parts) {
      const count = part.steps * part.net.batch;
      const indices = backend.tensor([count], 'i32', 'eval.indices');
      backend.write(
        indices,
        Int32Array.from({ length: count }, (_, i) => part.start + i),
      );
      try {
        backend.write(part.net.cursor, [0]);
        backend.write(part.net.metrics, new Int32Array(part.net.metrics.size));
        const program = part.net.recordEvalStep(
          { data: device.data, labels: device.labels, indices },
          confusion,
        );
        backend.run(program, part.steps);
        const m = await backend.read(part.net.metrics);
        addMetricWords(words, m);
      } finally {
        backend.dispose(indices);
      }
    }
    const result = metricsOf(words, blocks, C, n);
    const cm = await backend.read(confusion);
    result.confusion = Array.from({ length: C }, (_, t) =>
      Array.from(cm.subarray(t * C, t * C + C)),
    );
    return { metrics: result, words };
  } finally {
    backend.dispose(confusion);
  }
}

/**
 * Checkpoint metadata of a training run: everything `--resume` needs (protocol, normalisation,
 * trainer state, and for a run stopped inside an epoch its position). Deterministic, so the
 * CLI and the demo page write the same bytes. The protocol leaves out the epoch count: that is
 * how far one invocation was asked to go, not how the epochs it trained were made, so a best
 * checkpoint written on the way reads the same whether the run was split or not.
 */
export function trainingMetadata(
  preset: Preset,
  stats: NormStats,
  state: TrainerState,
  position?: ResumePosition,
): Record<string, string> {
  const { epochs: _epochs, ...protocol } = preset.protocol;
  const meta: Record<string, string> = {
    preset: preset.name,
    dataset: preset.dataset,
    protocol: JSON.stringify(protocol),
    normalization: JSON.stringify(stats),
    epoch: String(state.epoch),
    trainer: JSON.stringify(state),
  };
  if (position) meta.position = JSON.stringify(position);
  return meta;
}

/**
 * The checkpoint of a host snapshot taken inside an epoch (`Trainer.stoppedAt`): its weights,
 * with the position that `new Trainer(..., state, position)` resumes from.
 */
export function snapshotCheckpoint(
  model: Model,
  snapshot: Snapshot,
  preset: Preset,
  stats: NormStats,
  state: TrainerState,
): Uint8Array {
  const position: ResumePosition = {
    epoch: snapshot.epoch,
    step: snapshot.step,
    metrics: Array.from(snapshot.metrics),
  };
  return serializeCheckpoint(
    model.plan.parameters,
    snapshot.weights,
    checkpointMetadata(model.spec, trainingMetadata(preset, stats, state, position)),
  );
}
