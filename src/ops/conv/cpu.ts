/**
 * Stride-1 zero-padded integer convolution on the CPU: forward with the NITRO epilogue, weight
 * gradient; both on the kernels of kernels.wat over a zero-padded copy of the input.
 */
import type { Conv2dParams, SgdUpdate, Tensor } from '../../backend.ts';
import { type CpuWorkspace, roundUp, sgdMagic, type Workspace } from '../../cpu/gemm.ts';
import { addBias, reluTable, storeWithEpilogue } from '../linear/cpu.ts';
import { CpuTensor, i32, i8 } from '../../cpu/tensor.ts';
import { fusedSgd, fusedSgdInWorkspace } from '../sgd/cpu.ts';
import { share } from '../../cpu/threads.ts';
import { convGeometry } from './contract.ts';

/** The contract's geometry under the names the CPU kernels use. */
function geometry(x: Tensor, w: Tensor, padding: number) {
  const g = convGeometry(x, w, padding);
  return { ...g, Ho: g.HO, Wo: g.WO };
}

/**
 * The padded input in the workspace: [B, C, Hp, Wp] int8 with zero borders, and the table of
 * the k·k·C window offsets (c, u, v) -> c·Hp·Wp + u·Wp + v (zero for padding rows up to `rows`).
 */
function paddedInput(
  cw: CpuWorkspace,
  x: Int8Array,
  g: { B: number; C: number; H: number; W: number; k: number },
  pad: number,
  ws: Workspace,
  rawAt: number,
  padAt: number,
  tableAt: number,
  rows: number,
): { plane: number; Wp: number; xAt: number } {
  const { B, C, H, W, k } = g;
  const Hp = H + 2 * pad;
  const Wp = W + 2 * pad;
  const plane = Hp * Wp;
  const xIn = cw.place(ws, x, B * C * H * W, rawAt);
  let xAt = xIn;
  if (pad > 0) {
    ws.i8.fill(0, padAt, padAt + B * C * plane);
    ws.k.copyRows(xIn, padAt + pad * Wp + pad, B * C, H * W, plane, H, W, Wp, W);
    xAt = padAt;
  }
  const t = ws.i32;
  const o = tableAt >> 2;
  let m = 0;
  for (let c = 0; c < C; c++)
    for (let u = 0; u < k; u++) for (let v = 0; v < k; v++) t[o + m++] = c * plane + u * Wp + v;
  t.fill(0, o + m, o + rows);
  return { plane, Wp, xAt };
}

/**
 * The epilogue the kernels run inside the forward's threads (each on its own images' rows
 * (b, f) of z, right after their sums): NITRO scaling by the scale8 kernel into int8 at sAt and
 * NITRO-ReLU by table (lut8) at aAt. Null where the op takes the general path (a bias, or a
 * scale factor scale8 does not take): convEpilogue then runs on a copy of z.
 */
interface FusedEpilogue {
  sf: number;
  m: number;
  s: number;
  relu: boolean;
  sAt: number;
  aAt: number;
  tAt: number;
}

function fusedEpilogue(p: Conv2dParams): { sf: number; relu?: number } | null {
  const sf = p.epilogue?.scale;
  if (!p.epilogue || p.bias || sf === undefined || !Number.isInteger(sf) || sf < 2 || sf >= 2 ** 31)
    return null;
  return { sf, relu: p.epilogue.relu?.slopeInv };
}

/** Regions convEpilogue's fused form needs (after the op's own): s and a (n bytes each), the table. */
function epilogueRegions(p: Conv2dParams, n: number): number[] {
  return fusedEpilogue(p) ? [n, p.epilogue?.relu ? n : 0, 256] : [0, 0, 0];
}

/** The fused epilogue's constants and its table at tAt (null for the general path). */
function prepareEpilogue(
  ws: Workspace,
  p: Conv2dParams,
  sAt: number,
  aAt: number,
  tAt: number,
): FusedEpilogue | null {
  const f = fusedEpilogue(p);
  if (!f) return null;
  if (f.relu !== undefined) ws.i8.set(reluTable(f.relu), tAt);
  return { sf: f.sf, ...sgdMagic(f.sf), relu: f.relu !== undefined, sAt, aAt, tAt };
}

