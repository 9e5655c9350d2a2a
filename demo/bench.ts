/**
 * The benchmark page: training throughput of presets (cold first step and warm images/s) with
 * the library's benchTraining, each on a fresh WebGPU device so the cold time includes every
 * shader compile; a float32 TensorFlow.js twin of each MLP; kernel microbenchmarks at the
 * paper's layer shapes with benchKernels. Results as tables, bar charts and a JSON download.
 * The tuner (tuneVariants) times each kernel variant of a model's op shapes and keeps the winners
 * per adapter in localStorage; the page installs them when it loads, so training rows use them.
 * Stop ends a run or a tuning at once: the library's calls cannot be interrupted, so the page
 * stops waiting for them, ignores what they report afterwards and destroys their device once
 * the work already submitted to it is done. On a software adapter (SwiftShader, llvmpipe) the
 * default run leaves VGG8B out.
 */
import pkg from '../package.json';
import {
  adapterKey,
  type Backend,
  benchKernels,
  benchTraining,
  createBackend,
  fastestVariantRows,
  forgetTuned,
  getPreset,
  installTuned,
  kernelBenchRowCount,
  type KernelBenchResult,
  type KernelBenchRow,
  loadTuned,
  localStorageStore,
  paperKernelShapes,
  planFromSpec,
  presetNames,
  saveTuned,
  setTunedVariants,
  type TrainingBenchResult,
  trainingGemmShapes,
  type TuneResult,
  type TuneStore,
  tunedVariants,
  tuneVariants,
  type WebGPUBackend,
} from '../src/index.ts';
import { type Bar, drawBars } from './bench/bar-chart.ts';
import {
  type BenchConfig,
  configFromQuery,
  type KernelTimingChoice,
  DEFAULT_CONFIG,
  layerSelected,
  queryOf,
  SLOW_ON_SOFTWARE,
  softwareDefaults,
  stepsFor,
  TRAINING_PRESETS,
} from './bench/config.ts';
import { benchTfjsMlp, type TfjsMlpResult } from './bench/tfjs-mlp.ts';
import { TuneTable, VARIANT_COLUMNS, variantsCell } from './bench/tune-view.ts';
import { type AdapterSummary, probeWebGpu, renderAdapter, softwareRenderer } from './ui/adapter.ts';
import { bytes } from './ui/format.ts';

export interface BenchReport {
  page: 'nitro-d benchmarks';
  version: string;
  date: string;
  url: string;
  userAgent: string;
  config: BenchConfig;
  adapter?: AdapterSummary;
  training: TrainingBenchResult[];
  tfjs: TfjsMlpResult[];
  kernels?: KernelBenchResult;
  /** The tuned variants installed for the run (shape key -> variant) and what they were tuned for. */
  tuned: { choices: Record<string, string>; for: string[] };
  /** The last tuning on this page, if any. */
  tuning?: TuneResult;
  errors: { task: string; message: string }[];
  /** Stop was pressed: the rows so far, the rest not measured. */
  stopped?: boolean;
  seconds: number;
}

declare global {
  interface Window {
    nitroBench?: {
      /** Resolves when the page has probed WebGPU and read its URL query. */
      ready(): Promise<boolean>;
      /** The last run's report (undefined before a run finished). */
      report(): BenchReport | undefined;
      /** The last tuning on this page (undefined before one finished). */
      tuning(): TuneResult | undefined;
    };
  }
}

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page element #${id} is missing`);
  return el as T;
}

const form = {
  presets: byId<HTMLFieldSetElement>('presets'),
  batch: byId<HTMLInputElement>('batch'),
  steps: byId<HTMLInputElement>('steps'),
  warmup: byId<HTMLInputElement>('warmup'),
  tfjs: byId<HTMLInputElement>('tfjs'),
  kernels: byId<HTMLInputElement>('kernels'),
  variants: byId<HTMLInputElement>('variants'),
  kernelBatch: byId<HTMLInputElement>('kernel-batch'),
  vggKernels: byId<HTMLInputElement>('vgg-kernels'),
  kernelMs: byId<HTMLInputElement>('kernel-ms'),
  layers: byId<HTMLInputElement>('layers'),
  timing: byId<HTMLSelectElement>('timing'),
  tunePreset: byId<HTMLSelectElement>('tune-preset'),
  tuneBudget: byId<HTMLInputElement>('tune-budget'),
  tune: byId<HTMLButtonElement>('tune'),
  forget: byId<HTMLButtonElement>('forget'),
  run: byId<HTMLButtonElement>('run'),
  stop: byId<HTMLButtonElement>('stop'),
  download: byId<HTMLButtonElement>('download'),
  permalink: byId<HTMLAnchorElement>('permalink'),
};

