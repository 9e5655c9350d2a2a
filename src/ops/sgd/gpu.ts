/** IntegerSGD (docs/algorithm.md §5) on WebGPU, in place on the weights. */
import type { SgdUpdate } from '../../backend.ts';
import { type KernelContext, grid1d } from '../../kernels/context.ts';
import type { IntegerSgdParams } from './contract.ts';
import { defineShader } from '../../kernels/shaders.ts';

/** shaders/sgd.wgsl: its entry points and override constants (checked against the WGSL). */
export const shader = defineShader('sgd', ['integer_sgd'], ['WG', 'COUNT', 'AMP', 'DECAY_INV']);

const WG = 64;

export function integerSgd(ctx: KernelContext, p: IntegerSgdParams): void {
  const n = p.w.size;
  const k = ctx.kernel(shader, 'integer_sgd', {
    WG,
    COUNT: n,
    AMP: p.amp,
    DECAY_INV: p.decayInv,
  });
  ctx.dispatch(
    k,
    { w: p.w, grad: p.grad, lr_inv: p.lrInv },
    grid1d(n, WG, ctx.limits.maxComputeWorkgroupsPerDimension),
  );
}

/** The override constants (AMP, DECAY_INV) of the *_sgd entry points that fuse the update. */
export function sgdOverrides(sgd: SgdUpdate): Record<string, number> {
  return { AMP: sgd.amp, DECAY_INV: sgd.decayInv };
}
