/**
 * `nitro-d train`: trains a preset (default: the paper's MLP2 on Fashion-MNIST) with the
 * paper's protocol, shows progress, logs every epoch as a JSON line, keeps the last and the
 * best checkpoint (written atomically), and resumes from a checkpoint bit for bit.
 */
import { existsSync, mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import process from 'node:process';
import type { Backend } from '../../backend.ts';
import { type BackendChoice, createBackend, resolveBackend } from '../../backends.ts';
import type { WorkerEvent } from '../../parallel/coordinator.ts';
import { type DataSplit, FASHION_MNIST_DIR } from '../../data/dataset.ts';
import type { NormStats } from '../../data/normalize.ts';
import { loadCommandData } from '../../data/sources.ts';
import { adapterName } from '../../gpu/device.ts';
import { WebGPUBackend } from '../../gpu/webgpu-backend.ts';
import { parseCheckpoint } from '../../io/checkpoint.ts';
import { InputError, readSafetensorsFile, writeFileAtomic } from '../../io/files.ts';
import { parseJson } from '../../io/json.ts';
import { checkCapacity, datasetBytes } from '../../train/capacity.ts';
import { capacityFor, MEMORY_FLAG, MEMORY_HELP } from '../memory-limit.ts';
import { Model } from '../../model/model.ts';
import { type DatasetName, getPreset, type Preset } from '../../model/presets.ts';
import { METRIC_WORDS } from '../../model/network.ts';
import { planFromSpec } from '../../model/plan.ts';
import {
  checkDataMatchesModel,
  checkTrainingFits,
  DatasetTooLargeError,
} from '../../train/checks.ts';
import { firstSamples, normalizeSplit, protocolOptions } from '../../train/protocol.ts';
import { formatBp } from '../../train/schedule.ts';
import {
  checkResumePosition,
  checkTrainerState,
  type ResumePosition,
  type StateContext,
  type TrainerState,
} from '../../train/state.ts';
import {
  type EpochResult,
  epochFromSummary,
  evalBatchFor,
  snapshotCheckpoint,
  stepsPerEpoch,
  Trainer,
  type TrainerOptions,
  trainingMetadata,
} from '../../train/trainer.ts';
import {
  BACKEND_FLAG,
  BACKEND_HELP,
  backendFlag,
  intFlag,
  parseFlags,
  presetFlag,
  threadsFlag,
  UsageError,
} from '../args.ts';
import { JsonLog, loggedEpoch, readLog } from '../log.ts';
import { backendLine } from '../open-backend.ts';
import { ProgressBar, RunProgress } from '../progress.ts';
import {
  moveRunAside,
  removeInterruptedCheckpoints,
  resumeCommand,
  runFilesIn,
  sameFile,
} from '../run-folder.ts';
import {
  openParallelBackend,
  PARALLEL_FLAGS,
  PARALLEL_HELP,
  type ParallelPlan,
  parallelPlan,
  workerEventLine,
} from '../parallel.ts';
import { testStopper } from '../test-stop.ts';
import { loadTunedForCommand } from '../tune-store.ts';
import { loadSpec } from './golden.ts';

export const TRAIN_FLAGS = {
  preset: { type: 'string' },
  model: { type: 'string' },
  dataset: { type: 'string' },
  data: { type: 'string' },
  'data-format': { type: 'string' },
  epochs: { type: 'string' },
  batch: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'string' },
  force: { type: 'boolean' },
  log: { type: 'string' },
  'lr-inv': { type: 'string' },
  'no-augment': { type: 'boolean' },
  'steps-per-submit': { type: 'string' },
  'snapshot-every': { type: 'string' },
  'simulate-device-loss': { type: 'string' },
  'train-limit': { type: 'string' },
  'test-limit': { type: 'string' },
  quiet: { type: 'boolean' },
  'no-tuned': { type: 'boolean' },
  ...BACKEND_FLAG,
  ...PARALLEL_FLAGS,
  ...MEMORY_FLAG,
} as const;

