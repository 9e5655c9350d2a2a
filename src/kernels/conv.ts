/**
 * WebGPU wrappers of the stride-1 integer convolution as implicit GEMMs: the input is repacked
 * (zero-padded, channels innermost, four to a word) by one small pass, then the forward kernel
 * (with the fused NITRO epilogue) or the weight-gradient kernel runs on it. The forward has an
 * i32 path and a dot4I8Packed path on the weights split into int8 limbs (counted on the GPU).
 * The weight gradient has a dense path and a sparse one that sums over the non-zero pixels of
 * delta only (listed on the GPU; mostly zero in training, see conv.wgsl).
 */
import common from '../../shaders/int-common.wgsl?raw';
import family from '../../shaders/conv.wgsl?raw';
import type { Conv2dParams, SgdUpdate, Tensor } from '../backend.ts';
import { type KernelContext, grid1d } from './context.ts';
import { chooseVariant } from './gemm-tiles.ts';
import { expectDtype, expectShape } from './layout.ts';
import { epilogueOverrides } from './linear.ts';
import { constants, scratch } from './scratch.ts';
import { fusedSgdOverrides } from './sgd.ts';

/** conv.wgsl with the shared integer helpers it calls (WGSL has no imports). */
export const source = `${family}\n${common}`;

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
  const HP = H + 2 * padding;
  const WP = W + 2 * padding;
  const CW = Math.ceil(C / 4);
  return {
    B, C, H, W, F, KS, PAD: padding, HO, WO, HP, WP, CW,
    XW: Math.ceil((C * H * W) / 4),
    OUTW: Math.ceil((F * HO * WO) / 4),
  };
}

type Geometry = ReturnType<typeof geometry>;

interface Extra {
  LBASE?: number;
  LPLANE?: number;
  SF?: number;
  SLOPE_INV?: number;
  CORR?: number;
  EBASE?: number;
}

/** The Dims uniform of conv.wgsl (field order as declared there). */
function dims(ctx: KernelContext, g: Geometry, e: Extra = {}): GPUBuffer {
  const v = [g.B, g.C, g.H, g.W, g.F, g.KS, g.PAD, g.HO, g.WO, g.XW, g.OUTW, g.HP, g.WP, g.CW];
  v.push(e.LBASE ?? 0, e.LPLANE ?? 0, e.SF ?? 1, e.SLOPE_INV ?? 4, e.CORR ?? 0, e.EBASE ?? 0);
  return constants(ctx.device, v, 'conv dims');
}

/** Repacks x into the channel-packed padded scratch; returns it. */
function packInput(ctx: KernelContext, x: Tensor, g: Geometry): GPUBuffer {
  const words = g.B * g.HP * g.WP * g.CW;
  const xp = scratch(ctx.device, 'conv.xp', words * 4);
  const k = ctx.kernel('conv', source, 'pack_input', { WG });
  ctx.dispatch(k, { x, xp_out: xp, dm: dims(ctx, g) }, grid1d(words, WG));
  return xp;
}

/** Splits the weights into int8 limb planes plus per-filter limb counts; returns the scratch. */
function packWeights(ctx: KernelContext, w: Tensor, g: Geometry): { wl: GPUBuffer; LBASE: number; LPLANE: number } {
  const LBASE = Math.ceil(g.F / 4) * 4;
  const LPLANE = g.F * g.KS * g.KS * g.CW;
  const wl = scratch(ctx.device, 'conv.wl', (LBASE + 4 * LPLANE) * 4);
  const k = ctx.kernel('conv', source, 'pack_weights', { WG });
  ctx.dispatch(k, { w, wl_out: wl, dm: dims(ctx, g, { LBASE, LPLANE }) }, grid1d(g.F, WG));
  return { wl, LBASE, LPLANE };
}

/**
 * Lists the non-zero pixels of delta per filter (the sparse weight gradient's input): returns
 * the counts and xp indexes (dl) and the values (dv), each list reserving B * HO * WO places.
 */
function packDelta(ctx: KernelContext, delta: Tensor, g: Geometry): { dl: GPUBuffer; dv: GPUBuffer; EBASE: number } {
  const EBASE = Math.ceil(g.F / 4) * 4;
  const places = g.F * g.B * g.HO * g.WO;
  const dl = scratch(ctx.device, 'conv.dl', (EBASE + places) * 4);
  const dv = scratch(ctx.device, 'conv.dv', places * 4);
  const k = ctx.kernel('conv', source, 'pack_delta', { WG });
  ctx.dispatch(k, { delta, dl_out: dl, dv_out: dv, dm: dims(ctx, g, { EBASE }) }, grid1d(g.F, WG));
  return { dl, dv, EBASE };
}

