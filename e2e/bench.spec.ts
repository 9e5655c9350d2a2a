/**
 * The benchmark page end to end on headless Chromium's SwiftShader adapter: a short run (few
 * steps, no VGG8B, the small kernel layers, every kernel variant: a software GPU is slow) must
 * finish with a non-zero number in every cell of every row, a row for each variant of each
 * layer's op with the fastest highlighted, and its JSON download must hold the same results
 * with the adapter's details.
 */
import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { type GemmOp, variantsOf } from '../src/kernels/gemm-tiles.ts';
import { saveScreenshot } from './pages/demo-page.ts';

const PRESETS = ['mlp1', 'mlp2', 'cnn-small'];
/** Kernel layers of MLP1 (three linear layers) and VGG8B's first conv, at batch 16, every variant. */
const LAYERS = ['mlp1', 'vgg8b conv1'];
const QUERY = `?presets=${PRESETS.join(',')}&steps=2&warmup=1&kernelBatch=16&kernelMs=20&layers=${LAYERS.join(',')}&variants=1&run=1`;
/** The ops timed per kernel layer, and how many rows they make with every variant. */
const LINEAR_OPS: GemmOp[] = ['linear', 'linearInputGrad', 'linearWeightGrad'];
const CONV_OPS: GemmOp[] = ['conv2d', 'conv2dWeightGrad'];
const variantCount = (ops: GemmOp[]) => ops.reduce((n, op) => n + variantsOf(op).length, 0);
const KERNEL_ROWS = 3 * variantCount(LINEAR_OPS) + variantCount(CONV_OPS);

interface Report {
  adapter?: { vendor: string; architecture: string; features: string[]; limits: Record<string, number> };
  training: { preset: string; batch: number; steps: number; coldMs: number; imagesPerSecond: number; msPerStep: number; gopsPerSecond: number }[];
  tfjs: { preset: string; coldMs: number; imagesPerSecond: number; gflopsPerSecond: number }[];
  kernels?: { rows: { layer: string; op: string; variant: string | null; isDefault: boolean; ms: number | null; gops: number | null }[] };
  errors: unknown[];
}

/** The numbers of a results table, row by row (cells that carry data-value). */
async function tableValues(page: Page, body: string): Promise<{ name: string; values: number[]; className: string; data: Record<string, string | undefined> }[]> {
  return page.locator(`${body} tr`).evaluateAll((rows) =>
    rows.map((r) => ({
      data: { ...(r as HTMLTableRowElement).dataset },
      name: Array.from((r as HTMLTableRowElement).cells)
        .slice(0, 2)
        .map((c) => c.textContent)
        .join(' '),
      values: Array.from(r.querySelectorAll<HTMLElement>('td[data-value]')).map((c) => Number(c.dataset.value)),
      className: r.className,
    })),
  );
}

test('the benchmark page completes a short run with non-zero numbers in every row and a JSON download', async ({ page }) => {
  test.setTimeout(300_000);
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto(`/bench.html${QUERY}`);
  await expect(page.locator('#presets input:checked')).toHaveCount(PRESETS.length);
  await expect(page.locator('#variants')).toBeChecked();
  await expect(page.locator('body')).toHaveAttribute('data-phase', /^(done|error)$/, { timeout: 280_000 });
  const errorText = (await page.locator('#error').isVisible()) ? await page.locator('#error-text').textContent() : '';
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
    for (const v of row.values) expect(v, `${row.name}: ${row.values.join(', ')}`).toBeGreaterThan(0);
  }

  // Kernels: forward, input gradient (linear) and weight gradient of each selected layer, once per
  // kernel variant; GOP per call, ms and GOP/s above zero; one default and one fastest per layer's op.
  const kernels = await tableValues(page, '#kernels-body');
  expect(kernels).toHaveLength(KERNEL_ROWS);
  for (const row of kernels) {
    expect(row.values, row.name).toHaveLength(3);
    for (const v of row.values) expect(v, `${row.name} ${row.data.variant}: ${row.values.join(', ')}`).toBeGreaterThan(0);
  }
  const groups = new Map<string, typeof kernels>();
  for (const row of kernels) groups.set(`${row.data.layer}|${row.data.op}`, [...(groups.get(`${row.data.layer}|${row.data.op}`) ?? []), row]);
  expect(groups.size).toBe(3 * LINEAR_OPS.length + CONV_OPS.length);
  for (const [key, rows] of groups) {
    const op = rows[0].data.op as GemmOp;
    expect(rows.map((r) => r.data.variant), key).toEqual(variantsOf(op).map((v) => v.label));
    expect(rows.filter((r) => r.data.default === '1'), key).toHaveLength(1);
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
    for (const v of [t.coldMs, t.imagesPerSecond, t.msPerStep, t.gopsPerSecond]) expect(v, t.preset).toBeGreaterThan(0);
  }
  expect(report.tfjs.map((t) => t.preset)).toEqual(['mlp1', 'mlp2']);
  for (const t of report.tfjs) for (const v of [t.coldMs, t.imagesPerSecond, t.gflopsPerSecond]) expect(v, `tfjs ${t.preset}`).toBeGreaterThan(0);
  expect(report.kernels?.rows).toHaveLength(KERNEL_ROWS);
  for (const k of report.kernels?.rows ?? []) {
    expect(k.gops, `${k.layer} ${k.op} ${k.variant}`).toBeGreaterThan(0);
    expect(k.variant, `${k.layer} ${k.op}`).toMatch(/^t[a-z]\d/);
  }
  expect(report.kernels?.rows.filter((k) => k.isDefault)).toHaveLength(groups.size);

  // Tables and charts as a user sees them.
  await page.evaluate(() => window.scrollTo(0, 0));
  await saveScreenshot(page, 'bench.png');
  console.log(
    [
      ...training.map((r) => `${r.name}: ${r.values.join(' | ')}`),
      ...kernels.map((r) => `${r.name} ${r.data.variant}${r.className.includes('fastest') ? ' (fastest)' : ''}: ${r.values.join(' | ')}`),
    ].join('\n'),
  );
});

test('the benchmark page without WebGPU says what to do and does not offer to run', async ({ page }) => {
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
  await expect(page.locator('body')).toHaveAttribute('data-phase', 'idle');
  // A link that starts a run times the default variants unless it asks for all of them;
  // the page opened to be used offers every variant.
  await expect(page.locator('#variants')).not.toBeChecked();
  await page.goto('/bench.html');
  await page.evaluate(() => window.nitroBench!.ready());
  await expect(page.locator('#variants')).toBeChecked();
});
