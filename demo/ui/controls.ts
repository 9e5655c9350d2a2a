/** The settings form: reading and writing run settings, and which controls are usable in each phase. */
import { type BackendKind, type DatasetName, getPreset } from '../../src/index.ts';
import { assignIdxFiles, hasAllRoles, IDX_FILE_NAMES, IDX_ROLES, type IdxRole } from './data.ts';
import type { Phase } from './session.ts';
import type { RunSettings } from './setup.ts';

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page element #${id} is missing`);
  return el as T;
}

export type DataChoice = 'sample' | 'files';

export class Controls {
  readonly preset = byId<HTMLSelectElement>('preset');
  readonly presetDescription = byId<HTMLParagraphElement>('preset-description');
  readonly dropZone = byId<HTMLDivElement>('drop-zone');
  readonly idxFiles = byId<HTMLInputElement>('idx-files');
  readonly fileStatus = byId<HTMLUListElement>('file-status');
  readonly filesDataset = byId<HTMLSelectElement>('files-dataset');
  readonly epochs = byId<HTMLInputElement>('epochs');
  readonly batch = byId<HTMLInputElement>('batch');
  readonly lrInv = byId<HTMLInputElement>('lr-inv');
  readonly seed = byId<HTMLInputElement>('seed');
  readonly augment = byId<HTMLInputElement>('augment');
  readonly augmentHint = byId<HTMLSpanElement>('augment-hint');
  readonly trainLimit = byId<HTMLInputElement>('train-limit');
  readonly testLimit = byId<HTMLInputElement>('test-limit');
  readonly start = byId<HTMLButtonElement>('start');
  readonly pause = byId<HTMLButtonElement>('pause');
  readonly reset = byId<HTMLButtonElement>('reset');
  readonly evaluate = byId<HTMLButtonElement>('evaluate');
  readonly download = byId<HTMLButtonElement>('download');
  readonly loadCheckpoint = byId<HTMLInputElement>('load-checkpoint');
  readonly loadedNote = byId<HTMLParagraphElement>('loaded-note');
  readonly cliCommand = byId<HTMLPreElement>('cli-command');
  /** Files the user gave so far, by role. */
  files: Partial<Record<IdxRole, File>> = {};

  /** Presets offered: every preset whose input is a 28×28 grey image (the IDX data sets). */
  populatePresets(names: readonly string[], initial: string): void {
    for (const name of names) {
      const p = getPreset(name);
      const [c, h, w] = p.spec.input;
      if (c !== 1 || h !== 28 || w !== 28) continue;
      const option = document.createElement('option');
      option.value = name;
      option.textContent = name;
      this.preset.append(option);
    }
    this.preset.value = initial;
  }

  dataChoice(): DataChoice {
    const checked = document.querySelector<HTMLInputElement>('input[name="data"]:checked');
    return checked?.value === 'files' ? 'files' : 'sample';
  }

  setDataChoice(choice: DataChoice): void {
    for (const r of document.querySelectorAll<HTMLInputElement>('input[name="data"]'))
      r.checked = r.value === choice;
    this.dropZone.classList.toggle('active', choice === 'files');
  }

  backendKind(): BackendKind {
    const checked = document.querySelector<HTMLInputElement>('input[name="backend"]:checked');
    return checked?.value === 'cpu' ? 'cpu' : 'webgpu';
  }

  setBackendKind(kind: BackendKind): void {
    for (const r of document.querySelectorAll<HTMLInputElement>('input[name="backend"]'))
      r.checked = r.value === kind;
  }

  /** No WebGPU in this browser: only the CPU backend can be picked. */
  webgpuUnavailable(): void {
    this.gpuMissing = true;
    const hint = document.getElementById('webgpu-hint');
    if (hint) hint.textContent = '(not available in this browser)';
  }

  private gpuMissing = false;

  /** The data set the chosen data is (recorded in checkpoints, decides class names). */
  dataset(): DatasetName {
    if (this.dataChoice() === 'sample') return 'fashion-mnist';
    return this.filesDataset.value === 'mnist' ? 'mnist' : 'fashion-mnist';
  }

  addFiles(files: Iterable<File>): string[] {
    const { assigned, ignored } = assignIdxFiles(files, this.files);
    this.files = assigned;
    this.renderFileStatus();
    if (hasAllRoles(this.files)) this.setDataChoice('files');
    return ignored;
  }

  renderFileStatus(): void {
    this.fileStatus.replaceChildren();
    for (const role of IDX_ROLES) {
      const li = document.createElement('li');
      const f = this.files[role];
      li.className = f ? 'ok' : 'missing';
      li.textContent = f ? `✓ ${f.name}` : `○ ${IDX_FILE_NAMES[role].replace('.gz', '[.gz]')}`;
      this.fileStatus.append(li);
    }
  }

