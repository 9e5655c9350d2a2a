/**
 * `nitro-d train`: trains a preset (default: the paper's MLP2 on Fashion-MNIST) with the
 * paper's protocol, shows progress, logs every epoch as a JSON line, keeps the last and the
 * best checkpoint (written atomically), and resumes from a checkpoint bit for bit.
 */
import { mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type Backend, deviceBytes } from '../../backend.ts';
import { createBackend } from '../../backends.ts';
import { type DataSplit, loadDataset } from '../../data/dataset.ts';
import type { NormStats } from '../../data/normalize.ts';
import { adapterName } from '../../gpu/device.ts';
import { WebGPUBackend } from '../../gpu/webgpu-backend.ts';
import { parseCheckpoint } from '../../io/checkpoint.ts';
import { readFileBytes, writeFileAtomic } from '../../io/files.ts';
import { Model } from '../../model/model.ts';
import { type DatasetName, getPreset, type Preset } from '../../model/presets.ts';
import { planFromSpec } from '../../model/plan.ts';
import { firstSamples, normalizeSplit, protocolOptions } from '../../train/protocol.ts';
import { formatBp } from '../../train/schedule.ts';
import { checkFits } from '../../train/memory.ts';
import {
  type EpochResult,
  evalBatchFor,
  Trainer,
  type TrainerOptions,
  type TrainerState,
  trainingMetadata,
} from '../../train/trainer.ts';
import { BACKEND_FLAG, backendFlag, intFlag, parseFlags, UsageError } from '../args.ts';
import { JsonLog } from '../log.ts';
import { ProgressBar } from '../progress.ts';
import { loadTunedForCommand } from '../tune-store.ts';
import { loadSpec } from './golden.ts';

export const TRAIN_FLAGS = {
  preset: { type: 'string' },
  model: { type: 'string' },
  dataset: { type: 'string' },
  data: { type: 'string' },
  epochs: { type: 'string' },
  batch: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'string' },
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
} as const;

export const TRAIN_HELP = `train a model (default: the paper's MLP2 on Fashion-MNIST)
  --preset NAME          mlp1 | mlp2 | mlp3 | mlp3-mnist | mlp4 | vgg8b | vgg8b-mnist | vgg8b-cifar10 | vgg11b | cnn-small (default mlp2)
  --model M.json         a custom model spec (uses the preset's protocol; --dataset picks the data)
  --dataset NAME         fashion-mnist | mnist | cifar10 (default: the preset's)
  --data DIR             data folder (default for Fashion-MNIST: /usr/share/datasets/fashion-mnist)
  --epochs N --batch B --seed S --lr-inv N   override the preset's protocol
  --no-augment           train without the preset's augmentation
  --out DIR              where last.safetensors, best.safetensors and log.jsonl go (default runs/<preset>)
  --resume CKPT          continue from a checkpoint written by train (same bytes as an unbroken run)
  --log FILE             JSON-lines log (default OUT/log.jsonl)
  --snapshot-every N     host snapshot every N steps for device-loss recovery (default 200)
  --simulate-device-loss E:S   destroy the GPU device once, before step S+1 of epoch E (tests the recovery)
  --steps-per-submit N   training steps per GPU submission (default adaptive)
  --train-limit N --test-limit N   use only the first N samples (quick runs)
  --backend webgpu|cpu   (default webgpu)
  --no-tuned             ignore the kernel variants \`nitro-d tune\` cached for this adapter
  --quiet                no progress bar`;

export interface RunSetup {
  preset: Preset;
  split: DataSplit;
  stats: NormStats;
}

/** Resolves preset, spec and protocol overrides from the flags. */
export function resolvePreset(command: string, flags: Record<string, unknown>): Preset {
  const base = getPreset((flags.preset as string | undefined) ?? 'mlp2');
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
  const raw = await loadDataset(preset.dataset, flags.data as string | undefined);
  const trainRaw = firstSamples(
    raw.train,
    flags['train-limit'] === undefined ? undefined : intFlag(command, flags, 'train-limit', 0),
  );
  const testRaw = firstSamples(
    raw.test,
    flags['test-limit'] === undefined ? undefined : intFlag(command, flags, 'test-limit', 0),
  );
  const expected = planFromSpec(preset.spec).input;
  if (trainRaw.shape.some((d, i) => d !== expected[i])) {
    const source =
      typeof flags.model === 'string' ? `the model ${flags.model}` : `preset ${preset.name}`;
    throw new Error(
      `${preset.dataset} samples are [${trainRaw.shape.join(', ')}], ${source} expects input [${expected.join(', ')}] (pick the data with --dataset and --data)`,
    );
  }
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
function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
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

function metadataJson(file: string, meta: Record<string, string>, key: string): unknown {
  const text = meta[key];
  if (text === undefined)
    throw new Error(
      `checkpoint ${file}: no "${key}" in its metadata (not written by nitro-d train)`,
    );
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`checkpoint ${file}: metadata "${key}" is not valid JSON`);
  }
}