const view = {
  status: byId<HTMLSpanElement>('status'),
  progress: byId<HTMLProgressElement>('progress'),
  trainingBody: byId<HTMLTableSectionElement>('training-body'),
  trainingHint: byId<HTMLSpanElement>('training-hint'),
  trainingChart: byId<HTMLCanvasElement>('training-chart'),
  kernelsBody: byId<HTMLTableSectionElement>('kernels-body'),
  kernelHint: byId<HTMLSpanElement>('kernel-hint'),
  kernelsChart: byId<HTMLCanvasElement>('kernels-chart'),
  tuneState: byId<HTMLParagraphElement>('tune-state'),
  tuneHint: byId<HTMLSpanElement>('tune-hint'),
  tuneTable: new TuneTable(byId<HTMLTableElement>('tune-table')),
  adapter: byId<HTMLDivElement>('adapter'),
  sizing: byId<HTMLParagraphElement>('sizing'),
  missing: byId<HTMLDivElement>('webgpu-missing'),
  missingReason: byId<HTMLParagraphElement>('webgpu-reason'),
  error: byId<HTMLDivElement>('error'),
  errorText: byId<HTMLSpanElement>('error-text'),
};

/** Presets the page offers for training (any preset can be asked for through ?presets=). */
const OFFERED = [...TRAINING_PRESETS];

let report: BenchReport | undefined;
let running = false;
/** Aborted by the Stop button; one per run or tuning. */
let stopper: AbortController | undefined;

/** What a run or a tuning throws when Stop was pressed. */
class Stopped extends Error {
  constructor() {
    super('stopped');
  }
}

/**
 * Settles as `p` does, or rejects with Stopped as soon as `signal` aborts; `p` then runs on
 * unobserved (its device destroyed by the caller's cleanup).
 */
function unlessStopped<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  p.catch(() => {});
  if (signal.aborted) return Promise.reject(new Stopped());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Stopped());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** GPU work that Stop abandoned and that has not finished yet (the GPU cannot be interrupted). */
const abandoned = new Set<Promise<void>>();

/** Keeps track of `p`, which Stop abandoned, until it settles. */
function abandon(p: Promise<unknown>): Promise<void> {
  const settled = p.then(
    () => {},
    () => {},
  );
  abandoned.add(settled);
  void settled.then(() => abandoned.delete(settled));
  return settled;
}

/** Before new measurements: the work Stop abandoned must be done, or it would share the GPU. */
async function settleAbandoned(signal: AbortSignal): Promise<void> {
  if (abandoned.size === 0) return;
  setPhase(
    'running',
    'Waiting for the GPU to finish the work of the stopped run (submitted work cannot be recalled)…',
  );
  await unlessStopped(Promise.all(abandoned), signal);
}

/**
 * Runs `task` on a WebGPU backend of its own and destroys that afterwards. Stop ends the wait at
 * once; the device goes as soon as the work submitted to it is done (destroying it earlier
 * would wait for that work inside the browser's GPU process, which on a software adapter
 * stalls the whole page), and the abandoned task's next calls then fail on a destroyed device.
 */
async function onOwnBackend<T>(
  signal: AbortSignal,
  options: Parameters<typeof createBackend>[1],
  task: (backend: Backend) => Promise<T>,
): Promise<T> {
  const created = createBackend('webgpu', options);
  const backend = await unlessStopped(created, signal).catch((e: unknown) => {
    if (e instanceof Stopped)
      created.then(
        (b) => b.destroy(),
        () => {},
      );
    throw e;
  });
  // Tuned choices belong to a backend: each one the page creates gets the installed ones.
  setTunedVariants(backend, tunedChoices);
  const work = task(backend);
  try {
    return await unlessStopped(work, signal);
  } finally {
    if (signal.aborted) void abandon(backend.sync()).then(() => backend.destroy());
    else backend.destroy();
  }
}

function showError(e: unknown): void {
  console.error(e);
  view.errorText.textContent = e instanceof Error ? e.message : String(e);
  view.error.hidden = false;
}

/** "1,234", "56.7", "0.892": about four significant digits. */
function num(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return String(Number(v.toPrecision(3)));
}

function setPhase(phase: 'idle' | 'running' | 'done' | 'stopped' | 'error', text: string): void {
  document.body.dataset.phase = phase;
  view.status.textContent = text;
}

// ---- the form -------------------------------------------------------------------------------

function presetBoxes(): HTMLInputElement[] {
  return [...form.presets.querySelectorAll<HTMLInputElement>('input[type="checkbox"]')];
}

