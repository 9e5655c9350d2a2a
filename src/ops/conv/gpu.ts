/**
 * WebGPU wrappers of the stride-1 integer convolution as implicit GEMMs: the input is repacked
 * (zero-padded, channels innermost, four to a word) by one small pass, then the forward kernel
 * (with the fused NITRO epilogue) or the weight-gradient kernel runs on it. The forward has an
 * i32 path and a dot4I8Packed path on the weights split into int8 limbs (counted on the GPU).
 * The weight gradient has a dense path and a sparse one that sums over the non-zero pixels of
 * delta only (listed on the GPU; mostly zero in training, see conv.wgsl). The tiled variants
 * (BM/BN, BF/BK) stage operand slabs in workgroup memory for GPUs; traffic.ts models what each
 * variant reads and writes.
 */
import type { Conv2dParams, Tensor } from '../../backend.ts';
import { type KernelContext, type Resource, grid1d } from '../../kernels/context.ts';
import { epilogueOverrides, LIMB_PLANES, limbChunkRows, limbScratch } from '../linear/gpu.ts';
import { chunkRows, type ScratchRole } from '../../kernels/scratch.ts';
import { UniformLayout } from '../../kernels/uniforms.ts';
import { sgdOverrides } from '../sgd/gpu.ts';
import { type ConvBiasGradParams, type ConvWeightGradParams, convGeometry } from './contract.ts';
import { defineShader } from '../../kernels/shaders.ts';

/** shaders/conv.wgsl: its entry points and override constants (checked against the WGSL). */
export const shader = defineShader(
  'conv',
  [
    'pack_input',
    'forward',
    'forward_limbs',
    'epilogue_scaled',
    'epilogue_relu',
    'pack_weights',
    'pack_delta',
    'weight_grad',
    'weight_grad_sgd',
    'bias_grad',
    'bias_grad_sgd',
    'forward_tiled',
    'forward_tiled_limbs',
    'weight_grad_tiled',
    'weight_grad_tiled_sgd',
  ],
  [
    'WG',
    'HAS_BIAS',
    'TF',
    'TP',
    'FUSED',
    'PLANES',
    'AMP',
    'DECAY_INV',
    'SPARSE',
    'BM',
    'BN',
    'TWG',
  ],
);

const WG = 64;

/** The contract's geometry and the padded, channel-packed layout of the input. */
function geometry(x: Tensor, w: Tensor, padding: number) {
  const { B, C, H, W, F, k: KS, HO, WO } = convGeometry(x, w, padding);
  const HP = H + 2 * padding;
  const WP = W + 2 * padding;
  return {
    B,
    C,
    H,
    W,
    F,
    KS,
    PAD: padding,
    HO,
    WO,
    HP,
    WP,
    CW: Math.ceil(C / 4),
    XW: Math.ceil((C * H * W) / 4),
    OUTW: Math.ceil((F * HO * WO) / 4),
  };
}

type Geometry = ReturnType<typeof geometry>;

/** The Dims fields a dispatch may set beyond the geometry (limb chunk, epilogue, sparse lists). */
type Extra = Partial<
  Record<
    | 'LBASE'
    | 'LPLANE'
    | 'SF'
    | 'SLOPE_INV'
    | 'CORR'
    | 'F0'
    | 'F1'
    | 'EBASE'
    | 'ECAP'
    | 'T_FUSED'
    | 'T_BIAS'
    | 'T_AMP'
    | 'T_DECAY_INV',
    number
  >
>;

const DIMS = UniformLayout.of<keyof Geometry | keyof Extra>(shader.source, 'Dims');

/** The Dims uniform of conv.wgsl: the geometry, then what the dispatch sets of the rest. */
function dims(ctx: KernelContext, g: Geometry, e: Extra = {}): GPUBuffer {
  const v = DIMS.pack({
    LBASE: 0,
    LPLANE: 0,
    SF: 1,
    SLOPE_INV: 4,
    CORR: 0,
    F0: 0,
    F1: g.F,
    EBASE: 0,
    ECAP: 0,
    T_FUSED: 0,
    T_BIAS: 0,
    T_AMP: 1,
    T_DECAY_INV: 0,
    ...e,
    ...g,
  });
  return ctx.scratch.constants(v, 'conv dims');
}

/** Repacks x into the channel-packed padded scratch; returns it. */
function packInput(ctx: KernelContext, x: Tensor, g: Geometry): ScratchRole {
  const words = g.B * g.HP * g.WP * g.CW;
  const xp = ctx.scratch.role('conv.xp', words * 4);
  const k = ctx.kernel(shader, 'pack_input', { WG });
  ctx.dispatch(k, { x, xp_out: xp, dm: dims(ctx, g) }, grid1d(words, WG));
  return xp;
}

