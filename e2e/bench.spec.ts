/**
 * The benchmark page end to end on headless Chromium's SwiftShader adapter: a short run (few
 * steps, no VGG8B, the small kernel layers, every kernel variant: a software GPU is slow) must
 * finish with a non-zero number in every cell of every row, a row for each variant of each
 * layer's op with the fastest highlighted, and its JSON download must hold the same results
 * with the adapter's details. The tuner: a short tuning of a small model is kept in localStorage
 * for the adapter, installed again after a reload (a training row then runs the tuned variants)
 * and dropped by Forget tuning. On this software adapter the default run leaves VGG8B out (its
 * checkboxes add it); Stop ends a run or a tuning at once, and the page runs again after it.
 */
import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { getPreset } from '../src/model/presets.ts';
import { type GemmOp, variantsOf } from '../src/kernels/gemm-tiles.ts';
import { saveScreenshot } from './pages/demo-page.ts';

const PRESETS = ['mlp1', 'mlp2', 'cnn-small'];
/** Kernel layers of MLP1 (three linear layers) and VGG8B's first conv, at batch 16, every variant. */
const LAYERS = ['mlp1', 'vgg8b conv1'];
const QUERY = `?presets=${PRESETS.join(',')}&steps=2&warmup=1&kernelBatch=16&kernelMs=20&layers=${LAYERS.join(',')}&vggKernels=1&variants=1&run=1`;
/** The ops timed per kernel layer, and how many rows they make with every variant. */
const LINEAR_OPS: GemmOp[] = ['linear', 'linearInputGrad', 'linearWeightGrad'];
const CONV_OPS: GemmOp[] = ['conv2d', 'conv2dWeightGrad'];
const variantCount = (ops: GemmOp[]) => ops.reduce((n, op) => n + variantsOf(op).length, 0);
const KERNEL_ROWS = 3 * variantCount(LINEAR_OPS) + variantCount(CONV_OPS);

interface Report {
  adapter?: {
    vendor: string;
    architecture: string;
    features: string[];
    limits: Record<string, number>;
  };
  training: {
    preset: string;
    batch: number;
    steps: number;
    coldMs: number;
    imagesPerSecond: number;
    msPerStep: number;
    gopsPerSecond: number;
  }[];
  tfjs: { preset: string; coldMs: number; imagesPerSecond: number; gflopsPerSecond: number }[];
  kernels?: {
    rows: {
      layer: string;
      op: string;
      variant: string | null;
      isDefault: boolean;
      ms: number | null;
      gops: number | null;
    }[];
  };
  errors: unknown[];
}

/** The numbers of a results table, row by row (cells that carry data-value). */
async function tableValues(
  page: Page,
  body: string,
): Promise<
  { name: string; values: number[]; className: string; data: Record<string, string | undefined> }[]
> {
  return page.locator(`${body} tr`).evaluateAll((rows) =>
    rows.map((r) => ({
      data: { ...(r as HTMLTableRowElement).dataset },
      name: Array.from((r as HTMLTableRowElement).cells)
        .slice(0, 2)
        .map((c) => c.textContent)
        .join(' '),
      values: Array.from(r.querySelectorAll<HTMLElement>('td[data-value]')).map((c) =>
        Number(c.dataset.value),
      ),
      className: r.className,
    })),
  );
}

