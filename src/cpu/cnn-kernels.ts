/**
 * The convolutional path's kernels around the products (kernels.wat: maxPool8, maxPoolBack,
 * lut8, pixelsToPlanes, channelsLast, sparseRows, reorderConvW, unpackTaps, packWCount): their signatures and JavaScript twins, which
 * compute exactly what the WebAssembly ones compute on the same byte layout.
 */

export type MaxPool8 = (
  x: number,
  out: number,
  planes: number,
  H: number,
  W: number,
  Ho: number,
  Wo: number,
  kh: number,
  kw: number,
  ph: number,
  pw: number,
  zeroPads: number,
) => void;

export type MaxPoolBack = (
  x: number,
  delta: number,
  s: number,
  table: number,
  out: number,
  planes: number,
  H: number,
  W: number,
  Ho: number,
  Wo: number,
  kh: number,
  kw: number,
  ph: number,
  pw: number,
  zeroPads: number,
  hasRelu: number,
) => void;

export type Lut8 = (src: number, dst: number, n: number, table: number) => void;

export type PixelsToPlanes = (
  c: number,
  z: number,
  images: number,
  F: number,
  Ho: number,
  Wo: number,
  Wo2: number,
  F4: number,
) => void;

export type ChannelsLast = (
  x: number,
  dst: number,
  images: number,
  C: number,
  H: number,
  W: number,
  pad: number,
  C8: number,
) => void;

export type SparseRows = (
  d: number,
  group: number,
  F: number,
  B: number,
  Ho: number,
  Wo: number,
  Hp: number,
  Wp: number,
  C8: number,
  a: number,
  rowT: number,
  count: number,
) => void;

export type ReorderConvW = (
  src: number,
  dst: number,
  filters: number,
  C: number,
  k: number,
  seg: number,
  KK: number,
) => void;

export type UnpackTaps = (
  src: number,
  dst: number,
  filters: number,
  C: number,
  taps: number,
  C8: number,
) => void;

export type PackWCount = (
  src: number,
  srcRow: number,
  dst: number,
  blocks: number,
  chunks: number,
  half: number,
  count: number,
) => void;

export interface CnnKernels {
  readonly packWCount: PackWCount;
  readonly reorderConvW: ReorderConvW;
  readonly unpackTaps: UnpackTaps;
  readonly maxPool8: MaxPool8;
  readonly maxPoolBack: MaxPoolBack;
  readonly lut8: Lut8;
  readonly pixelsToPlanes: PixelsToPlanes;
  readonly channelsLast: ChannelsLast;
  readonly sparseRows: SparseRows;
}

/** The JavaScript twins on a plain buffer (byte addresses; int32 ones 4-aligned). */
/** packW as gemm.ts has it (its twin): src, srcRow, dst, blocks, chunks, half, list, cap -> count. */
type PackWTwin = (
  ...args: [number, number, number, number, number, number, number, number]
) => number;

