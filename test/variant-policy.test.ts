/**
 * Default kernel variants per adapter (src/gpu/variant-policy.ts) with fake adapter infos:
 * software adapters keep the measured table, hardware adapters default to the variant of least
 * counted traffic, labelled as not measured, without dot4 where the WGSL language feature is
 * missing; a tuned choice takes precedence over either, a forced one over all.
 */
import { describe, expect, it } from 'vitest';
import { paperKernelShapes } from '../src/bench/kernels.ts';
import { WebGPUBackend } from '../src/gpu/webgpu-backend.ts';
import { defaultPolicyFor, leastTraffic, type PolicyAdapter } from '../src/gpu/variant-policy.ts';
import {
  defaultVariant,
  GemmVariants,
  type GemmOp,
  NOT_MEASURED,
  shapeKey,
  variantsOf,
} from '../src/kernels/gemm-tiles.ts';
import { perMac } from '../src/kernels/traffic.ts';
import { gemmTraffic } from '../src/ops/traffic.ts';
import { webgpu } from './helpers.ts';

const H200: PolicyAdapter = {
  vendor: 'nvidia',
  architecture: 'hopper',
  device: '',
  description: 'NVIDIA H200',
  wgslFeatures: ['packed_4x8_integer_dot_product', 'readonly_and_readwrite_storage_textures'],
};

const LINEAR_DIMS = [64, 784, 1024];

describe('default variant policy', () => {
  it('software adapters keep the measured table', () => {
    const software: PolicyAdapter[] = [
      {
        vendor: 'mesa',
        architecture: '',
        device: 'llvmpipe (LLVM 19.1.7, 256 bits)',
        description: '',
      },
      {
        vendor: 'google',
        architecture: 'swiftshader',
        device: '',
        description: 'SwiftShader driver',
      },
      { vendor: 'x', architecture: 'y', device: '', description: '', isFallbackAdapter: true },
    ];
    for (const a of software) expect(defaultPolicyFor(a), a.vendor).toBeUndefined();
    const v = new GemmVariants(defaultPolicyFor(software[0]));
    expect(v.explain('linear', LINEAR_DIMS)).toEqual({
      variant: defaultVariant('linear'),
      source: 'default',
    });
  });

  it('hardware adapters default to the least traffic, labelled not measured', () => {
    const policy = defaultPolicyFor(H200)!;
    expect(policy).toBeDefined();
    const v = new GemmVariants(policy);
    for (const s of paperKernelShapes(64)) {
      const ops: [GemmOp, number[]][] =
        s.kind === 'linear'
          ? (['linear', 'linearInputGrad', 'linearWeightGrad'] as const).map((op) => [
              op,
              [s.batch, s.inFeatures, s.outFeatures],
            ])
          : (['conv2d', 'conv2dWeightGrad'] as const).map((op) => [
              op,
              [s.batch, s.channels, s.height, s.width, s.filters, s.kernel, s.padding],
            ]);
      for (const [op, dims] of ops) {
        const c = v.explain(op, dims);
        expect(c.source).toBe('traffic');
        expect(c.note).toBe(NOT_MEASURED);
        const mine = gemmTraffic(op, dims, c.variant).readBytes;
        for (const other of variantsOf(op))
          expect(mine, `${s.layer} ${op} ${c.variant.label} vs ${other.label}`).toBeLessThanOrEqual(
            gemmTraffic(op, dims, other).readBytes,
          );
        if (s.kind === 'linear') {
          expect(c.variant.params.TILE, `${s.layer} ${op}`).toBeDefined();
          if (s.inFeatures >= 256)
            expect(perMac(gemmTraffic(op, dims, c.variant)).read).toBeLessThanOrEqual(0.25);
        }
      }
    }
  });

  it('no dot4 variant where the runtime lacks packed_4x8_integer_dot_product', () => {
    const noDot4 = defaultPolicyFor({ ...H200, wgslFeatures: [] })!;
    for (const op of ['linear', 'conv2d'] as const) {
      const dims = op === 'linear' ? LINEAR_DIMS : [64, 128, 28, 28, 128, 3, 1];
      expect(noDot4(op, dims)!.params.DOT4, op).toBe(0);
      const withDot4 = defaultPolicyFor(H200)!(op, dims)!;
      expect(withDot4).toBe(leastTraffic(op, dims));
    }
  });

  it('a tuned choice takes precedence over the traffic default, a forced one over both', () => {
    const v = new GemmVariants(defaultPolicyFor(H200));
    const traffic = v.choose('linear', LINEAR_DIMS);
    const other = variantsOf('linear').find((x) => x.label !== traffic.label)!;
    v.setTuned({ [shapeKey('linear', LINEAR_DIMS)]: other.label });
    expect(v.explain('linear', LINEAR_DIMS)).toEqual({ variant: other, source: 'tuned' });
    const forced = variantsOf('linear')[0];
    v.withForced('linear', forced, () =>
      expect(v.explain('linear', LINEAR_DIMS)).toEqual({ variant: forced, source: 'forced' }),
    );
    // Another shape stays on the traffic default.
    expect(v.explain('linear', [64, 1024, 10]).source).toBe('traffic');
  });

  it('the WebGPU backend takes its policy from the adapter info', async () => {
    const real = await webgpu();
    expect(real.variants.explain('linear', LINEAR_DIMS).source).toBe('default');
    const fake = new WebGPUBackend({
      ...real.context,
      info: { ...real.context.info, ...H200, isFallbackAdapter: false },
    });
    const c = fake.variants.explain('linear', LINEAR_DIMS);
    expect(c.source).toBe('traffic');
    expect(c.variant).toBe(leastTraffic('linear', LINEAR_DIMS));
  });
});