export function conv2d(ctx: KernelContext, p: Conv2dParams): void {
  const op = 'conv2d';
  const g = geometry(op, p.x, p.w, p.padding);
  expectShape(op, p.out, [g.B, g.F, g.HO, g.WO]);
  if (p.bias) expectShape(op, p.bias, [g.F]);
  const e = p.epilogue;
  expectDtype(op, p.out, e ? 'i8' : 'i32');
  if (e?.relu) expectShape(op, e.relu.out, p.out.shape);
  const v = chooseVariant(op, [g.B, g.C, g.H, g.W, g.F, g.KS, g.PAD]).params;
  const TF = v.TF;
  const TP = v.TP;
  const hw = g.HO * g.WO;
  // Pixel quads whose four outputs fill one packed word of one filter: the epilogue fuses.
  const fused = Boolean(e) && TP === 4 && hw % 4 === 0;
  const epi = epilogueOverrides(op, e?.scale, e?.relu?.slopeInv);
  const xp = packInput(ctx, p.x, g);
  const overrides: Record<string, number> = { WG, TF, TP, FUSED: fused ? 1 : 0, HAS_BIAS: p.bias ? 1 : 0 };
  const resources: Record<string, Tensor | GPUBuffer> = { xp, bias: p.bias ?? p.w };
  let entry = 'forward';
  let extra: Extra = { ...epi };
  if (v.DOT4) {
    const packed = packWeights(ctx, p.w, g);
    resources.wl = packed.wl;
    extra = { ...extra, LBASE: packed.LBASE, LPLANE: packed.LPLANE };
    entry = 'forward_limbs';
  } else {
    resources.w = p.w;
  }
  resources.dm = dims(ctx, g, extra);
  // Raw sums go to `out` (no epilogue), the fused store, or a scratch read by the epilogue pass.
  // The kernel names z, s and a whichever store it makes: the others get small placeholders.
  const spare = (role: string) => scratch(ctx.device, `conv.spare.${role}`, 16);
  let zScratch: GPUBuffer | undefined;
  resources.z = spare('z');
  resources.s = spare('s');
  resources.a = spare('a');
  if (!e) resources.z = p.out;
  else if (fused) {
    resources.s = p.out;
    resources.a = e.relu ? e.relu.out : scratch(ctx.device, 'conv.a', p.out.size);
  } else {
    zScratch = scratch(ctx.device, 'conv.z', g.B * g.F * hw * 4);
    resources.z = zScratch;
  }
  const k = ctx.kernel('conv', source, entry, overrides);
  ctx.dispatch(k, resources, [Math.ceil(hw / (TP * WG)), Math.ceil(g.F / TF), g.B]);
  if (e && zScratch) {
    const entryE = e.relu ? 'epilogue_relu' : 'epilogue_scaled';
    const ke = ctx.kernel('conv', source, entryE, { WG });
    const res: Record<string, Tensor | GPUBuffer> = { zin: zScratch, s: p.out, dm: dims(ctx, g, epi) };
    if (e.relu) res.a = e.relu.out;
    ctx.dispatch(ke, res, grid1d(g.B * g.OUTW, WG));
  }
}

export function conv2dWeightGrad(
  ctx: KernelContext,
  p: { delta: Tensor; x: Tensor; padding: number; out: Tensor; sgd?: SgdUpdate },
): void {
  const op = 'conv2dWeightGrad';
  const g = geometry(op, p.x, p.out, p.padding);
  expectShape(op, p.delta, [g.B, g.F, g.HO, g.WO]);
  expectDtype(op, p.delta, 'i32');
  expectDtype(op, p.out, 'i32');
  const v = chooseVariant(op, [g.B, g.C, g.H, g.W, g.F, g.KS, g.PAD]).params;
  const TF = v.TF;
  const sgd = p.sgd ? fusedSgdOverrides(op, p.sgd, p.out.size, [p.delta, p.x]) : undefined;
  const xp = packInput(ctx, p.x, g);
  const grid: [number, number, number] = [Math.ceil((g.KS * g.KS * g.CW) / WG), Math.ceil(g.F / TF), 1];
  const resources: Record<string, Tensor | GPUBuffer> = { delta: p.delta, xp };
  let entry = 'weight_grad';
  let extra: Extra = {};
  if (v.SPARSE) {
    const listed = packDelta(ctx, p.delta, g);
    resources.dl = listed.dl;
    resources.dv = listed.dv;
    extra = { EBASE: listed.EBASE };
    entry = 'weight_grad_sparse';
  }
  resources.dm = dims(ctx, g, extra);
  if (p.sgd && sgd) {
    // The sums update the weights in place; out is not written.
    const k = ctx.kernel('conv', source, `${entry}_sgd`, { WG, TF, ...sgd });
    ctx.dispatch(k, { ...resources, w_upd: p.sgd.w, lr_inv: p.sgd.lrInv }, grid);
    return;
  }
  const k = ctx.kernel('conv', source, entry, { WG, TF });
  ctx.dispatch(k, { ...resources, z: p.out }, grid);
}