function fillForm(c: BenchConfig): void {
  const names = [...OFFERED, ...c.presets.filter((p) => !(OFFERED as string[]).includes(p))];
  for (const l of form.presets.querySelectorAll('label')) l.remove();
  for (const name of names) {
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = name;
    box.checked = c.presets.includes(name);
    label.title = getPreset(name).description;
    label.append(box, name);
    form.presets.append(label);
  }
  form.batch.value = String(c.batch);
  form.steps.value = c.steps === undefined ? '' : String(c.steps);
  form.warmup.value = c.warmup === undefined ? '' : String(c.warmup);
  form.tfjs.checked = c.tfjs;
  form.kernels.checked = c.kernels;
  form.variants.checked = c.variants;
  form.kernelBatch.value = String(c.kernelBatch);
  form.vggKernels.checked = c.vggKernels;
  form.kernelMs.value = String(c.kernelMs);
  form.layers.value = c.layers.join(',');
  form.timing.value = c.timing;
  form.tunePreset.replaceChildren(
    ...[...new Set([...OFFERED, c.tunePreset])].map((name) =>
      Object.assign(document.createElement('option'), {
        value: name,
        textContent: name,
        title: getPreset(name).description,
      }),
    ),
  );
  form.tunePreset.value = c.tunePreset;
  form.tuneBudget.value = String(c.tuneBudget);
}

function int(
  input: HTMLInputElement,
  what: string,
  min: number,
  optional: true,
): number | undefined;
function int(input: HTMLInputElement, what: string, min: number, optional?: false): number;
function int(
  input: HTMLInputElement,
  what: string,
  min: number,
  optional = false,
): number | undefined {
  const raw = input.value.trim();
  if (raw === '' && optional) return undefined;
  const v = Number(raw);
  if (raw === '' || !Number.isInteger(v) || v < min) {
    input.focus();
    throw new Error(`${what} must be a whole number of at least ${min}`);
  }
  return v;
}

function readForm(): BenchConfig {
  return {
    presets: presetBoxes()
      .filter((b) => b.checked)
      .map((b) => b.value),
    batch: int(form.batch, 'Batch size', 1),
    steps: int(form.steps, 'Timed steps', 1, true),
    warmup: int(form.warmup, 'Warm-up steps', 0, true),
    tfjs: form.tfjs.checked,
    kernels: form.kernels.checked,
    variants: form.variants.checked,
    kernelBatch: int(form.kernelBatch, 'Kernel batch size', 1),
    vggKernels: form.vggKernels.checked,
    kernelMs: int(form.kernelMs, 'Time per kernel', 1),
    timing: form.timing.value as KernelTimingChoice,
    tunePreset: form.tunePreset.value,
    tuneBudget: int(form.tuneBudget, 'Tuning time budget', 1),
    layers: form.layers.value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    run: false,
  };
}

function updatePermalink(): void {
  try {
    form.permalink.href = `./bench.html${queryOf(readForm())}`;
  } catch {
    form.permalink.href = './bench.html';
  }
}

function setBusy(busy: boolean): void {
  running = busy;
  for (const el of form.presets.querySelectorAll('input')) el.disabled = busy;
  for (const el of [
    form.batch,
    form.steps,
    form.warmup,
    form.tfjs,
    form.kernels,
    form.variants,
    form.kernelBatch,
    form.vggKernels,
    form.kernelMs,
    form.layers,
    form.timing,
    form.tunePreset,
    form.tuneBudget,
    form.tune,
    form.forget,
    form.run,
  ])
    el.disabled = busy || webgpuMissing;
  form.stop.disabled = !busy;
  form.download.disabled = busy || report === undefined;
}

// ---- result rows ----------------------------------------------------------------------------

interface TrainingTask {
  preset: string;
  engine: 'nitro-d' | 'tfjs';
  row: HTMLTableRowElement;
}

function cells(
  row: HTMLTableRowElement,
  values: (string | { text: string; className?: string; value?: number })[],
): void {
  row.replaceChildren();
  for (const v of values) {
    const td = row.insertCell();
    if (typeof v === 'string') td.textContent = v;
    else {
      td.textContent = v.text;
      if (v.className) td.className = v.className;
      if (v.value !== undefined) td.dataset.value = String(v.value);
    }
  }
}

const n = (value: number | null | undefined, strong = false) => ({
  text: num(value),
  className: strong ? 'num strong' : 'num',
  value: value ?? undefined,
});

function pendingTrainingRow(t: TrainingTask, c: BenchConfig): void {
  const { steps } = stepsFor(c, t.preset);
  t.row.className = `pending ${t.engine === 'tfjs' ? 'tfjs' : 'nitro'}`;
  t.row.dataset.preset = t.preset;
  t.row.dataset.engine = t.engine;
  cells(t.row, [
    t.preset,
    t.engine === 'tfjs' ? 'TF.js WebGPU float32' : 'nitro-d WebGPU int',
    n(c.batch),
    n(steps),
    { text: 'waiting', className: 'num none' },
    '',
    '',
    '',
    '',
    '',
  ]);
}

