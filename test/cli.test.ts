/**
 * The command line as docs/contract.md §4 fixes it: `step` and `predict` write the reference's bytes
 * on both backends (bad input: cli-bad-input.test.ts).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '../src/io/safetensors.ts';
import { GOLDEN, nitro, requireBuild, stderrLines } from './cli-helpers.ts';
import { expectSameElements } from './helpers.ts';

describe('nitro-d step / predict', () => {
  let dir: string;
  beforeAll(() => {
    requireBuild();
    dir = mkdtempSync(join(tmpdir(), 'nitro-cli-'));
  });

  const g = (c: string, f: string) => join(GOLDEN, c, f);

  it.each(['micro_mlp_step', 'cnn_small_8x8'])(
    '%s: step writes the expected weights on both backends, same bytes',
    async (name) => {
      const outs: Uint8Array[] = [];
      for (const backend of ['webgpu', 'cpu']) {
        const out = join(dir, `${name}-${backend}.safetensors`);
        const r = await nitro([
          'step',
          '--model',
          g(name, 'model.json'),
          '--weights',
          g(name, 'init.safetensors'),
          '--batches',
          g(name, 'batches.safetensors'),
          '--out',
          out,
          '--backend',
          backend,
        ]);
        expect(r.code, r.stderr).toBe(0);
        expect(stderrLines(r.stderr), r.stderr).toEqual([]);
        outs.push(new Uint8Array(readFileSync(out)));
      }
      expect(Buffer.compare(outs[0], outs[1])).toBe(0);
      const expected = parseSafetensors(
        new Uint8Array(readFileSync(g(name, 'expected.safetensors'))),
      ).tensors;
      const got = parseSafetensors(outs[0]).tensors;
      for (const [tensor, t] of expected) expectSameElements(got.get(tensor)!.data, t.data, tensor);
    },
  );

  it('predict writes logits and every head on both backends, same bytes', async () => {
    const name = 'cnn_small_8x8';
    const outs: Uint8Array[] = [];
    for (const backend of ['webgpu', 'cpu']) {
      const out = join(dir, `predict-${backend}.safetensors`);
      const r = await nitro([
        'predict',
        '--model',
        g(name, 'model.json'),
        '--weights',
        g(name, 'expected.safetensors'),
        '--input',
        g(name, 'predict-input.safetensors'),
        '--out',
        out,
        '--backend',
        backend,
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(stderrLines(r.stderr), r.stderr).toEqual([]);
      outs.push(new Uint8Array(readFileSync(out)));
    }
    expect(Buffer.compare(outs[0], outs[1])).toBe(0);
    const expected = parseSafetensors(
      new Uint8Array(readFileSync(g(name, 'expected-predict.safetensors'))),
    ).tensors;
    const got = parseSafetensors(outs[0]).tensors;
    expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [tensor, t] of expected) expectSameElements(got.get(tensor)!.data, t.data, tensor);
  });
});

describe('nitro-d eval --help', () => {
  it('names every flag eval accepts', async () => {
    requireBuild();
    const r = await nitro(['eval', '--help']);
    expect(r.code, r.stderr).toBe(0);
    for (const flag of [
      '--preset',
      '--model',
      '--weights',
      '--dataset',
      '--data',
      '--test-limit',
      '--train-limit',
      '--seed',
      '--backend',
      '--json',
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });
});
