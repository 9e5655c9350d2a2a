/**
 * One training session of the page, independent of the DOM: prepares the data as the CLI does,
 * owns the backend, model and trainer, pauses and resumes between chunks of steps, reads the
 * running training metrics for the live charts, and produces and loads checkpoints.
 */
import {
  type Backend,
  type BackendKind,
  createBackend,
  type DataSplit,
  type EpochResult,
  evaluateOn,
  getPreset,
  METRIC_WORDS,
  Model,
  type ModelSpec,
  type NormStats,
  normalizeDataset,
  parseCheckpoint,
  parseModelSpec,
  parseSafetensors,
  planFromSpec,
  type Preset,
  protocolOptions,
  type SplitMetrics,
  Trainer,
  type TrainerState,
  trainingMetadata,
  uploadDataset,
} from '../../src/index.ts';
import { type PreparedData, prepareRunData, type RunSettings, resolveRunPreset } from './setup.ts';

export type Phase = 'idle' | 'preparing' | 'running' | 'paused' | 'stopping' | 'ready' | 'error';

export interface Progress {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  imagesPerSecond: number;
  /** Seconds until the last epoch's training steps are done (evaluation not included). */
  etaSeconds: number;
}

/** Training metrics over the steps since the previous point: heads first, the output layer last. */
export interface LivePoint {
  /** Position in epochs (1.5 = half way through epoch 2). */
  x: number;
  loss: number[];
  accuracy: number[];
}

export interface Prediction {
  /** Index in the test set. */
  index: number;
  predicted: number;
  label: number;
}

export interface SessionListener {
  phase?(phase: Phase, detail?: string): void;
  progress?(p: Progress): void;
  live?(p: LivePoint): void;
  epoch?(r: EpochResult, predictions: Prediction[]): void;
  evaluated?(m: SplitMetrics, predictions: Prediction[]): void;
}

/** A checkpoint read back into the page: weights plus what it says about its training run. */
export interface LoadedCheckpoint {
  file: string;
  spec: ModelSpec;
  weights: Map<string, Int32Array>;
  /** Known preset name, or undefined for a checkpoint made elsewhere. */
  preset?: string;
  protocol?: Preset['protocol'];
  dataset?: Preset['dataset'];
  state?: TrainerState;
  stats?: NormStats;
}

interface Run {
  settings: RunSettings;
  preset: Preset;
  data: PreparedData;
  model: Model;
  state?: TrainerState;
  /** The checkpoint written after the last completed epoch (what `nitro-d train` keeps as last.safetensors). */
  checkpoint?: Uint8Array;
  results: EpochResult[];
  /** Evaluation only: a checkpoint without a known preset. */
  evaluateOnly: boolean;
}

/** Index of the largest value, the lowest index on ties (docs/algorithm.md §1.5). */
export function argmax(values: ArrayLike<number>, start: number, count: number): number {
  let best = 0;
  for (let i = 1; i < count; i++) if (values[start + i] > values[start + best]) best = i;
  return best;
}

/** Lets the page paint and handle clicks between chunks (the CPU backend never yields otherwise). */
function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function statsFromJson(json: string | undefined): NormStats | undefined {
  if (!json) return undefined;
  const o = JSON.parse(json) as { mean: Record<string, number>; mad: Record<string, number> };
  // Typed arrays serialise as {"0": v, ...}.
  return {
    mean: Int32Array.from(Object.values(o.mean)),
    mad: Int32Array.from(Object.values(o.mad)),
  };
}

export class Session {
  phase: Phase = 'idle';
  run?: Run;
  loaded?: LoadedCheckpoint;
  /** How many test images the prediction grid gets. */
  predictCount = 64;
  private readonly backends = new Map<BackendKind, Promise<Backend>>();
  private abort?: AbortController;
  private gate?: { promise: Promise<void>; release: () => void };
  private fitting?: Promise<void>;
  private live?: { epoch: number; step: number; words: Int32Array; at: number };
  private progress?: Progress;

  constructor(private readonly listener: SessionListener = {}) {}

  private setPhase(phase: Phase, detail?: string): void {
    this.phase = phase;
    this.listener.phase?.(phase, detail);
  }