/** The fused epilogue on rows [r0, r1) (b, f) of z [B, F, plane] at zAt. */
function epilogueRows(
  k: Workspace['k'],
  e: FusedEpilogue,
  zAt: number,
  plane: number,
  r0: number,
  r1: number,
): void {
  if (r0 >= r1) return;
  k.scale8(
    zAt + 4 * plane * r0,
    4 * plane,
    0,
    0,
    e.sAt + plane * r0,
    r1 - r0,
    plane,
    e.sf,
    e.m,
    e.s,
  );
  if (e.relu) k.lut8(e.sAt + plane * r0, e.aAt + plane * r0, (r1 - r0) * plane, e.tAt);
}

/**
 * The forward's outputs: the fused epilogue's int8 results copied out, or (general path) the
 * int32 sums z [rows, plane] at zAt through bias and the epilogue here.
 */
function convEpilogue(
  cw: CpuWorkspace,
  ws: Workspace,
  p: Conv2dParams,
  e: FusedEpilogue | null,
  zAt: number,
  rows: number,
  plane: number,
): void {
  const op = 'conv2d';
  const n = rows * plane;
  if (e) {
    i8(p.out, op).set(ws.i8.subarray(e.sAt, e.sAt + n));
    const relu = p.epilogue?.relu;
    if (relu) {
      const a = i8(relu.out, op);
      a.set(ws.i8.subarray(e.aAt, e.aAt + n));
      // A max-pool reads it next (the backend drops it on any other use of it).
      if (a.length === n) cw.keep(a, e.aAt);
    }
    return;
  }
  const z = cw.array('z', n);
  z.set(ws.i32.subarray(zAt >> 2, (zAt >> 2) + n));
  if (p.bias) addBias(z, i32(p.bias, op), p.w.shape[0], plane);
  storeWithEpilogue(op, z, p.out, p.epilogue);
}

/** Threads that pack a conv layer's weights, each with a count of its own. */
const MAX_COUNTS = 16;

/**
 * The shortest window row (k·C bytes) conv2d gives the dot4 kernel: below it, the vectors of 8
 * it reads are mostly padding and the axpy8 kernel is faster (cnn-small's first layer, k·C = 3).
 */
const DOT4_MIN_RUN = 16;

/**
 * z[b, f] = Σ_(c,u,v) w[f, c, u, v] · xpad[b, c, u + i, v + j]: per sample, the axpy kernel with
 * the input windows as its int8 B operand (rows (c, u, v) by table, 8 output columns of one
 * output row per panel; columns past Wo are computed and dropped). For windows of few bytes
 * (k·C < 16), where dot4 would mostly multiply padding.
 */
function conv2dAxpy(cw: CpuWorkspace, p: Conv2dParams): void {
  const op = 'conv2d';
  const g = geometry(p.x, p.w, p.padding);
  const { B, C, H, W, F, k, Ho, Wo } = g;
  const x = i8(p.x, op);
  const w = i32(p.w, op);
  const pad = p.padding;
  const CKK = C * k * k;
  const F4 = roundUp(F, 4);
  const Wo8 = roundUp(Wo, 8);
  const panels = (Ho * Wo8) / 8;
  const sampleX = C * (H + 2 * pad) * (W + 2 * pad);
  const out = Ho * Wo;
  // Threads take ranges of samples, each with a product buffer of its own.
  const T = Math.min(cw.threads(B * F * out * CKK), B);
  const cBytes = roundUp(4 * F4 * Ho * Wo8, 16);
  const { ws, at } = cw.reserve([
    B * C * H * W,
    pad > 0 ? B * sampleX : 0,
    4 * CKK,
    4 * panels,
    4 * F4 * CKK,
    T * cBytes,
    4 * B * F * out,
    ...epilogueRegions(p, B * F * out),
  ]);
  const [rawAt, padAt, rowT, panelT, wAt, cAt, zAt, sAt, aAt, tAt] = at;
  const e = prepareEpilogue(ws, p, sAt, aAt, tAt);
  const { Wp, xAt } = paddedInput(cw, x, g, pad, ws, rawAt, padAt, rowT, CKK);
  const t = ws.i32;
  for (let i = 0, q = panelT >> 2; i < Ho; i++)
    for (let jb = 0; jb < Wo8; jb += 8) t[q++] = i * Wp + jb;
  t.set(w.subarray(0, F * CKK), wAt >> 2);
  cw.parallel(ws, T, (thread, T, k) => {
    const [b0, b1] = share(B, thread, T);
    const c = cAt + thread * cBytes;
    for (let b = b0; b < b1; b++) {
      k.axpy8(
        wAt,
        4 * CKK,
        4,
        xAt + b * sampleX,
        rowT,
        panelT,
        c,
        4 * Ho * Wo8,
        0,
        F4,
        panels,
        CKK,
        0,
      );
      k.copyRows(c, zAt + 4 * b * F * out, F * Ho, 4 * Wo8, 4 * Wo, 1, 0, 0, 4 * Wo);
    }
    if (e) epilogueRows(k, e, zAt, out, b0 * F, b1 * F);
  });
  convEpilogue(cw, ws, p, e, zAt, B * F, out);
}