export const TRAIN_HELP = `train a model (default: the paper's MLP2 on Fashion-MNIST)
  --preset NAME          mlp1 | mlp2 | mlp3 | mlp3-mnist | mlp4 | vgg8b | vgg8b-mnist | vgg8b-cifar10 | vgg11b | cnn-small (default mlp2)
  --model M.json         a custom model spec (uses the preset's protocol; --dataset picks the data)
  --dataset NAME         fashion-mnist | mnist | cifar10 (default: the preset's)
  --data PATH            data folder or file (default for Fashion-MNIST: /usr/share/datasets/fashion-mnist)
  --data-format F        idx | cifar10 | npz | npy | images (default: detected from PATH; npz/npy hold
                         x_train y_train x_test y_test, images is PATH/{train,test}/CLASS/*.png|jpg)
  --epochs N --batch B --seed S --lr-inv N   override the preset's protocol
  --no-augment           train without the preset's augmentation
  --out DIR              where last.safetensors, best.safetensors and log.jsonl go (default runs/<preset>)
  --resume CKPT          continue from a checkpoint written by train (same bytes as an unbroken run);
                         Ctrl-C (SIGINT) or SIGTERM stops at a step and prints the command that resumes
  --force                a fresh run into an --out that holds a run moves that run aside to OUT.N first
  --log FILE             JSON-lines log (default OUT/log.jsonl)
  --snapshot-every N     host snapshot every N steps for device-loss recovery (default 200)
  --simulate-device-loss E:S   destroy the GPU device once, before step S+1 of epoch E (tests the recovery)
  --steps-per-submit N   training steps per GPU submission (default adaptive)
  --train-limit N --test-limit N   use only the first N samples (quick runs)
${BACKEND_HELP}
${PARALLEL_HELP}
  --no-tuned             ignore the kernel variants \`nitro-d tune\` cached for this adapter
  --quiet                only the final summary line
${MEMORY_HELP}`;

export interface RunSetup {
  preset: Preset;
  split: DataSplit;
  stats: NormStats;
}

/** Resolves preset, spec and protocol overrides from the flags. */
export function resolvePreset(command: string, flags: Record<string, unknown>): Preset {
  const base = getPreset(presetFlag(command, flags, 'mlp2'));
  const spec = typeof flags.model === 'string' ? loadSpec(flags.model) : base.spec;
  const dataset = (flags.dataset as DatasetName | undefined) ?? base.dataset;
  if (!['fashion-mnist', 'mnist', 'cifar10'].includes(dataset)) {
    throw new UsageError(
      `${command}: --dataset must be fashion-mnist, mnist or cifar10, got '${dataset}'`,
    );
  }
  const protocol = { ...base.protocol };
  protocol.epochs = intFlag(command, flags, 'epochs', protocol.epochs);
  protocol.batch = intFlag(command, flags, 'batch', protocol.batch);
  protocol.seed = intFlag(command, flags, 'seed', protocol.seed, 0);
  if (flags['no-augment']) {
    protocol.augment = 'none';
    protocol.augmentPad = 0;
  }
  const lrInv = intFlag(command, flags, 'lr-inv', spec.training.lrInv);
  return { ...base, dataset, spec: { ...spec, training: { ...spec.training, lrInv } }, protocol };
}

/** Loads and normalises the data set with statistics from the training set (docs/algorithm.md §2.1). */
export async function prepareData(
  preset: Preset,
  flags: Record<string, unknown>,
  command: string,
): Promise<RunSetup> {
  const raw = await loadCommandData(
    preset.dataset,
    flags.data as string | undefined,
    flags['data-format'] as string | undefined,
    planFromSpec(preset.spec).input,
  );
  const trainRaw = firstSamples(
    raw.train,
    flags['train-limit'] === undefined ? undefined : intFlag(command, flags, 'train-limit', 0),
  );
  const testRaw = firstSamples(
    raw.test,
    flags['test-limit'] === undefined ? undefined : intFlag(command, flags, 'test-limit', 0),
  );
  const source =
    typeof flags.model === 'string' ? `the model ${flags.model}` : `preset ${preset.name}`;
  // Both splits: a test set of another sample shape would reach the device otherwise.
  for (const [split, ds] of [
    ['training', trainRaw],
    ['test', testRaw],
  ] as const)
    checkDataMatchesModel(preset.dataset, ds.shape, preset.spec, source, {
      split,
      path: (flags.data as string | undefined) ?? FASHION_MNIST_DIR,
    });
  const { split, stats } = normalizeSplit({ train: trainRaw, test: testRaw }, preset.protocol);
  return { preset, stats, split };
}

