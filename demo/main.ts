/**
 * The live training page: wires the settings form, the session (data, model, trainer) and the
 * views (charts, confusion matrix, prediction grid, device panel) together.
 */
import {
  type DataSplit,
  type EpochResult,
  getPreset,
  planFromSpec,
  presetNames,
  type SplitMetrics,
  type WebGPUBackend,
} from '../src/index.ts';
import {
  type AdapterSummary,
  probeWebGpu,
  renderAdapter,
  softwareRenderer,
  type WebGpuProbe,
} from './ui/adapter.ts';
import { LineChart, type Series } from './ui/chart.ts';
import { renderConfusion } from './ui/confusion.ts';
import { Controls } from './ui/controls.ts';
import {
  classNames,
  hasAllRoles,
  IDX_ROLES,
  loadFiles,
  loadSample,
  SAMPLE_CLI_DIR,
} from './ui/data.ts';
import { duration, percent, percentBp, rate } from './ui/format.ts';
import { renderImageGrid } from './ui/image-grid.ts';
import {
  type LivePoint,
  type Phase,
  type Prediction,
  type Progress,
  Session,
} from './ui/session.ts';
import { cliCommand, presetDefaults } from './ui/setup.ts';
import { installTestHook } from './ui/test-hook.ts';
import { installWorkerJoin } from './ui/worker-join.ts';

/**
 * The default run learns within seconds on the 3000-image sample, also on a software GPU: the
 * paper's batch 64 and lrInv 512 stay at chance for hundreds of steps (#default-note says why).
 */
const DEFAULT_PRESET = 'mlp1';
const DEFAULT_RUN = { batch: 32, lrInv: 64 };
const DEFAULT_EPOCHS = 10;
const GRID_IMAGES = 24;
const HEAD_COLORS = [
  '#2563eb',
  '#0891b2',
  '#16a34a',
  '#9333ea',
  '#ca8a04',
  '#db2777',
  '#65a30d',
  '#7c3aed',
  '#0d9488',
  '#ea580c',
];
const OUTPUT_COLOR = '#dc2626';

function byId<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

const view = {
  status: byId<HTMLSpanElement>('status'),
  progress: byId<HTMLProgressElement>('progress'),
  epoch: byId<HTMLSpanElement>('tile-epoch'),
  testAccuracy: byId<HTMLSpanElement>('test-accuracy'),
  bestAccuracy: byId<HTMLSpanElement>('best-accuracy'),
  trainAccuracy: byId<HTMLSpanElement>('train-accuracy'),
  imagesPerSecond: byId<HTMLSpanElement>('images-per-second'),
  eta: byId<HTMLSpanElement>('eta'),
  legend: byId<HTMLFieldSetElement>('legend'),
  confusion: byId<HTMLDivElement>('confusion'),
  grid: byId<HTMLDivElement>('image-grid'),
  mistakesOnly: byId<HTMLInputElement>('mistakes-only'),
  epochsBody: byId<HTMLTableSectionElement>('epochs-body'),
  adapter: byId<HTMLDivElement>('adapter'),
  missing: byId<HTMLDivElement>('webgpu-missing'),
  missingReason: byId<HTMLParagraphElement>('webgpu-reason'),
  useCpu: byId<HTMLButtonElement>('use-cpu'),
  error: byId<HTMLDivElement>('error'),
  errorText: byId<HTMLSpanElement>('error-text'),
  errorClose: byId<HTMLButtonElement>('error-close'),
};

const charts = {
  loss: new LineChart(byId('chart-loss'), {
    yFormat: (v) => String(Math.round(v)),
    yMin: 0,
    xLabel: 'epoch',
    emptyText: 'waiting for the first steps',
  }),
  train: new LineChart(byId('chart-train-accuracy'), {
    yFormat: (v) => `${Math.round(v * 100)}%`,
    yMin: 0,
    yMax: 1,
    xLabel: 'epoch',
    emptyText: 'waiting for the first steps',
  }),
  test: new LineChart(byId('chart-test-accuracy'), {
    yFormat: (v) => `${Math.round(v * 100)}%`,
    yMin: 0,
    yMax: 1,
    xLabel: 'epoch',
    emptyText: 'after the first epoch',
  }),
};