/**
 * The input channels innermost, zero-padded: [B, Hp, Wp, C8] int8 at xcAt, C8 ≥ C channels a
 * pixel (zero past C, zero borders), so a window's row u is k·C8 consecutive bytes; images
 * [b0, b1) by the channelsLast kernel from the input's copy at rawAt.
 */
function channelsLast(
  k: Workspace['k'],
  g: { C: number; H: number; W: number },
  pad: number,
  C8: number,
  rawAt: number,
  xcAt: number,
  b0: number,
  b1: number,
): void {
  const { C, H, W } = g;
  if (b0 >= b1) return;
  const image = (H + 2 * pad) * (W + 2 * pad) * C8;
  k.channelsLast(rawAt + b0 * C * H * W, xcAt + b0 * image, b1 - b0, C, H, W, pad, C8);
}

/**
 * z[b, f] = Σ_(c,u,v) w[f, c, u, v] · xpad[b, c, u + i, v + j]: the linear layer's dot4 kernel
 * over the channels-innermost padded input, one output row (b, i) a call: its Wo pixels are rows
 * C bytes apart, each k runs (the window's rows u, Wp·C bytes apart) of k·C int8 (taps v and
 * channels c) read in whole vectors of 8, against the weights reordered to (u, v, c), zero past
 * k·C in each run (so the bytes a vector reads past a run count nothing), packed as int16 halves
 * (packW; a second pass over the hi halves when any weight leaves int16).
 */