function summary(r: EpochResult): string {
  const test = r.test ? ` test ${formatBp(r.test.output.accuracyBp)}` : '';
  const heads = (r.test ?? r.train).heads.map((h) => formatBp(h.accuracyBp)).join(' ');
  return `epoch ${r.epoch} train ${formatBp(r.train.output.accuracyBp)}${test} (heads ${heads}) lrInv ${r.lrInv} ${Math.round(r.imagesPerSecond)} img/s${r.best ? ' *best' : ''}${r.plateau ? ' lr/3' : ''}${r.stop ? ' early stop' : ''}`;
}

export function epochRecord(r: EpochResult): Record<string, unknown> {
  const split = (s: EpochResult['train']) => ({
    accuracy: s.output.accuracyBp / 100,
    correct: s.output.correct,
    total: s.output.total,
    loss: Math.round(s.output.loss * 100) / 100,
    heads: s.heads.map((h) => ({
      accuracy: h.accuracyBp / 100,
      loss: Math.round(h.loss * 100) / 100,
    })),
  });
  return {
    event: 'epoch',
    epoch: r.epoch,
    lrInv: r.lrInv,
    train: split(r.train),
    test: r.test ? split(r.test) : undefined,
    seconds: Math.round(r.seconds * 1000) / 1000,
    imagesPerSecond: Math.round(r.imagesPerSecond),
    best: r.best,
    plateau: r.plateau,
    stop: r.stop,
  };
}

/** The first field (dotted path) where two JSON values differ, or undefined when equal. */
export function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const k of keys) {
      const d = firstDifference(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        /^\d+$/.test(k) ? `${path}[${k}]` : `${path}.${k}`,
      );
      if (d) return d;
    }
    return undefined;
  }
  return a === b ? undefined : path;
}

export function metadataJson(file: string, meta: Record<string, string>, key: string): unknown {
  const text = meta[key];
  if (text === undefined)
    throw new Error(
      `checkpoint ${file}: no "${key}" in its metadata (not written by nitro-d train)`,
    );
  try {
    return parseJson(text, file, { what: `checkpoint ${file}: metadata "${key}"` });
  } catch (e) {
    if (e instanceof InputError && !e.message.includes('invalid JSON')) throw e;
    throw new InputError(`checkpoint ${file}: metadata "${key}" is not valid JSON`, file);
  }
}

interface Resume {
  file: string;
  weights: Map<string, Int32Array>;
  state: TrainerState;
  /** Where a run stopped inside an epoch resumes (unchecked against the epoch's steps yet). */
  position?: unknown;
  normalization: unknown;
}

