/**
 * The CPU kernels ship as src/cpu/kernels.wasm.ts, assembled from src/cpu/kernels.wat: the file
 * checked in is what assembling the WAT gives now (`npm run build:kernels` regenerates it).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kernelsModuleSource } from '../scripts/kernels-source.ts';

describe('src/cpu/kernels.wasm.ts', () => {
  it('is current with src/cpu/kernels.wat (run npm run build:kernels when this fails)', async () => {
    const checkedIn = readFileSync(
      resolve(import.meta.dirname, '../src/cpu/kernels.wasm.ts'),
      'utf8',
    );
    expect(checkedIn).toBe(await kernelsModuleSource());
  });
});