  /** One backend of each kind for the page's lifetime (device creation and shader compilation are slow). */
  backend(kind: BackendKind): Promise<Backend> {
    let b = this.backends.get(kind);
    if (!b) {
      b = createBackend(kind);
      this.backends.set(kind, b);
      b.catch(() => this.backends.delete(kind));
    }
    return b;
  }

  /** The WebGPU backend, if one was created already. */
  async existingBackend(kind: BackendKind): Promise<Backend | undefined> {
    return this.backends.get(kind)?.catch(() => undefined);
  }

  /** Prepares a run: data as the CLI prepares it, and a new model (or the loaded checkpoint's). */
  async prepare(settings: RunSettings, raw: DataSplit, kind: BackendKind): Promise<Run> {
    if (this.run) throw new Error('a model exists already; reset first');
    this.setPhase('preparing', 'preparing data');
    try {
      const loaded = this.loaded;
      const evaluateOnly = loaded !== undefined && loaded.preset === undefined;
      const preset = evaluateOnly
        ? this.presetForSpec(loaded!.spec, settings)
        : resolveRunPreset(settings);
      if (loaded && !evaluateOnly && JSON.stringify(loaded.spec) !== JSON.stringify(preset.spec)) {
        throw new Error(
          `checkpoint ${loaded.file}: its model spec differs from the settings (preset, learning rate)`,
        );
      }
      const data = prepareRunData(preset, raw, settings);
      if (evaluateOnly && loaded!.stats) {
        // Evaluate with the normalisation the checkpoint was trained with.
        data.stats = loaded!.stats;
        data.split = {
          train: normalizeDataset(raw.train, loaded!.stats),
          test: normalizeDataset(data.rawTest, loaded!.stats),
        };
      }
      this.setPhase('preparing', 'starting the backend');
      const backend = await this.backend(kind);
      const model = loaded
        ? Model.create(backend, preset.spec, { weights: loaded.weights })
        : Model.create(backend, preset.spec, { seed: preset.protocol.seed });
      this.run = {
        settings: { ...settings },
        preset,
        data,
        model,
        state: loaded?.state,
        results: [],
        evaluateOnly,
      };
      this.loaded = undefined;
      this.setPhase('ready');
      return this.run;
    } catch (e) {
      this.setPhase(this.run ? 'ready' : 'idle');
      throw e;
    }
  }

  /** A preset-shaped wrapper around a spec from elsewhere (evaluation only). */
  private presetForSpec(spec: ModelSpec, settings: RunSettings): Preset {
    const base = getPreset(settings.preset);
    return { ...base, name: 'checkpoint', dataset: settings.dataset, spec };
  }

  /** Trains until `epochs` epochs are done in total (or early stopping, pause + reset). */
  async train(epochs: number): Promise<EpochResult[]> {
    const run = this.run;
    if (!run) throw new Error('no model: prepare a run first');
    if (run.evaluateOnly)
      throw new Error(
        'this checkpoint has no training protocol (no preset in its metadata); it can only be evaluated',
      );
    if (this.fitting) throw new Error('training is running already');
    run.settings.epochs = epochs;
    run.preset = resolveRunPreset(run.settings);
    const { preset, data } = run;
    const abort = new AbortController();
    this.abort = abort;
    this.live = undefined;
    const results: EpochResult[] = [];
    const trainer: Trainer = new Trainer(
      run.model,
      data.split.train,
      data.split.test,
      {
        ...protocolOptions(preset),
        signal: abort.signal,
        beforeChunk: (): Promise<void> => this.beforeChunk(trainer),
        onStep: (p) => {
          const remaining = (preset.protocol.epochs - p.epoch) * p.steps + (p.steps - p.step);
          this.progress = {
            epoch: p.epoch,
            epochs: preset.protocol.epochs,
            step: p.step,
            steps: p.steps,
            imagesPerSecond: p.imagesPerSecond,
            etaSeconds:
              p.imagesPerSecond > 0
                ? (remaining * preset.protocol.batch) / p.imagesPerSecond
                : Number.NaN,
          };
          this.listener.progress?.(this.progress);
        },
        onEpoch: async (r, t) => {
          this.progress = undefined;
          await this.emitLive(t, r.epoch);
          this.live = undefined;
          run.state = structuredClone(t.state);
          run.model = t.model;
          run.checkpoint = await t.model.toCheckpoint(
            trainingMetadata(preset, data.stats, t.state),
          );
          run.results.push(r);
          results.push(r);
          this.listener.epoch?.(r, await this.predictions());
        },
        recreateBackend:
          run.model.backend.kind === 'webgpu' ? () => this.recreateWebGpu() : undefined,
      },
      run.state ? structuredClone(run.state) : undefined,
    );
    this.setPhase(this.gate ? 'paused' : 'running');
    let failure: unknown;
    const done = trainer.fit().then(
      () => undefined,
      (e: unknown) => {
        failure = e;
      },
    );
    this.fitting = done;
    await done;
    this.fitting = undefined;
    run.model = trainer.model;
    run.state = structuredClone(trainer.state);
    trainer.dispose();
    this.abort = undefined;
    this.gate = undefined;
    if (failure) {
      this.setPhase('error', String((failure as Error).message ?? failure));
      throw failure;
    }
    this.setPhase('ready', abort.signal.aborted ? 'stopped' : undefined);
    return results;
  }