/**
 * A filter's non-zero delta pixels are listed for the sparse weight gradient while they are at
 * most this fraction of its B * HO * WO pixels (a quarter); a tile with a denser filter runs the
 * dense loop, which is about as fast by then.
 */
const SPARSE_CAP_DIV = 4;

/**
 * The sparse weight gradient's filter chunks: entries per filter list (ECAP) and filters per
 * chunk. Listing every filter at once would take half of delta's bytes; chunks aim at a
 * sixteenth. They are a multiple of 8 filters, so filter tiles never straddle them, or 4 filters
 * where 8 would take twice that or more (a wide first layer at a large batch): half of an
 * 8-filter tile then idles, which costs nothing on listed pixels (each filter sums its own list)
 * and doubles only the work of a tile that falls back to the dense loop, which the large head
 * pools of such layers seldom make it do. Shorter lists (an eighth of the pixels) would save as
 * much memory but send layers with small head pools to the dense loop (results/HISTORY.md).
 * The tiled kernel's chunks are whole tiles of `tile` filters.
 */
export function sparseChunks(
  g: Pick<Geometry, 'B' | 'F' | 'HO' | 'WO'>,
  tile = 1,
): { ECAP: number; rows: number } {
  const ECAP = Math.ceil((g.B * g.HO * g.WO) / SPARSE_CAP_DIV);
  const rows = chunkRows(g.F, g.F * ECAP * 8, (g.F * g.B * g.HO * g.WO * 4) / 16, 4);
  return { ECAP, rows: Math.min(g.F, Math.ceil(rows / tile) * tile) };
}

/**
 * Lists the non-zero pixels of delta for filters F0 .. F1 (the sparse weight gradient's input):
 * the counts, then per filter up to ECAP xp indexes (dl), and the matching delta values (dv).
 */
function packDelta(
  ctx: KernelContext,
  delta: Tensor,
  g: Geometry,
  chunk: { ECAP: number; rows: number; F0: number; F1: number },
) {
  const { ECAP, rows, F0, F1 } = chunk;
  const EBASE = Math.ceil(rows / 4) * 4;
  const dl = ctx.scratch.role('conv.dl', (EBASE + rows * ECAP) * 4);
  const dv = ctx.scratch.role('conv.dv', rows * ECAP * 4);
  const extra: Extra = { EBASE, ECAP, F0, F1 };
  const k = ctx.kernel(shader, 'pack_delta', { WG });
  ctx.dispatch(k, { delta, dl_out: dl, dv_out: dv, dm: dims(ctx, g, extra) }, grid1d(F1 - F0, WG));
  return { dl, dv, extra };
}

/**
 * Fixed sizes of the tiled kernels (conv.wgsl): K words per slab of the forward (TKW); the
 * weight gradient's tile of filters (TGF) by K words (TGW), its slab of pixels or list entries
 * (TGP) and its invocations (TG_WG).
 */
export const TILED = { TKW: 8, TGF: 64, TGW: 16, TGP: 16, TG_WG: 256 } as const;
const TGF = TILED.TGF;

/**
 * The tiled forward (variants with BM, BN): BM x BN tiles of the flattened output pixels of the
 * batch by the filters, over the i32 weights or, with DOT4, over their int8 limbs packed per
 * chunk of filters as for the untiled kernel.
 */
function tiledForward(
  ctx: KernelContext,
  g: Geometry,
  v: Readonly<Record<string, number>>,
  base: Record<string, number>,
  resources: Record<string, Resource>,
  epi: Extra,
): void {
  const { BM, BN } = v;
  const overrides = { BM, BN, TWG: (BM * BN) / 16 };
  const cases = { ...epi, T_FUSED: base.FUSED, T_BIAS: base.HAS_BIAS };
  const res: Record<string, Resource> = { ...resources, xp4: resources.xp };
  const blocks = Math.ceil((g.B * g.HO * g.WO) / BM);
  if (!v.DOT4) {
    const k = ctx.kernel(shader, 'forward_tiled', overrides);
    ctx.dispatch(k, { ...res, dm: dims(ctx, g, cases) }, [blocks, Math.ceil(g.F / BN), 1]);
    return;
  }
  const tap = g.KS * g.KS * g.CW;
  const rows = limbChunkRows(g.F, tap);
  const { wl, LBASE, LPLANE } = limbScratch(ctx, rows, tap);
  const kp = ctx.kernel(shader, 'pack_weights', { WG, PLANES: LIMB_PLANES });
  const k = ctx.kernel(shader, 'forward_tiled_limbs', { ...overrides, PLANES: LIMB_PLANES });
  for (let F0 = 0; F0 < g.F; F0 += rows) {
    const F1 = Math.min(g.F, F0 + rows);
    const dm = dims(ctx, g, { ...cases, LBASE, LPLANE, F0, F1 });
    ctx.dispatch(kp, { w: res.w, wl_out: wl, dm }, grid1d(F1 - F0, WG));
    ctx.dispatch(k, { ...res, wl, wl4: wl, dm }, [blocks, Math.ceil((F1 - F0) / BN), 1]);
  }
}