/** What the views show; rebuilt on reset. */
const history = {
  live: [] as LivePoint[],
  epochs: [] as EpochResult[],
  predictions: [] as Prediction[],
  confusion: undefined as number[][] | undefined,
  hidden: new Set<number>(),
  slots: ['output'],
  progress: undefined as Progress | undefined,
};

const controls = new Controls();
const session = new Session({
  phase: (phase, detail) => onPhase(phase, detail),
  progress: (p) => onProgress(p),
  live: (p) => {
    history.live.push(p);
    drawCharts();
  },
  epoch: (r, predictions) => onEpoch(r, predictions),
  evaluated: (m, predictions) => onEvaluated(m, predictions),
});
let probe: WebGpuProbe | undefined;
const rawCache = new Map<string, Promise<DataSplit>>();

function showError(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  console.error(e);
  view.errorText.textContent = message;
  view.error.hidden = false;
}

function clearError(): void {
  view.error.hidden = true;
}

function names(): string[] {
  const run = session.run;
  return classNames(run?.preset.dataset ?? controls.dataset(), run?.model.plan.classes ?? 10);
}

/** Series names: every block head, then the output layer (the order of the metric slots). */
function setSlots(blocks: number): void {
  history.slots = [...Array.from({ length: blocks }, (_, i) => `block ${i} head`), 'output'];
  renderLegend();
}

function colorOf(slot: number): string {
  return slot === history.slots.length - 1 ? OUTPUT_COLOR : HEAD_COLORS[slot % HEAD_COLORS.length];
}

function renderLegend(): void {
  view.legend.replaceChildren();
  history.slots.forEach((name, slot) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'legend-item';
    b.setAttribute('aria-pressed', String(!history.hidden.has(slot)));
    b.innerHTML = `<span class="swatch" style="background:${colorOf(slot)}"></span>`;
    b.append(name);
    b.addEventListener('click', () => {
      if (history.hidden.has(slot)) history.hidden.delete(slot);
      else history.hidden.add(slot);
      renderLegend();
      drawCharts();
    });
    view.legend.append(b);
  });
}

function series(points: (slot: number) => [number, number][], markers: boolean): Series[] {
  // The output layer last, so it is drawn on top.
  return history.slots.map((name, slot) => ({
    name,
    color: colorOf(slot),
    points: points(slot),
    width: slot === history.slots.length - 1 ? 2.5 : 1.5,
    markers,
    hidden: history.hidden.has(slot),
  }));
}

function drawCharts(): void {
  const span = session.run?.settings.epochs ?? (Number(controls.epochs.value) || 1);
  for (const c of Object.values(charts)) c.options.xSpan = Math.max(1, span);
  charts.loss.setSeries(series((s) => history.live.map((p) => [p.x, p.loss[s]]), false));
  charts.train.setSeries(series((s) => history.live.map((p) => [p.x, p.accuracy[s]]), false));
  charts.test.setSeries(
    series(
      (s) =>
        history.epochs
          .filter((r) => r.test)
          .map((r) => {
            const m = s === history.slots.length - 1 ? r.test!.output : r.test!.heads[s];
            return [r.epoch, m.accuracyBp / 10000];
          }),
      true,
    ),
  );
}

function renderPredictions(): void {
  renderImageGrid(view.grid, session.run?.data.rawTest, history.predictions, names(), {
    mistakesOnly: view.mistakesOnly.checked,
    max: GRID_IMAGES,
  });
}