  private async recreateWebGpu(): Promise<Backend> {
    this.backends.delete('webgpu');
    return this.backend('webgpu');
  }

  /**
   * Holds training before its next chunk of steps (the phase turns 'paused' at once, and again
   * with detail 'held' once the steps in flight are done). Asked for before training starts,
   * the run starts paused (before its first step).
   */
  pause(): void {
    if (this.gate || this.phase === 'stopping') return;
    let release = () => {};
    const promise = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.gate = { promise, release };
    if (this.phase === 'running') this.setPhase('paused');
  }

  get pauseRequested(): boolean {
    return this.gate !== undefined;
  }

  resume(): void {
    const gate = this.gate;
    if (!gate) return;
    this.gate = undefined;
    gate.release();
    if (this.phase === 'paused') this.setPhase('running');
  }

  /** Stops training after the current chunk (the last completed epoch's checkpoint stays). */
  async stop(): Promise<void> {
    if (!this.fitting) return;
    this.setPhase('stopping');
    this.abort?.abort();
    this.resume();
    await this.fitting;
  }

  /** Stops training and forgets the model. */
  async reset(): Promise<void> {
    await this.stop();
    this.run?.model.dispose();
    this.run = undefined;
    this.loaded = undefined;
    this.progress = undefined;
    this.setPhase('idle');
  }

  private async beforeChunk(trainer: Trainer): Promise<void> {
    await nextTask();
    await this.emitLive(trainer);
    const gate = this.gate;
    if (gate) {
      // Training holds here: no step runs until resume (phase 'paused' with detail 'held').
      this.setPhase('paused', 'held');
      await gate.promise;
    }
  }

  /**
   * Reads the epoch's running metric sums and reports the steps since the last read. Mid-epoch
   * reads are throttled; `endOfEpoch` reports the rest of that epoch.
   */
  private async emitLive(trainer: Trainer, endOfEpoch?: number): Promise<void> {
    const run = this.run;
    if (!run) return;
    const batch = run.preset.protocol.batch;
    const now = performance.now();
    let epoch: number;
    let step: number;
    let steps: number;
    if (endOfEpoch !== undefined) {
      epoch = endOfEpoch;
      steps = Math.floor(run.data.split.train.labels.length / batch);
      step = steps;
    } else {
      const p = this.progress;
      if (!p || p.step === 0 || p.step >= p.steps) return;
      if (this.live && now - this.live.at < 400) return;
      ({ epoch, step, steps } = p);
    }
    const prev = this.live && this.live.epoch === epoch ? this.live : undefined;
    if (prev && prev.step >= step) return;
    const words = await trainer.model.backend.read(trainer.model.network(batch).metrics);
    const samples = (step - (prev?.step ?? 0)) * batch;
    const slots = words.length / METRIC_WORDS;
    const sum = (w: Int32Array, o: number) => (w[o + 2] >>> 0) * 0x100000000 + (w[o + 1] >>> 0);
    const loss: number[] = [];
    const accuracy: number[] = [];
    for (let s = 0; s < slots; s++) {
      const o = s * METRIC_WORDS;
      const correct = words[o] - (prev ? prev.words[o] : 0);
      const lossSum = sum(words, o) - (prev ? sum(prev.words, o) : 0);
      loss.push(lossSum / samples);
      accuracy.push(correct / samples);
    }
    this.live = { epoch, step, words, at: now };
    this.listener.live?.({ x: epoch - 1 + step / steps, loss, accuracy });
  }