export function conv2d(cw: CpuWorkspace, p: Conv2dParams): void {
  const op = 'conv2d';
  const g = geometry(p.x, p.w, p.padding);
  const { B, C, H, W, F, k, Ho, Wo } = g;
  if (k * C < DOT4_MIN_RUN) {
    conv2dAxpy(cw, p);
    return;
  }
  const x = i8(p.x, op);
  const w = i32(p.w, op);
  const pad = p.padding;
  const Hp = H + 2 * pad;
  const Wp = W + 2 * pad;
  const seg = roundUp(k * C, 8);
  const KK = k * seg;
  const F4 = roundUp(F, 4);
  const Wo2 = roundUp(Wo, 2);
  const out = Ho * Wo;
  const { ws, at } = cw.reserve([
    // A run reads up to 7 bytes past its end, and an odd Wo one pixel more per row.
    B * Hp * Wp * C + seg + C,
    4 * F4 * KK,
    2 * F4 * KK,
    4 * B * Ho * Wo2 * F4,
    4 * B * F * out,
    B * C * H * W,
    4 * F * C * k * k,
    4 * MAX_COUNTS,
    ...epilogueRegions(p, B * F * out),
  ]);
  const [xcAt, wAt, lo, cAt, zAt, rawAt, wRaw, nAt, sAt, aAt, tAt] = at;
  const xIn = cw.place(ws, x, B * C * H * W, rawAt);
  const e = prepareEpilogue(ws, p, sAt, aAt, tAt);
  const CKK = C * k * k;
  ws.i32.set(w.subarray(0, F * CKK), wRaw >> 2);
  ws.i32.fill(0, (wAt >> 2) + F * KK, (wAt >> 2) + F4 * KK);
  const chunks = seg / 8;
  const cRow = 4 * F4;
  // Threads take ranges of the blocks of four filters: the weights in window order, then their
  // int16 halves (packW), each thread counting its hi halves into its own word at nAt.
  const blocks = F4 / 4;
  const packT = Math.min(cw.threads(F * CKK), MAX_COUNTS);
  const pack = (half: number) =>
    cw.parallel(ws, packT, (thread, T, kk) => {
      const [q0, q1] = share(blocks, thread, T);
      if (q0 >= q1) return;
      if (half === 0) {
        const f1 = Math.min(F, 4 * q1);
        if (4 * q0 < f1)
          kk.reorderConvW(wRaw + 16 * q0 * CKK, wAt + 16 * q0 * KK, f1 - 4 * q0, C, k, seg, KK);
      }
      kk.packWCount(
        wAt + 16 * q0 * KK,
        4 * KK,
        lo + 8 * q0 * KK,
        q1 - q0,
        KK / 8,
        half,
        nAt + 4 * thread,
      );
    });
  ws.i32.fill(0, nAt >> 2, (nAt >> 2) + MAX_COUNTS);
  pack(0);
  let his = 0;
  for (let i = 0; i < MAX_COUNTS; i++) his += ws.i32[(nAt >> 2) + i];
  const passes = his > 0 ? 2 : 1;
  // Threads take ranges of samples: each lays out its images channels innermost, sums them,
  // reorders its sums to [b, f, plane] and runs the epilogue on them. The hi pass (packed in
  // place of the lo halves) is a second run once every thread is done with the first.
  const T = Math.min(cw.threads(B * F * out * C * k * k), B);
  for (let pass = 0; pass < passes; pass++) {
    if (pass === 1) pack(1);
    const last = pass === passes - 1;
    cw.parallel(ws, T, (thread, T, kk) => {
      const [b0, b1] = share(B, thread, T);
      if (pass === 0) channelsLast(kk, g, pad, C, xIn, xcAt, b0, b1);
      for (let b = b0; b < b1; b++) {
        for (let i = 0; i < Ho; i++) {
          const xRow = xcAt + (b * Hp + i) * Wp * C;
          const c = cAt + (b * Ho + i) * Wo2 * cRow;
          kk.dot4(xRow, C, k, Wp * C, lo, c, cRow, 0, Wo, F4 / 4, chunks, pass, 16 * pass);
        }
      }
      if (!last || b0 >= b1) return;
      kk.pixelsToPlanes(
        cAt + 4 * b0 * Ho * Wo2 * F4,
        zAt + 4 * b0 * F * out,
        b1 - b0,
        F,
        Ho,
        Wo,
        Wo2,
        F4,
      );
      if (e) epilogueRows(kk, e, zAt, out, b0 * F, b1 * F);
    });
  }
  convEpilogue(cw, ws, p, e, zAt, B * F, out);
}

/**
 * out[F, C, k, k] = Σ_b,i,j delta[b,f,i,j] · xpad[b,c,i+u,j+v]. In training, delta reaches a conv
 * layer through its head's max-pool backward (one pixel per window) and NITRO-ReLU's backward,
 * so it is mostly zero: the sum then runs over the non-zero pixels only (sparseWeightGrad) when
 * that is less work than the dense kernel (denseWeightGrad). `path` forces one (tests).
 */
export function conv2dWeightGrad(
  cw: CpuWorkspace,
  p: { delta: Tensor; x: Tensor; padding: number; out?: Tensor; sgd?: SgdUpdate },
  path?: 'sparse' | 'dense',
): void {
  const op = 'conv2dWeightGrad';
  const g = geometry(p.x, p.sgd?.w ?? p.out!, p.padding);
  const d = i32(p.delta, op);
  const x = i8(p.x, op);
  const done: WeightGradDone = { out: p.out ? i32(p.out, op) : undefined, sgd: p.sgd };
  // A first guess from a few images spares the dense case the sparse path's gather; the
  // gather's exact count then decides (sparseWeightGrad).
  if (path === 'dense' || (path === undefined && !sparseLikely(d, g)))
    denseWeightGrad(cw, d, x, g, p.padding, done);
  else if (!sparseWeightGrad(cw, d, x, g, p.padding, done, path === 'sparse'))
    denseWeightGrad(cw, d, x, g, p.padding, done);
}