export function conv2d(ctx: KernelContext, p: Conv2dParams): void {
  const op = 'conv2d';
  const g = geometry(p.x, p.w, p.padding);
  const e = p.epilogue;
  const v = ctx.variants.choose(op, [g.B, g.C, g.H, g.W, g.F, g.KS, g.PAD]).params;
  const TF = v.TF;
  const TP = v.TP;
  const hw = g.HO * g.WO;
  // Pixel quads whose four outputs fill one packed word of one filter: the epilogue fuses (the
  // tiled kernels' register tiles are such quads).
  const fused = Boolean(e) && (v.BM !== undefined || TP === 4) && hw % 4 === 0;
  const epi = epilogueOverrides(e?.scale, e?.relu?.slopeInv);
  const xp = packInput(ctx, p.x, g);
  const overrides: Record<string, number> = {
    WG,
    TF,
    TP,
    FUSED: fused ? 1 : 0,
    HAS_BIAS: p.bias ? 1 : 0,
  };
  const resources: Record<string, Resource> = { xp, w: p.w, bias: p.bias ?? p.w };
  // Raw sums go to `out` (no epilogue), the fused store, or a scratch read by the epilogue pass.
  // The kernel names z, s and a whichever store it makes: the others get small placeholders.
  let zScratch: ScratchRole | undefined;
  resources.z = ctx.scratch.placeholder('z');
  resources.s = ctx.scratch.placeholder('s');
  resources.a = ctx.scratch.placeholder('a');
  if (!e) resources.z = p.out;
  else if (fused) {
    resources.s = p.out;
    resources.a = e.relu ? e.relu.out : ctx.scratch.role('conv.a', p.out.size);
  } else {
    zScratch = ctx.scratch.role('conv.z', g.B * g.F * hw * 4);
    resources.z = zScratch;
  }
  const pixelBlocks = Math.ceil(hw / (TP * WG));
  if (v.BM !== undefined) tiledForward(ctx, g, v, overrides, resources, epi);
  else if (!v.DOT4) {
    resources.dm = dims(ctx, g, epi);
    ctx.dispatch(ctx.kernel(shader, 'forward', overrides), resources, [
      pixelBlocks,
      Math.ceil(g.F / TF),
      g.B,
    ]);
  } else {
    // Each chunk of filters: split its weights into int8 limbs, then run its outputs on them.
    const tap = g.KS * g.KS * g.CW;
    const rows = limbChunkRows(g.F, tap);
    const { wl, LBASE, LPLANE } = limbScratch(ctx, rows, tap);
    const kp = ctx.kernel(shader, 'pack_weights', { WG, PLANES: LIMB_PLANES });
    const k = ctx.kernel(shader, 'forward_limbs', { ...overrides, PLANES: LIMB_PLANES });
    for (let F0 = 0; F0 < g.F; F0 += rows) {
      const F1 = Math.min(g.F, F0 + rows);
      const dm = dims(ctx, g, { ...epi, LBASE, LPLANE, F0, F1 });
      ctx.dispatch(kp, { w: p.w, wl_out: wl, dm }, grid1d(F1 - F0, WG));
      ctx.dispatch(k, { ...resources, wl, dm }, [pixelBlocks, Math.ceil((F1 - F0) / TF), g.B]);
    }
  }
  if (e && zScratch) {
    const entryE = e.relu ? 'epilogue_relu' : 'epilogue_scaled';
    const ke = ctx.kernel(shader, entryE, { WG });
    const res: Record<string, Resource> = { zin: zScratch, s: p.out, dm: dims(ctx, g, epi) };
    if (e.relu) res.a = e.relu.out;
    ctx.dispatch(ke, res, grid1d(g.B * g.OUTW, WG));
  }
}