/** Reads a --resume checkpoint and checks it continues this very run (spec and protocol). */
async function loadResume(
  file: string,
  preset: Preset,
): Promise<{ weights: Map<string, Int32Array>; state: TrainerState; normalization: unknown }> {
  const ckpt = parseCheckpoint(
    await readFileBytes(file),
    planFromSpec(preset.spec).parameters,
    file,
  );
  const state = metadataJson(file, ckpt.metadata, 'trainer') as TrainerState;
  if (
    !Number.isInteger(state?.epoch) ||
    state.epoch < 0 ||
    !Number.isInteger(state.lrInv) ||
    state.lrInv <= 0
  ) {
    throw new Error(`checkpoint ${file}: metadata "trainer" holds no valid trainer state`);
  }
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
    weights: ckpt.tensors,
    state,
    normalization: metadataJson(file, ckpt.metadata, 'normalization'),
  };
}

/** Files and folders a fresh run made, removed again when it fails before its first checkpoint. */
class RunOutputs {
  private dirs: string[] = [];
  private files: string[] = [];
  checkpointWritten = false;

  mkdir(dir: string): void {
    const first = mkdirSync(dir, { recursive: true });
    if (first === undefined) return;
    // mkdir -p made `first` and everything below it, down to `dir`.
    for (let d = resolve(dir); ; d = dirname(d)) {
      this.dirs.push(d);
      if (d === resolve(first) || d === dirname(d)) break;
    }
  }

  file(f: string): void {
    this.files.push(f);
  }

  /** Removes what this run created (deepest folders first; a folder that is not empty stays). */
  discard(): void {
    if (this.checkpointWritten) return;
    for (const f of this.files) rmSync(f, { force: true });
    for (const d of this.dirs) {
      try {
        rmdirSync(d);
      } catch {}
    }
  }
}