function resetViews(): void {
  history.live = [];
  history.epochs = [];
  history.predictions = [];
  history.confusion = undefined;
  history.progress = undefined;
  view.epochsBody.replaceChildren(noEpochsRow());
  view.epoch.textContent = '–';
  view.testAccuracy.textContent = '–';
  view.bestAccuracy.textContent = '';
  view.trainAccuracy.textContent = '–';
  view.imagesPerSecond.textContent = '–';
  view.eta.textContent = '–';
  view.progress.value = 0;
  renderConfusion(view.confusion, undefined, names());
  renderPredictions();
  drawCharts();
}

function completedEpochs(): number {
  return session.run?.state?.epoch ?? session.loaded?.state?.epoch ?? 0;
}

function refreshControls(): void {
  const run = session.run;
  controls.update(session.phase, {
    hasModel: run !== undefined,
    loaded: session.loaded !== undefined,
    completedEpochs: completedEpochs(),
    canTrain: !run?.evaluateOnly && !(session.loaded && session.loaded.preset === undefined),
    canDownload: run !== undefined,
    starting,
    pauseRequested: session.pauseRequested,
  });
  updateCli();
}

function updateCli(): void {
  try {
    const s = session.run?.settings ?? controls.readSettings();
    const dir = controls.dataChoice() === 'sample' ? SAMPLE_CLI_DIR : 'DIR';
    controls.cliCommand.textContent = `${cliCommand({ ...s, epochs: Number(controls.epochs.value) || s.epochs }, dir)} --out runs/demo`;
  } catch {
    controls.cliCommand.textContent = '(fix the settings above)';
  }
}

function onPhase(phase: Phase, detail?: string): void {
  document.body.dataset.phase = phase;
  // Set once training really stands still (the steps already submitted are done).
  document.body.dataset.held = String(phase === 'paused' && detail === 'held');
  const run = session.run;
  const done = completedEpochs();
  switch (phase) {
    case 'idle':
      view.status.textContent = session.loaded
        ? loadedText()
        : 'Pick a preset and press Start training.';
      break;
    case 'preparing':
      view.status.textContent = `${detail ? detail[0].toUpperCase() + detail.slice(1) : 'Preparing'}…`;
      break;
    case 'running':
      view.status.textContent = history.progress ? runningText(history.progress) : 'Training…';
      break;
    case 'paused':
      if (detail !== 'held') view.status.textContent = 'Pausing after the steps in flight…';
      else if (history.progress) {
        const p = history.progress;
        view.status.textContent = `Paused in epoch ${p.epoch}, after step ${p.step} of ${p.steps}. Resume continues with exactly the same updates.`;
      } else view.status.textContent = 'Paused before the first step.';
      break;
    case 'stopping':
      view.status.textContent = 'Stopping after the current steps…';
      break;
    case 'ready': {
      if (!run) break;
      const best =
        run.state && run.state.bestCorrect >= 0
          ? ` Best test accuracy ${percent(run.state.bestCorrect / run.data.split.test.labels.length)} at epoch ${run.state.bestEpoch}.`
          : '';
      if (detail === 'stopped')
        view.status.textContent = `Stopped. The model has ${done} complete epoch${done === 1 ? '' : 's'}; the checkpoint holds epoch ${done}.${best}`;
      else if (run.results.length > 0)
        view.status.textContent = `Done: ${done} epoch${done === 1 ? '' : 's'} trained.${best} Download the checkpoint, or raise Epochs and continue.`;
      else if (run.evaluateOnly) view.status.textContent = 'Model loaded for evaluation.';
      else view.status.textContent = done > 0 ? `Model ready at epoch ${done}.` : 'Model ready.';
      break;
    }
    case 'error':
      view.status.textContent = `Stopped by an error: ${detail ?? ''}`;
      break;
  }
  refreshControls();
}

function runningText(p: Progress): string {
  return `Training epoch ${p.epoch} of ${p.epochs}: step ${p.step} of ${p.steps}.`;
}