function nitroRow(t: TrainingTask, r: TrainingBenchResult): void {
  t.row.className = 'nitro';
  cells(t.row, [
    r.preset,
    'nitro-d WebGPU int',
    n(r.batch),
    n(r.steps),
    n(r.coldMs),
    n(r.imagesPerSecond, true),
    n(r.msPerStep),
    n(r.gopsPerSecond),
    { text: bytes(r.memory.bytesInUse), className: 'num', value: r.memory.bytesInUse },
    '',
  ]);
  variantsCell(t.row.cells[9], r.variants);
}

function tfjsRow(t: TrainingTask, r: TfjsMlpResult): void {
  t.row.className = 'tfjs';
  cells(t.row, [
    r.preset,
    `TF.js ${r.tfjsVersion} WebGPU float32`,
    n(r.batch),
    n(r.steps),
    n(r.coldMs),
    n(r.imagesPerSecond, true),
    n(r.msPerStep),
    n(r.gflopsPerSecond),
    { text: '–', className: 'num none' },
    { text: '–', className: 'none' },
  ]);
}

function failedRow(row: HTMLTableRowElement, message: string, kind = 'failed'): void {
  row.classList.remove('pending');
  row.classList.add(kind);
  const td = row.cells[4];
  td.colSpan = 6;
  td.className = '';
  td.textContent = kind === 'failed' ? `failed: ${message}` : message;
  while (row.cells.length > 5) row.deleteCell(5);
}

const OP_NAMES: Record<string, string> = {
  linear: 'forward',
  conv2d: 'forward',
  linearInputGrad: 'input gradient',
  linearWeightGrad: 'weight gradient',
  conv2dWeightGrad: 'weight gradient',
};

/** Short op names for chart labels. */
const OP_SHORT: Record<string, string> = {
  linear: 'fwd',
  conv2d: 'fwd',
  linearInputGrad: 'dX',
  linearWeightGrad: 'dW',
  conv2dWeightGrad: 'dW',
};
const OP_COLORS: Record<string, string> = {
  linearInputGrad: '#7c3aed',
  linearWeightGrad: '#0891b2',
  conv2dWeightGrad: '#0891b2',
};

function kernelRow(r: KernelBenchRow): HTMLTableRowElement {
  const row = document.createElement('tr');
  row.dataset.layer = r.layer;
  row.dataset.op = r.op;
  row.dataset.variant = r.variant ?? '';
  if (r.isDefault) row.dataset.default = '1';
  cells(row, [
    r.layer,
    OP_NAMES[r.op] ?? r.op,
    { text: r.variant ?? '–', className: 'variant' },
    { text: r.kernel, className: 'kernel' },
    { text: r.shape, className: 'shape' },
    n(r.ops / 1e9),
    n(r.ms),
    r.skipped ? { text: `skipped: ${r.skipped}`, className: 'num none' } : n(r.gops, true),
  ]);
  if (r.isDefault && r.variant) {
    const mark = document.createElement('span');
    mark.className = 'default';
    mark.textContent = 'default';
    row.cells[2].append(mark);
  }
  return row;
}

/** Highlights the fastest variant of each layer's op among the rows so far. */
function markFastest(rows: readonly KernelBenchRow[], trs: readonly HTMLTableRowElement[]): void {
  const fastest = fastestVariantRows(rows);
  rows.forEach((r, i) => {
    trs[i].classList.toggle('fastest', fastest.has(r));
  });
}

function drawCharts(): void {
  const r = report;
  const training: Bar[] = [];
  for (const t of r?.training ?? []) {
    training.push({
      label: `${t.preset} · nitro-d`,
      value: t.imagesPerSecond,
      color: '#4f46e5',
      text: `${num(t.imagesPerSecond)} img/s`,
    });
    const twin = r?.tfjs.find((x) => x.preset === t.preset);
    if (twin)
      training.push({
        label: `${t.preset} · TF.js`,
        value: twin.imagesPerSecond,
        color: '#f59e0b',
        text: `${num(twin.imagesPerSecond)} img/s`,
      });
  }
  for (const x of r?.tfjs ?? []) {
    if (!r?.training.some((t) => t.preset === x.preset))
      training.push({
        label: `${x.preset} · TF.js`,
        value: x.imagesPerSecond,
        color: '#f59e0b',
        text: `${num(x.imagesPerSecond)} img/s`,
      });
  }
  drawBars(view.trainingChart, training, {
    unit: 'warm images/s',
    emptyText: 'images/s appear here',
  });
  const kernelRows = r?.kernels?.rows ?? [];
  const fastest = fastestVariantRows(kernelRows);
  const kernels: Bar[] = kernelRows
    .filter((k) => k.gops !== null)
    .map((k) => ({
      label: `${k.layer.split(' = ')[0]} ${OP_SHORT[k.op] ?? k.op}${k.variant ? ` ${k.variant}` : ''}`,
      value: k.gops ?? 0,
      color: OP_COLORS[k.op] ?? '#4f46e5',
      text: `${num(k.gops)} GOP/s${fastest.has(k) ? ' ★' : ''}`,
    }));
  drawBars(view.kernelsChart, kernels, {
    unit: 'GOP/s',
    emptyText: 'GOP/s per kernel appear here',
  });
}