/** Reads a --resume checkpoint and checks it continues this very run (spec, protocol, state). */
async function loadResume(file: string, preset: Preset): Promise<Resume> {
  const plan = planFromSpec(preset.spec);
  const ckpt = parseCheckpoint(
    readSafetensorsFile(file, { kind: 'checkpoint' }),
    plan.parameters,
    file,
  );
  const state = checkTrainerState(
    metadataJson(file, ckpt.metadata, 'trainer'),
    stateContextFor(preset),
    `checkpoint ${file}`,
  );
  const specDiff = firstDifference(
    metadataJson(file, ckpt.metadata, 'model'),
    preset.spec,
    'model',
  );
  if (specDiff)
    throw new Error(
      `checkpoint ${file}: its model spec differs from the one requested at ${specDiff}`,
    );
  // Everything but the epoch count must be the run's own, or the bytes cannot match an unbroken run.
  const saved = metadataJson(file, ckpt.metadata, 'protocol') as Record<string, unknown>;
  const protocolDiff = firstDifference(
    { ...saved, epochs: 0 },
    { ...preset.protocol, epochs: 0 },
    'protocol',
  );
  if (protocolDiff)
    throw new Error(
      `checkpoint ${file}: it was trained with another ${protocolDiff} than requested (check --batch, --seed, --no-augment)`,
    );
  if (ckpt.metadata.dataset !== preset.dataset) {
    throw new Error(
      `checkpoint ${file}: it was trained on ${ckpt.metadata.dataset}, not ${preset.dataset}`,
    );
  }
  return {
    file,
    weights: ckpt.tensors,
    state,
    position:
      ckpt.metadata.position === undefined
        ? undefined
        : metadataJson(file, ckpt.metadata, 'position'),
    normalization: metadataJson(file, ckpt.metadata, 'normalization'),
  };
}

/** What a resumed trainer state is checked against (the trainer checks the same). */
function stateContextFor(preset: Preset): StateContext {
  const blocks = planFromSpec(preset.spec).blocks.length;
  return {
    blocks,
    metricWords: (blocks + 1) * METRIC_WORDS,
    plateauPatience: preset.protocol.plateau.patience,
    earlyPatience: preset.protocol.earlyStopping.patience,
  };
}

/** Files and folders a run made, removed again when it fails before its first checkpoint. */
class RunOutputs {
  private dirs: string[] = [];
  private files: string[] = [];
  checkpointWritten = false;

  mkdir(dir: string): void {
    let first: string | undefined;
    try {
      first = mkdirSync(dir, { recursive: true });
    } catch (e) {
      const code = (e as { code?: string }).code;
      const why =
        code === 'EEXIST' || code === 'ENOTDIR'
          ? 'a file is in the way'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : (e as Error).message;
      throw new Error(`cannot create the folder ${dir}: ${why}`);
    }
    if (first === undefined) return;
    // mkdir -p made `first` and everything below it, down to `dir`.
    for (let d = resolve(dir); ; d = dirname(d)) {
      this.dirs.push(d);
      if (d === resolve(first) || d === dirname(d)) break;
    }
  }

  /** A file this run created (never one that existed before it). */
  file(f: string): void {
    this.files.push(f);
  }

  /** Removes what this run created (deepest folders first; a folder that is not empty stays). */
  discard(): void {
    if (this.checkpointWritten) return;
    // Cleanup never hides the error that stopped the run (a --log that is a folder, say).
    for (const f of this.files) {
      try {
        rmSync(f, { force: true });
      } catch {}
    }
    for (const d of this.dirs) {
      try {
        rmdirSync(d);
      } catch {}
    }
  }
}

/** SIGINT and SIGTERM while training: the first asks for a clean stop, a second exits at once. */
class Interrupt {
  readonly controller = new AbortController();
  signal?: NodeJS.Signals;
  private readonly handler = (signal: NodeJS.Signals) => {
    if (this.signal) process.exit(exitCodeOf(signal));
    this.signal = signal;
    this.controller.abort();
  };

  constructor() {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  get code(): number {
    return exitCodeOf(this.signal ?? 'SIGINT');
  }

  dispose(): void {
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
  }
}

/** 128 + the signal number, as a shell reports a process the signal ended. */
function exitCodeOf(signal: NodeJS.Signals): number {
  return signal === 'SIGTERM' ? 143 : 130;
}

/** --simulate-device-loss E:S, checked as far as the flags go (the run's size is checked later). */
function deviceLossFlag(
  flags: Record<string, unknown>,
  backendChoice: BackendChoice,
): { epoch: number; step: number } | undefined {
  const v = flags['simulate-device-loss'];
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+):(\d+)$/.exec(v);
  if (!m || Number(m[1]) < 1)
    throw new UsageError(
      `train: --simulate-device-loss must be EPOCH:STEP (epoch from 1), got '${v}'`,
    );
  if (backendChoice === 'cpu')
    throw new UsageError('train: --simulate-device-loss needs --backend webgpu');
  return { epoch: Number(m[1]), step: Number(m[2]) };
}