  /** Output-layer predictions for the first test images. */
  async predictions(): Promise<Prediction[]> {
    const run = this.run;
    if (!run) return [];
    const test = run.data.split.test;
    const n = Math.min(this.predictCount, test.labels.length);
    if (n === 0) return [];
    const size = test.shape[0] * test.shape[1] * test.shape[2];
    const { logits } = await run.model.predict(test.images.subarray(0, n * size), n, n);
    const C = run.model.plan.classes;
    return Array.from({ length: n }, (_, i) => ({
      index: i,
      predicted: argmax(logits, i * C, C),
      label: test.labels[i],
    }));
  }

  /** Evaluates the whole test set with the current weights. */
  async evaluate(): Promise<SplitMetrics> {
    const run = this.run;
    if (!run) throw new Error('no model to evaluate');
    if (this.fitting) throw new Error('training is running');
    const previous = this.phase;
    this.setPhase('preparing', 'evaluating');
    const backend = run.model.backend;
    const test = run.data.split.test;
    const device = uploadDataset(backend, test);
    let metrics: SplitMetrics;
    let predictions: Prediction[];
    try {
      metrics = await evaluateOn(run.model, device, test.labels.length);
      predictions = await this.predictions();
    } finally {
      backend.dispose(device.data);
      backend.dispose(device.labels);
      this.setPhase(previous === 'preparing' ? 'ready' : previous);
    }
    // After the phase change, so the page's status line keeps the result.
    this.listener.evaluated?.(metrics, predictions);
    return metrics;
  }

  /** The checkpoint to download: the last completed epoch's, or the current weights before any epoch. */
  async checkpoint(): Promise<Uint8Array> {
    const run = this.run;
    if (!run) throw new Error('no model yet');
    if (run.checkpoint) return run.checkpoint;
    const state =
      run.state ??
      new Trainer(run.model, run.data.split.train, run.data.split.test, protocolOptions(run.preset))
        .state;
    return run.model.toCheckpoint(trainingMetadata(run.preset, run.data.stats, state));
  }

  /** Reads a checkpoint (safetensors with the model spec in its metadata); the next prepare uses it. */
  load(bytes: Uint8Array, file: string): LoadedCheckpoint {
    if (this.run) throw new Error('a model exists already; reset first');
    const { metadata } = parseSafetensors(bytes, { file, kind: 'checkpoint', dtypes: ['I32'] });
    if (!metadata.model)
      throw new Error(
        `checkpoint ${file}: no model spec in its metadata ("model"); nitro-d writes one into every checkpoint`,
      );
    const spec = parseModelSpec(JSON.parse(metadata.model), `checkpoint ${file} metadata.model`);
    const { tensors } = parseCheckpoint(bytes, planFromSpec(spec).parameters, file);
    let preset: string | undefined;
    try {
      if (metadata.preset) preset = getPreset(metadata.preset).name;
    } catch {
      preset = undefined;
    }
    const loaded: LoadedCheckpoint = {
      file,
      spec,
      weights: tensors,
      preset,
      protocol: metadata.protocol
        ? (JSON.parse(metadata.protocol) as Preset['protocol'])
        : undefined,
      dataset: metadata.dataset as Preset['dataset'] | undefined,
      state: metadata.trainer ? (JSON.parse(metadata.trainer) as TrainerState) : undefined,
      stats: statsFromJson(metadata.normalization),
    };
    if (preset && !loaded.protocol) loaded.preset = undefined;
    this.loaded = loaded;
    return loaded;
  }
}
