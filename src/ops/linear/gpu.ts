/**
 * WebGPU wrappers of the integer linear layer: forward with the fused NITRO epilogue (i32 path,
 * or dot4I8Packed on the weights split into int8 limbs counted on the GPU), input and weight
 * gradients. The register tile comes from the variant policy (gemm-tiles.ts).
 */
import type { LinearParams } from '../../backend.ts';
import { type KernelContext, type Resource, grid1d } from '../../kernels/context.ts';
import { chunkRows, type ScratchRole } from '../../kernels/scratch.ts';
import { UniformLayout } from '../../kernels/uniforms.ts';
import { correction } from '../activation/contract.ts';
import { sgdOverrides } from '../sgd/gpu.ts';
import type { LinearInputGradParams, LinearWeightGradParams } from './contract.ts';
import { defineShader } from '../../kernels/shaders.ts';

/** shaders/linear.wgsl: its entry points and override constants (checked against the WGSL). */
export const shader = defineShader(
  'linear',
  [
    'forward_raw',
    'forward_scaled',
    'forward_relu',
    'forward_raw_limbs',
    'forward_scaled_limbs',
    'forward_relu_limbs',
    'pack_weights',
    'input_grad',
    'weight_grad',
    'weight_grad_sgd',
  ],
  ['WG', 'HAS_BIAS', 'G_PACKED', 'TM', 'TN', 'PLANES', 'RELU', 'AMP', 'DECAY_INV'],
);

/** shaders/linear-tiled.wgsl: the workgroup-tiled variants (gemm-tiles.ts TILE). */
export const tiledShader = defineShader(
  'linear-tiled',
  [
    'forward',
    'forward_v4',
    'input_grad',
    'input_grad_v4',
    'weight_grad',
    'weight_grad_v4',
    'weight_grad_sgd',
    'weight_grad_sgd_v4',
  ],
  ['TM', 'TN', 'DOT4', 'PLANES'],
);

const WG = 64;
/** Invocations along each side of a tiled workgroup (linear-tiled.wgsl SIDE). */
const SIDE = 8;
const words = (n: number) => Math.ceil(n / 4);

/** The Dims fields of a (checked) epilogue: scaling factor, NITRO-ReLU slope and correction. */
export function epilogueOverrides(
  scale: number | undefined,
  slopeInv: number | undefined,
): { SF?: number; SLOPE_INV?: number; CORR?: number } {
  const o: { SF?: number; SLOPE_INV?: number; CORR?: number } = {};
  if (scale !== undefined) o.SF = scale;
  if (slopeInv !== undefined) {
    o.SLOPE_INV = slopeInv;
    o.CORR = correction(slopeInv);
  }
  return o;
}

/**
 * Int8 limb planes kept of the weights for the dot4I8Packed path (the shaders' PLANES). Two
 * cover |w| < 32768, which trained NITRO-D weights stay within; a tile whose weights need more
 * runs the i32 path. Each plane is a quarter of the int32 weights' bytes.
 */
export const LIMB_PLANES = 2;

/**
 * Rows (output rows of w, or conv filters) per limb chunk. A layer whose limb planes would pass
 * an eighth of its int32 weights packs and runs its forward in up to four chunks of rows, one
 * after the other through the same scratch, so the planes cost at most that rather than half.
 */
export function limbChunkRows(rows: number, rowWords: number): number {
  return chunkRows(rows, LIMB_PLANES * rows * rowWords * 4, rows * rowWords * 2);
}

/**
 * The weight-limb scratch shared by the linear and conv dot4 paths, for chunks of `rows` rows:
 * their limb counts (padded to a whole 16-byte row) then LIMB_PLANES planes of rows x rowWords.
 */
export function limbScratch(
  ctx: KernelContext,
  rows: number,
  rowWords: number,
): { wl: ScratchRole; LBASE: number; LPLANE: number } {
  const LBASE = Math.ceil(rows / 4) * 4;
  const LPLANE = rows * rowWords;
  const wl = ctx.scratch.role('weight-limbs', (LBASE + LIMB_PLANES * LPLANE) * 4);
  return { wl, LBASE, LPLANE };
}

type DimsMember =
  | 'B'
  | 'K'
  | 'O'
  | 'KW'
  | 'OW'
  | 'LBASE'
  | 'LPLANE'
  | 'SF'
  | 'SLOPE_INV'
  | 'CORR'
  | 'O0'
  | 'O1';
