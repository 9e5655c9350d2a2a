/** WebGPU wrappers of the stride-1 integer convolution: forward with the fused NITRO epilogue, weight gradient. */
import source from '../../shaders/conv.wgsl?raw';
import type { Conv2dParams, Tensor } from '../backend.ts';
import { type KernelContext, grid1d } from './context.ts';
import { expectDtype, expectShape } from './layout.ts';
import { epilogueOverrides } from './linear.ts';

const WG = 64;

function geometry(op: string, x: Tensor, w: Tensor, padding: number) {
  const [B, C, H, W] = x.shape;
  const [F, Cw, KS, KS2] = w.shape;
  if (x.shape.length !== 4 || w.shape.length !== 4 || Cw !== C || KS !== KS2) {
    throw new Error(`${op}: input ${x.label} [${x.shape.join(', ')}] and weights ${w.label} [${w.shape.join(', ')}] do not fit`);
  }
  if (!Number.isInteger(padding) || padding < 0) throw new Error(`${op}: padding must be a non-negative integer, got ${padding}`);
  const HO = H + 2 * padding - KS + 1;
  const WO = W + 2 * padding - KS + 1;
  if (HO <= 0 || WO <= 0) throw new Error(`${op}: kernel ${KS} is larger than the padded input ${H}x${W}`);
  expectDtype(op, x, 'i8');
  return { B, C, H, W, F, KS, PAD: padding, HO, WO, XW: Math.ceil((C * H * W) / 4), OUTW: Math.ceil((F * HO * WO) / 4) };
}

export function conv2d(ctx: KernelContext, p: Conv2dParams): void {
  const op = 'conv2d';
  const g = geometry(op, p.x, p.w, p.padding);
  expectShape(op, p.out, [g.B, g.F, g.HO, g.WO]);
  if (p.bias) expectShape(op, p.bias, [g.F]);
  const e = p.epilogue;
  expectDtype(op, p.out, e ? 'i8' : 'i32');
  if (e?.relu) expectShape(op, e.relu.out, p.out.shape);
  const entry = !e ? 'forward_raw' : e.relu ? 'forward_relu' : 'forward_scaled';
  const k = ctx.kernel('conv', source, entry, { WG, ...g, HAS_BIAS: p.bias ? 1 : 0, ...epilogueOverrides(op, e?.scale, e?.relu?.slopeInv) });
  const resources: Record<string, Tensor> = { x: p.x, w: p.w, bias: p.bias ?? p.w };
  if (!e) resources.z = p.out;
  else resources.s = p.out;
  if (e?.relu) resources.a = e.relu.out;
  ctx.dispatch(k, resources, grid1d(g.B * g.OUTW, WG));
}

export function conv2dWeightGrad(ctx: KernelContext, p: { delta: Tensor; x: Tensor; padding: number; out: Tensor }): void {
  const op = 'conv2dWeightGrad';
  const g = geometry(op, p.x, p.out, p.padding);
  expectShape(op, p.delta, [g.B, g.F, g.HO, g.WO]);
  expectDtype(op, p.delta, 'i32');
  expectDtype(op, p.out, 'i32');
  const k = ctx.kernel('conv', source, 'weight_grad', { WG, ...g });
  ctx.dispatch(k, { delta: p.delta, x: p.x, z: p.out }, grid1d(g.F * g.C * g.KS * g.KS, WG));
}