/**
 * How a resumed run's log continues: it must have reached the checkpoint's epoch, or the one
 * before when the run was killed between its checkpoint and its log line; then the record
 * the checkpoint keeps is written again. Returns that record, if one is missing.
 */
function logRepair(logFile: string, resume: Resume, blocks: number): EpochResult | undefined {
  const contents = readLog(logFile);
  const logged = contents && loggedEpoch(contents.records);
  const epoch = resume.state.epoch;
  if (logged === undefined || logged === epoch) return undefined;
  const last = resume.state.last;
  if (logged === epoch - 1 && last?.epoch === epoch) return epochFromSummary(last, blocks);
  throw new Error(
    `the log ${logFile} has reached epoch ${logged}, the checkpoint ${resume.file} epoch ${epoch}: they are not one run; give this run its own --log, or move the old one aside with --force`,
  );
}

/** The flags of one `train` invocation, parsed and range-checked. */
interface TrainArgs {
  argv: string[];
  flags: Record<string, unknown>;
  preset: Preset;
  /** --backend as given; --simulate-device-loss makes `auto` WebGPU. */
  backendChoice: BackendChoice;
  out: string;
  logFile: string;
  snapshotEvery: number;
  stepsPerSubmit?: number;
  loseAt?: { epoch: number; step: number };
  /** --workers / --worker-backends: data-parallel on local workers. */
  parallel?: ParallelPlan;
  force: boolean;
  quiet: boolean;
}

function trainArgs(argv: string[]): TrainArgs {
  const flags = parseFlags('train', argv, TRAIN_FLAGS);
  const preset = resolvePreset('train', flags);
  const choice = backendFlag('train', flags);
  const out = (flags.out as string | undefined) ?? join('runs', preset.name);
  const loseAt = deviceLossFlag(flags, choice);
  const parallel = parallelPlan('train', flags, choice);
  if (parallel && loseAt)
    throw new UsageError('train: --simulate-device-loss runs on one device, not with --workers');
  return {
    argv,
    flags,
    preset,
    backendChoice: loseAt ? 'webgpu' : choice,
    out,
    logFile: (flags.log as string | undefined) ?? join(out, 'log.jsonl'),
    snapshotEvery: intFlag('train', flags, 'snapshot-every', 200, 0),
    stepsPerSubmit:
      flags['steps-per-submit'] === undefined
        ? undefined
        : intFlag('train', flags, 'steps-per-submit', 1),
    loseAt,
    parallel,
    force: Boolean(flags.force),
    quiet: Boolean(flags.quiet),
  };
}

/** A run whose inputs, checkpoint and folder passed every check. */
interface CheckedRun {
  resume?: Resume;
  position?: ResumePosition;
  setup: RunSetup;
  steps: number;
  /** Run files already in the folder (moved aside with --force, else this run continues them). */
  existing: string[];
  /** --resume names this folder's own last checkpoint. */
  sameRun: boolean;
  /** The log record a kill lost, written again before the run starts. */
  repair?: EpochResult;
}

