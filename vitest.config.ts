import { defineConfig } from 'vitest/config';

// Node suite: every test file, on dawn.node (webgpu package) with a software Vulkan fallback.
// Each forked worker opens its own WebGPU device; two workers keep the two cores (and a
// software adapter's threads) from being oversubscribed.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/deno/**', 'node_modules/**', 'dist/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
  },
});