export function cnnJsKernels(m8: Int8Array, m32: Int32Array, packW: PackWTwin): CnnKernels {
  const maxPool8: MaxPool8 = (x, out, planes, H, W, Ho, Wo, kh, kw, ph, pw, zeroPads) => {
    for (let p = 0; p < planes; p++) {
      const xp = x + p * H * W;
      for (let oi = 0; oi < Ho; oi++) {
        const h0 = oi * kh - ph;
        for (let oj = 0; oj < Wo; oj++) {
          const w0 = oj * kw - pw;
          let best = -129;
          for (let h = Math.max(0, h0); h < Math.min(H, h0 + kh); h++)
            for (let w = Math.max(0, w0); w < Math.min(W, w0 + kw); w++)
              best = Math.max(best, m8[xp + h * W + w]);
          const pads = h0 < 0 || h0 + kh > H || w0 < 0 || w0 + kw > W;
          if (zeroPads && pads && best < 0) best = 0;
          m8[out + (p * Ho + oi) * Wo + oj] = best < -128 ? 0 : best;
        }
      }
    }
  };
  const maxPoolBack: MaxPoolBack = (
    x,
    delta,
    s,
    table,
    out,
    planes,
    H,
    W,
    Ho,
    Wo,
    kh,
    kw,
    ph,
    pw,
    zeroPads,
    hasRelu,
  ) => {
    const plane = H * W;
    m32.fill(0, out >> 2, (out >> 2) + planes * plane);
    let dp = delta >> 2;
    for (let p = 0; p < planes; p++) {
      const xp = p * plane;
      for (let oi = 0; oi < Ho; oi++) {
        for (let oj = 0; oj < Wo; oj++, dp++) {
          let best = -2147483648;
          let at = -1;
          for (let u = 0; u < kh; u++) {
            const h = oi * kh - ph + u;
            for (let v = 0; v < kw; v++) {
              const w = oj * kw - pw + v;
              const inside = h >= 0 && h < H && w >= 0 && w < W;
              if (!inside && !zeroPads) continue;
              const val = inside ? m8[x + xp + h * W + w] : 0;
              if (val > best) {
                best = val;
                at = inside ? h * W + w : -1;
              }
            }
          }
          if (at < 0) continue;
          at += xp;
          let d = m32[dp];
          if (hasRelu) d = (d / m32[(table >> 2) + m8[s + at] + 128]) | 0;
          m32[(out >> 2) + at] = d;
        }
      }
    }
  };
  const lut8: Lut8 = (src, dst, n, table) => {
    for (let i = 0; i < n; i++) m8[dst + i] = m8[table + 128 + m8[src + i]];
  };
  const pixelsToPlanes: PixelsToPlanes = (c, z, images, F, Ho, Wo, Wo2, F4) => {
    let q = z >> 2;
    for (let b = 0; b < images; b++)
      for (let f = 0; f < F; f++)
        for (let i = 0; i < Ho; i++) {
          const row = (c >> 2) + (b * Ho + i) * Wo2 * F4 + f;
          for (let j = 0; j < Wo; j++) m32[q++] = m32[row + j * F4];
        }
  };
  const channelsLast: ChannelsLast = (x, dst, images, C, H, W, pad, C8) => {
    const Hp = H + 2 * pad;
    const Wp = W + 2 * pad;
    m8.fill(0, dst, dst + images * Hp * Wp * C8);
    let src = x;
    for (let b = 0; b < images; b++)
      for (let c = 0; c < C; c++)
        for (let h = 0; h < H; h++) {
          let d = dst + ((b * Hp + h + pad) * Wp + pad) * C8 + c;
          for (let w = 0; w < W; w++, d += C8) m8[d] = m8[src++];
        }
  };
  const sparseRows: SparseRows = (d, group, F, B, Ho, Wo, Hp, Wp, C8, a, rowT, count) => {
    const HW = Ho * Wo;
    let R = 0;
    for (let b = 0; b < B; b++) {
      let pd = (d >> 2) + b * F * HW;
      for (let i = 0; i < Ho; i++) {
        for (let j = 0; j < Wo; j++, pd++) {
          let any = 0;
          for (let m = 0; m < group; m++) any |= m32[pd + m * HW];
          if (any === 0) continue;
          const pa = (a >> 2) + 4 * R;
          for (let m = 0; m < 4; m++) m32[pa + m] = m < group ? m32[pd + m * HW] : 0;
          m32[(rowT >> 2) + R] = ((b * Hp + i) * Wp + j) * C8;
          R++;
        }
      }
    }
    m32[count >> 2] = R;
  };
  const reorderConvW: ReorderConvW = (src, dst, filters, C, k, seg, KK) => {
    const d = dst >> 2;
    m32.fill(0, d, d + filters * KK);
    let q = src >> 2;
    for (let f = 0; f < filters; f++)
      for (let c = 0; c < C; c++)
        for (let u = 0; u < k; u++)
          for (let v = 0; v < k; v++) m32[d + f * KK + u * seg + v * C + c] = m32[q++];
  };
  const unpackTaps: UnpackTaps = (src, dst, filters, C, taps, C8) => {
    let q = dst >> 2;
    for (let f = 0; f < filters; f++)
      for (let c = 0; c < C; c++)
        for (let t = 0; t < taps; t++) m32[q++] = m32[(src >> 2) + (f * taps + t) * C8 + c];
  };
  const packWCount: PackWCount = (src, srcRow, dst, blocks, chunks, half, count) => {
    m32[count >> 2] = packW(src, srcRow, dst, blocks, chunks, half, 0, 0);
  };
  return {
    packWCount,
    maxPool8,
    maxPoolBack,
    lut8,
    pixelsToPlanes,
    channelsLast,
    sparseRows,
    reorderConvW,
    unpackTaps,
  };
}
