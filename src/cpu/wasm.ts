/**
 * The CPU backend's WebAssembly SIMD kernel: an int32 GEMM assembled from bytes at load time
 * (no build step, no toolchain), so the backend stays one plain module in browsers, Node and Deno.
 *
 *   gemm(a, b, c, M, N, R, accumulate):  C[M, N] (+)= A[M, R] · B[R, N]
 *
 * All operands are int32 in the module's memory, at byte offsets a, b, c:
 * - A is row-major [M, R] (row stride 4R bytes), M a multiple of 4;
 * - B is packed in panels of 8 columns: panel p holds columns 8p..8p+7 as R rows of 8 words,
 *   so element (r, n) sits at b + 32·R·⌊n/8⌋ + 32·r + 4·(n mod 8); N is a multiple of 8;
 * - C is row-major [M, N]; with accumulate ≠ 0 the product is added to what C holds.
 *
 * i32x4.mul and i32x4.add wrap modulo 2^32, which is exactly the int32 arithmetic of the
 * reference, in any order of summation. The kernel computes a 4×8 block of C at a time: per r,
 * two vector loads of B, four scalar loads of A broadcast to all lanes, eight multiply-adds.
 */

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of an int32. */
function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(s: string): number[] {
  return [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
}

const I32 = 0x7f;
const V128 = 0x7b;

/** The instructions the kernel uses (core opcodes and the 0xfd-prefixed SIMD ones). */
const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  br: (l: number) => [0x0c, ...uleb(l)],
  brIf: (l: number) => [0x0d, ...uleb(l)],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32Load: (offset = 0) => [0x28, 2, ...uleb(offset)],
  i32Const: (v: number) => [0x41, ...sleb(v)],
  i32Eqz: [0x45],
  i32Ne: [0x47],
  i32LtU: [0x49],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32Shl: [0x74],
  v128Load: (offset = 0) => [0xfd, ...uleb(0x00), 4, ...uleb(offset)],
  v128Store: (offset = 0) => [0xfd, ...uleb(0x0b), 4, ...uleb(offset)],
  i32x4Splat: [0xfd, ...uleb(0x11)],
  i32x4Add: [0xfd, ...uleb(0xae)],
  i32x4Mul: [0xfd, ...uleb(0xb5)],
};

