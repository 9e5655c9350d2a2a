/**
 * The CPU backend's int32 matrix products: C[M, N] (+)= A[M, R] · B[R, N] on operands packed
 * into one workspace (the WebAssembly SIMD kernel's memory, or a plain buffer for the
 * JavaScript kernel where WebAssembly SIMD is missing). Every product and sum wraps modulo 2^32
 * like int32, so the order of summation does not change the result.
 *
 * Layouts (word offsets into the workspace; see wasm.ts): A row-major [M, R] with M padded to a
 * multiple of 4 by zero rows; B in panels of 8 columns ([⌈N/8⌉][R][8], zero columns past N);
 * C row-major [M, N8] with N8 = N rounded up to a multiple of 8.
 */
import { type SimdGemm, simdGemm } from './wasm.ts';

export type IntArray = Int8Array | Int32Array;

export function roundUp(n: number, k: number): number {
  return Math.ceil(n / k) * k;
}

let useSimd = true;

/** Turns the WebAssembly SIMD kernel off (or back on where available); the tests run both kernels. */
export function setSimdEnabled(enabled: boolean): void {
  useSimd = enabled;
}

/** Which kernel the next product uses. */
export function gemmKernel(): 'wasm-simd' | 'js' {
  return useSimd && simdGemm() ? 'wasm-simd' : 'js';
}

/** Packed operands of one product: word offsets into `mem`, valid until the next `workspace` call. */
export interface Packed {
  mem: Int32Array;
  a: number;
  b: number;
  c: number;
  M: number;
  N: number;
  R: number;
  /** M rounded up to 4, N rounded up to 8. */
  M4: number;
  N8: number;
}

let jsBuffer = new Int32Array(0);

function memoryWords(kernel: SimdGemm | null, words: number): Int32Array {
  if (kernel) {
    const have = kernel.memory.buffer.byteLength >>> 2;
    if (have < words) kernel.memory.grow(Math.ceil((words - have) / 16384));
    return new Int32Array(kernel.memory.buffer);
  }
  if (jsBuffer.length < words) jsBuffer = new Int32Array(roundUp(words, 16384));
  return jsBuffer;
}

/** Reserves the workspace for a product of the given size. */
export function workspace(M: number, N: number, R: number): Packed {
  const kernel = useSimd ? simdGemm() : null;
  const M4 = roundUp(M, 4);
  const N8 = roundUp(N, 8);
  const a = 0;
  const b = roundUp(M4 * R, 4);
  const c = b + roundUp(N8 * R, 4);
  const mem = memoryWords(kernel, c + M4 * N8);
  return { mem, a, b, c, M, N, R, M4, N8 };
}

/**
 * A[m, r] = src[off + m·mStride + r·rStride] for m < M, zero rows up to M4 (int8 or int32
 * source, widened to int32).
 */
export function packA(p: Packed, src: IntArray, off: number, mStride: number, rStride: number): void {
  const { mem, a, M, M4, R } = p;
  if (rStride === 1 && mStride === R) {
    mem.set(src.subarray(off, off + M * R), a);
  } else if (rStride === 1) {
    for (let m = 0; m < M; m++) mem.set(src.subarray(off + m * mStride, off + m * mStride + R), a + m * R);
  } else {
    for (let m = 0; m < M; m++) {
      let q = a + m * R;
      let s = off + m * mStride;
      for (let r = 0; r < R; r++, s += rStride) mem[q++] = src[s];
    }
  }
  mem.fill(0, a + M * R, a + M4 * R);
}

/** B[r, n] = src[off + r·rStride + n·nStride] for n < N, zero columns up to N8, in panels of 8. */
export function packB(p: Packed, src: IntArray, off: number, rStride: number, nStride: number): void {
  const { mem, b, N, N8, R } = p;
  for (let n = 0; n < N8; n++) {
    let q = b + (n >> 3) * 8 * R + (n & 7);
    if (n >= N) {
      for (let r = 0; r < R; r++, q += 8) mem[q] = 0;
      continue;
    }
    let s = off + n * nStride;
    for (let r = 0; r < R; r++, q += 8, s += rStride) mem[q] = src[s];
  }
}

/** Runs the packed product: C = A·B, or C += A·B when `accumulate`. */
export function multiply(p: Packed, accumulate = false): void {
  const kernel = useSimd ? simdGemm() : null;
  if (kernel) {
    kernel.gemm(p.a * 4, p.b * 4, p.c * 4, p.M4, p.N8, p.R, accumulate ? 1 : 0);
    return;
  }
  gemmJs(p.mem, p.a, p.b, p.c, p.M4, p.N8, p.R, accumulate);
}

/** The same product in plain JavaScript: Math.imul and |0 wrap like int32. */
function gemmJs(mem: Int32Array, a: number, b: number, c: number, M: number, N: number, R: number, accumulate: boolean): void {
  for (let n0 = 0; n0 < N; n0 += 8) {
    const panel = b + n0 * R;
    for (let m = 0; m < M; m += 4) {
      const a0 = a + m * R;
      const a1 = a0 + R;
      const a2 = a1 + R;
      const a3 = a2 + R;
      const c0 = c + m * N + n0;
      for (let j = 0; j < 8; j++) {
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        if (accumulate) {
          s0 = mem[c0 + j];
          s1 = mem[c0 + N + j];
          s2 = mem[c0 + 2 * N + j];
          s3 = mem[c0 + 3 * N + j];
        }
        let q = panel + j;
        for (let r = 0; r < R; r++, q += 8) {
          const v = mem[q];
          s0 = (s0 + Math.imul(mem[a0 + r], v)) | 0;
          s1 = (s1 + Math.imul(mem[a1 + r], v)) | 0;
          s2 = (s2 + Math.imul(mem[a2 + r], v)) | 0;
          s3 = (s3 + Math.imul(mem[a3 + r], v)) | 0;
        }
        mem[c0 + j] = s0;
        mem[c0 + N + j] = s1;
        mem[c0 + 2 * N + j] = s2;
        mem[c0 + 3 * N + j] = s3;
      }
    }
  }
}
