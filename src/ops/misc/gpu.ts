/** Fill and the step cursor's advance on WebGPU. */
import { deviceBytes, type Tensor } from '../../backend.ts';
import { type KernelContext, grid1d } from '../../kernels/context.ts';
import { defineShader } from '../../kernels/shaders.ts';

/** shaders/misc.wgsl: its entry points and override constants (checked against the WGSL). */
export const shader = defineShader(
  'misc',
  ['fill', 'advance', 'accumulate'],
  ['WG', 'COUNT', 'VALUE'],
);

const WG = 64;

/** Fills every element; an i8 tensor is filled word by word with the value repeated four times. */
export function fill(ctx: KernelContext, p: { out: Tensor; value: number }): void {
  const words = deviceBytes(p.out.shape, p.out.dtype) / 4;
  const b = p.value & 0xff;
  const value = p.out.dtype === 'i8' ? b | (b << 8) | (b << 16) | (b << 24) | 0 : p.value | 0;
  const k = ctx.kernel(shader, 'fill', { WG, COUNT: words, VALUE: value });
  ctx.dispatch(k, { out: p.out }, grid1d(words, WG));
}

export function advance(ctx: KernelContext, p: { cursor: Tensor }): void {
  const k = ctx.kernel(shader, 'advance');
  ctx.dispatch(k, { cursor: p.cursor }, [1, 1, 1]);
}

/** out += part element by element (i32, wrapping); both i32 of the same size. Not an op: src/ops/chunked.ts sums partial reductions with it. */
export function accumulate(ctx: KernelContext, p: { out: Tensor; part: Tensor }): void {
  const n = p.out.size;
  const k = ctx.kernel(shader, 'accumulate', { WG, COUNT: n });
  ctx.dispatch(
    k,
    { out: p.out, part: p.part },
    grid1d(n, WG, ctx.limits.maxComputeWorkgroupsPerDimension),
  );
}
