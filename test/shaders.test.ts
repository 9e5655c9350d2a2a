/**
 * Each shader's TypeScript declaration (defineShader in src/ops/<family>/gpu.ts) names exactly
 * the compute entry points and override constants its WGSL has, as wgsl_reflect reads them, and
 * a kernel asked for a name the shader does not declare is refused.
 */
import { describe, expect, it } from 'vitest';
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import type { KernelContext } from '../src/kernels/context.ts';
import { checkKernel, type Shader } from '../src/kernels/shaders.ts';
import { shader as activation } from '../src/ops/activation/gpu.ts';
import { shader as conv } from '../src/ops/conv/gpu.ts';
import { shader as data } from '../src/ops/data/gpu.ts';
import { shader as linear, tiledShader as linearTiled } from '../src/ops/linear/gpu.ts';
import { shader as loss } from '../src/ops/loss/gpu.ts';
import { shader as misc } from '../src/ops/misc/gpu.ts';
import { shader as pool } from '../src/ops/pool/gpu.ts';
import { shader as sgd } from '../src/ops/sgd/gpu.ts';

const SHADERS: Shader[] = [activation, conv, data, linear, linearTiled, loss, misc, pool, sgd];

describe('shader declarations', () => {
  it('cover every family once', () => {
    expect(SHADERS.map((s) => s.family).sort()).toEqual(
      [
        'activation',
        'conv',
        'data',
        'linear',
        'linear-tiled',
        'loss',
        'misc',
        'pool',
        'sgd',
      ].sort(),
    );
  });

  it.each(SHADERS.map((s) => [s.family, s] as const))(
    '%s: entry points and overrides match the WGSL',
    (_, s) => {
      const r = new WgslReflect(s.source);
      expect([...s.entries].sort()).toEqual(r.entry.compute.map((e) => e.name).sort());
      expect([...s.overrides].sort()).toEqual(r.overrides.map((o) => o.name).sort());
    },
  );

  it('refuses an undeclared entry point or override, in tsc and when the kernel is made', () => {
    // A context as the backends make it: names are checked before a pipeline is asked for.
    const ctx = {
      kernel: (shader: Shader, entry: string, overrides: object = {}) => {
        checkKernel(shader, entry, overrides);
        return { name: `${shader.family}/${entry}` };
      },
    } as unknown as KernelContext;
    expect(ctx.kernel(misc, 'fill', { WG: 64, COUNT: 1, VALUE: 0 }).name).toBe('misc/fill');
    // @ts-expect-error misc.wgsl has no entry point 'fil'
    expect(() => ctx.kernel(misc, 'fil')).toThrow("shader misc has no compute entry point 'fil'");
    // @ts-expect-error misc.wgsl has no override constant 'COUNTS'
    expect(() => ctx.kernel(misc, 'fill', { COUNTS: 1 })).toThrow(
      "shader misc has no override constant 'COUNTS'",
    );
    // @ts-expect-error 'forward' is conv.wgsl's, not linear.wgsl's
    expect(() => ctx.kernel(linear, 'forward')).toThrow('shader linear has no compute entry point');
    // A record assembled at run time passes tsc and is checked by name.
    const dynamic: Record<string, number> = { TM: 1, DOT4: 1 };
    expect(() => ctx.kernel(linear, 'input_grad', dynamic)).toThrow(
      "shader linear has no override constant 'DOT4'",
    );
  });
});
