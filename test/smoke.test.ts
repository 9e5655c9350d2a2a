import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebGPUBackend } from '../src/gpu/webgpu-backend.ts';

describe('webgpu runtime', () => {
  let gpu: WebGPUBackend;
  beforeAll(async () => {
    gpu = await WebGPUBackend.create();
  });
  afterAll(() => gpu.destroy());
  it('fills, advances, records and replays', async () => {
    const t = gpu.tensor([3, 5], 'i32', 't');
    gpu.ops.fill({ out: t, value: -7 });
    expect([...(await gpu.read(t))]).toEqual(new Array(15).fill(-7));
    const c = gpu.tensor([1], 'i32', 'cursor');
    const prog = gpu.record('adv', (ops) => ops.advance({ cursor: c }));
    gpu.run(prog, 5);
    gpu.run(prog);
    expect([...(await gpu.read(c))]).toEqual([6]);
    const p = gpu.tensor([2, 6], 'i8', 'p');
    gpu.write(p, [1, -2, 3, -128, 127, 0, 5, 6, 7, 8, 9, -10]);
    expect([...(await gpu.read(p))]).toEqual([1, -2, 3, -128, 127, 0, 5, 6, 7, 8, 9, -10]);
    console.log(gpu.description);
  });
});