/** Everything a run checks before anything is printed, created or written. */
async function checkRun(a: TrainArgs): Promise<CheckedRun> {
  const { preset, out, logFile, loseAt } = a;
  const batch = preset.protocol.batch;
  const resume =
    typeof a.flags.resume === 'string' ? await loadResume(a.flags.resume, preset) : undefined;
  const setup = await prepareData(preset, a.flags, 'train');
  const train = setup.split.train;
  if (batch > train.labels.length)
    throw new UsageError(
      `train: --batch ${batch} is larger than the training set (${train.labels.length} samples)`,
    );
  const steps = stepsPerEpoch(train.labels.length, batch);
  if (loseAt && (loseAt.epoch > preset.protocol.epochs || loseAt.step >= steps)) {
    throw new UsageError(
      `train: --simulate-device-loss ${loseAt.epoch}:${loseAt.step} is outside the run (${preset.protocol.epochs} epochs of ${steps} steps)`,
    );
  }
  let position: ResumePosition | undefined;
  if (resume) {
    const d = firstDifference(resume.normalization, setup.stats, 'normalization');
    if (d)
      throw new Error(
        `checkpoint ${resume.file}: its ${d} differs from this data's (trained on other data or another --train-limit?)`,
      );
    if (resume.position !== undefined)
      position = checkResumePosition(
        resume.position,
        resume.state,
        { ...stateContextFor(preset), steps },
        `checkpoint ${resume.file}`,
      );
  }
  // A folder holding a run is continued (--resume of its last checkpoint) or moved aside
  // (--force), never written over.
  const existing = runFilesIn(out, logFile);
  const sameRun = resume !== undefined && sameFile(resume.file, join(out, 'last.safetensors'));
  if (existing.length > 0 && !sameRun && !a.force) {
    const what = existing
      .map((f) => (resolve(dirname(f)) === resolve(out) ? basename(f) : f))
      .join(', ');
    const last = join(out, 'last.safetensors');
    const how = existsSync(last)
      ? `continue it with --resume ${last}, move it aside to ${out}.N with --force,`
      : `it has no last checkpoint to resume; move it aside to ${out}.N with --force`;
    throw new UsageError(
      `train: ${out} holds ${resume ? 'another' : 'a'} run (${what}); ${how} or pick another --out`,
    );
  }
  const blocks = planFromSpec(preset.spec).blocks.length;
  const repair =
    resume && !a.force && existsSync(logFile) ? logRepair(logFile, resume, blocks) : undefined;
  return { resume, position, setup, steps, existing, sameRun, repair };
}

/** The adapter-fit checks, with the flag that shrinks a data set that is too large. */
function checkFitsFlags(backend: Backend, preset: Preset, split: DataSplit): void {
  try {
    checkTrainingFits(backend, preset.spec, preset.protocol.batch, split.train, split.test);
  } catch (e) {
    if (!(e instanceof DatasetTooLargeError)) throw e;
    const flag = e.split === 'training' ? 'train-limit' : 'test-limit';
    throw new UsageError(
      `train: the ${e.split} set (${e.samples} samples, ${e.bytes} bytes) is larger than the adapter's ${e.limit}-byte buffer limit; use --${flag} ${e.most} or less`,
    );
  }
}

/**
 * Prepares the run folder: moves an earlier run aside (--force), removes what killed writes
 * left, opens the log (appending to this run's own) and writes a record a kill lost.
 */
function openRunFolder(
  a: TrainArgs,
  run: CheckedRun,
  outputs: RunOutputs,
  stopAt: (stage: string) => void,
  say: (s: string) => void,
): JsonLog {
  if (a.force && run.existing.length > 0)
    console.error(
      `nitro-d train: moved the earlier run to ${moveRunAside(a.out, run.existing).join(' and ')}`,
    );
  outputs.mkdir(a.out);
  outputs.mkdir(dirname(a.logFile));
  const removed = removeInterruptedCheckpoints(a.out);
  if (removed.length > 0)
    say(`removed ${removed.length} temporary file(s) of interrupted checkpoint writes`);
  const onRecord = (r: Record<string, unknown>) => {
    if (r.event === 'epoch') stopAt('log-appended');
  };
  const appending = existsSync(a.logFile);
  const log = appending ? JsonLog.append(a.logFile, onRecord) : JsonLog.create(a.logFile, onRecord);
  if (!appending) outputs.file(a.logFile);
  if (run.repair)
    log.write({
      ...epochRecord(run.repair),
      seconds: undefined,
      imagesPerSecond: undefined,
      restored: true,
    });
  return log;
}

export async function trainCommand(argv: string[]): Promise<number> {
  const a = trainArgs(argv);
  const interrupt = new Interrupt();
  try {
    return await runTraining(a, interrupt);
  } finally {
    interrupt.dispose();
  }
}

