/**
 * Stride-1 zero-padded integer convolution on the CPU: forward with the NITRO epilogue, weight
 * gradient; both on the kernels of kernels.wat over a zero-padded copy of the input.
 */
import type { Conv2dParams, Tensor } from '../../backend.ts';
import { type CpuWorkspace, roundUp, sgdMagic, type Workspace } from '../../cpu/gemm.ts';
import { addBias, reluInto, reluTable, storeWithEpilogue, unpackRows } from '../linear/cpu.ts';
import { i32, i8 } from '../../cpu/tensor.ts';
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
  ws.i8.set(x.subarray(0, B * C * H * W), rawAt);
  let xAt = rawAt;
  if (pad > 0) {
    ws.i8.fill(0, padAt, padAt + B * C * plane);
    ws.k.copyRows(rawAt, padAt + pad * Wp + pad, B * C, H * W, plane, H, W, Wp, W);
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
 * The forward's int32 sums z [B, F, plane] at byte offset zAt through bias and the epilogue into
 * p.out: without bias, on the scale8 kernel (the int8 result at sAt, B·F·plane bytes) for the
 * scale factors it takes; else on a copy of z here.
 */
function convEpilogue(
  cw: CpuWorkspace,
  ws: Workspace,
  p: Conv2dParams,
  zAt: number,
  sAt: number,
  rows: number,
  plane: number,
): void {
  const op = 'conv2d';
  const sf = p.epilogue?.scale;
  if (
    p.epilogue &&
    !p.bias &&
    sf !== undefined &&
    Number.isInteger(sf) &&
    sf >= 2 &&
    sf < 2 ** 31
  ) {
    const { m, s } = sgdMagic(sf);
    // Threads take ranges of the rows (b, f).
    cw.parallel(ws, cw.threads(rows * plane * 4), (t, T, k) => {
      const [r0, r1] = share(rows, t, T);
      if (r0 < r1)
        k.scale8(zAt + 4 * plane * r0, 4 * plane, 0, 0, sAt + plane * r0, r1 - r0, plane, sf, m, s);
    });
    const out = i8(p.out, op);
    out.set(ws.i8.subarray(sAt, sAt + rows * plane));
    const relu = p.epilogue.relu;
    if (relu) reluInto(out, i8(relu.out, op), out.length, reluTable(relu.slopeInv));
    return;
  }
  const z = cw.array('z', rows * plane);
  z.set(ws.i32.subarray(zAt >> 2, (zAt >> 2) + rows * plane));
  if (p.bias) addBias(z, i32(p.bias, op), p.w.shape[0], plane);
  storeWithEpilogue(op, z, p.out, p.epilogue);
}

/** Bytes conv2d reserves for convEpilogue's int8 result. */
function epilogueBytes(p: Conv2dParams, n: number): number {
  return p.epilogue && !p.bias ? n : 0;
}

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
    epilogueBytes(p, B * F * out),
  ]);
  const [rawAt, padAt, rowT, panelT, wAt, cAt, zAt, sAt] = at;
  const { Wp, xAt } = paddedInput(x, g, pad, ws, rawAt, padAt, rowT, CKK);
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
  });
  convEpilogue(cw, ws, p, zAt, sAt, B * F, out);
}

/**
 * The input channels innermost, zero-padded: [B, Hp, Wp, C8] int8 at xcAt, C8 ≥ C channels a
 * pixel (zero past C, zero borders), so a window's row u is k·C8 consecutive bytes.
 */