function onProgress(p: Progress): void {
  history.progress = p;
  view.epoch.textContent = `${p.epoch} / ${p.epochs}`;
  view.imagesPerSecond.textContent = rate(p.imagesPerSecond);
  view.eta.textContent = duration(p.etaSeconds);
  view.progress.value = (p.epoch - 1 + p.step / p.steps) / p.epochs;
  if (session.phase === 'running') view.status.textContent = runningText(p);
}

function noEpochsRow(): HTMLTableRowElement {
  const tr = document.createElement('tr');
  const td = tr.insertCell();
  td.colSpan = 7;
  td.className = 'none';
  td.textContent = 'No epoch finished yet.';
  return tr;
}

function epochRow(r: EpochResult): HTMLTableRowElement {
  const tr = document.createElement('tr');
  const heads = (r.test ?? r.train).heads.map((h) => (h.accuracyBp / 100).toFixed(1)).join(' · ');
  const cells = [
    `${r.epoch}${r.best ? ' ★' : ''}`,
    percentBp(r.train.output.accuracyBp),
    r.test ? percentBp(r.test.output.accuracyBp) : '–',
    heads,
    `${r.lrInv}${r.plateau ? ' → ÷3' : ''}`,
    duration(r.seconds),
    rate(r.imagesPerSecond),
  ];
  for (const c of cells) {
    const td = tr.insertCell();
    td.textContent = c;
  }
  if (r.stop) tr.title = 'early stopping fired after this epoch';
  return tr;
}

function showTest(m: SplitMetrics): void {
  view.testAccuracy.textContent = percentBp(m.output.accuracyBp);
  view.testAccuracy.dataset.bp = String(m.output.accuracyBp);
  history.confusion = m.confusion;
  renderConfusion(view.confusion, m.confusion, names());
}

function onEpoch(r: EpochResult, predictions: Prediction[]): void {
  history.epochs.push(r);
  history.predictions = predictions;
  if (history.epochs.length === 1) view.epochsBody.replaceChildren();
  view.epochsBody.append(epochRow(r));
  view.trainAccuracy.textContent = percentBp(r.train.output.accuracyBp);
  if (r.test) showTest(r.test);
  const run = session.run;
  if (run?.state && run.state.bestCorrect >= 0) {
    view.bestAccuracy.textContent = `best ${percent(run.state.bestCorrect / run.data.split.test.labels.length)} (epoch ${run.state.bestEpoch})`;
  }
  view.epoch.textContent = `${r.epoch} / ${run?.settings.epochs ?? r.epoch}`;
  view.progress.value = r.epoch / (run?.settings.epochs ?? r.epoch);
  renderPredictions();
  drawCharts();
}

function onEvaluated(m: SplitMetrics, predictions: Prediction[]): void {
  history.predictions = predictions;
  showTest(m);
  renderPredictions();
  const heads = m.heads.map((h, i) => `block ${i} ${percentBp(h.accuracyBp)}`).join(', ');
  view.status.textContent = `Evaluated on ${m.output.total} test images: ${percentBp(m.output.accuracyBp)}${heads ? ` (heads: ${heads})` : ''}.`;
}

async function rawData(): Promise<DataSplit> {
  if (controls.dataChoice() === 'sample') {
    let p = rawCache.get('sample');
    if (!p) {
      p = loadSample();
      rawCache.set('sample', p);
      p.catch(() => rawCache.delete('sample'));
    }
    return p;
  }
  const files = controls.files;
  if (!hasAllRoles(files))
    throw new Error(
      'choose or drop all four IDX files (train-images, train-labels, t10k-images, t10k-labels), or pick the bundled sample',
    );
  const dataset = controls.dataset();
  const key = [
    dataset,
    ...IDX_ROLES.map((r) => `${files[r].name}:${files[r].size}:${files[r].lastModified}`),
  ].join('|');
  let p = rawCache.get(key);
  if (!p) {
    p = loadFiles(dataset, files);
    rawCache.set(key, p);
    p.catch(() => rawCache.delete(key));
  }
  return p;
}