  private int(input: HTMLInputElement, what: string, min: number): number {
    const v = Number(input.value);
    if (input.value.trim() === '' || !Number.isInteger(v) || v < min) {
      input.focus();
      throw new Error(`${what} must be a whole number of at least ${min}`);
    }
    return v;
  }

  private optionalInt(input: HTMLInputElement, what: string): number | undefined {
    return input.value.trim() === '' ? undefined : this.int(input, what, 1);
  }

  epochCount(): number {
    return this.int(this.epochs, 'Epochs', 1);
  }

  /** The form as run settings; throws with a readable message on a bad field. */
  readSettings(): RunSettings {
    return {
      preset: this.preset.value,
      dataset: this.dataset(),
      epochs: this.epochCount(),
      batch: this.int(this.batch, 'Batch size', 1),
      lrInv: this.int(this.lrInv, 'lrInv', 1),
      seed: this.int(this.seed, 'Seed', 0),
      augment: this.augment.checked,
      trainLimit: this.optionalInt(this.trainLimit, 'Train samples'),
      testLimit: this.optionalInt(this.testLimit, 'Test samples'),
    };
  }

  /** Shows a preset's description and augmentation; fills the protocol fields when `fill`. */
  showPreset(name: string, fill: boolean): void {
    const p = getPreset(name);
    const paper = p.paper
      ? ` Paper: ${(p.paper.testAccuracy / 100).toFixed(2)} % test accuracy after up to ${p.protocol.epochs} epochs on the full data set.`
      : '';
    this.presetDescription.textContent = `${p.description}.${paper}`;
    const hasAugment = p.protocol.augment !== 'none';
    this.augment.disabled = !hasAugment;
    this.augmentHint.textContent = hasAugment
      ? `(random ${p.protocol.augmentPad}-pixel crop${p.protocol.augment === 'crop-flip' ? ' and flip' : ''})`
      : '(none in this preset)';
    if (fill) {
      this.batch.value = String(p.protocol.batch);
      this.lrInv.value = String(p.spec.training.lrInv);
      this.augment.checked = hasAugment;
    }
  }

  applySettings(s: RunSettings): void {
    this.preset.value = s.preset;
    this.showPreset(s.preset, false);
    this.epochs.value = String(s.epochs);
    this.batch.value = String(s.batch);
    this.lrInv.value = String(s.lrInv);
    this.seed.value = String(s.seed);
    this.augment.checked = s.augment;
    this.trainLimit.value = s.trainLimit === undefined ? '' : String(s.trainLimit);
    this.testLimit.value = s.testLimit === undefined ? '' : String(s.testLimit);
  }

  /**
   * Enables what makes sense: the settings that define the model only before it exists (or is
   * given by a loaded checkpoint), the data and backend until the model is made, the epoch count
   * whenever training is not running (it is the total to train to), pause while running.
   */
  update(
    phase: Phase,
    state: {
      hasModel: boolean;
      loaded: boolean;
      completedEpochs: number;
      canTrain: boolean;
      canDownload: boolean;
      starting: boolean;
      pauseRequested: boolean;
    },
  ): void {
    const busy =
      phase === 'preparing' || phase === 'running' || phase === 'paused' || phase === 'stopping';
    const modelLocked = busy || state.hasModel || state.loaded;
    const dataLocked = busy || state.hasModel;
    for (const el of [this.preset, this.batch, this.lrInv, this.seed]) el.disabled = modelLocked;
    this.augment.disabled = modelLocked || getPreset(this.preset.value).protocol.augment === 'none';
    for (const el of [this.trainLimit, this.testLimit, this.filesDataset, this.idxFiles])
      el.disabled = dataLocked;
    for (const r of document.querySelectorAll<HTMLInputElement>(
      'input[name="data"], input[name="backend"]',
    )) {
      r.disabled = dataLocked || (r.value === 'webgpu' && this.gpuMissing);
    }
    this.dropZone.classList.toggle('locked', dataLocked);
    this.epochs.disabled = busy;
    this.start.disabled = busy || !state.canTrain;
    this.start.textContent =
      state.completedEpochs > 0 && (state.hasModel || state.loaded)
        ? 'Continue training'
        : 'Start training';
    this.pause.disabled = !(phase === 'running' || phase === 'paused' || state.starting);
    this.pause.textContent = phase === 'paused' || state.pauseRequested ? 'Resume' : 'Pause';
    this.reset.disabled = !(state.hasModel || state.loaded || busy);
    this.evaluate.disabled = busy;
    this.download.disabled = !state.canDownload || phase === 'preparing' || phase === 'stopping';
    this.loadCheckpoint.disabled = busy || state.hasModel;
    document
      .querySelector('label[for="load-checkpoint"]')
      ?.classList.toggle('disabled', this.loadCheckpoint.disabled);
  }
}
