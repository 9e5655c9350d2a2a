/**
 * Where the CPU backend's integer products run: one workspace (the WebAssembly module's memory,
 * or a plain buffer where WebAssembly SIMD is missing) that an op fills with its operands, and
 * the kernels of kernels.wat working on it. The JavaScript kernels here compute exactly what the
 * SIMD ones compute (same layouts, same int32 wrapping), so every op has one code path and two
 * engines.
 *
 * Kernels may read a few elements past an operand (the tail of a row, padding rows) and produce
 * results that the caller then ignores; every region gets slack bytes so those reads stay inside
 * the workspace.
 */
import type {
  Axpy,
  CopyRows,
  Dot4,
  Dot16,
  FixLinear,
  FixWgrad,
  Kernels,
  PackG,
  PackW,
  PairRows,
  Relu8,
  ReluBack,
  Scale8,
  Sgd,
  SimdKernels,
  Split16,
  Wgrad,
} from './wasm.ts';
import type { KernelThreads, ThreadBody } from './threads.ts';
import { cnnJsKernels } from './cnn-kernels.ts';

export type IntArray = Int8Array | Int32Array;

export function roundUp(n: number, k: number): number {
  return Math.ceil(n / k) * k;
}

/**
 * Multiply-adds below which an op runs on one thread: a dispatch costs 1-2 µs
 * (results/cpu-backend-threads.md), half of an op of this size at ~30 G multiply-adds/s.
 */
const MIN_THREADED_MACS = 131072;

/** Bytes after every region: covers reads past a row of up to 8 int32 and a 16-byte vector. */
const SLACK = 64;

/** An op's view of the workspace: byte offsets of its regions and typed views of the memory. */
export interface Workspace {
  readonly i8: Int8Array;
  readonly i16: Int16Array;
  readonly i32: Int32Array;
  readonly k: Kernels;
}

/**
 * One CPU backend's working memory: the WebAssembly instance of the SIMD kernels (or none) with
 * its memory, the JavaScript kernels' buffer, and reusable int32 arrays by role. Two backends
 * share none of it.
 */
export class CpuWorkspace {
  /** Off: the JavaScript kernels run even where the SIMD ones compiled (the tests run both). */
  simdEnabled = true;
  /** Ops of fewer multiply-adds run on one thread (the tests lower it to split every op). */
  minThreadedMacs = MIN_THREADED_MACS;
  private jsBuffer = new ArrayBuffer(0);
  private jsViews: Workspace | undefined;
  private simdViews: Workspace | undefined;
  private readonly arrays = new Map<string, Int32Array>();
  /**
   * An op's result left in the SIMD kernels' memory (a copy of `data` at byte `at`): reserve
   * lays out above it, and the next op reading that same array uses it in place. Dropped by
   * forget (after any op or write touching the array's buffer).
   */
  private kept: { data: IntArray; at: number; end: number } | undefined;

  /** `threads`: workers on the SIMD kernels' shared memory (null: this thread alone). */
  constructor(
    private readonly simd: SimdKernels | null,
    readonly pool: KernelThreads | null = null,
  ) {}

  /**
   * Threads the next op may split over: 1 with the JavaScript kernels, with no pool, or for an op
   * of fewer than minThreadedMacs multiply-adds (`macs`), where waking a worker costs more than
   * it saves.
   */
  threads(macs = Infinity): number {
    if (!this.pool || this.kernel() !== 'wasm-simd' || macs < this.minThreadedMacs) return 1;
    return this.pool.available();
  }

  /**
   * Runs body(t, T, k) for every thread t < T (T from threads()), each issuing its share's
   * kernel calls on k; the results are in the workspace when it returns.
   */
  parallel(ws: Workspace, T: number, body: ThreadBody): void {
    if (T > 1 && this.pool && ws.k === this.simd) this.pool.run(T, body);
    else body(0, 1, ws.k);
  }

  /** Which kernels the next op uses. */
  kernel(): 'wasm-simd' | 'js' {
    return this.simdEnabled && this.simd ? 'wasm-simd' : 'js';
  }

