/**
 * The README's library example runs as written (against the built package, imported by its
 * name): it trains, predicts and writes a checkpoint the CLI's parser accepts.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { parseCheckpoint } from '../src/io/checkpoint.ts';
import { getPreset } from '../src/model/presets.ts';
import { planFromSpec } from '../src/model/plan.ts';

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;
const SAMPLE = join(ROOT, 'demo/public/data/fashion-mnist-sample');

it('examples/quickstart.mjs trains, predicts and saves', { timeout: 300_000 }, async () => {
  if (!existsSync(join(ROOT, 'dist/index.js')))
    throw new Error('dist/index.js missing: run npm run build first');
  const out = join(mkdtempSync(join(tmpdir(), 'nitro-example-')), 'mlp2.safetensors');
  const { stdout } = await run(
    'node',
    ['examples/quickstart.mjs', '--data', SAMPLE, '--limit', '640', '--epochs', '1', '--out', out],
    {
      cwd: ROOT,
      timeout: 280_000,
    },
  );
  expect(stdout).toMatch(
    /^epoch 1: train \d+\.\d\d%, test \d+\.\d\d% \(heads( \d+\.\d\d%){3}\), \d+ images\/s$/m,
  );
  expect(stdout).toMatch(/^predicted( \d){8}$/m);
  expect(stdout).toMatch(/^true {5}( \d){8}$/m);
  const plan = planFromSpec(getPreset('mlp2').spec);
  const ckpt = parseCheckpoint(new Uint8Array(readFileSync(out)), plan.parameters, out);
  expect([...ckpt.tensors.keys()].sort()).toEqual(plan.parameters.map((p) => p.name).sort());
});