export function conv2dWeightGrad(ctx: KernelContext, p: ConvWeightGradParams): void {
  const op = 'conv2dWeightGrad';
  const shaped = (p.out ?? p.sgd?.w)!;
  const g = geometry(p.x, shaped, p.padding);
  const v = ctx.variants.choose(op, [g.B, g.C, g.H, g.W, g.F, g.KS, g.PAD]).params;
  const TF = v.TF;
  const xp = packInput(ctx, p.x, g);
  const sgd = p.sgd && {
    overrides: sgdOverrides(p.sgd),
    w_upd: p.sgd.w,
    lr_inv: p.sgd.lrInv,
  };
  const base: Record<string, Resource> = { delta: p.delta, xp };
  // The tiled kernels' IntegerSGD constants are in the uniform (the others' are overrides).
  const sgdCases: Extra =
    v.BF !== undefined && p.sgd ? { T_AMP: p.sgd.amp, T_DECAY_INV: p.sgd.decayInv } : {};
  // The sums update the weights in place (the gradient is never stored), or go to out.
  const run = (resources: Record<string, Resource>, filters: number) => {
    if (v.BF !== undefined) {
      const grid: [number, number, number] = [
        Math.ceil((g.KS * g.KS * g.CW) / TILED.TGW),
        Math.ceil(filters / TGF),
        1,
      ];
      const res = { ...resources, xp4: xp };
      const o = { SPARSE: v.SPARSE ? 1 : 0 };
      if (sgd) {
        const k = ctx.kernel(shader, 'weight_grad_tiled_sgd', o);
        ctx.dispatch(k, { ...res, w_upd: sgd.w_upd, lr_inv: sgd.lr_inv }, grid);
      } else {
        ctx.dispatch(ctx.kernel(shader, 'weight_grad_tiled', o), { ...res, z: shaped }, grid);
      }
      return;
    }
    const grid: [number, number, number] = [
      Math.ceil((g.KS * g.KS * g.CW) / WG),
      Math.ceil(filters / TF),
      1,
    ];
    const overrides = { WG, TF, SPARSE: v.SPARSE ? 1 : 0 };
    if (sgd) {
      const k = ctx.kernel(shader, 'weight_grad_sgd', { ...overrides, ...sgd.overrides });
      ctx.dispatch(k, { ...resources, w_upd: sgd.w_upd, lr_inv: sgd.lr_inv }, grid);
    } else {
      ctx.dispatch(ctx.kernel(shader, 'weight_grad', overrides), { ...resources, z: shaped }, grid);
    }
  };
  if (!v.SPARSE) {
    // The delta lists are not read without SPARSE.
    run(
      {
        ...base,
        dl: ctx.scratch.placeholder('dl'),
        dv: ctx.scratch.placeholder('dv'),
        dm: dims(ctx, g, sgdCases),
      },
      g.F,
    );
    return;
  }
  const { ECAP, rows } = sparseChunks(g, v.BF !== undefined ? TGF : 1);
  for (let F0 = 0; F0 < g.F; F0 += rows) {
    const F1 = Math.min(g.F, F0 + rows);
    const { dl, dv, extra } = packDelta(ctx, p.delta, g, { ECAP, rows, F0, F1 });
    run({ ...base, dl, dv, dm: dims(ctx, g, { ...extra, ...sgdCases }) }, F1 - F0);
  }
}

/** out[F] (i32) = Σ_b,i,j delta[b, f, i, j]: the conv bias gradient, `out` or `sgd` (see SgdUpdate). */
export function conv2dBiasGrad(ctx: KernelContext, p: ConvBiasGradParams): void {
  const [B, F, HO, WO] = p.delta.shape;
  const sgd = p.sgd && sgdOverrides(p.sgd);
  const maxGroups = ctx.limits.maxComputeWorkgroupsPerDimension;
  for (let F0 = 0; F0 < F; F0 += maxGroups) {
    const F1 = Math.min(F, F0 + maxGroups);
    // Only B, F, HO, WO and F0 of the Dims uniform are read.
    const none = { C: 0, H: 0, W: 0, KS: 0, PAD: 0, XW: 0, OUTW: 0, HP: 0, WP: 0, CW: 0 };
    const dm = dims(ctx, { ...none, B, F, HO, WO }, { F0, F1 });
    if (p.sgd && sgd) {
      const k = ctx.kernel(shader, 'bias_grad_sgd', sgd);
      ctx.dispatch(k, { delta: p.delta, w_upd: p.sgd.w, lr_inv: p.sgd.lrInv, dm }, [F1 - F0, 1, 1]);
    } else {
      const k = ctx.kernel(shader, 'bias_grad', {});
      ctx.dispatch(k, { delta: p.delta, z: p.out!, dm }, [F1 - F0, 1, 1]);
    }
  }
}
