import { expect, test } from '@playwright/test';

test('the demo page gets a WebGPU adapter and device', async ({ page }) => {
  await page.goto('/index.html');
  const result = await page.evaluate(async () => {
    if (!navigator.gpu) return { error: 'navigator.gpu is missing' };
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return { error: 'requestAdapter() returned null' };
    const device = await adapter.requestDevice();
    const info = adapter.info;
    const out = {
      vendor: info.vendor,
      architecture: info.architecture,
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
    };
    device.destroy();
    return out;
  });
  console.log(JSON.stringify(result));
  if ('error' in result) throw new Error(result.error);
  expect(result.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
});

test('the benchmark page is served', async ({ page }) => {
  const response = await page.goto('/bench.html');
  expect(response?.status()).toBe(200);
});
