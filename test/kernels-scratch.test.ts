/**
 * Kernel scratch is sized by the largest layer of what was recorded, not by a trail of
 * outgrown buffers: a dispatch binds its scratch role when first submitted, so the layers
 * recorded before a role grew use the grown buffer, and their results stay exact.
 */
import { describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../src/backend.ts';
import { WebGPUBackend } from '../src/gpu/webgpu-backend.ts';
import { LIMB_PLANES } from '../src/kernels/linear.ts';
import { scratchBytes, scratchRoles } from '../src/kernels/scratch.ts';
import { cpu, expectSameElements, randomInts, Rng, tensorOf } from './helpers.ts';

interface Layer {
  B: number;
  K: number;
  O: number;
}

/** Bytes of the weight-limb scratch for one linear layer: limb counts row, then the planes. */
function limbBytes({ K, O }: Layer): number {
  const bytes = (Math.ceil(O / 4) * 4 + LIMB_PLANES * O * Math.ceil(K / 4)) * 4;
  return Math.ceil(bytes / 16) * 16;
}

function sum(m: Map<string, number>): number {
  return [...m.values()].reduce((a, b) => a + b, 0);
}

/** x, w and out of a raw linear layer, the same values on `backend`. */
function layer(backend: Backend, l: Layer, seed: number): { x: Tensor; w: Tensor; out: Tensor } {
  const rng = new Rng(seed);
  return {
    x: tensorOf(backend, [l.B, l.K], 'i8', randomInts(rng, l.B * l.K, -128, 127), 'x'),
    w: tensorOf(backend, [l.O, l.K], 'i32', randomInts(rng, l.O * l.K, -30000, 30000), 'w'),
    out: backend.tensor([l.B, l.O], 'i32', 'out'),
  };
}

async function expected(l: Layer, seed: number): Promise<Int32Array> {
  const c = await cpu();
  const t = layer(c, l, seed);
  c.ops.linear(t);
  return c.read(t.out);
}

describe('kernel scratch', () => {
  const small: Layer = { B: 3, K: 10, O: 6 };
  const large: Layer = { B: 5, K: 70, O: 33 };

  it('a recorded program binds one buffer per role, sized for its largest layer', async () => {
    const gpu = await WebGPUBackend.create();
    try {
      const a = layer(gpu, small, 1);
      const b = layer(gpu, large, 2);
      const program = gpu.record('two layers', (ops) => {
        ops.linear(a);
        ops.linear(b);
      });
      gpu.run(program);
      expectSameElements(await gpu.read(a.out), await expected(small, 1), 'small layer (recorded before the role grew)');
      expectSameElements(await gpu.read(b.out), await expected(large, 2), 'large layer');
      const roles = scratchRoles(gpu.device);
      expect(roles.get('weight-limbs')).toBe(limbBytes(large));
      expect(scratchBytes(gpu.device)).toBe(sum(roles));
    } finally {
      gpu.destroy();
    }
  });

  it('a buffer outgrown after a program bound it stays alive and counted for that program', async () => {
    const gpu = await WebGPUBackend.create();
    try {
      const a = layer(gpu, small, 3);
      const first = gpu.record('small', (ops) => ops.linear(a));
      gpu.run(first);
      const b = layer(gpu, large, 4);
      const second = gpu.record('large', (ops) => ops.linear(b));
      gpu.run(second);
      gpu.write(a.out, new Int32Array(small.B * small.O));
      gpu.run(first);
      expectSameElements(await gpu.read(a.out), await expected(small, 3), 'small layer, replayed after the role grew');
      expectSameElements(await gpu.read(b.out), await expected(large, 4), 'large layer');
      const roles = scratchRoles(gpu.device);
      expect(roles.get('weight-limbs')).toBe(limbBytes(large));
      expect(scratchBytes(gpu.device)).toBe(sum(roles) + limbBytes(small));
    } finally {
      gpu.destroy();
    }
  });
});