// ---- running --------------------------------------------------------------------------------

let adapter: AdapterSummary | undefined;
let webgpuMissing = false;

function summaryOf(backend: Backend): AdapterSummary | undefined {
  if (backend.kind !== 'webgpu') return undefined;
  const info = (backend as WebGPUBackend).info;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    features: info.features,
    limits: info.limits,
    fallback: adapter?.fallback,
    source: 'device',
  };
}

/**
 * Runs the configured benchmarks. Stop (`signal`) ends it at once: the rows not measured yet are
 * marked, and the report holds what was measured, with `stopped` set.
 */
async function run(c: BenchConfig, signal: AbortSignal): Promise<BenchReport> {
  const started = performance.now();
  /** Progress from a task that Stop abandoned must not reach the page. */
  const live = (f: () => void) => {
    if (!signal.aborted) f();
  };
  const r: BenchReport = {
    page: 'nitro-d benchmarks',
    version: pkg.version,
    date: new Date().toISOString(),
    url: location.href,
    userAgent: navigator.userAgent,
    config: c,
    adapter,
    training: [],
    tfjs: [],
    tuned: { choices: { ...tunedChoices }, for: installed.for },
    tuning: lastTuning,
    errors: [],
    seconds: 0,
  };
  report = undefined;
  const tasks: TrainingTask[] = [];
  for (const preset of c.presets) {
    tasks.push({ preset, engine: 'nitro-d', row: document.createElement('tr') });
    if (c.tfjs && getPreset(preset).spec.features.length === 0)
      tasks.push({ preset, engine: 'tfjs', row: document.createElement('tr') });
  }
  view.trainingBody.replaceChildren(...tasks.map((t) => t.row));
  for (const t of tasks) pendingTrainingRow(t, c);
  view.kernelsBody.replaceChildren();
  const shapes = c.kernels
    ? paperKernelShapes(c.kernelBatch).filter((s) => layerSelected(c, s.layer))
    : [];
  const kernelRowCount = kernelBenchRowCount(shapes, { webgpu: true, variants: c.variants });
  const total = tasks.length + kernelRowCount;
  let done = 0;
  const tick = () => {
    done++;
    view.progress.value = done / Math.max(1, total);
  };
  view.progress.value = 0;
  const variantsWhat = installed.count
    ? `${installed.count} op shape${installed.count === 1 ? '' : 's'} tuned for this adapter`
    : 'default kernel variants';
  view.trainingHint.textContent = `batch ${c.batch}; cold = model, recording with its shader compiles and the first step, on a fresh device; ${variantsWhat}`;
  const kernelWhat = `batch ${c.kernelBatch}, ${shapes.length} layers${c.variants ? ', every kernel variant' : ''}`;
  view.kernelHint.textContent = c.kernels ? kernelWhat : 'not run (turned off)';

  /** Every task in turn; throws Stopped when Stop is pressed. */
  async function measure(): Promise<void> {
    for (const t of tasks) {
      const { steps, warmup } = stepsFor(c, t.preset);
      const label = `${t.preset} on ${t.engine === 'tfjs' ? 'TensorFlow.js' : 'nitro-d'}`;
      setPhase('running', `Training ${label}: cold start…`);
      try {
        if (t.engine === 'nitro-d') {
          // A device of its own, so the cold start compiles every shader the preset needs.
          const result = await onOwnBackend(signal, undefined, (backend) => {
            r.adapter ??= summaryOf(backend);
            return benchTraining(backend, {
              preset: t.preset,
              batch: c.batch,
              steps,
              warmup,
              kernelTiming: 'none',
              onPhase: (p) => live(() => setPhase('running', `Training ${label}: ${p}…`)),
            });
          });
          r.training.push(result);
          nitroRow(t, result);
        } else {
          // TensorFlow.js has a device of its own; stopped, it ends before its next steps.
          const work = benchTfjsMlp(t.preset, getPreset(t.preset).spec, {
            batch: c.batch,
            steps,
            warmup,
            signal,
            onPhase: (p) => live(() => setPhase('running', `TensorFlow.js ${p}…`)),
          });
          const result = await unlessStopped(work, signal).catch((e: unknown) => {
            if (e instanceof Stopped) void abandon(work);
            throw e;
          });
          r.tfjs.push(result);
          tfjsRow(t, result);
        }
      } catch (e) {
        if (e instanceof Stopped) throw e;
        const message = e instanceof Error ? e.message : String(e);
        console.error(e);
        r.errors.push({ task: label, message });
        failedRow(t.row, message);
      }
      tick();
      report = r;
      drawCharts();
    }

    if (shapes.length > 0) {
      setPhase('running', 'Kernels: creating the device…');
      const rows: KernelBenchRow[] = [];
      try {
        r.kernels = await onOwnBackend(signal, { timestamps: c.timing !== 'solo' }, (backend) => {
          r.adapter ??= summaryOf(backend);
          const trs: HTMLTableRowElement[] = [];
          const timingUsed =
            c.timing === 'auto'
              ? (backend as WebGPUBackend).hasTimestamps
                ? 'timestamps'
                : 'solo'
              : c.timing;
          view.kernelHint.textContent = `${kernelWhat}, ${timingUsed === 'timestamps' ? 'GPU time from timestamp queries' : 'wall clock per call (submission and sync included)'}`;
          const first = shapes[0].layer.split(' = ')[0];
          setPhase('running', `Kernels: ${first} (1 of ${kernelRowCount})…`);
          return benchKernels(backend, shapes, {
            targetMs: c.kernelMs,
            timing: c.timing === 'auto' ? undefined : c.timing,
            variants: c.variants,
            onRow: (row) => {
              if (signal.aborted) return;
              rows.push(row);
              const tr = kernelRow(row);
              trs.push(tr);
              view.kernelsBody.append(tr);
              markFastest(rows, trs);
              tick();
              const last = `${row.layer.split(' = ')[0]} ${OP_SHORT[row.op] ?? row.op}${row.variant ? ` ${row.variant}` : ''}`;
              if (rows.length < kernelRowCount)
                setPhase(
                  'running',
                  `Kernels: ${rows.length} of ${kernelRowCount} timed (last: ${last})…`,
                );
              report = {
                ...r,
                kernels: {
                  backend: backend.kind,
                  adapter: backend.description,
                  runtime: 'browser',
                  timing: timingUsed,
                  rows,
                },
              };
              drawCharts();
            },
          });
        });
      } catch (e) {
        if (e instanceof Stopped) {
          // What was timed so far stays in the report.
          r.kernels = report?.kernels;
          throw e;
        }
        const message = e instanceof Error ? e.message : String(e);
        console.error(e);
        r.errors.push({ task: 'kernels', message });
      }
    }
  }

  try {
    await settleAbandoned(signal);
    await measure();
  } catch (e) {
    if (!(e instanceof Stopped)) throw e;
    r.stopped = true;
    for (const t of tasks)
      if (t.row.classList.contains('pending')) failedRow(t.row, 'stopped', 'stopped');
  }
  r.seconds = Math.round((performance.now() - started) / 100) / 10;
  report = r;
  drawCharts();
  if (r.adapter) renderAdapter(view.adapter, r.adapter, { active: false });
  return r;
}