async function showDevice(): Promise<void> {
  const kind = session.run?.model.backend.kind ?? controls.backendKind();
  let adapter: AdapterSummary | undefined = probe?.available ? probe.adapter : undefined;
  const backend = await session.existingBackend('webgpu');
  if (backend && backend.kind === 'webgpu') {
    const info = (backend as WebGPUBackend).info;
    adapter = { ...info, fallback: adapter?.fallback, source: 'device' };
  }
  // The CPU backend is cheap to create and names its kernels (WebAssembly SIMD or JavaScript).
  const cpu =
    kind === 'cpu' || !adapter ? await session.backend('cpu').catch(() => undefined) : undefined;
  renderAdapter(view.adapter, adapter, { active: kind === 'cpu', description: cpu?.description });
}

/** Makes the model for the current settings (or the loaded checkpoint) if there is none. */
async function ensureModel(): Promise<void> {
  if (session.run) return;
  const settings = controls.readSettings();
  const raw = await rawData();
  const run = await session.prepare(settings, raw, controls.backendKind());
  setSlots(run.model.plan.blocks.length);
  resetViews();
  await showDevice();
}

/** Between pressing Start and the first training step (Pause then makes the run start paused). */
let starting = false;

async function start(): Promise<void> {
  clearError();
  starting = true;
  refreshControls();
  try {
    const epochs = controls.epochCount();
    await ensureModel();
    const done = completedEpochs();
    if (epochs <= done)
      throw new Error(
        `the model has ${done} epoch${done === 1 ? '' : 's'} already: set Epochs above ${done} to train further`,
      );
    const training = session.train(epochs);
    starting = false;
    await training;
  } catch (e) {
    showError(e);
  } finally {
    starting = false;
    refreshControls();
  }
}

async function evaluate(): Promise<void> {
  clearError();
  try {
    await ensureModel();
    await session.evaluate();
  } catch (e) {
    showError(e);
    refreshControls();
  }
}

async function reset(): Promise<void> {
  clearError();
  await session.reset();
  controls.loadedNote.hidden = true;
  controls.showPreset(controls.preset.value, false);
  resetViews();
  refreshControls();
}

async function download(): Promise<void> {
  clearError();
  try {
    const run = session.run;
    if (!run) return;
    const bytes = await session.checkpoint();
    const epoch = run.state?.epoch ?? 0;
    const url = URL.createObjectURL(
      new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }),
    );
    const a = document.createElement('a');
    a.href = url;
    a.download = `${run.preset.name}-${run.preset.dataset}-epoch${epoch}.safetensors`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (e) {
    showError(e);
  }
}

function loadedText(): string {
  const l = session.loaded;
  if (!l) return '';
  const epochs = l.state?.epoch ?? 0;
  if (!l.preset)
    return `Loaded ${l.file}: a model without a nitro-d training protocol. Evaluate tests it on the chosen data.`;
  return `Loaded ${l.file}: ${l.preset}, ${epochs} epoch${epochs === 1 ? '' : 's'} trained. Continue training goes on to the Epochs set above; Evaluate tests it on the chosen data.`;
}

async function loadCheckpoint(file: File): Promise<void> {
  clearError();
  try {
    const loaded = session.load(new Uint8Array(await file.arrayBuffer()), file.name);
    if (loaded.preset && loaded.protocol) {
      const done = loaded.state?.epoch ?? 0;
      const p = loaded.protocol;
      const current = controls.readSettings();
      controls.applySettings({
        ...current,
        preset: loaded.preset,
        epochs: p.epochs > done ? p.epochs : done + 5,
        batch: p.batch,
        lrInv: loaded.spec.training.lrInv,
        seed: p.seed,
        augment: p.augment !== 'none',
      });
      if (loaded.dataset === 'mnist' || loaded.dataset === 'fashion-mnist')
        controls.filesDataset.value = loaded.dataset;
    }
    controls.loadedNote.textContent = loadedText();
    controls.loadedNote.hidden = false;
    onPhase(session.phase);
  } catch (e) {
    showError(e);
  }
}