/** Images sparseLikely scans. */
const SAMPLE_IMAGES = 2;

/**
 * Multiply-adds each way (the sparse one over whole vectors of channels, the dense one over
 * whole vectors of output columns); the sparse kernel runs at about half the dense one's rate.
 */
function sparseWins(sparseMacs: number, denseMacs: number): boolean {
  return 2 * sparseMacs <= denseMacs;
}

/** Whether the sparse path would win on the first few images' deltas (a guess for the batch). */
function sparseLikely(d: Int32Array, g: ConvGeometry): boolean {
  const { B, F, Ho, Wo, C } = g;
  const HW = Ho * Wo;
  const S = Math.min(B, SAMPLE_IMAGES);
  let n = 0;
  for (let f0 = 0; f0 < F; f0 += 4) {
    const group = Math.min(4, F - f0);
    for (let b = 0; b < S; b++) {
      const base = (b * F + f0) * HW;
      for (let pix = 0; pix < HW; pix++) {
        let any = 0;
        for (let m = 0; m < group; m++) any |= d[base + m * HW + pix];
        if (any !== 0) n += 4;
      }
    }
  }
  return sparseWins(n * roundUp(C, 8), S * F * Ho * roundUp(Wo, 8) * C);
}

/** Where a weight gradient goes: `out`, and/or the fused update of `sgd`'s weights. */
interface WeightGradDone {
  out?: Int32Array;
  sgd?: SgdUpdate;
}

/**
 * The weight gradient, n int32 at gAt in the workspace in the weights' order, to `out` and
 * through the fused update (on the sgd kernel split over threads, the weights copied to wAt; in
 * JavaScript for the divisors the kernel does not take).
 */
function finishWeightGrad(
  cw: CpuWorkspace,
  ws: Workspace,
  gAt: number,
  wAt: number,
  n: number,
  done: WeightGradDone,
): void {
  const op = 'conv2dWeightGrad';
  const g = gAt >> 2;
  if (done.out) done.out.set(ws.i32.subarray(g, g + n));
  if (!done.sgd || fusedSgdInWorkspace(op, ws, done.sgd, gAt, wAt, cw)) return;
  const grad = done.out ?? cw.array('gradient', n);
  if (!done.out) grad.set(ws.i32.subarray(g, g + n));
  fusedSgd(op, done.sgd, new CpuTensor([n], 'i32', `${op} gradient`, grad, false));
}

type ConvGeometry = ReturnType<typeof geometry>;

/**
 * The sum over the non-zero pixels of delta, four filters at a time: the axpy8 kernel with the
 * group's delta values at the pixels where any of its filters is non-zero as A (int32 [R, 4]),
 * and each such pixel's input window as a row of B. The input is laid out channels innermost,
 * padded to whole vectors ([B, Hp, Wp, C8], zero borders), so a window row is k·k runs of C8
 * int8 starting at the pixel, and C[f, (u, v, c)] comes out one tap after the other.
 *
 * The gather (sparseRows, threads taking ranges of the groups) counts the pixels; unless
 * `force`, it returns false with nothing written to `out` when the dense kernel would do less
 * work (sparseWins).
 */
