/// <reference types="@vitest/browser/providers/playwright" />
import { defineConfig } from 'vitest/config';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './e2e/chromium.ts';
import { ISOLATION_HEADERS } from './vite.config.ts';

/** The test files that run unchanged in a browser (no node:* imports): WebGPU kernels, the CPU backend, IDX inflation. */
const browserTests = [
  'test/smoke.test.ts',
  'test/kernels-*.test.ts',
  'test/vectors.test.ts',
  'test/cpu-*.test.ts',
  'test/idx-stream.test.ts',
];

// Chromium suite: the GPU kernel tests in headless Debian Chromium, which always uses its own
// SwiftShader adapter. Browsers are never downloaded: the system's /usr/bin/chromium is used.
export default defineConfig({
  // Cross-origin isolated, so the CPU backend's threads run here too.
  server: { headers: ISOLATION_HEADERS },
  test: {
    include: browserTests,
    testTimeout: 180_000,
    hookTimeout: 180_000,
    browser: {
      enabled: true,
      provider: 'playwright',
      headless: true,
      ui: false,
      screenshotFailures: false,
      // One WebGPU device at a time: SwiftShader already spreads a dispatch over both cores.
      fileParallelism: false,
      instances: [
        {
          browser: 'chromium',
          launch: {
            executablePath: CHROMIUM_PATH,
            args: CHROMIUM_ARGS,
          },
        },
      ],
    },
  },
});
