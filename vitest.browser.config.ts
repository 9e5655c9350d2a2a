/// <reference types="@vitest/browser/providers/playwright" />
import { defineConfig } from 'vitest/config';

/** The test files that run unchanged in a browser (no node:* imports): WebGPU kernels and the CPU backend. */
const browserTests = ['test/smoke.test.ts', 'test/kernels-*.test.ts', 'test/vectors.test.ts', 'test/cpu-*.test.ts'];

// Chromium suite: the GPU kernel tests in headless Debian Chromium, which always uses its own
// SwiftShader adapter. Browsers are never downloaded: the system's /usr/bin/chromium is used.
export default defineConfig({
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
            executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
            args: [
              '--no-sandbox',
              '--enable-unsafe-webgpu', // without it requestAdapter() returns null
              '--disable-background-networking',
              '--disable-component-update',
              '--disable-sync',
              '--no-first-run',
              '--disable-quic',
            ],
          },
        },
      ],
    },
  },
});