async function runTraining(a: TrainArgs, interrupt: Interrupt): Promise<number> {
  const { preset, out, snapshotEvery, loseAt } = a;
  const batch = preset.protocol.batch;
  const stopAt = testStopper();
  const run = await checkRun(a);
  const { resume, position, setup, steps } = run;
  const { train, test } = setup.split;
  if (interrupt.signal) {
    console.error(
      `nitro-d train: interrupted by ${interrupt.signal} before training started; nothing written`,
    );
    return interrupt.code;
  }

  const verbose = Boolean(a.flags.verbose);
  const decision = await resolveBackend(a.backendChoice, { verbose });
  const backendKind = decision.kind;
  checkCapacity(preset.spec, batch, capacityFor('train', a.flags, backendKind), {
    evalBatch: evalBatchFor(test.labels.length),
    extraBytes:
      datasetBytes(train.labels.length, train.shape) + datasetBytes(test.labels.length, test.shape),
  });
  // Worker events before the log exists go to stderr only.
  const events: { log?: (e: WorkerEvent) => void } = {};
  const parallel =
    a.parallel &&
    (await openParallelBackend(
      a.parallel,
      preset.spec,
      (e) => events.log?.(e),
      verbose,
      (s) => {
        if (!a.quiet) console.error(s);
      },
    ));
  const threads = threadsFlag('train', a.flags);
  const backend = parallel?.backend ?? (await createBackend(backendKind, { verbose, threads }));
  let trainer: Trainer | undefined;
  const outputs = new RunOutputs();
  let log: JsonLog | undefined;
  const current = () => trainer?.model.backend ?? backend;
  try {
    checkFitsFlags(backend, preset, setup.split);
    const say = (s: string) => {
      if (!a.quiet) console.error(s);
    };
    say(`nitro-d train: ${preset.name} (${preset.description}) on ${preset.dataset}`);
    say(
      `data: ${train.labels.length} train / ${test.labels.length} test samples, normalisation mean [${setup.stats.mean}] MAD [${setup.stats.mad}]`,
    );
    const device =
      backend instanceof WebGPUBackend ? adapterName(backend.info) : backend.description;
    say(`backend: ${parallel ? parallel.line : backendLine(backend, decision)}`);
    const tuned = parallel ? undefined : loadTunedForCommand(backend, Boolean(a.flags['no-tuned']));
    if (tuned) say(tuned);

    const model = Model.create(backend, preset.spec, {
      seed: preset.protocol.seed,
      weights: resume?.weights,
    });
    const runLog = openRunFolder(a, run, outputs, stopAt, say);
    log = runLog;
    events.log = (e) => {
      bar?.done();
      say(workerEventLine(e));
      if (e.kind === 'dropped')
        runLog.write({
          event: 'worker-dropped',
          worker: e.worker,
          reason: e.reason,
          step: e.cursor,
        });
      else
        runLog.write({
          event: 'worker-joined',
          worker: e.worker,
          backend: e.backend,
          device: e.device,
        });
    };
    const bar = a.quiet ? undefined : new ProgressBar();
    const progress = bar && new RunProgress(bar, preset.protocol.epochs, batch);
    const write = (name: 'best' | 'last', bytes: Uint8Array) =>
      writeFileAtomic(join(out, `${name}.safetensors`), bytes, (stage) =>
        stopAt(`${name}-${stage}`),
      );
    const options: TrainerOptions = {
      ...protocolOptions(preset),
      stepsPerSubmit: a.stepsPerSubmit,
      snapshotEvery,
      signal: interrupt.controller.signal,
      simulateDeviceLoss: loseAt,
      // Let signal handlers run between chunks (the CPU backend never waits on the event loop).
      beforeChunk: () => new Promise<void>((r) => setImmediate(r)),
      onStep: (p) => {
        progress?.step(p);
        stopAt('step');
      },
      onRecover: (info) => {
        const most =
          snapshotEvery > 0
            ? `at most ${snapshotEvery} with --snapshot-every ${snapshotEvery}`
            : 'at most an epoch with --snapshot-every 0';
        const line = `${info.message}; re-created the device, resumed from the host snapshot at epoch ${info.epoch} step ${info.step} and redid ${info.lostSteps} steps (${most})`;
        bar?.done();
        say(line);
        runLog.write({ event: 'device-lost', ...info, snapshotEvery });
      },
      recreateBackend:
        backendKind === 'webgpu' && !parallel ? () => createBackend('webgpu') : undefined,
      onEpoch: async (r, t) => {
        progress?.epochDone(r);
        say(summary(r));
        // Checkpoints before the log line: a run killed in between has the epoch in
        // last.safetensors, whose trainer state keeps what --resume writes to the log again.
        const bytes = await t.model.toCheckpoint(trainingMetadata(preset, setup.stats, t.state));
        if (r.best) await write('best', bytes);
        await write('last', bytes);
        outputs.checkpointWritten = true;
        runLog.write(epochRecord(r));
      },
    };
    runLog.write({
      event: 'start',
      preset: preset.name,
      dataset: preset.dataset,
      spec: preset.spec,
      protocol: preset.protocol,
      backend: parallel ? 'data-parallel' : backendKind,
      device,
      ...(parallel ? { workers: parallel.backend.workers } : {}),
      resumedAtEpoch: resume?.state.epoch ?? 0,
      resumedAtStep: position?.step,
      command: `nitro-d train ${a.argv.join(' ')}`.trim(),
    });
    trainer = new Trainer(model, train, test, options, resume?.state, position);
    const results = await trainer.fit();
    const s = trainer.state;
    const finished = s.epoch >= preset.protocol.epochs || results.at(-1)?.stop === true;
    if (interrupt.signal && !finished) {
      bar?.done();
      // The host snapshot of the step it stopped at becomes last.safetensors.
      const snap = trainer.stoppedAt;
      if (snap) {
        await write('last', snapshotCheckpoint(trainer.model, snap, preset, setup.stats, s));
        outputs.checkpointWritten = true;
      }
      const at = snap ? { epoch: snap.epoch, step: snap.step } : { epoch: s.epoch + 1, step: 0 };
      if (!outputs.checkpointWritten && !run.sameRun) {
        outputs.discard();
        const still = resume ? `; ${resume.file} still continues the run` : '';
        console.error(
          `nitro-d train: interrupted by ${interrupt.signal} before the first checkpoint; nothing written${still}`,
        );
        return interrupt.code;
      }
      runLog.write({ event: 'interrupted', signal: interrupt.signal, ...at, steps });
      const checkpoint = join(out, 'last.safetensors');
      console.error(
        `nitro-d train: interrupted by ${interrupt.signal} at epoch ${at.epoch} step ${at.step} of ${steps}; ${checkpoint} continues it: ${resumeCommand(a.argv, checkpoint)}`,
      );
      return interrupt.code;
    }
    const bestBp =
      s.bestCorrect >= 0 ? Math.floor((s.bestCorrect * 10000) / test.labels.length) : 0;
    // The one line --quiet keeps.
    console.error(
      `done: ${results.length} epochs this run; best test accuracy ${formatBp(bestBp)} at epoch ${s.bestEpoch}; checkpoints in ${out}`,
    );
    runLog.write({
      event: 'end',
      epochs: s.epoch,
      bestEpoch: s.bestEpoch,
      bestTestAccuracy: bestBp / 100,
    });
    if (loseAt && !trainer.deviceLossSimulated) {
      // The checkpoints are good; the recovery the flag asked for was not exercised.
      console.error(
        `nitro-d train: --simulate-device-loss ${loseAt.epoch}:${loseAt.step} was never reached (the run stopped early)`,
      );
      return 1;
    }
    return 0;
  } catch (e) {
    // A run that wrote checkpoints keeps its log, with the reason it stopped.
    if (outputs.checkpointWritten || resume)
      try {
        log?.write({ event: 'error', message: (e as Error).message?.split('\n')[0] });
      } catch {}
    outputs.discard();
    throw e;
  } finally {
    const last = current();
    trainer?.dispose();
    last.destroy();
  }
}