const DIMS = UniformLayout.of<DimsMember>(shader.source, 'Dims');
type TiledMember = DimsMember | 'MODE' | 'HAS_BIAS' | 'G_PACKED' | 'RELU' | 'AMP' | 'DECAY_INV';
const TILED_DIMS = UniformLayout.of<TiledMember>(tiledShader.source, 'Dims');

/** The Dims uniform of linear-tiled.wgsl: linear.wgsl's, then the case the kernel runs. */
function tiledDims(
  ctx: KernelContext,
  B: number,
  K: number,
  O: number,
  e: Partial<Record<TiledMember, number>> = {},
): GPUBuffer {
  const v = TILED_DIMS.pack({
    LBASE: 0,
    LPLANE: 0,
    SF: 1,
    SLOPE_INV: 4,
    CORR: 0,
    O0: 0,
    O1: O,
    MODE: 0,
    HAS_BIAS: 0,
    G_PACKED: 0,
    RELU: 0,
    AMP: 1,
    DECAY_INV: 0,
    ...e,
    B,
    K,
    O,
    KW: words(K),
    OW: words(O),
  });
  return ctx.scratch.constants(v, 'linear-tiled dims');
}

/** The Dims uniform of linear.wgsl: shapes, then the optional limb, epilogue and chunk fields. */
function dims(
  ctx: KernelContext,
  B: number,
  K: number,
  O: number,
  e: Partial<Record<DimsMember, number>> = {},
): GPUBuffer {
  const v = DIMS.pack({
    LBASE: 0,
    LPLANE: 0,
    SF: 1,
    SLOPE_INV: 4,
    CORR: 0,
    O0: 0,
    O1: O,
    ...e,
    B,
    K,
    O,
    KW: words(K),
    OW: words(O),
  });
  return ctx.scratch.constants(v, 'linear dims');
}

export function linear(ctx: KernelContext, p: LinearParams): void {
  const op = 'linear';
  const [B, K] = p.x.shape;
  const O = p.w.shape[0];
  const e = p.epilogue;
  const v = ctx.variants.choose(op, [B, K, O]).params;
  if (v.TILE) {
    linearTiled(ctx, p, v);
    return;
  }
  const epi = epilogueOverrides(e?.scale, e?.relu?.slopeInv);
  const entry = !e ? 'forward_raw' : e.relu ? 'forward_relu' : 'forward_scaled';
  // Without a bias the weights stand in for the (unread) bias binding.
  const resources: Record<string, Resource> = { x: p.x, w: p.w, bias: p.bias ?? p.w };
  resources.z = ctx.scratch.placeholder('z');
  resources.s = ctx.scratch.placeholder('s');
  resources.a = ctx.scratch.placeholder('a');
  if (!e) resources.z = p.out;
  else resources.s = p.out;
  if (e?.relu) resources.a = e.relu.out;
  const overrides = { WG, TM: v.TM, TN: v.TN, HAS_BIAS: p.bias ? 1 : 0 };
  const rowBlocks = Math.ceil(B / (v.TM * WG));
  if (!v.DOT4) {
    resources.dm = dims(ctx, B, K, O, epi);
    ctx.dispatch(ctx.kernel(shader, entry, overrides), resources, [
      rowBlocks,
      Math.ceil(O / v.TN),
      1,
    ]);
    return;
  }
  // Each chunk of rows: split its weights into limbs, then run its outputs on them.
  const rows = limbChunkRows(O, words(K));
  const { wl, LBASE, LPLANE } = limbScratch(ctx, rows, words(K));
  const kp = ctx.kernel(shader, 'pack_weights', { WG, PLANES: LIMB_PLANES });
  const k = ctx.kernel(shader, `${entry}_limbs`, { ...overrides, PLANES: LIMB_PLANES });
  for (let O0 = 0; O0 < O; O0 += rows) {
    const O1 = Math.min(O, O0 + rows);
    const dm = dims(ctx, B, K, O, { ...epi, LBASE, LPLANE, O0, O1 });
    ctx.dispatch(kp, { w: p.w, wl_out: wl, dm }, grid1d(O1 - O0, WG));
    ctx.dispatch(k, { ...resources, wl, dm }, [rowBlocks, Math.ceil((O1 - O0) / v.TN), 1]);
  }
}