  /**
   * Lays out regions of the given byte sizes (each 16-byte aligned, followed by slack) and returns
   * their offsets with views of a memory large enough for all of them. Views and offsets are
   * valid until the next call.
   */
  reserve(sizes: readonly number[]): { ws: Workspace; at: number[] } {
    const at: number[] = [];
    let top = this.kept && this.kernel() === 'wasm-simd' ? this.kept.end : 0;
    for (const s of sizes) {
      at.push(top);
      top = roundUp(top + s + SLACK, 16);
    }
    const simd = this.simdEnabled ? this.simd : null;
    if (simd) {
      const have = simd.memory.buffer.byteLength;
      if (have < top) simd.memory.grow(Math.ceil((top - have) / 65536));
      const buffer = simd.memory.buffer;
      // Views are made again only when growing the memory replaced its buffer.
      if (this.simdViews?.i8.buffer !== buffer)
        this.simdViews = {
          i8: new Int8Array(buffer),
          i16: new Int16Array(buffer),
          i32: new Int32Array(buffer),
          k: simd,
        };
      return { ws: this.simdViews, at };
    }
    if (this.jsBuffer.byteLength < top || !this.jsViews) {
      this.jsBuffer = new ArrayBuffer(roundUp(Math.max(top, 1), 65536));
      const i8 = new Int8Array(this.jsBuffer);
      const i16 = new Int16Array(this.jsBuffer);
      const i32 = new Int32Array(this.jsBuffer);
      this.jsViews = { i8, i16, i32, k: jsKernels(i8, i16, i32) };
    }
    return { ws: this.jsViews, at };
  }

  /**
   * GOP/s (2 per multiply-add) of the SIMD kernels' register-only i32x4.dot_i16x8_s loop on this
   * core: the best of repeated runs over about `targetMs` ms; null without SIMD kernels.
   */
  measurePeak(targetMs = 50): number | null {
    const simd = this.simdEnabled ? this.simd : null;
    if (!simd) return null;
    const rounds = 20_000;
    simd.peak(rounds); // compiled and warm before timing
    let best = 0;
    const start = performance.now();
    do {
      const t0 = performance.now();
      simd.peak(rounds);
      const ms = performance.now() - t0;
      if (ms > 0) best = Math.max(best, (2 * 64 * rounds) / ms / 1e6);
    } while (performance.now() - start < targetMs);
    return best;
  }

  /**
   * Records that the workspace at byte `at` (of the current reserve, SIMD kernels only) holds a
   * copy of `data`, which the caller has just written; later reserves lay out above it.
   */
  keep(data: IntArray, at: number): void {
    if (this.kernel() !== 'wasm-simd') return;
    this.kept = { data, at, end: roundUp(at + data.byteLength + SLACK, 16) };
  }

  /** The byte offset of the copy of `data` that keep recorded (the same array object), if any. */
  resident(data: IntArray): number | undefined {
    const k = this.kept;
    return k && k.data === data && this.kernel() === 'wasm-simd' ? k.at : undefined;
  }

  /**
   * The byte offset of `data`'s first n elements in the workspace `ws` (of the current reserve):
   * the copy keep recorded, else a copy made now at byte `at`.
   */
  place(ws: Workspace, data: IntArray, n: number, at: number): number {
    const kept = data.length === n ? this.resident(data) : undefined;
    if (kept !== undefined) return kept;
    if (data instanceof Int8Array) ws.i8.set(data.subarray(0, n), at);
    else ws.i32.set(data.subarray(0, n), at >> 2);
    return at;
  }

  /** The current kept record (an opaque token: afterOp compares it). */
  keptToken(): object | undefined {
    return this.kept;
  }

  /**
   * Drops the kept copy if `buffer` holds its array (a write to it may have changed it), unless
   * the copy was recorded since `token` (by the op that wrote it).
   */
  forget(buffer: ArrayBufferLike, token?: object): void {
    if (this.kept && this.kept === token && this.kept.data.buffer === buffer) this.kept = undefined;
  }

  /** A reusable int32 array of n elements for `role` (its contents are stale). */
  array(role: string, n: number): Int32Array {
    let a = this.arrays.get(role);
    if (!a || a.length < n) this.arrays.set(role, (a = new Int32Array(n)));
    return a.subarray(0, n);
  }
}

