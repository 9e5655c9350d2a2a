/**
 * `nitro-d tune` writes the tuned-variant cache (in a temporary NITRO_D_CACHE_DIR, never the
 * user's), and `nitro-d bench` runs with the cached choices of this adapter, or without them
 * under --no-tuned, naming the variant of every op shape.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapterKey, saveTuned } from '../src/bench/tune-cache.ts';
import { trainingGemmShapes } from '../src/bench/tune.ts';
import { defaultVariant, findVariant, variantsOf } from '../src/kernels/gemm-tiles.ts';
import { getPreset } from '../src/model/presets.ts';
import { parseModelSpec } from '../src/model/spec.ts';
import { planFromSpec } from '../src/model/plan.ts';
import { fileTuneStore } from '../src/cli/tune-store.ts';
import { GOLDEN, nitro, requireBuild, stderrLines } from './cli-helpers.ts';
import { webgpu } from './helpers.ts';

describe('nitro-d tune', () => {
  let dir: string;
  const saved = process.env.NITRO_D_CACHE_DIR;
  beforeAll(() => {
    requireBuild();
    dir = mkdtempSync(join(tmpdir(), 'nitro-tune-'));
    process.env.NITRO_D_CACHE_DIR = dir;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.NITRO_D_CACHE_DIR;
    else process.env.NITRO_D_CACHE_DIR = saved;
  });

  it('times every variant of a small model and writes the cache', async () => {
    const model = join(GOLDEN, 'cnn_small_8x8/model.json');
    const r = await nitro([
      'tune',
      '--model',
      model,
      '--batch',
      '3',
      '--reps',
      '1',
      '--all',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const shapes = trainingGemmShapes(
      planFromSpec(parseModelSpec(JSON.parse(readFileSync(model, 'utf8')))),
      3,
    );
    expect(Object.keys(out.choices).sort()).toEqual(shapes.map((s) => s.key).sort());
    for (const row of out.rows) {
      expect(findVariant(row.op, out.choices[row.key]), row.key).toBeDefined();
      expect(Object.keys(row.ms).sort()).toEqual(
        variantsOf(row.op)
          .map((v) => v.label)
          .sort(),
      );
      expect(Object.values(row.ms).every((ms) => typeof ms === 'number')).toBe(true);
    }
    const file = join(dir, 'tuned-variants.json');
    expect(out.cache).toBe(file);
    expect(existsSync(file)).toBe(true);
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    const entries = Object.values(doc.entries) as {
      adapter: string;
      choices: Record<string, string>;
      tuned: string[];
    }[];
    expect(entries.length).toBe(1);
    expect(entries[0].choices).toEqual(out.choices);
    expect(entries[0].tuned).toEqual([`${model} batch 3`]);
    expect(entries[0].adapter).toBe(adapterKey(await webgpu()));
    expect(stderrLines(r.stderr).at(-1)).toBe(`tune: ${shapes.length} choices written to ${file}`);
  });

  it('bench uses the cached choices of this adapter, and not with --no-tuned', async () => {
    const batch = 2;
    const shapes = trainingGemmShapes(planFromSpec(getPreset('mlp1').spec), batch);
    const choices: Record<string, string> = {};
    for (const s of shapes)
      choices[s.key] = variantsOf(s.op).find((v) => v.label !== defaultVariant(s.op).label)!.label;
    saveTuned(
      fileTuneStore(join(dir, 'tuned-variants.json')),
      adapterKey(await webgpu())!,
      choices,
      'test',
    );
    const args = [
      'bench',
      '--preset',
      'mlp1',
      '--batch',
      String(batch),
      '--steps',
      '1',
      '--warmup',
      '0',
      '--kernel-timing',
      'none',
      '--backend',
      'webgpu',
      '--json',
    ];
    const tuned = await nitro(args);
    expect(tuned.code, tuned.stderr).toBe(0);
    expect(stderrLines(tuned.stderr)).toContainEqual(
      expect.stringMatching(/^bench: tuned kernel variants: \d+ op shapes from /),
    );
    const a = JSON.parse(tuned.stdout);
    expect(a.variants.map((v: { key: string }) => v.key).sort()).toEqual(
      Object.keys(choices).sort(),
    );
    for (const v of a.variants)
      expect(v, v.key).toEqual({ key: v.key, variant: choices[v.key], tuned: true });
    const plain = await nitro([...args, '--no-tuned']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).not.toContain('tuned kernel variants');
    for (const v of JSON.parse(plain.stdout).variants) {
      expect(v).toEqual({
        key: v.key,
        variant: defaultVariant(v.key.split(':')[0]).label,
        tuned: false,
      });
    }
  });
});