function sparseWeightGrad(
  cw: CpuWorkspace,
  d: Int32Array,
  x: Int8Array,
  g: ConvGeometry,
  pad: number,
  done: WeightGradDone,
  force: boolean,
): boolean {
  const { B, C, H, W, F, k, Ho, Wo } = g;
  const Hp = H + 2 * pad;
  const Wp = W + 2 * pad;
  const C8 = roundUp(C, 8);
  const cols = k * k * C8;
  const panels = cols / 8;
  const HW = Ho * Wo;
  const pixels = B * HW;
  const groups = Math.ceil(F / 4);
  // Per group of four filters: its A rows, its table of window rows, its product, its count.
  const aBytes = roundUp(16 * pixels, 16);
  const rBytes = roundUp(4 * pixels, 16);
  const cBytes = roundUp(16 * cols, 16);
  const { ws, at } = cw.reserve([
    B * Hp * Wp * C8,
    groups * aBytes,
    groups * rBytes,
    4 * panels,
    groups * cBytes,
    B * C * H * W,
    4 * B * F * HW,
    4 * groups,
    4 * F * C * k * k,
    4 * F * C * k * k,
  ]);
  const [xcAt, aAt, rowT, panelT, cAt, rawAt, dAt, nAt, gAt, wAt] = at;
  ws.i8.set(x.subarray(0, B * C * H * W), rawAt);
  ws.i32.set(d.subarray(0, B * F * HW), dAt >> 2);
  // Threads take ranges of the images (the channels-innermost copy) and of the groups (the gather).
  cw.parallel(ws, cw.threads(B * F * HW), (thread, T, kk) => {
    const [b0, b1] = share(B, thread, T);
    channelsLast(kk, g, pad, C8, rawAt, xcAt, b0, b1);
    const [g0, g1] = share(groups, thread, T);
    for (let gi = g0; gi < g1; gi++) {
      const f0 = 4 * gi;
      kk.sparseRows(
        dAt + 4 * f0 * HW,
        Math.min(4, F - f0),
        F,
        B,
        Ho,
        Wo,
        Hp,
        Wp,
        C8,
        aAt + gi * aBytes,
        rowT + gi * rBytes,
        nAt + 4 * gi,
      );
    }
  });
  const t = ws.i32;
  const rows = t.slice(nAt >> 2, (nAt >> 2) + groups);
  let macs = 0;
  for (let gi = 0; gi < groups; gi++) macs += 4 * rows[gi] * cols;
  const sparseMacs = (macs / cols) * C8;
  if (!force && !sparseWins(sparseMacs, B * F * Ho * roundUp(Wo, 8) * C)) return false;
  let q = panelT >> 2;
  for (let u = 0; u < k; u++)
    for (let v = 0; v < k; v++) for (let c = 0; c < C8; c += 8) t[q++] = (u * Wp + v) * C8 + c;
  for (let gi = 0; gi < groups; gi++) {
    const c0 = (cAt + gi * cBytes) >> 2;
    if (rows[gi] === 0) t.fill(0, c0, c0 + 4 * cols);
  }
  // Threads take ranges of the panels of every group's product.
  cw.parallel(ws, cw.threads(macs), (thread, T, kk) => {
    const [p0, p1] = share(panels, thread, T);
    if (p0 >= p1) return;
    for (let gi = 0; gi < groups; gi++) {
      if (rows[gi] === 0) continue;
      const c = cAt + gi * cBytes + 32 * p0;
      kk.axpy8(
        aAt + gi * aBytes,
        4,
        16,
        xcAt,
        rowT + gi * rBytes,
        panelT + 4 * p0,
        c,
        4 * cols,
        0,
        4,
        p1 - p0,
        rows[gi],
        0,
      );
    }
  });
  // Group gi's filter m sits at filter 4·gi + m of [F, k·k, C8] (cBytes = 16·cols): threads
  // take ranges of the filters to put them in the weights' order.
  const taps = k * k;
  cw.parallel(ws, cw.threads(F * C * taps), (thread, T, kk) => {
    const [f0, f1] = share(F, thread, T);
    if (f0 < f1) kk.unpackTaps(cAt + 4 * f0 * cols, gAt + 4 * f0 * C * taps, f1 - f0, C, taps, C8);
  });
  finishWeightGrad(cw, ws, gAt, wAt, F * C * taps, done);
  return true;
}

/**
 * The dense sum: the dot16 kernel with input windows (c, u, v) as int8 rows and delta rows
 * (zero-padded to whole vectors, split into int16 halves) as the other operand, summed over the
 * samples.
 */