export async function trainCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('train', argv, TRAIN_FLAGS);
  const preset = resolvePreset('train', flags);
  const backendKind = backendFlag('train', flags);
  const out = (flags.out as string | undefined) ?? join('runs', preset.name);
  const logFile = (flags.log as string | undefined) ?? join(out, 'log.jsonl');
  const snapshotEvery = intFlag('train', flags, 'snapshot-every', 200, 0);
  const stepsPerSubmit =
    flags['steps-per-submit'] === undefined
      ? undefined
      : intFlag('train', flags, 'steps-per-submit', 1);
  const batch = preset.protocol.batch;
  let loseAt: { epoch: number; step: number } | undefined;
  if (typeof flags['simulate-device-loss'] === 'string') {
    const m = /^(\d+):(\d+)$/.exec(flags['simulate-device-loss']);
    if (!m || Number(m[1]) < 1)
      throw new UsageError(
        `train: --simulate-device-loss must be EPOCH:STEP (epoch from 1), got '${flags['simulate-device-loss']}'`,
      );
    if (backendKind !== 'webgpu')
      throw new UsageError('train: --simulate-device-loss needs --backend webgpu');
    loseAt = { epoch: Number(m[1]), step: Number(m[2]) };
    // The loss happens between submissions, so step S must end one.
    if (stepsPerSubmit !== undefined && loseAt.step % stepsPerSubmit !== 0) {
      throw new UsageError(
        `train: --simulate-device-loss step ${loseAt.step} is not a multiple of --steps-per-submit ${stepsPerSubmit}`,
      );
    }
  }

  // Everything is checked before anything is printed, created or written.
  const resume =
    typeof flags.resume === 'string' ? await loadResume(flags.resume, preset) : undefined;
  const setup = await prepareData(preset, flags, 'train');
  const { train, test } = setup.split;
  if (batch > train.labels.length)
    throw new UsageError(
      `train: --batch ${batch} is larger than the training set (${train.labels.length} samples)`,
    );
  if (resume) {
    const d = firstDifference(resume.normalization, setup.stats, 'normalization');
    if (d)
      throw new Error(
        `checkpoint ${flags.resume}: its ${d} differs from this data's (trained on other data or another --train-limit?)`,
      );
  }

  const backend = await createBackend(backendKind);
  let current: Backend = backend;
  let trainer: Trainer | undefined;
  const outputs = new RunOutputs();
  let log: JsonLog | undefined;
  try {
    if (backend instanceof WebGPUBackend) {
      const limits = backend.device.limits;
      checkFits(preset.spec, batch, limits);
      checkFits(preset.spec, evalBatchFor(test.labels.length), limits);
      const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
      for (const [name, ds, flag] of [
        ['training', train, 'train-limit'],
        ['test', test, 'test-limit'],
      ] as const) {
        const bytes = deviceBytes([ds.labels.length, ...ds.shape], 'i8');
        if (bytes > limit) {
          const most = Math.floor(limit / Math.ceil(bytes / ds.labels.length));
          throw new UsageError(
            `train: the ${name} set (${ds.labels.length} samples, ${bytes} bytes) is larger than the adapter's ${limit}-byte buffer limit; use --${flag} ${most} or less`,
          );
        }
      }
    }
    const quiet = Boolean(flags.quiet);
    const say = (s: string) => {
      if (!quiet) console.error(s);
    };
    say(`nitro-d train: ${preset.name} (${preset.description}) on ${preset.dataset}`);
    say(
      `data: ${train.labels.length} train / ${test.labels.length} test samples, normalisation mean [${setup.stats.mean}] MAD [${setup.stats.mad}]`,
    );
    if (
      loseAt &&
      (loseAt.epoch > preset.protocol.epochs ||
        loseAt.step >= Math.floor(train.labels.length / batch))
    ) {
      throw new UsageError(
        `train: --simulate-device-loss ${loseAt.epoch}:${loseAt.step} is outside the run (${preset.protocol.epochs} epochs of ${Math.floor(train.labels.length / batch)} steps)`,
      );
    }
    const device =
      backend instanceof WebGPUBackend ? adapterName(backend.info) : backend.description;
    say(`backend: ${backendKind} on ${device}`);
    const tuned = loadTunedForCommand(backend, Boolean(flags['no-tuned']));
    if (tuned) say(tuned);

    const model = Model.create(backend, preset.spec, {
      seed: preset.protocol.seed,
      weights: resume?.weights,
    });
    outputs.mkdir(out);
    outputs.mkdir(dirname(logFile));
    if (!resume) outputs.file(logFile);
    const runLog = new JsonLog(logFile, !resume);
    log = runLog;
    const bar = quiet ? undefined : new ProgressBar();
    // Where training is (for --simulate-device-loss): epoch E starts at step 0.
    let position = { epoch: (resume?.state.epoch ?? 0) + 1, step: 0 };
    const options: TrainerOptions = {
      ...protocolOptions(preset),
      // With a simulated loss every step ends a submission, so the loss lands exactly at step S.
      stepsPerSubmit: loseAt ? (stepsPerSubmit ?? 1) : stepsPerSubmit,
      snapshotEvery,
      onStep: (p) => {
        position = { epoch: p.epoch, step: p.step };
        bar?.update({
          label: `epoch ${p.epoch}`,
          done: p.step * batch,
          total: p.steps * batch,
          rate: p.imagesPerSecond,
        });
      },
      beforeChunk: loseAt
        ? () => {
            if (
              loseAt &&
              trainer &&
              position.epoch === loseAt.epoch &&
              position.step === loseAt.step
            ) {
              loseAt = undefined;
              (trainer.model.backend as WebGPUBackend).device.destroy();
            }
          }
        : undefined,
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
      recreateBackend: backendKind === 'webgpu' ? () => createBackend('webgpu') : undefined,
      onEpoch: async (r, t) => {
        position = { epoch: r.epoch + 1, step: 0 };
        bar?.done();
        say(summary(r));
        // best before last, last before the log line: a run killed in between resumes from the
        // previous last checkpoint, redoes this epoch and writes the same bytes again.
        const bytes = await t.model.toCheckpoint(trainingMetadata(preset, setup.stats, t.state));
        if (r.best) await writeFileAtomic(join(out, 'best.safetensors'), bytes);
        await writeFileAtomic(join(out, 'last.safetensors'), bytes);
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
      backend: backendKind,
      device,
      resumedAtEpoch: resume?.state.epoch ?? 0,
      command: `nitro-d train ${argv.join(' ')}`.trim(),
    });
    trainer = new Trainer(model, train, test, options, resume?.state);
    const results = await trainer.fit();
    current = trainer.model.backend;
    const s = trainer.state;
    const bestBp =
      s.bestCorrect >= 0 ? Math.floor((s.bestCorrect * 10000) / test.labels.length) : 0;
    say(
      `done: ${results.length} epochs this run; best test accuracy ${formatBp(bestBp)} at epoch ${s.bestEpoch}; checkpoints in ${out}`,
    );
    runLog.write({
      event: 'end',
      epochs: s.epoch,
      bestEpoch: s.bestEpoch,
      bestTestAccuracy: bestBp / 100,
    });
    if (loseAt) {
      // The checkpoints are good; the recovery the flag asked for was not exercised.
      console.error(
        `nitro-d train: --simulate-device-loss ${loseAt.epoch}:${loseAt.step} was never reached (the run stopped early)`,
      );
      return 1;
    }
    return 0;
  } catch (e) {
    if (trainer) current = trainer.model.backend;
    // A run that wrote checkpoints keeps its log, with the reason it stopped.
    if (outputs.checkpointWritten || resume)
      log?.write({ event: 'error', message: (e as Error).message?.split('\n')[0] });
    outputs.discard();
    throw e;
  } finally {
    trainer?.dispose();
    current.destroy();
  }
}