function channelsLast(
  x: Int8Array,
  g: { B: number; C: number; H: number; W: number },
  pad: number,
  C8: number,
  xc: Int8Array,
  xcAt: number,
): void {
  const { B, C, H, W } = g;
  const Hp = H + 2 * pad;
  const Wp = W + 2 * pad;
  xc.fill(0, xcAt, xcAt + B * Hp * Wp * C8);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      for (let h = 0; h < H; h++) {
        const src = ((b * C + c) * H + h) * W;
        let dst = xcAt + ((b * Hp + h + pad) * Wp + pad) * C8 + c;
        for (let w = 0; w < W; w++, dst += C8) xc[dst] = x[src + w];
      }
    }
  }
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
    epilogueBytes(p, B * F * out),
  ]);
  const [xcAt, wAt, lo, cAt, zAt, sAt] = at;
  channelsLast(x, g, pad, C, ws.i8, xcAt);
  const t = ws.i32;
  const w32 = wAt >> 2;
  t.fill(0, w32, w32 + F4 * KK);
  for (let f = 0; f < F; f++)
    for (let c = 0; c < C; c++)
      for (let u = 0; u < k; u++)
        for (let v = 0; v < k; v++)
          t[w32 + f * KK + u * seg + v * C + c] = w[((f * C + c) * k + u) * k + v];
  const chunks = seg / 8;
  const cRow = 4 * F4;
  const passes = ws.k.packW(wAt, 4 * KK, lo, F4 / 4, KK / 8, 0, 0, 0) > 0 ? 2 : 1;
  // Threads take ranges of samples; the hi pass (packed in place of the lo halves) is a second
  // run once every thread is done with the first.
  const T = Math.min(cw.threads(B * F * out * C * k * k), B);
  for (let pass = 0; pass < passes; pass++) {
    if (pass === 1) ws.k.packW(wAt, 4 * KK, lo, F4 / 4, KK / 8, 1, 0, 0);
    cw.parallel(ws, T, (thread, T, kk) => {
      const [b0, b1] = share(B, thread, T);
      for (let b = b0; b < b1; b++) {
        for (let i = 0; i < Ho; i++) {
          const xRow = xcAt + (b * Hp + i) * Wp * C;
          const c = cAt + (b * Ho + i) * Wo2 * cRow;
          kk.dot4(xRow, C, k, Wp * C, lo, c, cRow, 0, Wo, F4 / 4, chunks, pass, 16 * pass);
        }
      }
    });
  }
  const c32 = cAt >> 2;
  for (let b = 0; b < B; b++) {
    for (let f = 0; f < F; f++) {
      const zf = (zAt >> 2) + (b * F + f) * out;
      for (let i = 0; i < Ho; i++) {
        const row = c32 + (b * Ho + i) * Wo2 * F4 + f;
        for (let j = 0; j < Wo; j++) t[zf + i * Wo + j] = t[row + j * F4];
      }
    }
  }
  convEpilogue(cw, ws, p, zAt, sAt, B * F, out);
}

/**
 * out[F, C, k, k] = Σ_b,i,j delta[b,f,i,j] · xpad[b,c,i+u,j+v]. In training, delta reaches a conv
 * layer through its head's max-pool backward (one pixel per window) and NITRO-ReLU's backward,
 * so it is mostly zero: the sum then runs over the non-zero pixels only (sparseWeightGrad) when
 * that is less work than the dense kernel (denseWeightGrad). `path` forces one (tests).
 */
export function conv2dWeightGrad(
  cw: CpuWorkspace,
  p: { delta: Tensor; x: Tensor; padding: number; out: Tensor },
  path?: 'sparse' | 'dense',
): void {
  const op = 'conv2dWeightGrad';
  const g = geometry(p.x, p.out, p.padding);
  const { B, F, Ho, Wo } = g;
  const d = i32(p.delta, op);
  const x = i8(p.x, op);
  // Multiply-adds each way (the sparse one over whole vectors of channels, the dense one over
  // whole vectors of output columns); the sparse kernel runs at about half the dense one's rate.
  const sparseMacs = sparsePixels(d, B, F, Ho * Wo) * roundUp(g.C, 8);
  const denseMacs = B * F * Ho * roundUp(Wo, 8) * g.C;
  if (path ? path === 'sparse' : 2 * sparseMacs <= denseMacs)
    sparseWeightGrad(cw, d, x, g, p.padding, i32(p.out, op));
  else denseWeightGrad(cw, d, x, g, p.padding, i32(p.out, op));
}

/** Pixels, summed over the groups of four filters, at which a filter of the group is non-zero. */
function sparsePixels(d: Int32Array, B: number, F: number, HW: number): number {
  let n = 0;
  for (let f0 = 0; f0 < F; f0 += 4) {
    const group = Math.min(4, F - f0);
    for (let b = 0; b < B; b++) {
      const base = (b * F + f0) * HW;
      for (let pix = 0; pix < HW; pix++) {
        let any = 0;
        for (let m = 0; m < group; m++) any |= d[base + m * HW + pix];
        if (any !== 0) n += 4;
      }
    }
  }
  return n;
}

type ConvGeometry = ReturnType<typeof geometry>;