/**
 * The magic number (m, s) of a divisor 2 ≤ d < 2^31 for the sgd kernel: trunc(n / d) is
 * ((n·m) >> 32, plus n where m < 0) >> s, plus 1 where n < 0, for every int32 n (the signed
 * division by a constant of Hacker's Delight §10-3, in exact integer steps).
 */
export function sgdMagic(d: number): { m: number; s: number } {
  if (!Number.isInteger(d) || d < 2 || d >= 2 ** 31)
    throw new Error(`sgdMagic: divisor ${d} out of [2, 2^31)`);
  const two31 = 2 ** 31;
  const anc = two31 - 1 - (two31 % d);
  let p = 31;
  let q1 = Math.floor(two31 / anc);
  let r1 = two31 - q1 * anc;
  let q2 = Math.floor(two31 / d);
  let r2 = two31 - q2 * d;
  let delta: number;
  do {
    p++;
    q1 *= 2;
    r1 *= 2;
    if (r1 >= anc) {
      q1++;
      r1 -= anc;
    }
    q2 *= 2;
    r2 *= 2;
    if (r2 >= d) {
      q2++;
      r2 -= d;
    }
    delta = d - r2;
  } while (q1 < delta || (q1 === delta && r1 === 0));
  return { m: (q2 + 1) | 0, s: p - 32 };
}

/** Fills an int32 table at byte offset `at` with base + i·step (i < n). */
export function affineTable(ws: Workspace, at: number, n: number, step: number, base = 0): void {
  const t = ws.i32;
  const o = at >> 2;
  for (let i = 0; i < n; i++) t[o + i] = base + i * step;
}

