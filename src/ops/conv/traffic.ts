/**
 * Storage traffic of the conv kernels (src/kernels/traffic.ts), exact: what each live
 * invocation of shaders/conv.wgsl loads and stores, summed over the dispatches one call issues
 * (the input repack included). Dimensions [B, C, H, W, F, k, padding] as the variant policy
 * sees them. Defaults of the case: one weight limb, the NITRO-ReLU epilogue without bias, the
 * fused IntegerSGD update, and for the sparse weight gradient a dense delta unless
 * `nonZeroPerMap` says how many pixels of each (sample, filter) map are non-zero.
 */
import type { Traffic, TrafficCase } from '../../kernels/traffic.ts';
import { LIMB_PLANES, limbChunkRows } from '../linear/gpu.ts';
import { sparseChunks, TILED } from './gpu.ts';

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

interface Geo {
  B: number;
  C: number;
  H: number;
  W: number;
  F: number;
  KS: number;
  HO: number;
  WO: number;
  HP: number;
  WP: number;
  CW: number;
}

function geo(dims: readonly number[]): Geo {
  const [B, C, H, W, F, KS, PAD] = dims;
  return {
    B,
    C,
    H,
    W,
    F,
    KS,
    HO: H + 2 * PAD - KS + 1,
    WO: W + 2 * PAD - KS + 1,
    HP: H + 2 * PAD,
    WP: W + 2 * PAD,
    CW: ceilDiv(C, 4),
  };
}

/** pack_input: every interior channel byte read as a word, every xp word written. */
function packInput(g: Geo): { read: number; write: number } {
  return { read: g.B * g.C * g.H * g.W * 4, write: g.B * g.HP * g.WP * g.CW * 4 };
}

function forward(g: Geo, p: Readonly<Record<string, number>>, c: TrafficCase) {
  if (p.BM !== undefined) return tiledForward(g, p, c);
  const { TF = 4, TP = 4, DOT4 = 0 } = p;
  const epilogue = c.epilogue ?? 'relu';
  const hw = g.HO * g.WO;
  const kk = g.KS * g.KS;
  const fused = epilogue !== 'raw' && TP === 4 && hw % 4 === 0;
  const live = ceilDiv(hw, TP);
  const i32Inner = kk * g.CW * (TP * 4 + TF * 16);
  const pack = packInput(g);
  let read = pack.read;
  let write = pack.write;
  // Filters a tile stores: those below F (a tile at a chunk's end also stores the next chunk's).
  // Each reads its bias word even without a bias (a select of both operands).
  const tiles = (F0: number, n: number, inner: number) => {
    for (let f0 = F0; f0 < F0 + n; f0 += TF) {
      const valid = Math.min(TF, g.F - f0);
      read += g.B * live * (inner + valid * 4);
      write += g.B * (fused ? live * valid * 8 : valid * hw * 4);
    }
  };
  if (!DOT4) tiles(0, g.F, i32Inner);
  else {
    const limbs = Math.max(1, c.limbs ?? 1);
    const inner = 4 * TF + (limbs > LIMB_PLANES ? i32Inner : limbs * kk * g.CW * (TP * 4 + TF * 4));
    const rows = limbChunkRows(g.F, kk * g.CW);
    for (let F0 = 0; F0 < g.F; F0 += rows) {
      const n = Math.min(g.F, F0 + rows) - F0;
      read += n * g.C * kk * 4;
      write += n * (kk * g.CW * LIMB_PLANES + 1) * 4;
      tiles(F0, n, inner);
    }
  }
  if (epilogue !== 'raw' && !fused) {
    // The epilogue pass: every raw sum read, every int8 word (and NITRO-ReLU's) written.
    const outWords = g.B * ceilDiv(g.F * hw, 4);
    read += g.B * g.F * hw * 4;
    write += outWords * 4 * (epilogue === 'relu' ? 2 : 1);
  }
  return { read, write };
}

function weightGrad(g: Geo, p: Readonly<Record<string, number>>, c: TrafficCase) {
  if (p.BF !== undefined) return tiledWeightGrad(g, p, c);
  const { TF = 4, SPARSE = 0 } = p;
  const sgd = c.sgd ?? true;
  const hw = g.HO * g.WO;
  const kk = g.KS * g.KS;
  const live = kk * g.CW;
  const dense = g.B * hw * (4 + TF * 4);
  const pack = packInput(g);
  let read = pack.read;
  let write = pack.write;
  // Stores of the sums of `valid` filters by every live invocation of a tile.
  const store = (valid: number) => {
    if (sgd) {
      read += live * valid * 4 + valid * g.C * kk * 4;
      write += valid * g.C * kk * 4;
    } else write += valid * g.C * kk * 4;
  };
  if (!SPARSE) {
    for (let f0 = 0; f0 < g.F; f0 += TF) {
      read += live * dense;
      store(Math.min(TF, g.F - f0));
    }
    return { read, write };
  }
  const { ECAP, rows } = sparseChunks(g);
  const nonZero = g.B * (c.nonZeroPerMap ?? hw);
  const listed = Math.min(nonZero, ECAP);
  const sparse = nonZero <= ECAP;
  for (let F0 = 0; F0 < g.F; F0 += rows) {
    const F1 = Math.min(g.F, F0 + rows);
    // pack_delta: all of delta's pixels of the chunk's filters, the listed entries, the counts.
    read += (F1 - F0) * g.B * hw * 4;
    write += (F1 - F0) * (listed * 8 + 4);
    for (let f0 = F0; f0 < F1; f0 += TF) {
      const valid = Math.min(TF, F1 - f0);
      read += live * (TF * 4 + (sparse ? valid * (4 + nonZero * 12) : dense));
      store(valid);
    }
  }
  return { read, write };
}

