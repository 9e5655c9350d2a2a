/**
 * The benchmark harness on both backends: two steps of MLP1 at batch 8 give a complete result
 * (positive rates, the step's cost from the geometry, memory, per-kernel times whose operation
 * counts add up to the step's), and the kernel microbenchmarks time every layer they list.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import {
  benchKernels,
  benchTraining,
  fastestVariantRows,
  formatKernelBench,
  type KernelShape,
  kernelBenchRowCount,
  kernelOpsOf,
  paperKernelShapes,
  type TrainingBenchResult,
} from '../src/bench/index.ts';
import { variantsOf } from '../src/kernels/gemm-tiles.ts';
import { WebGPUBackend } from '../src/gpu/webgpu-backend.ts';
import { trainingStepOps } from '../src/model/geometry.ts';
import { getPreset } from '../src/model/presets.ts';
import { planFromSpec } from '../src/model/plan.ts';
import { minimumBytes } from '../src/train/memory.ts';
import { cpu } from './helpers.ts';

let gpu: Promise<WebGPUBackend> | undefined;
/** A device with timestamp queries when the adapter has them. */
function webgpu(): Promise<WebGPUBackend> {
  gpu ??= WebGPUBackend.create({ timestamps: true });
  return gpu;
}

function expectComplete(r: TrainingBenchResult, backend: Backend): void {
  const json = JSON.parse(JSON.stringify(r)) as Record<string, unknown>;
  for (const field of [
    'imagesPerSecond',
    'preset',
    'batch',
    'backend',
    'adapter',
    'coldMs',
    'msPerStep',
    'opsPerStep',
    'gopsPerSecond',
    'memory',
    'kernels',
  ]) {
    expect(json, field).toHaveProperty(field);
  }
  expect(r.preset).toBe('mlp1');
  expect(r.batch).toBe(8);
  expect(r.steps).toBe(2);
  expect(r.backend).toBe(backend.kind);
  expect(r.adapter).toBe(backend.description);
  for (const v of [r.imagesPerSecond, r.msPerStep, r.gopsPerSecond, r.coldMs, r.kernelMsPerStep])
    expect(v).toBeGreaterThan(0);
  const plan = planFromSpec(getPreset('mlp1').spec);
  expect(r.opsPerStep).toBe(trainingStepOps(plan.geometry, 8));
  expect(Number.isInteger(r.opsPerStep)).toBe(true);
  expect(r.memory.minimumBytes).toBe(minimumBytes(getPreset('mlp1').spec, 8));
  expect(r.memory.bytesInUse).toBeGreaterThanOrEqual(r.memory.minimumBytes);
  // The dot4 forward splits the weights into limbs in kernel scratch (WebGPU only). Scratch is
  // per device, so a step recorded after another one may add nothing.
  if (backend instanceof WebGPUBackend) {
    expect(r.memory.scratchBytes).toBeGreaterThanOrEqual(0);
    expect(backend.scratchBytes()).toBeGreaterThanOrEqual(r.memory.scratchBytes);
    expect(backend.scratchBytes()).toBeGreaterThan(0);
  } else expect(r.memory.scratchBytes).toBe(0);
  expect(r.memory.dataBytes).toBeGreaterThan(0);
  // Every op call of the step is timed; the matrix ops' counts add up to the geometry's cost.
  expect(r.kernels.length).toBeGreaterThan(0);
  expect(r.kernels.reduce((a, k) => a + k.ops, 0)).toBe(r.opsPerStep);
  expect(r.calls.reduce((a, c) => a + c.ops, 0)).toBe(r.opsPerStep);
  for (const k of r.kernels) {
    expect(k.ms, k.name).toBeGreaterThan(0);
    if (k.ops > 0) expect(k.gops, k.name).toBeGreaterThan(0);
  }
  const names = r.kernels.map((k) => k.name).join(' ');
  expect(names).toMatch(/linear/);
}

