/** What a backend can hold, from shapes alone (src/train/capacity.ts). */
import { describe, expect, it } from 'vitest';
import { getPreset } from '../src/model/presets.ts';
import {
  cpuCapacity,
  planProblem,
  planSize,
  WASM_MEMORY_BYTES,
  webgpuCapacity,
} from '../src/train/capacity.ts';
import { plannedTensors } from '../src/train/memory.ts';

const MiB = 2 ** 20;

describe('capacity', () => {
  it('the CPU backend holds the smaller of --memory-limit and 3/4 of free RAM', () => {
    expect(cpuCapacity({ freeBytes: 8 * 2 ** 30 }).bytes).toBe(6 * 2 ** 30);
    expect(cpuCapacity({ freeBytes: 8 * 2 ** 30, limitBytes: MiB }).bytes).toBe(MiB);
    expect(cpuCapacity({ freeBytes: 8 * 2 ** 30, limitBytes: MiB }).source).toBe(
      '--memory-limit 1.00 MiB',
    );
    expect(cpuCapacity().operandBytes).toBe(WASM_MEMORY_BYTES);
  });

  it('a plan counts the parameters once and every network it holds', () => {
    const spec = getPreset('mlp2').spec;
    const sum = (b: number) => plannedTensors(spec, b).reduce((a, t) => a + t.bytes, 0);
    const params = plannedTensors(spec, 1)
      .filter((t) => /\.(weight|bias)$/.test(t.label))
      .reduce((a, t) => a + t.bytes, 0);
    expect(params).toBeGreaterThan(0);
    expect(planSize(spec, [64]).total).toBe(sum(64));
    expect(planSize(spec, [64, 250], 1000).total).toBe(sum(64) + sum(250) - params + 1000);
  });

  it('refuses cnn-small at batch 30000 on the CPU (WebAssembly memory) and names a batch that fits', () => {
    const spec = getPreset('cnn-small').spec;
    const cap = cpuCapacity({ freeBytes: 2 ** 40 });
    const problem = planProblem(spec, 30000, cap);
    const m = /use a batch of at most (\d+) \(--batch \1\)$/.exec(problem ?? '');
    expect(problem).toMatch(/WebAssembly memory/);
    const most = Number(m?.[1]);
    expect(most).toBeGreaterThan(1000);
    expect(most).toBeLessThan(30000);
    expect(planProblem(spec, most, cap)).toBeUndefined();
    expect(planProblem(spec, most + 1, cap)).toBeDefined();
    // Where training does run: cnn-small at batch 2000 fits the WebAssembly memory.
    expect(planProblem(spec, 2000, cap)).toBeUndefined();
  });

  it('a host limit bounds the total; WebGPU without a limit is left to the adapter checks', () => {
    const spec = getPreset('mlp1').spec;
    expect(planProblem(spec, 64, cpuCapacity({ limitBytes: 1000 }))).toMatch(
      /^model does not fit the CPU backend even at batch 1: the plan needs [\d.]+ KiB .*more than the 1000 bytes the CPU backend can hold \(--memory-limit 1000 bytes\)$/,
    );
    expect(planProblem(spec, 1 << 20, webgpuCapacity())).toBeUndefined();
    expect(planProblem(spec, 64, webgpuCapacity({ limitBytes: 1000 }))).toMatch(
      /does not fit WebGPU even at batch 1/,
    );
  });
});
