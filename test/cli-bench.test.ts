/**
 * `nitro-d bench --json` prints one JSON object with the fields scripts rely on, on both
 * backends, and bad flags stop with one line naming the flag.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPreset } from '../src/model/presets.ts';
import { nitro, requireBuild, stderrLines } from './cli-helpers.ts';

describe('nitro-d bench', () => {
  beforeAll(() => requireBuild());

  for (const backend of ['webgpu', 'cpu'] as const) {
    it(`--json on ${backend}: one object with the throughput, the preset, batch, backend and adapter`, async () => {
      const r = await nitro([
        'bench',
        '--preset',
        'mlp1',
        '--batch',
        '8',
        '--steps',
        '2',
        '--warmup',
        '1',
        '--kernel-timing',
        'none',
        '--no-tuned',
        '--backend',
        backend,
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      const out = JSON.parse(lines[0]);
      expect(out.preset).toBe('mlp1');
      expect(out.batch).toBe(8);
      expect(out.backend).toBe(backend);
      expect(typeof out.adapter).toBe('string');
      expect(out.adapter.length).toBeGreaterThan(0);
      expect(out.imagesPerSecond).toBeGreaterThan(0);
      expect(out.steps).toBe(2);
      // 2 x multiply-adds of MLP1 (784-100-50-10 plus heads) at batch 8 is fixed by the geometry.
      expect(out.opsPerStep).toBeGreaterThan(2 * 8 * (784 * 100 + 100 * 50 + 50 * 10));
      expect(out.memory.bytesInUse).toBeGreaterThanOrEqual(out.memory.minimumBytes);
    });
  }

  describe('--weights', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nitro-bench-weights-'));
    const file = (name: string) => join(dir, name);
    const quick = ['--batch', '4', '--steps', '1', '--warmup', '0', '--kernel-timing', 'none'];

    beforeAll(async () => {
      // The same shapes as mlp1 with another NITRO-ReLU slope: only its spec tells it apart.
      const other = { ...getPreset('mlp1').spec, negativeSlopeInv: 8 };
      writeFileSync(file('slope8.json'), JSON.stringify(other));
      for (const args of [
        ['--preset', 'mlp1', '--out', file('mlp1.safetensors')],
        ['--preset', 'mlp2', '--out', file('mlp2.safetensors')],
        ['--model', file('slope8.json'), '--out', file('slope8.safetensors')],
      ]) {
        const r = await nitro(['init', ...args]);
        expect(r.code, r.stderr).toBe(0);
      }
    });

    it("benches from the checkpoint's weights and reports the file", async () => {
      const ckpt = file('mlp1.safetensors');
      const r = await nitro(['bench', '--preset', 'mlp1', ...quick, '--weights', ckpt, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim());
      expect(out.weights).toEqual({ kind: 'given', source: ckpt });
      const text = await nitro(['bench', '--preset', 'mlp1', ...quick, '--weights', ckpt]);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain(`weights      from ${ckpt}`);
      const fresh = await nitro(['bench', '--preset', 'mlp1', ...quick, '--seed', '3']);
      expect(fresh.stdout).toContain('weights      seeded integer Kaiming (seed 3)');
    });

    it("refuses another model's checkpoint with one line naming the file", async () => {
      const cases: [string, RegExp][] = [
        ['mlp2.safetensors', /tensor blocks\.0\.\S+ has shape \[\d+(, \d+)*\], expected/],
        ['slope8.safetensors', /its model differs from the preset's at model\.negativeSlopeInv$/],
        ['absent.safetensors', /no such file/],
      ];
      for (const [name, message] of cases) {
        const r = await nitro(['bench', '--preset', 'mlp1', ...quick, '--weights', file(name)]);
        expect(r.code, name).not.toBe(0);
        const lines = stderrLines(r.stderr);
        expect(lines, name).toHaveLength(1);
        expect(lines[0]).toContain(file(name));
        expect(lines[0]).toMatch(message);
      }
    });
  });

  it('--workers 2 --rounds 2: every configuration measured twice in turns, the median row of each', async () => {
    const r = await nitro(
      ['bench', '--preset', 'mlp1', '--batch', '8', '--steps', '2', '--warmup', '1'].concat([
        '--workers',
        '2',
        '--rounds',
        '2',
        '--json',
      ]),
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out.rounds).toBe(2);
    expect(out.rows.map((x: { config: string }) => x.config)).toEqual([
      '1 device',
      '1 worker',
      '2 workers',
    ]);
    for (const x of out.rows) {
      expect(x.roundsImagesPerSecond).toHaveLength(2);
      // Of two rounds the median is the slower one.
      expect(x.imagesPerSecond).toBe(Math.min(...x.roundsImagesPerSecond));
    }
    expect(stderrLines(r.stderr)).toContain('bench: 2 workers (round 2 of 2)');
  });

  it('refuses --rounds without --workers with one line naming the flag', async () => {
    const r = await nitro(['bench', '--preset', 'mlp1', '--rounds', '2']);
    expect(r.code).not.toBe(0);
    const lines = stderrLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/--rounds goes with --workers/);
  });

  it('rejects an unknown --kernel-timing with one line naming the flag', async () => {
    const r = await nitro(['bench', '--preset', 'mlp1', '--kernel-timing', 'fast']);
    expect(r.code).not.toBe(0);
    const lines = stderrLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /--kernel-timing must be one of auto, timestamps, solo, none, got 'fast'/,
    );
  });

  for (const command of ['bench-kernels', 'tune']) {
    it(`${command} rejects an unknown --timing with one line naming the flag`, async () => {
      const r = await nitro([command, '--timing', 'fast']);
      expect(r.code).toBe(2);
      expect(stderrLines(r.stderr)).toEqual([
        `nitro-d ${command}: --timing must be one of auto, timestamps, solo, got 'fast'`,
      ]);
    });
  }
});

describe('nitro-d bench-kernels --traffic', () => {
  beforeAll(() => requireBuild());

  it('every variant of every op of a layer, bytes per multiply-add from the models, no timing', async () => {
    const r = await nitro(['bench-kernels', '--traffic', '--filter', 'mlp2 fc1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.batch).toBe(64);
    expect(out.results).toBeUndefined();
    const { gemmTraffic, variantsOf } = await import('../src/index.ts');
    const rows = out.traffic as {
      layer: string;
      op: 'linear' | 'linearInputGrad' | 'linearWeightGrad';
      variant: string;
      dims: number[];
      readBytes: number;
      readPerMac: number;
      hardwareDefault: boolean;
    }[];
    for (const op of ['linear', 'linearInputGrad', 'linearWeightGrad'] as const) {
      const mine = rows.filter((x) => x.op === op);
      expect(mine.map((x) => x.variant)).toEqual(variantsOf(op).map((v) => v.label));
      for (const x of mine) {
        expect(x.dims).toEqual([64, 784, 200]);
        const v = variantsOf(op).find((c) => c.label === x.variant)!;
        expect(x.readBytes).toBe(
          gemmTraffic(op, x.dims, v, op === 'linear' ? { epilogue: 'relu' } : {}).readBytes,
        );
      }
      // The hardware default is a tiled variant within the K >= 256 target.
      const hw = mine.filter((x) => x.hardwareDefault);
      expect(hw).toHaveLength(1);
      expect(hw[0].variant).toMatch(/^wg/);
      expect(hw[0].readPerMac).toBeLessThanOrEqual(0.25);
    }
  });
});