export function linearInputGrad(ctx: KernelContext, p: LinearInputGradParams): void {
  const op = 'linearInputGrad';
  const [B, O] = p.g.shape;
  const K = p.w.shape[1];
  const v = ctx.variants.choose(op, [B, K, O]).params;
  if (v.TILE) {
    linearInputGradTiled(ctx, p, v);
    return;
  }
  const G_PACKED = p.g.dtype === 'i8' ? 1 : 0;
  // The saved input is read only with relu.
  const resources: Record<string, Resource> = {
    g: p.g,
    w: p.w,
    z: p.out,
    x: ctx.scratch.placeholder('x'),
  };
  const e: Partial<Record<DimsMember, number>> = {};
  if (p.relu) {
    resources.x = p.relu.x;
    Object.assign(e, epilogueOverrides(undefined, p.relu.slopeInv));
  }
  resources.dm = dims(ctx, B, K, O, e);
  const k = ctx.kernel(shader, 'input_grad', {
    WG,
    TM: v.TM,
    TN: v.TN,
    G_PACKED,
    RELU: p.relu ? 1 : 0,
  });
  ctx.dispatch(k, resources, [Math.ceil(B / (v.TM * WG)), Math.ceil(K / v.TN), 1]);
}

export function linearWeightGrad(ctx: KernelContext, p: LinearWeightGradParams): void {
  const op = 'linearWeightGrad';
  const [B, O] = p.g.shape;
  const K = p.x.shape[1];
  const v = ctx.variants.choose(op, [B, K, O]).params;
  if (v.TILE) {
    linearWeightGradTiled(ctx, p, v);
    return;
  }
  const G_PACKED = p.g.dtype === 'i8' ? 1 : 0;
  const grid: [number, number, number] = [Math.ceil(words(K) / WG), Math.ceil(O / v.TN), 1];
  if (p.sgd) {
    // The sums update the weights in place; the gradient is never stored.
    const sgd = sgdOverrides(p.sgd);
    const k = ctx.kernel(shader, 'weight_grad_sgd', { WG, TN: v.TN, G_PACKED, ...sgd });
    ctx.dispatch(
      k,
      { g: p.g, x: p.x, w_upd: p.sgd.w, lr_inv: p.sgd.lrInv, dm: dims(ctx, B, K, O) },
      grid,
    );
    return;
  }
  const k = ctx.kernel(shader, 'weight_grad', { WG, TN: v.TN, G_PACKED });
  ctx.dispatch(k, { g: p.g, x: p.x, z: p.out!, dm: dims(ctx, B, K, O) }, grid);
}

// ---------------------------------------------------------------------------------------------
// Workgroup-tiled variants (shaders/linear-tiled.wgsl): TILE is the register tile's side, so a
// workgroup owns an 8·TILE square of the output.

type Params = Readonly<Record<string, number>>;

/** Whether the vec4 entry points apply: every staged row of each operand is whole vec4s. */
export function tiledVec4(op: string, K: number, O: number, gPacked: boolean): boolean {
  if (op === 'linear') return K % 16 === 0;
  if (op === 'linearInputGrad') return K % 4 === 0 && O % 16 === 0;
  return K % 16 === 0 && O % (gPacked ? 16 : 4) === 0;
}