// ---- tuning ---------------------------------------------------------------------------------

/** The localStorage key of the tuned-variant document (the library's default). */
const TUNE_KEY = 'nitro-d.tuned-variants';
/** This browser's adapter as the tuned-variant cache names it (known once a device was made). */
let adapterId: string | undefined;
/** What is installed: how many op shapes have a tuned variant, what they were tuned for. */
let installed: { count: number; for: string[]; error?: string } = { count: 0, for: [] };
/** The installed choices (shape key -> variant), given to every backend the page creates. */
let tunedChoices: Record<string, string> = {};
let lastTuning: TuneResult | undefined;

function tuneStore(): TuneStore {
  return localStorageStore(window.localStorage, TUNE_KEY);
}

function showTuned(): void {
  const el = view.tuneState;
  el.dataset.count = String(installed.count);
  el.classList.toggle('bad', installed.error !== undefined);
  if (webgpuMissing) {
    el.textContent = 'Tuned variants: none (no WebGPU adapter).';
    return;
  }
  if (installed.error !== undefined) {
    el.textContent = `Tuned variants ignored: ${installed.error}. Forget tuning clears them.`;
    return;
  }
  const count = document.createElement('strong');
  count.className = 'count';
  if (installed.count === 0) {
    count.textContent = 'none';
    el.replaceChildren(
      'Tuned for this adapter: ',
      count,
      ' (every op shape runs its default variant).',
    );
  } else {
    count.textContent = `${installed.count} op shape${installed.count === 1 ? '' : 's'}`;
    el.replaceChildren(
      'Tuned for this adapter: ',
      count,
      installed.for.length ? ` (${installed.for.join(', ')}).` : '.',
    );
  }
}

/** Installs the choices localStorage holds for `backend`'s adapter, or the defaults when it holds none. */
function installStored(backend: Backend): void {
  adapterId = adapterKey(backend);
  setTunedVariants(backend, {});
  tunedChoices = {};
  try {
    const store = tuneStore();
    const count = installTuned(store, backend);
    tunedChoices = tunedVariants(backend);
    const entry = adapterId ? loadTuned(store, adapterId) : undefined;
    installed = { count, for: entry?.tuned ?? [] };
  } catch (e) {
    installed = { count: 0, for: [], error: e instanceof Error ? e.message : String(e) };
  }
  showTuned();
}

