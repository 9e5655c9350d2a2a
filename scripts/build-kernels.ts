/**
 * Assembles src/cpu/kernels.wat with wabt into src/cpu/kernels.wasm.ts: the module's bytes as
 * base64, once importing a plain memory and once a shared one. `--check` only compares (test/cpu-kernels-build.test.ts runs the same comparison).
 *
 *   npx vite-node scripts/build-kernels.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { kernelsModuleSource } from './kernels-source.ts';

const out = resolve(import.meta.dirname, '../src/cpu/kernels.wasm.ts');
const text = await kernelsModuleSource();
if (process.argv.includes('--check')) {
  if (readFileSync(out, 'utf8') !== text) {
    console.error('build-kernels: src/cpu/kernels.wasm.ts is stale; run npm run build:kernels');
    process.exit(1);
  }
} else {
  writeFileSync(out, text);
  console.log(`build-kernels: wrote ${out}`);
}