/** The JavaScript kernels on a plain buffer (byte addresses; int16 ones 2-aligned, int32 ones 4-aligned). */
function jsKernels(m8: Int8Array, m16: Int16Array, m32: Int32Array): Kernels {
  const axpy =
    (bInt8: boolean): Axpy =>
    (a, aM, aR, b, rowT, panelT, c, cM, m0, m1, P, R, accumulate) => {
      for (let p = 0; p < P; p++) {
        const pbase = b + m32[(panelT >> 2) + p];
        for (let m = m0; m < m1; m += 4) {
          for (let j = 0; j < 8; j++) {
            const c0 = (c + m * cM + 4 * (8 * p + j)) >> 2;
            const cs = cM >> 2;
            let s0 = accumulate ? m32[c0] : 0;
            let s1 = accumulate ? m32[c0 + cs] : 0;
            let s2 = accumulate ? m32[c0 + 2 * cs] : 0;
            let s3 = accumulate ? m32[c0 + 3 * cs] : 0;
            let pa = a + m * aM;
            for (let r = 0; r < R; r++, pa += aR) {
              const pb = pbase + m32[(rowT >> 2) + r];
              const v = bInt8 ? m8[pb + j] : m32[(pb >> 2) + j];
              s0 = (s0 + Math.imul(m32[pa >> 2], v)) | 0;
              s1 = (s1 + Math.imul(m32[(pa + aM) >> 2], v)) | 0;
              s2 = (s2 + Math.imul(m32[(pa + 2 * aM) >> 2], v)) | 0;
              s3 = (s3 + Math.imul(m32[(pa + 3 * aM) >> 2], v)) | 0;
            }
            m32[c0] = s0;
            m32[c0 + cs] = s1;
            m32[c0 + 2 * cs] = s2;
            m32[c0 + 3 * cs] = s3;
          }
        }
      }
    };
  const copyRows: CopyRows = (src, dst, outer, oSrc, oDst, inner, iSrc, iDst, bytes) => {
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const s = src + o * oSrc + i * iSrc;
        m8.copyWithin(dst + o * oDst + i * iDst, s, s + bytes);
      }
    }
  };
  const dot16: Dot16 = (
    pT,
    pBase,
    qLo,
    qHi,
    qRow,
    c,
    cP,
    cQ,
    m0,
    m1,
    N,
    I,
    J,
    pI,
    qI,
    accumulate,
  ) => {
    if (I === 0 || J === 0) return;
    const E = 8 * J;
    // Rows in pairs, as the SIMD kernel.
    const end = m0 + roundUp(Math.max(m1 - m0, 0), 2);
    for (let m = m0; m < end; m++) {
      const pr = pBase + m32[(pT >> 2) + m];
      for (let n = 0; n < N; n++) {
        let sum = 0;
        for (let i = 0; i < I; i++) {
          const x = pr + i * pI;
          const y = (n * qRow + i * qI) >> 1;
          const yl = (qLo >> 1) + y;
          const yh = (qHi >> 1) + y;
          for (let e = 0; e < E; e++)
            sum = (sum + Math.imul(m8[x + e], m16[yl + e] + (m16[yh + e] << 16))) | 0;
        }
        const at = (c + m * cP + n * cQ) >> 2;
        m32[at] = accumulate ? (m32[at] + sum) | 0 : sum;
      }
    }
  };
  const split16: Split16 = (src, srcRow, lo, hi, dstRow, rows, chunks) => {
    for (let r = 0; r < rows; r++) {
      const s = (src + r * srcRow) >> 2;
      const dl = (lo + r * dstRow) >> 1;
      const dh = (hi + r * dstRow) >> 1;
      for (let e = 0; e < 8 * chunks; e++) {
        const v = m32[s + e];
        m16[dl + e] = v;
        m16[dh + e] = (v + 0x8000) >> 16;
      }
    }
  };
  const high = (v: number): number => (v + 0x8000) >> 16;
  const packW: PackW = (src, srcRow, dst, blocks, chunks, half, list, cap) => {
    let n = 0;
    for (let q = 0; q < blocks; q++) {
      for (let t = 0; t < chunks; t++) {
        for (let r = 0; r < 4; r++) {
          const s = (src + (4 * q + r) * srcRow + 32 * t) >> 2;
          const d = (dst + (q * chunks + t) * 64 + 16 * r) >> 1;
          for (let e = 0; e < 8; e++) {
            const v = m32[s + e];
            const h = high(v);
            m16[d + e] = half ? h : v;
            if (half || h === 0) continue;
            if (n < cap) {
              const l = (list >> 2) + 3 * n;
              m32[l] = 4 * q + r;
              m32[l + 1] = 8 * t + e;
              m32[l + 2] = h << 16;
            }
            n++;
          }
        }
      }
    }
    return n;
  };
  const dot4: Dot4 = (
    x,
    xRow,
    segs,
    segStride,
    w,
    c,
    cRow,
    b0,
    b1,
    blocks,
    chunks,
    accumulate,
    shift,
  ) => {
    const end = b0 + roundUp(Math.max(b1 - b0, 0), 2);
    const T = segs * chunks;
    for (let b = b0; b < end; b++) {
      for (let o = 0; o < 4 * blocks; o++) {
        const q = o >> 2;
        const r = o & 3;
        let sum = 0;
        for (let t = 0; t < T; t++) {
          const pw = (w + (q * T + t) * 64 + 16 * r) >> 1;
          const g = Math.floor(t / chunks);
          const px = x + b * xRow + g * segStride + 8 * (t - g * chunks);
          for (let e = 0; e < 8; e++) sum = (sum + Math.imul(m8[px + e], m16[pw + e])) | 0;
        }
        const at = (c + b * cRow + 4 * o) >> 2;
        m32[at] = accumulate ? (m32[at] + (sum << shift)) | 0 : sum << shift;
      }
    }
  };
  const fixLinear: FixLinear = (list, n, x, xRow, c, cRow, b0, b1) => {
    for (let i = 0; i < n; i++) {
      const l = (list >> 2) + 3 * i;
      const [o, k, h] = [m32[l], m32[l + 1], m32[l + 2]];
      for (let b = b0; b < b1; b++) {
        const at = (c + b * cRow + 4 * o) >> 2;
        m32[at] = (m32[at] + Math.imul(h, m8[x + b * xRow + k])) | 0;
      }
    }
  };
  const packG: PackG = (g, gRow, O, pairs, lo, hi, dstRow, list, cap) => {
    let n = 0;
    for (let o = 0; o < O; o++) {
      for (let j = 0; j < pairs; j++) {
        for (let i = 0; i < 2; i++) {
          const b = 2 * j + i;
          const v = m32[(g + b * gRow + 4 * o) >> 2];
          const h = high(v);
          const d = ((o * dstRow + 4 * j) >> 1) + i;
          m16[(lo >> 1) + d] = v;
          m16[(hi >> 1) + d] = h;
          if (h === 0) continue;
          if (n < cap) {
            const l = (list >> 2) + 3 * n;
            m32[l] = b;
            m32[l + 1] = o;
            m32[l + 2] = h << 16;
          }
          n++;
        }
      }
    }
    return n;
  };
  const wgrad: Wgrad = (xp, xpRow, gp, gpRow, c, cRow, o0, o1, tiles, pairs, accumulate, shift) => {
    const end = o0 + roundUp(Math.max(o1 - o0, 0), 2);
    for (let o = o0; o < end; o++) {
      for (let k = 0; k < 16 * tiles; k++) {
        let sum = 0;
        for (let j = 0; j < pairs; j++) {
          const x = (xp + j * xpRow + 4 * k) >> 1;
          const g = (gp + o * gpRow + 4 * j) >> 1;
          sum = (sum + Math.imul(m16[x], m16[g]) + Math.imul(m16[x + 1], m16[g + 1])) | 0;
        }
        const at = (c + o * cRow + 4 * k) >> 2;
        m32[at] = accumulate ? (m32[at] + (sum << shift)) | 0 : sum << shift;
      }
    }
  };
  const fixWgrad: FixWgrad = (list, n, x, xRow, c, cRow, o0, o1, tiles) => {
    for (let i = 0; i < n; i++) {
      const l = (list >> 2) + 3 * i;
      const [b, o, h] = [m32[l], m32[l + 1], m32[l + 2]];
      if (o < o0 || o >= o1) continue;
      for (let k = 0; k < 16 * tiles; k++) {
        const at = (c + o * cRow + 4 * k) >> 2;
        m32[at] = (m32[at] + Math.imul(h, m8[x + b * xRow + k])) | 0;
      }
    }
  };
  const sgd: Sgd = (w, g, start, end, d, _m, _s, dDecay) => {
    for (let i = start; i < end; i++) {
      const wi = m32[(w >> 2) + i];
      const q = ((m32[(g >> 2) + i] / d) | 0) + (dDecay ? (wi / dDecay) | 0 : 0);
      m32[(w >> 2) + i] = (wi - q) | 0;
    }
  };
  const scale8: Scale8 = (c, cRow, bias, hasBias, out, rows, cols, d) => {
    for (let b = 0; b < rows; b++) {
      for (let o = 0; o < cols; o++) {
        let v = m32[(c + b * cRow + 4 * o) >> 2];
        if (hasBias) v = (v + m32[(bias >> 2) + o]) | 0;
        m8[out + b * cols + o] = Math.max(-127, Math.min(127, (v / d) | 0));
      }
    }
  };
  const relu8: Relu8 = (src, dst, n, slope, _m, _s, c) => {
    for (let i = 0; i < n; i++) {
      const v = m8[src + i];
      m8[dst + i] = Math.max(v, 0) + ((Math.max(Math.min(v, 0), -127) / slope) | 0) - c;
    }
  };
  const reluBack: ReluBack = (d, dRow, x, xRow, rows, cols, slope) => {
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < cols; j++) {
        const at = (d + r * dRow + 4 * j) >> 2;
        const v = m8[x + r * xRow + j];
        const inv = v === 127 || v === -128 ? 2147483647 : v >= 0 ? 1 : slope;
        m32[at] = (m32[at] / inv) | 0;
      }
    }
  };
  const pairRows: PairRows = (src, srcRow, dst, dstRow, pairs, chunks) => {
    for (let j = 0; j < pairs; j++) {
      for (let k = 0; k < 16 * chunks; k++) {
        const d = (dst + j * dstRow + 4 * k) >> 1;
        m16[d] = m8[src + 2 * j * srcRow + k];
        m16[d + 1] = m8[src + (2 * j + 1) * srcRow + k];
      }
    }
  };
  return {
    packW,
    dot4,
    fixLinear,
    packG,
    wgrad,
    fixWgrad,
    sgd,
    scale8,
    relu8,
    reluBack,
    axpy32: axpy(false),
    axpy8: axpy(true),
    pairRows,
    dot16,
    split16,
    copyRows,
    ...cnnJsKernels(m8, m32, packW),
  };
}
