/**
 * The memory plan without allocating (plannedTensors), the refusal of models and batches that
 * exceed the adapter's buffer limits with what to shrink (checkFits), and `nitro-d info`
 * printing the plan against the analytic minimum.
 */
import { describe, expect, it } from 'vitest';
import { deviceBytes } from '../src/backend.ts';
import { CpuBackend } from '../src/cpu-backend.ts';
import { getPreset, presetNames } from '../src/model/presets.ts';
import { parseModelSpec } from '../src/model/spec.ts';
import {
  checkFits,
  formatMemoryReport,
  memoryReport,
  minimumBytes,
  plannedScratch,
  plannedTensors,
} from '../src/train/memory.ts';
import { allocateParameters, Network } from '../src/model/network.ts';
import { planFromSpec } from '../src/model/plan.ts';
import { nitro, requireBuild, stderrLines } from './cli-helpers.ts';
import { webgpu } from './helpers.ts';

const MiB = 1 << 20;
/** Buffers and bindings of `bytes` (a larger tensor is refused, not split). */
const limits = (bytes: number) => ({
  maxStorageBufferBindingSize: bytes,
  maxBufferSize: bytes,
});

function refusal(spec: Parameters<typeof checkFits>[0], batch: number, bytes: number): string {
  try {
    checkFits(spec, batch, limits(bytes));
  } catch (e) {
    expect((e as Error).name).toBe('MemoryFitError');
    return (e as Error).message;
  }
  return '';
}

describe('plannedTensors', () => {
  it.each(presetNames.flatMap((name) => [1, 64].map((batch) => [name, batch] as const)))(
    '%s at batch %i: exactly what the engine allocates',
    (name, batch) => {
      const spec = getPreset(name).spec;
      const backend = new CpuBackend();
      // What Model and Model.network allocate (weights left at zero: only sizes matter here).
      const plan = planFromSpec(spec);
      const params = allocateParameters(backend, plan);
      const net = new Network(backend, plan, params, batch);
      const real = [...params.tensors.values(), ...net.activationTensors].map((t) => ({
        label: t.label,
        shape: [...t.shape],
        dtype: t.dtype,
        bytes: deviceBytes(t.shape, t.dtype),
      }));
      const planned = plannedTensors(spec, batch).map((t) => ({ ...t, shape: [...t.shape] }));
      expect(planned).toEqual(real);
      expect(planned.reduce((a, t) => a + t.bytes, 0)).toBe(backend.bytesInUse());
    },
  );

  it('plans a model far too large to allocate without allocating it', () => {
    const spec = parseModelSpec({ input: [1, 28, 28], classes: 10, hidden: [20000, 20000] });
    const planned = plannedTensors(spec, 64);
    expect(planned.find((t) => t.label === 'blocks.1.weight')).toEqual({
      label: 'blocks.1.weight',
      shape: [20000, 20000],
      dtype: 'i32',
      bytes: 1_600_000_000,
    });
  });
});