async function tune(): Promise<void> {
  if (running) return;
  view.error.hidden = true;
  let c: BenchConfig;
  try {
    c = readForm();
  } catch (e) {
    showError(e);
    return;
  }
  const what = `${c.tunePreset} batch ${c.batch}`;
  const plan = planFromSpec(getPreset(c.tunePreset).spec);
  const total = trainingGemmShapes(plan, c.batch).length;
  const stop = new AbortController();
  stopper = stop;
  const signal = stop.signal;
  setBusy(true);
  document.body.dataset.tune = 'running';
  view.tuneTable.clear();
  view.tuneHint.textContent = `${what}, up to ${c.tuneBudget} s of timing`;
  view.progress.value = 0;
  setPhase('running', `Tuning ${what}: creating the device…`);
  try {
    await settleAbandoned(signal);
    const result = await onOwnBackend(signal, { timestamps: true }, async (backend) => {
      const adapter = adapterKey(backend);
      if (!adapter) throw new Error('tune: the kernel variants need the WebGPU backend');
      let done = 0;
      setPhase('running', `Tuning ${what}: op shape 1 of ${total}…`);
      const tuned = await tuneVariants(backend, plan, c.batch, {
        budgetMs: c.tuneBudget * 1000,
        onShape: (row) => {
          if (signal.aborted) return;
          done++;
          view.tuneTable.add(row);
          view.progress.value = done / Math.max(1, total);
          if (done < total)
            setPhase(
              'running',
              `Tuning ${what}: ${done} of ${total} op shapes timed (last: ${row.key} → ${row.winner})…`,
            );
        },
      });
      // A tuning that Stop abandoned keeps nothing.
      if (signal.aborted) return tuned;
      lastTuning = tuned;
      saveTuned(tuneStore(), adapter, tuned.choices, what);
      installStored(backend);
      return tuned;
    });
    if (installed.error !== undefined)
      throw new Error(`tuned variants were saved but not installed: ${installed.error}`);
    const compared = Object.keys(result.choices);
    const faster = compared.filter(
      (k) => result.choices[k] !== result.rows.find((r) => r.key === k)?.defaultVariant,
    ).length;
    const seconds = Math.round(result.elapsedMs / 100) / 10;
    view.tuneHint.textContent = `${what}, ${result.timing === 'timestamps' ? 'GPU timestamps' : 'wall clock per call'}, ${seconds} s`;
    setPhase(
      'done',
      `Tuned ${what} in ${seconds} s: ${compared.length} of ${total} op shapes compared, ${faster} faster than the default; kept for this adapter and used by the training rows.`,
    );
    document.body.dataset.tune = 'done';
  } catch (e) {
    if (e instanceof Stopped) {
      setPhase(
        'stopped',
        `Tuning ${what} stopped: nothing saved, the variants installed before stay in use.`,
      );
      document.body.dataset.tune = 'stopped';
    } else {
      setPhase('error', `Tuning ${what} stopped by an error.`);
      document.body.dataset.tune = 'error';
      showError(e);
    }
  } finally {
    if (stopper === stop) stopper = undefined;
    setBusy(false);
  }
}

/** Drops this adapter's tuned choices from localStorage and goes back to the default variants. */
function forget(): void {
  if (running) return;
  view.error.hidden = true;
  let removed = 0;
  try {
    removed = adapterId ? forgetTuned(tuneStore(), adapterId) : 0;
  } catch {
    // A document that cannot be read is of no use to any adapter: it goes as a whole.
    try {
      window.localStorage.removeItem(TUNE_KEY);
      removed = 1;
    } catch (e) {
      showError(e);
    }
  }
  tunedChoices = {};
  installed = { count: 0, for: [] };
  showTuned();
  document.body.dataset.tune = 'forgotten';
  const hint = view.tuneHint.textContent ?? '';
  if (view.tuneTable.rowCount > 0 && !hint.endsWith('; forgotten'))
    view.tuneHint.textContent = `${hint}; forgotten`;
  setPhase(
    'idle',
    removed
      ? 'Tuning forgotten: every op shape runs its default variant again.'
      : 'Nothing was tuned for this adapter.',
  );
}