/** Body of gemm(a, b, c, M, N, R, accumulate). */
function gemmBody(): number[] {
  // Parameters 0..6, then i32 locals 7..17, then v128 locals 18..28.
  const [a, b, c, M, N, R, accumulate] = [0, 1, 2, 3, 4, 5, 6];
  const [rowA, rowC, nByte, panel, m, pa0, pc, pa, pb, r, step] = [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17];
  const acc = [18, 19, 20, 21, 22, 23, 24, 25];
  const [b0, b1, s] = [26, 27, 28];
  const code: number[][] = [];
  const emit = (...parts: (number[] | number)[]) => {
    for (const p of parts) code.push(typeof p === 'number' ? [p] : p);
  };
  const zero = [...op.i32Const(0), ...op.i32x4Splat];

  emit(op.get(R), op.i32Const(2), op.i32Shl, op.set(rowA));
  emit(op.get(N), op.i32Const(2), op.i32Shl, op.set(rowC));
  emit(op.get(R), op.i32Const(5), op.i32Shl, op.set(step));
  emit(op.get(b), op.set(panel), op.i32Const(0), op.set(nByte));
  emit(op.block); // exit when M or N is 0
  emit(op.get(M), op.i32Eqz, op.brIf(0), op.get(N), op.i32Eqz, op.brIf(0));
  emit(op.loop); // over panels of 8 columns
  emit(op.i32Const(0), op.set(m), op.get(a), op.set(pa0), op.get(c), op.get(nByte), op.i32Add, op.set(pc));
  emit(op.loop); // over blocks of 4 rows
  // Accumulators: C's current values or zero.
  emit(op.get(accumulate), op.if);
  for (let i = 0; i < 4; i++) {
    emit(op.get(pc));
    if (i > 0) emit(op.get(rowC), op.i32Const(i), op.i32Mul, op.i32Add);
    emit(op.tee(pa), op.v128Load(0), op.set(acc[2 * i]), op.get(pa), op.v128Load(16), op.set(acc[2 * i + 1]));
  }
  emit(op.else);
  for (const v of acc) emit(zero, op.set(v));
  emit(op.end);
  emit(op.get(pa0), op.set(pa), op.get(panel), op.set(pb), op.get(R), op.set(r));
  emit(op.block, op.get(r), op.i32Eqz, op.brIf(0));
  emit(op.loop); // over r
  emit(op.get(pb), op.v128Load(0), op.set(b0), op.get(pb), op.v128Load(16), op.set(b1));
  for (let i = 0; i < 4; i++) {
    emit(op.get(pa));
    if (i > 0) emit(op.get(rowA), op.i32Const(i), op.i32Mul, op.i32Add);
    emit(op.i32Load(0), op.i32x4Splat, op.set(s));
    for (let j = 0; j < 2; j++) {
      const v = acc[2 * i + j];
      emit(op.get(v), op.get(s), op.get(j === 0 ? b0 : b1), op.i32x4Mul, op.i32x4Add, op.set(v));
    }
  }
  emit(op.get(pa), op.i32Const(4), op.i32Add, op.set(pa));
  emit(op.get(pb), op.i32Const(32), op.i32Add, op.set(pb));
  emit(op.get(r), op.i32Const(1), op.i32Sub, op.tee(r), op.brIf(0));
  emit(op.end, op.end); // loop r, block r
  for (let i = 0; i < 4; i++) {
    emit(op.get(pc));
    if (i > 0) emit(op.get(rowC), op.i32Const(i), op.i32Mul, op.i32Add);
    emit(op.tee(pa), op.get(acc[2 * i]), op.v128Store(0), op.get(pa), op.get(acc[2 * i + 1]), op.v128Store(16));
  }
  emit(op.get(pc), op.get(rowC), op.i32Const(2), op.i32Shl, op.i32Add, op.set(pc));
  emit(op.get(pa0), op.get(rowA), op.i32Const(2), op.i32Shl, op.i32Add, op.set(pa0));
  emit(op.get(m), op.i32Const(4), op.i32Add, op.tee(m), op.get(M), op.i32LtU, op.brIf(0));
  emit(op.end); // loop m
  emit(op.get(panel), op.get(step), op.i32Add, op.set(panel));
  emit(op.get(nByte), op.i32Const(32), op.i32Add, op.tee(nByte), op.get(rowC), op.i32LtU, op.brIf(0));
  emit(op.end, op.end); // loop panels, block
  emit(op.end); // function
  const locals = vec([
    [...uleb(11), I32],
    [...uleb(11), V128],
  ]);
  const body = [...locals, ...code.flat()];
  return [...uleb(body.length), ...body];
}

/** The module's bytes: one memory (exported as "memory") and the function "gemm". */
export function gemmModuleBytes(): Uint8Array<ArrayBuffer> {
  const type = section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32]]), ...vec([])]]));
  const funcs = section(3, vec([uleb(0)]));
  const memory = section(5, vec([[0x00, ...uleb(1)]]));
  const exports = section(7, vec([
    [...name('memory'), 0x02, ...uleb(0)],
    [...name('gemm'), 0x00, ...uleb(0)],
  ]));
  const codeSec = section(10, vec([gemmBody()]));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...type, ...funcs, ...memory, ...exports, ...codeSec]);
}

export interface SimdGemm {
  readonly memory: WebAssembly.Memory;
  gemm(a: number, b: number, c: number, M: number, N: number, R: number, accumulate: number): void;
}

let cached: SimdGemm | null | undefined;

/**
 * The compiled kernel, or null where WebAssembly or its SIMD extension is missing (or a
 * content security policy forbids compiling). Compiled once, synchronously: the module is a few
 * hundred bytes, below the size browsers allow to compile on their main thread.
 */
export function simdGemm(): SimdGemm | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    if (typeof WebAssembly !== 'object') return cached;
    const bytes = gemmModuleBytes();
    if (!WebAssembly.validate(bytes)) return cached;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    const e = instance.exports as unknown as SimdGemm;
    cached = { memory: e.memory, gemm: e.gemm };
  } catch {
    cached = null;
  }
  return cached;
}