/**
 * The sum over the non-zero pixels of delta, four filters at a time: the axpy8 kernel with the
 * group's delta values at the pixels where any of its filters is non-zero as A (int32 [R, 4]),
 * and each such pixel's input window as a row of B. The input is laid out channels innermost,
 * padded to whole vectors ([B, Hp, Wp, C8], zero borders), so a window row is k·k runs of C8
 * int8 starting at the pixel, and C[f, (u, v, c)] comes out one tap after the other.
 */
function sparseWeightGrad(
  cw: CpuWorkspace,
  d: Int32Array,
  x: Int8Array,
  g: ConvGeometry,
  pad: number,
  out: Int32Array,
): void {
  const { B, C, H, W, F, k, Ho, Wo } = g;
  const Hp = H + 2 * pad;
  const Wp = W + 2 * pad;
  const C8 = roundUp(C, 8);
  const cols = k * k * C8;
  const panels = cols / 8;
  const pixels = B * Ho * Wo;
  const groups = Math.ceil(F / 4);
  // Per group of four filters: its A rows, its table of window rows, its product.
  const aBytes = roundUp(16 * pixels, 16);
  const rBytes = roundUp(4 * pixels, 16);
  const cBytes = roundUp(16 * cols, 16);
  const { ws, at } = cw.reserve([
    B * Hp * Wp * C8,
    groups * aBytes,
    groups * rBytes,
    4 * panels,
    groups * cBytes,
  ]);
  const [xcAt, aAt, rowT, panelT, cAt] = at;
  channelsLast(x, g, pad, C8, ws.i8, xcAt);
  const t = ws.i32;
  let q = panelT >> 2;
  for (let u = 0; u < k; u++)
    for (let v = 0; v < k; v++) for (let c = 0; c < C8; c += 8) t[q++] = (u * Wp + v) * C8 + c;
  const HW = Ho * Wo;
  const rows = new Int32Array(groups);
  let macs = 0;
  for (let gi = 0; gi < groups; gi++) {
    const f0 = 4 * gi;
    const group = Math.min(4, F - f0);
    const a0 = (aAt + gi * aBytes) >> 2;
    const r0 = (rowT + gi * rBytes) >> 2;
    let R = 0;
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < Ho; i++) {
        for (let j = 0; j < Wo; j++) {
          const pix = i * Wo + j;
          let any = 0;
          for (let m = 0; m < group; m++) any |= d[(b * F + f0 + m) * HW + pix];
          if (any === 0) continue;
          const a = a0 + 4 * R;
          for (let m = 0; m < 4; m++) t[a + m] = m < group ? d[(b * F + f0 + m) * HW + pix] : 0;
          t[r0 + R] = ((b * Hp + i) * Wp + j) * C8;
          R++;
        }
      }
    }
    rows[gi] = R;
    macs += 4 * R * cols;
    const c0 = (cAt + gi * cBytes) >> 2;
    if (R === 0) t.fill(0, c0, c0 + 4 * cols);
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
  for (let gi = 0; gi < groups; gi++) {
    const f0 = 4 * gi;
    const group = Math.min(4, F - f0);
    const c0 = (cAt + gi * cBytes) >> 2;
    for (let m = 0; m < group; m++) {
      for (let c = 0; c < C; c++) {
        for (let u = 0; u < k; u++) {
          for (let v = 0; v < k; v++)
            out[(((f0 + m) * C + c) * k + u) * k + v] = t[c0 + m * cols + (u * k + v) * C8 + c];
        }
      }
    }
  }
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
  out: Int32Array,
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
  ]);
  const [rawAt, padAt, pT, dRaw, dPad, lo, hi, cAt] = at;
  const { Wp, xAt } = paddedInput(x, g, pad, ws, rawAt, padAt, pT, CKK2);
  ws.i32.set(d.subarray(0, B * F * Ho * Wo), dRaw >> 2);
  let dAt = dRaw;
  if (padded) {
    ws.i32.fill(0, dPad >> 2, (dPad >> 2) + B * sampleD);
    ws.k.copyRows(dRaw, dPad, B * F * Ho, 4 * Wo, 4 * Wo8, 1, 0, 0, 4 * Wo);
    dAt = dPad;
  }
  ws.k.split16(dAt, 4 * Wo8, lo, hi, 2 * Wo8, B * F * Ho, Wo8 / 8);
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
  unpackRows(ws, cAt, F, CKK, 4 * CKK2, out);
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