async function start(): Promise<void> {
  if (running) return;
  view.error.hidden = true;
  let c: BenchConfig;
  try {
    c = readForm();
    if (c.presets.length === 0 && !c.kernels)
      throw new Error('pick at least one preset or the kernels');
  } catch (e) {
    showError(e);
    return;
  }
  const stop = new AbortController();
  stopper = stop;
  setBusy(true);
  try {
    const r = await run(c, stop.signal);
    const failed = r.errors.length;
    const rows = r.training.length + r.tfjs.length + (r.kernels?.rows.length ?? 0);
    if (r.stopped) {
      setPhase(
        'stopped',
        `Stopped after ${r.seconds} s: ${rows} result${rows === 1 ? '' : 's'} so far${failed ? `, ${failed} failed` : ''}; the rest was not measured.${rows ? ' Download the JSON to keep them.' : ''}`,
      );
    } else if (failed > 0) {
      setPhase(
        'error',
        `Finished with ${failed} failure${failed === 1 ? '' : 's'} (${r.errors.map((x) => x.task).join(', ')}); ${rows} results in ${r.seconds} s.`,
      );
      showError(new Error(r.errors.map((x) => `${x.task}: ${x.message}`).join('; ')));
    } else {
      setPhase(
        'done',
        `Done: ${rows} result${rows === 1 ? '' : 's'} in ${r.seconds} s. Download the JSON to keep them with the adapter's details.`,
      );
    }
  } catch (e) {
    setPhase('error', 'Stopped by an error.');
    showError(e);
  } finally {
    if (stopper === stop) stopper = undefined;
    setBusy(false);
  }
}

/** The Stop button: the run or tuning in progress ends now. */
function stop(): void {
  stopper?.abort();
}

function download(): void {
  if (!report) return;
  const blob = new Blob([`${JSON.stringify(report, null, 2)}\n`], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  const arch = report.adapter?.architecture || report.adapter?.vendor || 'webgpu';
  a.download = `nitro-d-bench-${arch.replace(/[^a-z0-9-]+/gi, '-')}-${report.date.slice(0, 10)}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * Sizes the default run to the adapter: on a software adapter VGG8B is left out (its training
 * and its conv kernels), and the page says so.
 */
function defaultsFor(probed: AdapterSummary | undefined): BenchConfig {
  const software = probed ? softwareRenderer(probed) : undefined;
  document.body.dataset.adapter = software ? 'software' : probed ? 'hardware' : 'none';
  if (!software) return DEFAULT_CONFIG;
  const slow = SLOW_ON_SOFTWARE.join(', ');
  view.sizing.textContent = `This adapter renders on the CPU (${software}), 10 to 100 times slower than a GPU: the default run leaves out ${slow} (its cold start alone takes minutes here) and its conv kernels. Tick ${slow} under Presets and VGG8B conv layers under Kernels to add them.`;
  view.sizing.classList.add('software');
  return softwareDefaults();
}

async function init(): Promise<boolean> {
  const probe = await probeWebGpu();
  const defaults = defaultsFor(probe.available ? probe.adapter : undefined);
  let config: BenchConfig;
  try {
    config = configFromQuery(location.search, presetNames, defaults);
  } catch (e) {
    showError(e);
    config = defaults;
  }
  fillForm(config);
  updatePermalink();
  form.run.addEventListener('click', () => void start());
  form.stop.addEventListener('click', stop);
  form.download.addEventListener('click', download);
  form.tune.addEventListener('click', () => void tune());
  form.forget.addEventListener('click', forget);
  byId<HTMLTableCellElement>('tune-ms-head').colSpan = VARIANT_COLUMNS;
  byId<HTMLButtonElement>('error-close').addEventListener('click', () => {
    view.error.hidden = true;
  });
  document.querySelector('.controls')?.addEventListener('input', updatePermalink);
  document.querySelector('.controls')?.addEventListener('change', updatePermalink);
  new ResizeObserver(() => drawCharts()).observe(view.trainingChart);
  drawCharts();

  if (!probe.available) {
    webgpuMissing = true;
    view.missingReason.textContent = `On this page, ${probe.reason}.`;
    view.missing.hidden = false;
    document.body.dataset.webgpu = 'missing';
    setPhase('idle', 'The benchmarks need WebGPU (see above).');
    view.adapter.replaceChildren(
      Object.assign(document.createElement('p'), {
        className: 'empty',
        textContent: 'No WebGPU adapter.',
      }),
    );
    showTuned();
    setBusy(false);
    return false;
  }
  document.body.dataset.webgpu = 'available';
  adapter = probe.adapter;
  renderAdapter(view.adapter, adapter, { active: false });
  // The choices tuned earlier in this browser for this adapter, for every run of the page.
  try {
    const backend = await createBackend('webgpu');
    try {
      installStored(backend);
      if (installed.count > 0)
        view.tuneHint.textContent = `${installed.for.join(', ')} tuned earlier in this browser; Tune measures again`;
    } finally {
      backend.destroy();
    }
  } catch (e) {
    installed = {
      count: 0,
      for: [],
      error: `no device to look them up (${e instanceof Error ? e.message : String(e)})`,
    };
    showTuned();
  }
  setBusy(false);
  if (config.run) void start();
  return true;
}

const ready = init().catch((e) => {
  showError(e);
  return false;
});
window.nitroBench = {
  ready: () => ready.then(() => true),
  report: () => report,
  tuning: () => lastTuning,
};
