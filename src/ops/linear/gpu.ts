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

const WG = 64;
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