describe('benchTraining', () => {
  it('webgpu: mlp1, 2 steps at batch 8', async () => {
    const b = await webgpu();
    const r = await benchTraining(b, { preset: 'mlp1', batch: 8, steps: 2, warmup: 1 });
    expectComplete(r, b);
    expect(r.kernelTiming).toBe(b.hasTimestamps ? 'timestamps' : 'solo');
    if (b.hasTimestamps) expect(r.kernelReps).toBe(3);
    // Every dispatch of the step belongs to one op call (the dot4 forward packs its weights first).
    expect(r.kernels.reduce((a, k) => a + k.dispatches, 0)).toBe(r.dispatchesPerStep);
    expect(r.dispatchesPerStep).toBeGreaterThan(r.calls.length);
  });

  it('webgpu: per-kernel timing by solo replays gives the same kernels', async () => {
    const b = await webgpu();
    const r = await benchTraining(b, {
      preset: 'mlp1',
      batch: 8,
      steps: 2,
      warmup: 0,
      kernelTiming: 'solo',
    });
    expectComplete(r, b);
    expect(r.kernelTiming).toBe('solo');
  });

  it('cpu: mlp1, 2 steps at batch 8', async () => {
    const b = await cpu();
    const r = await benchTraining(b, { preset: 'mlp1', batch: 8, steps: 2, warmup: 1 });
    expectComplete(r, b);
    expect(r.kernelTiming).toBe('solo');
    expect(r.kernels.map((k) => k.name)).toContain('linearWeightGrad');
  });

  it('leaves nothing allocated behind', async () => {
    const b = await cpu();
    const before = b.bytesInUse();
    await benchTraining(b, {
      preset: 'cnn-small',
      batch: 4,
      steps: 1,
      warmup: 0,
      kernelTiming: 'none',
    });
    expect(b.bytesInUse()).toBe(before);
  });

  it('rejects a bad step count with the field named', async () => {
    const b = await cpu();
    await expect(benchTraining(b, { preset: 'mlp1', steps: 0 })).rejects.toThrow(/steps/);
  });
});

