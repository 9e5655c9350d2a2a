/** WebGPU wrappers of the integer linear layer: forward with the fused NITRO epilogue, input and weight gradients. */
import source from '../../shaders/linear.wgsl?raw';
import type { LinearParams, Tensor } from '../backend.ts';
import { RELU_CORRECTION, checkSlope } from '../arith.ts';
import { type KernelContext, grid1d } from './context.ts';
import { expectDtype, expectShape } from './layout.ts';

const WG = 64;
const words = (n: number) => Math.ceil(n / 4);
const groups = (n: number) => Math.ceil(n / 4);

export function epilogueOverrides(op: string, scale: number | undefined, slopeInv: number | undefined): Record<string, number> {
  const o: Record<string, number> = {};
  if (scale !== undefined) {
    if (!Number.isInteger(scale) || scale <= 0 || scale > 0x7fffffff) throw new Error(`${op}: scaling factor must be a positive i32, got ${scale}`);
    o.SF = scale;
  }
  if (slopeInv !== undefined) {
    checkSlope(slopeInv, op);
    o.SLOPE_INV = slopeInv;
    o.CORR = RELU_CORRECTION[slopeInv];
  }
  return o;
}

export function linear(ctx: KernelContext, p: LinearParams): void {
  const op = 'linear';
  const [B, K] = p.x.shape;
  const O = p.w.shape[0];
  expectDtype(op, p.x, 'i8');
  expectDtype(op, p.w, 'i32');
  expectShape(op, p.x, [B, K]);
  expectShape(op, p.w, [O, K]);
  expectShape(op, p.out, [B, O]);
  if (p.bias) expectShape(op, p.bias, [O]);
  const e = p.epilogue;
  expectDtype(op, p.out, e ? 'i8' : 'i32');
  if (e?.relu) {
    expectShape(op, e.relu.out, [B, O]);
    expectDtype(op, e.relu.out, 'i8');
  }
  const entry = !e ? 'forward_raw' : e.relu ? 'forward_relu' : 'forward_scaled';
  const overrides = { WG, B, K, O, KW: words(K), OW: words(O), HAS_BIAS: p.bias ? 1 : 0, ...epilogueOverrides(op, e?.scale, e?.relu?.slopeInv) };
  const k = ctx.kernel('linear', source, entry, overrides);
  // Without a bias the weights stand in for the (unread) bias binding.
  const resources: Record<string, Tensor> = { x: p.x, w: p.w, bias: p.bias ?? p.w };
  if (!e) resources.z = p.out;
  else resources.s = p.out;
  if (e?.relu) resources.a = e.relu.out;
  ctx.dispatch(k, resources, grid1d(groups(O) * groups(B), WG));
}

export function linearInputGrad(ctx: KernelContext, p: { g: Tensor; w: Tensor; out: Tensor }): void {
  const op = 'linearInputGrad';
  const [B, O] = p.g.shape;
  const K = p.w.shape[1];
  expectShape(op, p.w, [O, K]);
  expectShape(op, p.out, [B, K]);
  expectDtype(op, p.out, 'i32');
  const overrides = { WG, B, K, O, KW: words(K), OW: words(O), G_PACKED: p.g.dtype === 'i8' ? 1 : 0 };
  const k = ctx.kernel('linear', source, 'input_grad', overrides);
  ctx.dispatch(k, { g: p.g, w: p.w, z: p.out }, grid1d(groups(K) * groups(B), WG));
}

export function linearWeightGrad(ctx: KernelContext, p: { g: Tensor; x: Tensor; out: Tensor }): void {
  const op = 'linearWeightGrad';
  const [B, O] = p.g.shape;
  const K = p.x.shape[1];
  expectDtype(op, p.x, 'i8');
  expectShape(op, p.x, [B, K]);
  expectShape(op, p.out, [O, K]);
  expectDtype(op, p.out, 'i32');
  const overrides = { WG, B, K, O, KW: words(K), OW: words(O), G_PACKED: p.g.dtype === 'i8' ? 1 : 0 };
  const k = ctx.kernel('linear', source, 'weight_grad', overrides);
  ctx.dispatch(k, { g: p.g, x: p.x, z: p.out }, grid1d(words(K) * groups(O), WG));
}
