/**
 * How every headless run here starts Debian's Chromium with WebGPU: the Playwright e2e suite,
 * the Vitest browser suite and scripts/bench-chromium.ts.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu', // without it requestAdapter() returns null
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
