/**
 * Device memory: what a model and a batch allocate stays within 1.2x the analytic minimum
 * (int32 weights + saved int8 activations + the largest int32 gradients), for every preset.
 * The CPU backend counts device bytes the same way the WebGPU backend allocates them; one
 * WebGPU case checks the two agree. cnn-small (batch 64) and VGG8B (batch 8) stay within 1.2x
 * with the WebGPU kernels' scratch on top too.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/cpu-backend.ts';
import { getPreset, presetNames } from '../src/model/presets.ts';
import { memoryReport, minimumBytes, plannedScratch, plannedTensors } from '../src/train/memory.ts';
import { planFromSpec } from '../src/model/plan.ts';
import { webgpu } from './helpers.ts';

describe('memory plan', () => {
  it.each(presetNames.flatMap((name) => [1, 8, 64].map((batch) => [name, batch] as const)))(
    '%s at batch %i: allocated <= 1.2x minimum',
    (name, batch) => {
      const spec = getPreset(name).spec;
      const backend = new CpuBackend();
      const report = memoryReport(backend, spec, batch);
      const weights = planFromSpec(spec).parameters.reduce(
        (a, p) => a + 4 * p.shape.reduce((x, y) => x * y, 1),
        0,
      );
      expect(report.weightBytes).toBe(weights);
      expect(report.minimumBytes).toBe(minimumBytes(spec, batch));
      expect(report.minimumBytes).toBeGreaterThan(weights);
      expect(report.allocatedBytes).toBeGreaterThanOrEqual(weights);
      expect(report.allocatedBytes * 10).toBeLessThanOrEqual(report.minimumBytes * 12);
      // Everything was released again.
      expect(backend.bytesInUse()).toBe(0);
    },
  );

  it.each([
    ['cnn-small', 64],
    ['vgg8b', 8],
  ] as const)("%s at batch %i: tensors and the kernels' scratch <= 1.2x minimum", (name, batch) => {
    const spec = getPreset(name).spec;
    const tensors = plannedTensors(spec, batch).reduce((a, t) => a + t.bytes, 0);
    const scratch = [...plannedScratch(spec, batch).values()].reduce((a, b) => a + b, 0);
    expect(scratch).toBeGreaterThan(0);
    expect((tensors + scratch) * 10).toBeLessThanOrEqual(minimumBytes(spec, batch) * 12);
  });

  it('the WebGPU backend allocates what the CPU backend counts', async () => {
    const spec = getPreset('cnn-small').spec;
    const gpu = await webgpu();
    const cpu = memoryReport(new CpuBackend(), spec, 16);
    const before = gpu.bytesInUse();
    const report = memoryReport(gpu, spec, 16);
    expect(report.allocatedBytes).toBe(cpu.allocatedBytes);
    expect(gpu.bytesInUse()).toBe(before);
  });
});