/**
 * The tiled forward (variants with BM, BN): each workgroup reads its BM pixels' K words (a
 * slab's words past K are not read) and its BN filters' weights (every limb plane the tile
 * runs, or the i32 weights), the dot4 one also the filters' limb counts; every live register
 * quad reads the bias of its valid filters and stores its sums (raw) or packed words (fused).
 * Storage bytes per multiply-add: about 4/BN for the input plus 4·limbs/BM (or 16/BM for i32
 * weights), over the K·4 channels of a word.
 */
function tiledForward(g: Geo, p: Readonly<Record<string, number>>, c: TrafficCase) {
  const { BM, BN, DOT4 = 0 } = p;
  const epilogue = c.epilogue ?? 'relu';
  const hw = g.HO * g.WO;
  const M = g.B * hw;
  const kk = g.KS * g.KS;
  const KW = kk * g.CW;
  const fused = epilogue !== 'raw' && hw % 4 === 0;
  const blocks = ceilDiv(M, BM);
  const quads = ceilDiv(M, 4);
  const pack = packInput(g);
  let read = pack.read;
  let write = pack.write;
  const w32 = BN * kk * g.C * 4;
  const tiles = (F0: number, F1: number, weights: number) => {
    for (let f0 = F0; f0 < F1; f0 += BN) {
      const valid = Math.min(BN, F1 - f0);
      read += blocks * (BM * KW * 4 + weights) + quads * valid * 4;
      write += fused ? quads * valid * 8 : M * valid * 4;
    }
  };
  if (!DOT4) tiles(0, g.F, w32);
  else {
    const limbs = Math.max(1, c.limbs ?? 1);
    const weights = BN * 4 + (limbs > LIMB_PLANES ? w32 : limbs * BN * KW * 4);
    const rows = limbChunkRows(g.F, KW);
    for (let F0 = 0; F0 < g.F; F0 += rows) {
      const F1 = Math.min(g.F, F0 + rows);
      read += (F1 - F0) * g.C * kk * 4;
      write += (F1 - F0) * (KW * LIMB_PLANES + 1) * 4;
      tiles(F0, F1, weights);
    }
  }
  if (epilogue !== 'raw' && !fused) {
    read += g.B * g.F * hw * 4;
    write += g.B * ceilDiv(g.F * hw, 4) * 4 * (epilogue === 'relu' ? 2 : 1);
  }
  return { read, write };
}

/**
 * The tiled weight gradient (variants with BF, BK): per workgroup of TGF filters by TGW K words,
 * dense: every pixel slab's input words of its K words (the last slab's clamped pixels too) and
 * the delta of its valid filters; sparse: the filters' counts, then each listed entry (index and
 * value) and the entry's input words. Stores: every sum, or the IntegerSGD update (the weight
 * read and written, the learning rate read once per invocation of a valid filter).
 * Dense bytes per multiply-add: about 1/TGW for delta plus 1/TGF for the input.
 */
function tiledWeightGrad(g: Geo, p: Readonly<Record<string, number>>, c: TrafficCase) {
  const { SPARSE = 0 } = p;
  const { TGF, TGW, TGP } = TILED;
  const sgd = c.sgd ?? true;
  const hw = g.HO * g.WO;
  const M = g.B * hw;
  const kk = g.KS * g.KS;
  const KW = kk * g.CW;
  const kTiles = ceilDiv(KW, TGW);
  const pack = packInput(g);
  let read = pack.read;
  let write = pack.write;
  // Over the K tiles of `valid` filters: dense sums, then the stores.
  const dense = (valid: number) => ceilDiv(M, TGP) * TGP * KW * 4 + kTiles * M * valid * 4;
  const store = (valid: number) => {
    write += valid * g.C * kk * 4;
    if (sgd) read += valid * g.C * kk * 4 + kTiles * valid * 4 * 4;
  };
  if (!SPARSE) {
    for (let f0 = 0; f0 < g.F; f0 += TGF) {
      const valid = Math.min(TGF, g.F - f0);
      read += dense(valid);
      store(valid);
    }
    return { read, write };
  }
  const { ECAP, rows } = sparseChunks(g, TGF);
  const nonZero = g.B * (c.nonZeroPerMap ?? hw);
  const listed = Math.min(nonZero, ECAP);
  for (let F0 = 0; F0 < g.F; F0 += rows) {
    const F1 = Math.min(g.F, F0 + rows);
    read += (F1 - F0) * g.B * hw * 4;
    write += (F1 - F0) * (listed * 8 + 4);
    for (let f0 = F0; f0 < F1; f0 += TGF) {
      const valid = Math.min(TGF, F1 - f0);
      read += kTiles * valid * 4;
      read +=
        nonZero <= ECAP ? kTiles * valid * nonZero * 8 + valid * nonZero * KW * 4 : dense(valid);
      store(valid);
    }
  }
  return { read, write };
}

/** The traffic of one call of a conv op with a variant of today's table (conv.wgsl). */
export function convTraffic(
  op: string,
  dims: readonly number[],
  params: Readonly<Record<string, number>>,
  c: TrafficCase,
): Traffic {
  const g = geo(dims);
  const f = op === 'conv2d' ? forward : op === 'conv2dWeightGrad' ? weightGrad : undefined;
  if (!f) throw new Error(`convTraffic: ${op} is not a conv op`);
  const { read, write } = f(g, params, c);
  return {
    readBytes: read,
    writeBytes: write,
    macs: g.B * g.F * g.HO * g.WO * g.C * g.KS * g.KS,
  };
}
