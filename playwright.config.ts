import { fileURLToPath } from 'node:url';
import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './e2e/chromium.ts';

const port = Number(process.env.E2E_PORT ?? 4599);
const vite = 'node_modules/.bin/vite';
// Its own build directory: `npm run build` (the library, which the e2e tests' CLI runs use)
// empties dist/, and with it dist/demo, while the pages are being served.
const pages = fileURLToPath(new URL('.cache/e2e-pages', import.meta.url));

// End-to-end tests of the demo pages in headless Debian Chromium (its own SwiftShader WebGPU).
// Browsers are never downloaded: the system's /usr/bin/chromium is used.
export default defineConfig({
  testDir: 'e2e',
  outputDir: 'e2e/artifacts',
  timeout: 180_000,
  workers: 1,
  forbidOnly: Boolean(process.env.CI),
  reporter: [['list'], ['json', { outputFile: 'test-results/e2e.json' }]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_ARGS,
    },
  },
  // The demo build served as it would be deployed; 127.0.0.1 is a secure context.
  webServer: {
    command: `${vite} build --mode demo --logLevel warn --outDir ${pages} && ${vite} preview --mode demo --outDir ${pages} --host 127.0.0.1 --port ${port} --strictPort`,
    url: `http://127.0.0.1:${port}/index.html`,
    reuseExistingServer: false,
    timeout: 180_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