describe('checkFits', () => {
  it('accepts every preset at its protocol batch within 128 MiB buffers', () => {
    for (const name of ['mlp1', 'mlp2', 'mlp3', 'mlp4', 'cnn-small', 'vgg8b']) {
      const p = getPreset(name);
      expect(refusal(p.spec, p.protocol.batch, 128 * MiB), name).toBe('');
    }
  });

  it.each([
    ['cnn-small', 64, 'features[0] (conv 16 filters of 3x3 on 1x28x28)'],
    ['vgg8b', 64, 'features[1] (conv 256 filters of 3x3 on 128x28x28)'],
    ['mlp2', 4096, 'the input [1, 28, 28]'],
  ] as const)(
    '%s at batch %i: a batch too large is refused with the largest batch that fits',
    (name, batch, field) => {
      const spec = getPreset(name).spec;
      const tensors = plannedTensors(spec, batch);
      const largest = Math.max(...tensors.map((t) => t.bytes));
      const weights = Math.max(...plannedTensors(spec, 1).map((t) => t.bytes));
      // A limit between the batch-independent tensors and the largest one at batch 64.
      const limit = Math.max(weights, Math.floor(largest / 3));
      const message = refusal(spec, batch, limit);
      const m = new RegExp(
        String.raw`^batch ${batch} does not fit the adapter: tensor (\S+) .*; use a batch of at most (\d+) \(--batch \d+\) or shrink (.+)$`,
      ).exec(message);
      expect(m, message).not.toBeNull();
      const [, label, most, shrink] = m!;
      expect(shrink).toBe(field);
      const n = Number(most);
      expect(tensors.find((t) => t.label === label)!.bytes).toBeGreaterThan(limit);
      expect(n).toBeLessThan(batch);
      expect(n).toBeGreaterThanOrEqual(1);
      expect(refusal(spec, n, limit)).toBe('');
      expect(refusal(spec, n + 1, limit)).not.toBe('');
    },
  );

  it('a layer too large even at batch 1 names the spec field to shrink (MLP)', () => {
    const spec = parseModelSpec({ input: [1, 28, 28], classes: 10, hidden: [20000, 20000] });
    expect(refusal(spec, 64, 128 * MiB)).toBe(
      "model does not fit the adapter even at batch 1: tensor blocks.1.weight [20000, 20000] needs 1525.88 MiB, more than the adapter's 128.00 MiB per buffer (maxBufferSize); shrink hidden[1] (20000 wide, 20000 inputs)",
    );
    const first = parseModelSpec({ input: [1, 28, 28], classes: 10, hidden: [50000, 10] });
    expect(refusal(first, 1, 128 * MiB)).toMatch(
      /tensor blocks\.0\.weight \[50000, 784\] .*; shrink hidden\[0\] \(50000 wide, 784 inputs\)$/,
    );
  });

  it('a layer too large even at batch 1 names the spec field to shrink (CNN)', () => {
    const spec = getPreset('vgg8b').spec;
    // The 512x512x3x3 weights (9 MiB) exceed an 8 MiB limit; the 512x256x3x3 ones (4.5 MiB) do not.
    const message = refusal(spec, 1, 8 * MiB);
    const m =
      /even at batch 1: tensor blocks\.(\d+)\.weight \[512, 512, 3, 3\] .*; shrink features\[(\d+)\] \(conv 512 filters of 3x3 on 512x\d+x\d+\)$/.exec(
        message,
      );
    expect(m, message).not.toBeNull();
    const block = Number(m![1]);
    const feature = Number(m![2]);
    const convs = spec.features.map((f, i) => ('conv' in f ? i : -1)).filter((i) => i >= 0);
    expect(convs[block]).toBe(feature);
  });

  it('uses the smaller of the binding and buffer limits', () => {
    const spec = getPreset('mlp2').spec;
    expect(() =>
      checkFits(spec, 64, { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 1000 }),
    ).toThrow(/more than the adapter's 0\.00 MiB/);
  });
});

describe('nitro-d info with a model', () => {
  it.each(['cpu', 'webgpu'])(
    'prints the memory plan against the analytic minimum (%s)',
    async (backend) => {
      requireBuild();
      const spec = getPreset('cnn-small').spec;
      const expected = memoryReport(new CpuBackend(), spec, 32);
      expect(expected.minimumBytes).toBe(minimumBytes(spec, 32));
      const text = await nitro([
        'info',
        '--preset',
        'cnn-small',
        '--batch',
        '32',
        '--backend',
        backend,
      ]);
      expect(text.code, text.stderr).toBe(0);
      expect(stderrLines(text.stderr)).toEqual([]);
      const lines = formatMemoryReport(expected).split('\n');
      // Every line but the last (which names the adapter limit on WebGPU) is printed as is.
      for (const line of lines.slice(0, -1)) expect(text.stdout).toContain(line);
      expect(text.stdout).toMatch(
        /analytic minimum {2}[\d.]+ MiB {2}\(allocated = [\d.]+x minimum\)/,
      );
      const json = await nitro([
        'info',
        '--preset',
        'cnn-small',
        '--batch',
        '32',
        '--backend',
        backend,
        '--json',
      ]);
      expect(json.code, json.stderr).toBe(0);
      const memory = JSON.parse(json.stdout).memory;
      expect(memory.allocatedBytes).toBe(expected.allocatedBytes);
      expect(memory.minimumBytes).toBe(expected.minimumBytes);
      expect(memory.allocatedBytes).toBe(plannedTensors(spec, 32).reduce((a, t) => a + t.bytes, 0));
      if (backend === 'webgpu') {
        expect(memory.bindingLimit).toBe(
          (await webgpu()).device.limits.maxStorageBufferBindingSize,
        );
        const scratch = [...plannedScratch(spec, 32).values()].reduce((a, b) => a + b, 0);
        expect(scratch).toBeGreaterThan(0);
        expect(memory.scratchBytes).toBe(scratch);
        expect(memory.withScratchPercent).toBe(
          Math.floor(((memory.allocatedBytes + scratch) * 100) / memory.minimumBytes),
        );
        expect(text.stdout).toMatch(
          /kernel scratch {4}[\d.]+ MiB \(weight limbs, repacked inputs, raw sums, sparse delta lists; with it [\d.]+x minimum\)/,
        );
      } else {
        expect(memory.scratchBytes).toBe(0);
        expect(text.stdout).not.toContain('kernel scratch');
      }
    },
  );
});
