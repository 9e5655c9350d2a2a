/**
 * The benchmark page end to end on headless Chromium's SwiftShader adapter: a short run (few
 * steps, no VGG8B, the small kernel layers: a software GPU is slow) must finish with a
 * non-zero number in every cell of every row, and its JSON download must hold the same
 * results with the adapter's details.
 */
import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { saveScreenshot } from './pages/demo-page.ts';

const PRESETS = ['mlp1', 'mlp2', 'cnn-small'];
/** Kernel layers of MLP1 (three linear layers) and VGG8B's first conv, at batch 16. */
const LAYERS = ['mlp1', 'vgg8b conv1'];
const QUERY = `?presets=${PRESETS.join(',')}&steps=2&warmup=1&kernelBatch=16&kernelMs=20&layers=${LAYERS.join(',')}&run=1`;

interface Report {
  adapter?: { vendor: string; architecture: string; features: string[]; limits: Record<string, number> };
  training: { preset: string; batch: number; steps: number; coldMs: number; imagesPerSecond: number; msPerStep: number; gopsPerSecond: number }[];
  tfjs: { preset: string; coldMs: number; imagesPerSecond: number; gflopsPerSecond: number }[];
  kernels?: { rows: { layer: string; op: string; ms: number | null; gops: number | null }[] };
  errors: unknown[];
}

/** The numbers of a results table, row by row (cells that carry data-value). */
async function tableValues(page: Page, body: string): Promise<{ name: string; values: number[]; className: string }[]> {
  return page.locator(`${body} tr`).evaluateAll((rows) =>
    rows.map((r) => ({
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

  // Kernels: forward and weight gradient of each selected layer, GOP per call, ms and GOP/s above zero.
  const kernels = await tableValues(page, '#kernels-body');
  expect(kernels).toHaveLength(2 * 4);
  for (const row of kernels) {
    expect(row.values, row.name).toHaveLength(3);
    for (const v of row.values) expect(v, `${row.name}: ${row.values.join(', ')}`).toBeGreaterThan(0);
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
  expect(report.kernels?.rows).toHaveLength(8);
  for (const k of report.kernels?.rows ?? []) expect(k.gops, `${k.layer} ${k.op}`).toBeGreaterThan(0);

  // Tables and charts as a user sees them.
  await page.evaluate(() => window.scrollTo(0, 0));
  await saveScreenshot(page, 'bench.png');
  console.log(
    [
      ...training.map((r) => `${r.name}: ${r.values.join(' | ')}`),
      ...kernels.map((r) => `${r.name}: ${r.values.join(' | ')}`),
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
});