describe('benchKernels', () => {
  it('lists the paper layer shapes once each', () => {
    const shapes = paperKernelShapes(64);
    const layers = shapes.map((s) => s.layer);
    expect(layers).toContain('mlp1 fc1');
    expect(layers.some((l) => l.includes('mlp1 fc2') && l.includes('mlp2 fc3'))).toBe(true);
    const convs = shapes.filter((s) => s.kind === 'conv');
    expect(
      convs.map((s) => (s.kind === 'conv' ? `${s.channels}>${s.filters}@${s.height}` : '')),
    ).toEqual(['1>128@28', '128>256@28', '256>256@14', '256>512@14', '512>512@7', '512>512@3']);
  });

  it.each(['webgpu', 'cpu'])(
    '%s: times forward, input and weight gradient of small layers, the default variant only',
    async (kind) => {
      const b = kind === 'webgpu' ? await webgpu() : await cpu();
      const shapes = paperKernelShapes(8).filter((s) => s.layer.startsWith('mlp1'));
      const r = await benchKernels(b, shapes, { targetMs: 5, maxReps: 5 });
      expect(r.rows.length).toBe(3 * shapes.length);
      expect(kernelBenchRowCount(shapes, { webgpu: kind === 'webgpu' })).toBe(r.rows.length);
      for (const row of r.rows) {
        expect(row.ms, row.layer).toBeGreaterThan(0);
        expect(row.gops, row.layer).toBeGreaterThan(0);
        expect(row.ops).toBe(
          2 *
            8 *
            (row.layer.includes('fc1')
              ? 784 * 100
              : row.layer.includes('fc2')
                ? 100 * 50
                : 50 * 10),
        );
        expect(row.isDefault).toBe(true);
        if (kind === 'cpu') expect(row.variant).toBeNull();
        else {
          const s = shapes.find((x) => x.layer === row.layer)!;
          const dims = s.kind === 'linear' ? [s.batch, s.inFeatures, s.outFeatures] : [];
          expect(row.variant).toBe((b as WebGPUBackend).variants.choose(row.op, dims).label);
        }
      }
      expect(r.rows.map((row) => row.op)).toEqual(
        shapes.flatMap(() => ['linear', 'linearInputGrad', 'linearWeightGrad']),
      );
      expect(fastestVariantRows(r.rows).size).toBe(0);
    },
  );

  it('webgpu: with variants, times every variant of every GEMM op once, one of them the default', async () => {
    const b = await webgpu();
    const shapes: KernelShape[] = [
      { kind: 'linear', layer: 'tiny fc', batch: 4, inFeatures: 40, outFeatures: 12 },
      {
        kind: 'conv',
        layer: 'tiny conv',
        batch: 2,
        channels: 4,
        height: 6,
        width: 6,
        filters: 8,
        kernel: 3,
        padding: 1,
      },
    ];
    const r = await benchKernels(b, shapes, { targetMs: 2, maxReps: 3, variants: true });
    expect(kernelBenchRowCount(shapes, { webgpu: true, variants: true })).toBe(r.rows.length);
    const ops = shapes.flatMap((s) => kernelOpsOf(s).map((op) => ({ layer: s.layer, op })));
    expect(new Set(ops.map((o) => o.op))).toEqual(
      new Set(['linear', 'linearInputGrad', 'linearWeightGrad', 'conv2d', 'conv2dWeightGrad']),
    );
    for (const { layer, op } of ops) {
      const rows = r.rows.filter((row) => row.layer === layer && row.op === op);
      expect(rows.map((row) => row.variant)).toEqual(variantsOf(op).map((v) => v.label));
      for (const row of rows) {
        expect(row.ms, `${layer} ${op} ${row.variant}`).toBeGreaterThan(0);
        expect(row.gops, `${layer} ${op} ${row.variant}`).toBeGreaterThan(0);
        expect(row.reps).toBeGreaterThan(0);
      }
      expect(rows.filter((row) => row.isDefault)).toHaveLength(1);
      const fastest = rows.filter((row) => fastestVariantRows(r.rows).has(row));
      expect(fastest).toHaveLength(1);
      expect(fastest[0].ms).toBe(Math.min(...rows.map((row) => row.ms!)));
    }
    const text = formatKernelBench([r]);
    expect(text.split('\n')[2]).toMatch(/^layer +op +variant +shape/);
    for (const row of r.rows) expect(text).toContain(row.variant!);
    const lines = text.split('\n').filter((l) => l.startsWith('tiny '));
    expect(lines).toHaveLength(r.rows.length);
    expect(lines.filter((l) => l.includes('(default)'))).toHaveLength(ops.length);
    expect(lines.filter((l) => /^tiny \S+ +\S+ +\*/.test(l))).toHaveLength(ops.length);
  });

  it('on the CPU: measures a per-core peak and gives each row its share of it', async () => {
    const b = await cpu();
    const shapes: KernelShape[] = [
      { kind: 'linear', layer: 'tiny fc', batch: 8, inFeatures: 40, outFeatures: 12 },
    ];
    const r = await benchKernels(b, shapes, { targetMs: 2, maxReps: 3 });
    expect(r.peakGops).toBeGreaterThan(0);
    const text = formatKernelBench([r]);
    expect(text).toMatch(/peak [\d.]+ GOP\/s per core/);
    expect(text).toMatch(/cpu GOP\/s +cpu % of peak/);
    const lines = text.split('\n').filter((l) => l.startsWith('tiny '));
    expect(lines).toHaveLength(3);
    for (const [i, line] of lines.entries()) {
      const share = Math.round((100 * r.rows[i].gops!) / r.peakGops!);
      expect(line.trimEnd().endsWith(`${share}%`), line).toBe(true);
    }
    // A result without a peak (WebGPU, JavaScript kernels) has no such column.
    expect(formatKernelBench([{ ...r, peakGops: null }])).not.toContain('% of peak');
  });

  it('runs each op once untimed first, so a pipeline built on its first run is not timed', async () => {
    // A backend whose first run of each program costs 300 ms more (as a runtime that compiles
    // a pipeline on its first dispatch): the times must not show it.
    const inner = await cpu();
    const seen = new Set<unknown>();
    let pending = 0;
    const b = new Proxy(inner, {
      get(target, key) {
        if (key === 'run') {
          return (p: Parameters<Backend['run']>[0], times = 1) => {
            if (!seen.has(p)) {
              seen.add(p);
              pending += 300;
            }
            target.run(p, times);
          };
        }
        if (key === 'sync') {
          return async () => {
            const wait = pending;
            pending = 0;
            if (wait) await new Promise((resolve) => setTimeout(resolve, wait));
            await target.sync();
          };
        }
        const v = Reflect.get(target, key);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const shapes = paperKernelShapes(2).filter((s) => s.layer.startsWith('mlp1 out'));
    const r = await benchKernels(b, shapes, { targetMs: 20, maxReps: 3 });
    expect(seen.size).toBe(3);
    for (const row of r.rows) {
      expect(row.ms, row.op).toBeGreaterThan(0);
      expect(row.ms, row.op).toBeLessThan(100);
    }
  });

  it('skips ops over the operation budget', async () => {
    const b = await cpu();
    const shapes = paperKernelShapes(8)
      .filter((s) => s.kind === 'conv')
      .slice(0, 1);
    const r = await benchKernels(b, shapes, { maxOps: 1 });
    expect(r.rows.every((row) => row.skipped && row.ms === null)).toBe(true);
  });
});