function wire(): void {
  controls.preset.addEventListener('change', () => {
    controls.showPreset(controls.preset.value, true);
    setSlots(blocksOf(controls.preset.value));
    drawCharts();
    refreshControls();
  });
  for (const el of document.querySelectorAll('.controls input, .controls select')) {
    el.addEventListener('change', () => refreshControls());
    el.addEventListener('input', () => updateCli());
  }
  controls.epochs.addEventListener('input', () => drawCharts());
  for (const r of document.querySelectorAll<HTMLInputElement>('input[name="data"]')) {
    r.addEventListener('change', () => controls.setDataChoice(controls.dataChoice()));
  }
  controls.start.addEventListener('click', () => void start());
  controls.pause.addEventListener('click', () => {
    if (session.pauseRequested) session.resume();
    else session.pause();
    refreshControls();
  });
  controls.reset.addEventListener('click', () => void reset());
  controls.evaluate.addEventListener('click', () => void evaluate());
  controls.download.addEventListener('click', () => void download());
  controls.loadCheckpoint.addEventListener('change', () => {
    const f = controls.loadCheckpoint.files?.[0];
    controls.loadCheckpoint.value = '';
    if (f) void loadCheckpoint(f);
  });
  view.mistakesOnly.addEventListener('change', () => renderPredictions());
  view.errorClose.addEventListener('click', () => clearError());
  view.useCpu.addEventListener('click', () => {
    controls.setBackendKind('cpu');
    void showDevice();
    void start();
  });
  for (const r of document.querySelectorAll<HTMLInputElement>('input[name="backend"]'))
    r.addEventListener('change', () => void showDevice());

  const zone = controls.dropZone;
  const files = (list: FileList | null | undefined) => {
    if (!list || list.length === 0 || zone.classList.contains('locked')) return;
    const ignored = controls.addFiles(list);
    if (ignored.length > 0)
      showError(new Error(`not IDX files of a known name: ${ignored.join(', ')}`));
    refreshControls();
  };
  byId<HTMLButtonElement>('choose-files').addEventListener('click', () =>
    controls.idxFiles.click(),
  );
  controls.idxFiles.addEventListener('change', () => {
    files(controls.idxFiles.files);
    controls.idxFiles.value = '';
  });
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    files(e.dataTransfer?.files);
  });
}

async function init(): Promise<void> {
  controls.populatePresets(presetNames, DEFAULT_PRESET);
  controls.applySettings({
    ...presetDefaults(DEFAULT_PRESET, 'fashion-mnist', DEFAULT_EPOCHS),
    ...DEFAULT_RUN,
  });
  controls.renderFileStatus();
  controls.setDataChoice('sample');
  wire();
  setSlots(blocksOf(DEFAULT_PRESET));
  resetViews();
  onPhase('idle');
  probe = await probeWebGpu();
  if (!probe.available) {
    view.missingReason.textContent = `On this page, ${probe.reason}.`;
    view.missing.hidden = false;
    document.body.dataset.webgpu = 'missing';
    controls.setBackendKind('cpu');
    controls.webgpuUnavailable();
  } else {
    document.body.dataset.webgpu = 'available';
    const software = softwareRenderer(probe.adapter);
    const hint = document.getElementById('webgpu-hint');
    if (software && hint) hint.textContent = `(here ${software}, a software adapter)`;
  }
  await showDevice();
  refreshControls();
}

function blocksOf(preset: string): number {
  return planFromSpec(getPreset(preset).spec).blocks.length;
}

const ready = init().catch((e) => showError(e));
installTestHook({ session, controls, ready, start, reset });
// The status line under Join says what failed; the console gets the stack.
installWorkerJoin({ backendKind: () => controls.backendKind(), onError: (e) => console.error(e) });