function denseWeightGrad(
  cw: CpuWorkspace,
  d: Int32Array,
  x: Int8Array,
  g: ConvGeometry,
  pad: number,
  done: WeightGradDone,
): void {
  const { B, C, H, W, F, k, Ho, Wo } = g;
  const CKK = C * k * k;
  const CKK2 = roundUp(CKK, 2);
  const F2 = roundUp(F, 2);
  const Wo8 = roundUp(Wo, 8);
  const sampleX = C * (H + 2 * pad) * (W + 2 * pad);
  const sampleD = F * Ho * Wo8;
  const padded = Wo8 !== Wo;
  // An odd F reads one delta row past the last sample: the halves get a row of slack.
  const halves = 2 * (B * sampleD + Ho * Wo8);
  const T = cw.threads(B * F * Ho * Wo * CKK);
  const { ws, at } = cw.reserve([
    B * C * H * W,
    pad > 0 ? B * sampleX : 0,
    4 * CKK2,
    4 * B * F * Ho * Wo,
    padded ? 4 * B * sampleD : 0,
    halves,
    halves,
    4 * F2 * CKK2,
    32,
    CKK2 !== CKK ? 4 * F * CKK : 0,
    4 * F * CKK,
  ]);
  const [rawAt, padAt, pT, dCopy, dPad, lo, hi, cAt, zeroAt, denseAt, wAt] = at;
  const { Wp, xAt } = paddedInput(cw, x, g, pad, ws, rawAt, padAt, pT, CKK2);
  const dRaw = cw.place(ws, d, B * F * Ho * Wo, dCopy);
  ws.i32.fill(0, zeroAt >> 2, (zeroAt >> 2) + 8);
  const dAt = padded ? dPad : dRaw;
  // Threads take ranges of the delta rows (b, f, i): widened to Wo8 columns (zeros copied past
  // Wo) and split into int16 halves, before any thread's sums read them.
  const dRows = B * F * Ho;
  cw.parallel(ws, T, (thread, T, k) => {
    const [r0, r1] = share(dRows, thread, T);
    if (r0 >= r1) return;
    if (padded) {
      const to = dPad + 4 * Wo8 * r0;
      k.copyRows(dRaw + 4 * Wo * r0, to, r1 - r0, 4 * Wo, 4 * Wo8, 1, 0, 0, 4 * Wo);
      k.copyRows(zeroAt, to + 4 * Wo, r1 - r0, 0, 4 * Wo8, 1, 0, 0, 4 * (Wo8 - Wo));
    }
    const q = 2 * Wo8 * r0;
    k.split16(dAt + 4 * Wo8 * r0, 4 * Wo8, lo + q, hi + q, 2 * Wo8, r1 - r0, Wo8 / 8);
  });
  // Threads take ranges of the output's rows (c, u, v) or, where there are fewer of them, of
  // its filters; each sums over every sample.
  const byRows = CKK2 >= F2;
  cw.parallel(ws, T, (thread, T, k) => {
    const [r0, r1] = share(byRows ? CKK2 : F2, thread, T, 2);
    if (r0 >= r1) return;
    const [m0, M] = byRows ? [r0, r1 - r0] : [0, CKK2];
    const [n0, N] = byRows ? [0, F2] : [r0, r1 - r0];
    const qRow = 2 * Ho * Wo8;
    for (let b = 0; b < B; b++) {
      const q = 2 * b * sampleD + n0 * qRow;
      k.dot16(
        pT,
        xAt + b * sampleX,
        lo + q,
        hi + q,
        qRow,
        cAt + 4 * CKK2 * n0,
        4,
        4 * CKK2,
        m0,
        m0 + M,
        N,
        Ho,
        Wo8 / 8,
        Wp,
        2 * Wo8,
        b > 0 ? 1 : 0,
      );
    }
  });
  // Rows of CKK2 int32 to rows of CKK: the gradient in the weights' order.
  if (CKK2 !== CKK) ws.k.copyRows(cAt, denseAt, F, 4 * CKK2, 4 * CKK, 1, 0, 0, 4 * CKK);
  finishWeightGrad(cw, ws, CKK2 !== CKK ? denseAt : cAt, wAt, F * CKK, done);
}

/** out[F] = Σ_b,i,j delta[b, f, i, j] (i32, wrapping): the conv bias gradient. */
export function conv2dBiasGrad(p: { delta: Tensor; out: Tensor }): void {
  const op = 'conv2dBiasGrad';
  const [B, F, Ho, Wo] = p.delta.shape;
  const delta = i32(p.delta, op);
  const out = i32(p.out, op);
  const hw = Ho * Wo;
  for (let f = 0; f < F; f++) {
    let sum = 0;
    for (let b = 0; b < B; b++) {
      const base = (b * F + f) * hw;
      for (let q = 0; q < hw; q++) sum = (sum + delta[base + q]) | 0;
    }
    out[f] = sum;
  }
}
