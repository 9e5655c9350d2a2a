/**
 * `nitro-d bench --json` prints one JSON object with the fields scripts rely on, on both
 * backends, and bad flags stop with one line naming the flag.
 */
import { beforeAll, describe, expect, it } from 'vitest';
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