test('the benchmark page completes a short run with non-zero numbers in every row and a JSON download', async ({
  page,
}) => {
  test.setTimeout(300_000);
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto(`/bench.html${QUERY}`);
  await expect(page.locator('#presets input:checked')).toHaveCount(PRESETS.length);
  await expect(page.locator('#variants')).toBeChecked();
  await expect(page.locator('body')).toHaveAttribute('data-phase', /^(done|error)$/, {
    timeout: 280_000,
  });
  const errorText = (await page.locator('#error').isVisible())
    ? await page.locator('#error-text').textContent()
    : '';
  expect(errorText, 'error shown by the page').toBe('');
  await expect(page.locator('body')).toHaveAttribute('data-phase', 'done');

  // Training: a nitro-d row per preset and a TF.js row per MLP; batch, steps, cold ms, images/s,
  // ms/step, G(FL)OP/s (and memory for nitro-d), every one above zero.
  const training = await tableValues(page, '#training-body');
  expect(training.map((r) => r.name)).toEqual([
    'mlp1 nitro-d WebGPU int',
    expect.stringMatching(/^mlp1 TF\.js 4\.\d+\.\d+ WebGPU float32$/),
    'mlp2 nitro-d WebGPU int',
    expect.stringMatching(/^mlp2 TF\.js/),
    'cnn-small nitro-d WebGPU int',
  ]);
  for (const row of training) {
    expect(row.className, row.name).not.toMatch(/failed|pending/);
    expect(row.values.length, `${row.name}: numeric cells`).toBeGreaterThanOrEqual(6);
    for (const v of row.values)
      expect(v, `${row.name}: ${row.values.join(', ')}`).toBeGreaterThan(0);
  }

  // Kernels: forward, input gradient (linear) and weight gradient of each selected layer, once per
  // kernel variant; GOP per call, ms and GOP/s above zero; one default and one fastest per layer's op.
  const kernels = await tableValues(page, '#kernels-body');
  expect(kernels).toHaveLength(KERNEL_ROWS);
  for (const row of kernels) {
    expect(row.values, row.name).toHaveLength(3);
    for (const v of row.values)
      expect(v, `${row.name} ${row.data.variant}: ${row.values.join(', ')}`).toBeGreaterThan(0);
  }
  const groups = new Map<string, typeof kernels>();
  for (const row of kernels)
    groups.set(`${row.data.layer}|${row.data.op}`, [
      ...(groups.get(`${row.data.layer}|${row.data.op}`) ?? []),
      row,
    ]);
  expect(groups.size).toBe(3 * LINEAR_OPS.length + CONV_OPS.length);
  for (const [key, rows] of groups) {
    const op = rows[0].data.op as GemmOp;
    expect(
      rows.map((r) => r.data.variant),
      key,
    ).toEqual(variantsOf(op).map((v) => v.label));
    expect(
      rows.filter((r) => r.data.default === '1'),
      key,
    ).toHaveLength(1);
    const fastest = rows.filter((r) => r.className.split(' ').includes('fastest'));
    expect(fastest, key).toHaveLength(1);
    // The ms cell (the second number) of the highlighted row is the smallest of its group.
    expect(fastest[0].values[1], key).toBe(Math.min(...rows.map((r) => r.values[1])));
  }

  // The JSON download: the same results, with the adapter's vendor, architecture, features and limits.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  expect(download.suggestedFilename()).toMatch(/^nitro-d-bench-.*\.json$/);
  const report = JSON.parse(readFileSync(await download.path(), 'utf8')) as Report;
  expect(report.errors).toEqual([]);
  expect(report.adapter?.vendor).toBeTruthy();
  expect(report.adapter?.architecture).toBeTruthy();
  expect(Array.isArray(report.adapter?.features)).toBe(true);
  expect(report.adapter?.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  expect(report.training.map((t) => t.preset)).toEqual(PRESETS);
  for (const t of report.training) {
    expect(t.batch).toBe(64);
    expect(t.steps).toBe(2);
    for (const v of [t.coldMs, t.imagesPerSecond, t.msPerStep, t.gopsPerSecond])
      expect(v, t.preset).toBeGreaterThan(0);
  }
  expect(report.tfjs.map((t) => t.preset)).toEqual(['mlp1', 'mlp2']);
  for (const t of report.tfjs)
    for (const v of [t.coldMs, t.imagesPerSecond, t.gflopsPerSecond])
      expect(v, `tfjs ${t.preset}`).toBeGreaterThan(0);
  expect(report.kernels?.rows).toHaveLength(KERNEL_ROWS);
  for (const k of report.kernels?.rows ?? []) {
    expect(k.gops, `${k.layer} ${k.op} ${k.variant}`).toBeGreaterThan(0);
    expect(k.variant, `${k.layer} ${k.op}`).toMatch(/^(t[a-z]|wg|bm|bf)\d/);
  }
  expect(report.kernels?.rows.filter((k) => k.isDefault)).toHaveLength(groups.size);

  // Tables and charts as a user sees them.
  await page.evaluate(() => window.scrollTo(0, 0));
  await saveScreenshot(page, 'bench.png');
  console.log(
    [
      ...training.map((r) => `${r.name}: ${r.values.join(' | ')}`),
      ...kernels.map(
        (r) =>
          `${r.name} ${r.data.variant}${r.className.includes('fastest') ? ' (fastest)' : ''}: ${r.values.join(' | ')}`,
      ),
    ].join('\n'),
  );
});

test('the benchmark page without WebGPU says what to do and does not offer to run', async ({
  page,
}) => {
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.addInitScript(() => {
    delete (Navigator.prototype as { gpu?: unknown }).gpu;
  });
  await page.goto('/bench.html?run=1');
  await page.evaluate(() => window.nitroBench!.ready());
  const notice = page.locator('#webgpu-missing');
  await expect(notice).toBeVisible();
  await expect(notice).toContainText('WebGPU is not available');
  await expect(notice).toContainText('navigator.gpu is missing');
  await expect(notice).toContainText('--enable-unsafe-webgpu');
  await expect(page.locator('#run')).toBeDisabled();
  await expect(page.locator('#tune')).toBeDisabled();
  await expect(page.locator('#forget')).toBeDisabled();
  await expect(page.locator('#tune-state')).toHaveText('Tuned variants: none (no WebGPU adapter).');
  await expect(page.locator('body')).toHaveAttribute('data-phase', 'idle');
  // A link that starts a run times the default variants unless it asks for all of them;
  // the page opened to be used offers every variant.
  await expect(page.locator('#variants')).not.toBeChecked();
  await page.goto('/bench.html');
  await page.evaluate(() => window.nitroBench!.ready());
  await expect(page.locator('#variants')).toBeChecked();
});

/** The tuner on the page: a small model at a small batch with a short time budget. */
const TUNE_KEY = 'nitro-d.tuned-variants';
const TUNE_QUERY =
  '?presets=mlp1&batch=16&steps=1&warmup=0&tfjs=0&kernels=0&tunePreset=mlp1&tuneBudget=2';

interface TuneDoc {
  format: string;
  entries: Record<
    string,
    { adapter: string; engine: string; choices: Record<string, string>; tuned: string[] }
  >;
}

test('the tuner keeps the fastest variants per adapter in localStorage, the page installs them on load, training uses them, Forget drops them', async ({
  page,
}) => {
  test.setTimeout(300_000);
  await page.setViewportSize({ width: 1400, height: 1000 });
  const stored = async () => {
    const text = await page.evaluate((key) => localStorage.getItem(key), TUNE_KEY);
    return text === null ? null : (JSON.parse(text) as TuneDoc);
  };
  const state = page.locator('#tune-state');

  // A fresh browser: nothing stored, nothing installed, and the page says so.
  await page.goto(`/bench.html${TUNE_QUERY}`);
  await page.evaluate(() => window.nitroBench!.ready());
  await expect(page.locator('#tune-preset')).toHaveValue('mlp1');
  await expect(state).toHaveAttribute('data-count', '0');
  await expect(state).toContainText('Tuned for this adapter: none');
  expect(await stored()).toBeNull();

  await page.click('#tune');
  await expect(page.locator('body')).toHaveAttribute('data-tune', /^(done|error)$/, {
    timeout: 240_000,
  });
  const errorText = (await page.locator('#error').isVisible())
    ? await page.locator('#error-text').textContent()
    : '';
  expect(errorText, 'error shown by the page').toBe('');
  await expect(page.locator('body')).toHaveAttribute('data-tune', 'done');

  // The tuner's result: one row per op shape of the step; the largest, at least, compared across
  // every variant (the budget is checked between shapes); the winners are what was stored.
  const tuning = (await page.evaluate(() => window.nitroBench!.tuning()))!;
  expect(tuning.batch).toBe(16);
  const choices = tuning.choices;
  const keys = Object.keys(choices);
  expect(keys.length).toBeGreaterThanOrEqual(1);
  const rows = await page.locator('#tune-table tr[data-key]').evaluateAll((trs) =>
    trs.map((tr) => ({
      key: (tr as HTMLElement).dataset.key ?? '',
      winner: (tr as HTMLElement).dataset.winner,
      default: (tr as HTMLElement).dataset.default,
      op: (tr.parentElement as HTMLTableSectionElement).dataset.op,
      ms: Array.from(tr.querySelectorAll<HTMLElement>('td[data-variant]')).map((td) => ({
        variant: td.dataset.variant,
        value: td.dataset.value,
        win: td.classList.contains('win'),
      })),
    })),
  );
  expect(rows.map((r) => r.key).sort()).toEqual(tuning.rows.map((r) => r.key).sort());
  for (const row of rows) {
    const op = row.op as GemmOp;
    expect(row.key.startsWith(`${op}:16x`), row.key).toBe(true);
    expect(
      row.ms.map((m) => m.variant),
      row.key,
    ).toEqual(variantsOf(op).map((v) => v.label));
    if (!(row.key in choices)) continue;
    // A compared shape: every variant timed, the winner's cell marked and the one stored.
    expect(row.winner, row.key).toBe(choices[row.key]);
    for (const m of row.ms) expect(Number(m.value), `${row.key} ${m.variant}`).toBeGreaterThan(0);
    expect(
      row.ms.filter((m) => m.win).map((m) => m.variant),
      row.key,
    ).toEqual([choices[row.key]]);
  }

  const doc = (await stored())!;
  expect(doc.format).toBe('nitro-d tuned variants');
  const entries = Object.values(doc.entries);
  expect(entries).toHaveLength(1);
  expect(entries[0].adapter).toMatch(/ \| browser$/);
  expect(entries[0].tuned).toEqual(['mlp1 batch 16']);
  expect(entries[0].choices).toEqual(choices);
  for (const [key, label] of Object.entries(entries[0].choices)) {
    expect(
      variantsOf(key.split(':')[0] as GemmOp).map((v) => v.label),
      key,
    ).toContain(label);
  }
  const shown = `${keys.length} op shape${keys.length === 1 ? '' : 's'}`;
  await expect(state).toHaveAttribute('data-count', String(keys.length));
  await expect(state).toContainText(`Tuned for this adapter: ${shown} (mlp1 batch 16)`);
  await saveScreenshot(page, 'bench-tune.png');

  // A reload installs them again from localStorage, and a training row runs with them.
  await page.reload();
  await page.evaluate(() => window.nitroBench!.ready());
  await expect(state).toHaveAttribute('data-count', String(keys.length));
  await expect(state).toContainText(`Tuned for this adapter: ${shown} (mlp1 batch 16)`);
  await expect(page.locator('#tune-hint')).toContainText('tuned earlier in this browser');
  await page.click('#run');
  await expect(page.locator('body')).toHaveAttribute('data-phase', /^(done|error)$/, {
    timeout: 120_000,
  });
  await expect(page.locator('body')).toHaveAttribute('data-phase', 'done');
  const report = (await page.evaluate(() => window.nitroBench!.report()))!;
  expect(report.tuned.choices).toEqual(choices);
  const variants = report.training[0].variants;
  expect(variants.map((v) => v.key).sort()).toEqual(rows.map((r) => r.key).sort());
  expect(
    variants
      .filter((v) => v.tuned)
      .map((v) => v.key)
      .sort(),
  ).toEqual([...keys].sort());
  for (const v of variants)
    expect(v.variant, v.key).toBe(
      v.tuned ? choices[v.key] : rows.find((r) => r.key === v.key)?.default,
    );
  const cell = page.locator('#training-body tr[data-engine="nitro-d"] td.variants');
  await expect(cell).toHaveAttribute('data-tuned', String(keys.length));
  await expect(cell.locator('summary')).toHaveText(`${keys.length} of ${variants.length} tuned`);
  await expect(cell.locator('li.tuned')).toHaveCount(keys.length);
  await saveScreenshot(page, 'bench-tuned.png');

  // Forget: the entry goes, the defaults are back, and a reload finds nothing to install.
  await page.click('#forget');
  await expect(state).toHaveAttribute('data-count', '0');
  await expect(state).toContainText('Tuned for this adapter: none');
  expect((await stored())?.entries).toEqual({});
  await page.reload();
  await page.evaluate(() => window.nitroBench!.ready());
  await expect(state).toHaveAttribute('data-count', '0');
  await expect(state).toContainText('Tuned for this adapter: none');

  // A stored document that is not JSON is ignored with its reason, and Forget removes it.
  await page.evaluate((key) => localStorage.setItem(key, '{ not json'), TUNE_KEY);
  await page.reload();
  await page.evaluate(() => window.nitroBench!.ready());
  await expect(state).toHaveClass(/\bbad\b/);
  await expect(state).toContainText(
    `Tuned variants ignored: tuned variants localStorage['${TUNE_KEY}']: not JSON`,
  );
  await expect(state).toHaveAttribute('data-count', '0');
  await page.click('#forget');
  await expect(state).toContainText('Tuned for this adapter: none');
  await expect(state).not.toHaveClass(/\bbad\b/);
  expect(await stored()).toBeNull();
});

/** The presets' checkboxes that are ticked. */
function checkedPresets(page: Page): Promise<string[]> {
  return page
    .locator('#presets input:checked')
    .evaluateAll((boxes) => boxes.map((b) => (b as HTMLInputElement).value));
}

test('on a software adapter the default run leaves VGG8B out, and its checkboxes add it back', async ({
  page,
}) => {
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto('/bench.html');
  await page.evaluate(() => window.nitroBench!.ready());
  // Headless Chromium's adapter is SwiftShader (a fallback adapter): the page says so.
  await expect(page.locator('body')).toHaveAttribute('data-adapter', 'software');
  await expect(page.locator('#adapter')).toContainText('on the CPU (SwiftShader)');
  const sizing = page.locator('#sizing');
  await expect(sizing).toContainText('renders on the CPU (SwiftShader)');
  await expect(sizing).toContainText('leaves out vgg8b');
  await expect(sizing).toContainText(
    'Tick vgg8b under Presets and VGG8B conv layers under Kernels',
  );
  expect(await checkedPresets(page)).toEqual(['mlp1', 'mlp2', 'cnn-small']);
  await expect(page.locator('#presets input[value="vgg8b"]')).not.toBeChecked();
  await expect(page.locator('#presets input[value="vgg8b"]')).toBeEnabled();
  await expect(page.locator('#vgg-kernels')).not.toBeChecked();
  await expect(page.locator('#kernels')).toBeChecked();
  // The link names the smaller set, so it asks for the same run on a hardware adapter.
  const link = page.locator('#permalink');
  await expect(link).toHaveAttribute(
    'href',
    './bench.html?presets=mlp1%2Cmlp2%2Ccnn-small&vggKernels=0',
  );
  // The checkboxes add VGG8B back: the link is then the full default, an empty query.
  await page.check('#presets input[value="vgg8b"]');
  await page.check('#vgg-kernels');
  await expect(link).toHaveAttribute('href', './bench.html');
  // A link that asks for VGG8B gets it on this adapter too.
  await page.goto('/bench.html?presets=vgg8b&vggKernels=1');
  await page.evaluate(() => window.nitroBench!.ready());
  expect(await checkedPresets(page)).toEqual(['vgg8b']);
  await expect(page.locator('#vgg-kernels')).toBeChecked();
});

test('Stop ends the default run at once, keeps the rows measured so far, and the page runs again', async ({
  page,
}) => {
  test.setTimeout(300_000);
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto('/bench.html');
  await page.evaluate(() => window.nitroBench!.ready());
  await expect(page.locator('#stop')).toBeDisabled();
  await page.click('#run');
  await expect(page.locator('body')).toHaveAttribute('data-phase', 'running');
  await expect(page.locator('#stop')).toBeEnabled();
  await expect(page.locator('#run')).toBeDisabled();
  // The default kernel layers on this adapter: the MLPs' (each shape once), none of VGG8B's.
  const shapes = new Set<string>();
  for (const name of ['mlp1', 'mlp2']) {
    const spec = getPreset(name).spec;
    const widths = [784, ...spec.hidden, spec.classes];
    for (let i = 1; i < widths.length; i++) shapes.add(`${widths[i - 1]}x${widths[i]}`);
  }
  const mlpLayers = shapes.size;
  await expect(page.locator('#kernel-hint')).toHaveText(
    `batch 64, ${mlpLayers} layers, every kernel variant`,
  );
  const rows = page.locator('#training-body tr');
  expect(
    await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.preset)),
  ).toEqual(['mlp1', 'mlp1', 'mlp2', 'mlp2', 'cnn-small']);

  // Stop while MLP2 trains, after MLP1's rows are in.
  await expect(page.locator('#status')).toContainText('mlp2 on nitro-d', { timeout: 120_000 });
  const stopMs = await page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const t0 = performance.now();
        new MutationObserver((_, observer) => {
          if (document.body.dataset.phase === 'running') return;
          observer.disconnect();
          resolve(performance.now() - t0);
        }).observe(document.body, { attributes: true, attributeFilter: ['data-phase'] });
        document.getElementById('stop')!.click();
      }),
  );
  console.log(`Stop to the stopped state: ${stopMs.toFixed(0)} ms`);
  expect(stopMs, 'milliseconds from Stop to the stopped state').toBeLessThan(1000);
  await expect(page.locator('body')).toHaveAttribute('data-phase', 'stopped');
  await expect(page.locator('#status')).toHaveText(
    /^Stopped after [\d.]+ s: \d+ results? so far; the rest was not measured\. Download the JSON to keep them\.$/,
  );
  await expect(page.locator('#error')).toBeHidden();
  // Buttons and fields are back as before a run.
  await expect(page.locator('#stop')).toBeDisabled();
  for (const id of ['#run', '#tune', '#forget', '#download', '#batch', '#kernels', '#vgg-kernels'])
    await expect(page.locator(id), id).toBeEnabled();
  for (const box of await page.locator('#presets input').all()) await expect(box).toBeEnabled();
  // The rows measured keep their numbers; the others say they were stopped, none is pending.
  const table = await rows.evaluateAll((trs) =>
    trs.map((tr) => ({
      preset: (tr as HTMLElement).dataset.preset,
      className: tr.className,
      values: Array.from(tr.querySelectorAll<HTMLElement>('td[data-value]'), (td) =>
        Number(td.dataset.value),
      ),
      text: tr.textContent ?? '',
    })),
  );
  const measured = table.filter((r) => !r.className.includes('stopped'));
  const stopped = table.filter((r) => r.className.includes('stopped'));
  expect(measured.map((r) => r.preset).slice(0, 2)).toEqual(['mlp1', 'mlp1']);
  expect(stopped.length, 'rows left unmeasured').toBeGreaterThanOrEqual(1);
  expect(stopped.at(-1)?.preset).toBe('cnn-small');
  for (const r of table) expect(r.className, r.text).not.toMatch(/pending|failed/);
  for (const r of measured) {
    expect(r.values.length, r.text).toBeGreaterThanOrEqual(6);
    for (const v of r.values) expect(v, r.text).toBeGreaterThan(0);
  }
  for (const r of stopped) expect(r.text).toContain('stopped');
  await expect(page.locator('#kernels-body tr')).toHaveCount(0);
  const report = (await page.evaluate(() => window.nitroBench!.report()))!;
  expect(report.stopped).toBe(true);
  expect(report.errors).toEqual([]);
  expect(report.training.length + report.tfjs.length).toBe(measured.length);
  expect(report.training[0].preset).toBe('mlp1');

  // A new run after the stop: a short one, to the end.
  for (const p of ['mlp2', 'cnn-small']) await page.uncheck(`#presets input[value="${p}"]`);
  await page.uncheck('#tfjs');
  await page.uncheck('#kernels');
  await page.fill('#steps', '2');
  await page.click('#run');
  await expect(page.locator('body')).toHaveAttribute('data-phase', /^(done|error|stopped)$/, {
    timeout: 180_000,
  });
  await expect(page.locator('body')).toHaveAttribute('data-phase', 'done');
  await expect(page.locator('#status')).toContainText('Done: 1 result in');
  await expect(page.locator('#stop')).toBeDisabled();
  await expect(page.locator('#run')).toBeEnabled();
  const again = (await page.evaluate(() => window.nitroBench!.report()))!;
  expect(again.stopped).toBeUndefined();
  expect(again.training.map((t) => [t.preset, t.steps])).toEqual([['mlp1', 2]]);
  expect(again.training[0].imagesPerSecond).toBeGreaterThan(0);
  await expect(page.locator('#training-body tr')).toHaveCount(1);

  // Stop ends a tuning too, and keeps nothing of it.
  await page.click('#tune');
  await expect(page.locator('body')).toHaveAttribute('data-tune', 'running');
  await page.click('#stop');
  await expect(page.locator('body')).toHaveAttribute('data-tune', 'stopped');
  await expect(page.locator('body')).toHaveAttribute('data-phase', 'stopped');
  await expect(page.locator('#status')).toContainText('stopped: nothing saved');
  await expect(page.locator('#tune')).toBeEnabled();
  await expect(page.locator('#stop')).toBeDisabled();
  expect(await page.evaluate(() => localStorage.getItem('nitro-d.tuned-variants'))).toBeNull();
  expect(await page.evaluate(() => window.nitroBench!.tuning())).toBeUndefined();
});