function linearTiled(ctx: KernelContext, p: LinearParams, v: Params): void {
  const [B, K] = p.x.shape;
  const O = p.w.shape[0];
  const e = p.epilogue;
  const side = SIDE * v.TILE;
  const v4 = tiledVec4('linear', K, O, false);
  const epi = {
    ...epilogueOverrides(e?.scale, e?.relu?.slopeInv),
    MODE: !e ? 0 : e.relu ? 2 : 1,
    HAS_BIAS: p.bias ? 1 : 0,
  };
  // The vec4 entry points bind the operands under both names (read-only aliases).
  const resources: Record<string, Resource> = {
    x: p.x,
    x4: p.x,
    w: p.w,
    w4: p.w,
    bias: p.bias ?? p.w,
    z: ctx.scratch.placeholder('z'),
    s: ctx.scratch.placeholder('s'),
    a: ctx.scratch.placeholder('a'),
  };
  if (!e) resources.z = p.out;
  else resources.s = p.out;
  if (e?.relu) resources.a = e.relu.out;
  const overrides = { TM: v.TILE, TN: v.TILE, DOT4: v.DOT4 ? 1 : 0, PLANES: LIMB_PLANES };
  const k = ctx.kernel(tiledShader, v4 ? 'forward_v4' : 'forward', overrides);
  const rowBlocks = Math.ceil(B / side);
  if (!v.DOT4) {
    resources.wl = ctx.scratch.placeholder('wl');
    resources.wl4 = resources.wl;
    const dm = tiledDims(ctx, B, K, O, epi);
    ctx.dispatch(k, { ...resources, dm }, [rowBlocks, Math.ceil(O / side), 1]);
    return;
  }
  // As the untiled dot4 path: each chunk of rows is split into limbs (linear.wgsl), then run.
  const rows = limbChunkRows(O, words(K));
  const { wl, LBASE, LPLANE } = limbScratch(ctx, rows, words(K));
  const kp = ctx.kernel(shader, 'pack_weights', { WG, PLANES: LIMB_PLANES });
  for (let O0 = 0; O0 < O; O0 += rows) {
    const O1 = Math.min(O, O0 + rows);
    const chunk = { LBASE, LPLANE, O0, O1 };
    ctx.dispatch(kp, { w: p.w, wl_out: wl, dm: dims(ctx, B, K, O, chunk) }, grid1d(O1 - O0, WG));
    const dm = tiledDims(ctx, B, K, O, { ...epi, ...chunk });
    ctx.dispatch(k, { ...resources, wl, wl4: wl, dm }, [rowBlocks, Math.ceil((O1 - O0) / side), 1]);
  }
}

function linearInputGradTiled(ctx: KernelContext, p: LinearInputGradParams, v: Params): void {
  const [B, O] = p.g.shape;
  const K = p.w.shape[1];
  const side = SIDE * v.TILE;
  const gPacked = p.g.dtype === 'i8';
  const v4 = tiledVec4('linearInputGrad', K, O, gPacked);
  const resources: Record<string, Resource> = {
    g: p.g,
    g4: p.g,
    w: p.w,
    w4: p.w,
    z: p.out,
    x: p.relu ? p.relu.x : ctx.scratch.placeholder('x'),
    dm: tiledDims(ctx, B, K, O, {
      ...epilogueOverrides(undefined, p.relu?.slopeInv),
      G_PACKED: gPacked ? 1 : 0,
      RELU: p.relu ? 1 : 0,
    }),
  };
  const k = ctx.kernel(tiledShader, v4 ? 'input_grad_v4' : 'input_grad', {
    TM: v.TILE,
    TN: v.TILE,
  });
  ctx.dispatch(k, resources, [Math.ceil(B / side), Math.ceil(K / side), 1]);
}

function linearWeightGradTiled(ctx: KernelContext, p: LinearWeightGradParams, v: Params): void {
  const [B, O] = p.g.shape;
  const K = p.x.shape[1];
  const side = SIDE * v.TILE;
  const gPacked = p.g.dtype === 'i8';
  const v4 = tiledVec4('linearWeightGrad', K, O, gPacked);
  const sgd = p.sgd ? { AMP: p.sgd.amp, DECAY_INV: p.sgd.decayInv } : {};
  const base: Record<string, Resource> = {
    g: p.g,
    g4: p.g,
    x: p.x,
    x4: p.x,
    dm: tiledDims(ctx, B, K, O, { G_PACKED: gPacked ? 1 : 0, ...sgd }),
  };
  const overrides = { TM: v.TILE, TN: v.TILE };
  const grid: [number, number, number] = [Math.ceil(O / side), Math.ceil(K / side), 1];
  if (p.sgd) {
    // The sums update the weights in place; the gradient is never stored.
    const entry = v4 ? 'weight_grad_sgd_v4' : 'weight_grad_sgd';
    const k = ctx.kernel(tiledShader, entry, overrides);
    ctx.dispatch(k, { ...base, w_upd: p.sgd.w, lr_inv: p.sgd.lrInv }, grid);
    return;
  }
  const k = ctx.kernel(tiledShader, v4 ? 'weight_grad_v4' : 'weight_grad', overrides);
  ctx.dispatch(k, { ...base, z: p.out! }, grid);
}
