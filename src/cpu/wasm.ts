/**
 * The CPU backend's WebAssembly SIMD kernels, assembled from bytes at load time (no build step,
 * no toolchain), so the backend stays one plain module in browsers, Node and Deno. Addresses,
 * strides and table entries are byte offsets into the module's memory; gemm.ts has a JavaScript
 * twin of every kernel for runtimes without WebAssembly SIMD.
 *
 * Every product and sum wraps modulo 2^32 (i32x4.mul, i32x4.add, i32x4.dot_i16x8_s), which is
 * the int32 arithmetic of the reference in any order of summation. Where a kernel works on int16
 * halves of an int32 operand v = hi·2^16 + lo (lo the signed low 16 bits, hi = (v + 2^15) >> 16
 * taken modulo 2^16), Σ x·v = Σ x·lo + 2^16·Σ x·hi modulo 2^32 holds exactly.
 *
 * axpy32 / axpy8 (a, aM, aR, b, rowT, panelT, c, cM, M, P, R, accumulate) — C (+)= A·B:
 *   A[m, r] int32 at a + m·aM + r·aR (M a multiple of 4); B[r, 8p + j] int32 / int8 at
 *   b + rowT[r] + panelT[p] + j·size (rowT, panelT: int32 tables); C[m, 8p + j] int32 at
 *   c + m·cM + 4·(8p + j), P panels of 8 columns. A 4×8 block per step r: B's 8 values in two
 *   vectors, each A value broadcast, 8 multiply-adds.
 * axpy16 — the weight gradient Σ_b g[b, o]·x[b, k] over pairs of batch rows (see below).
 * dot16 — C[m, n] (+)= Σ P[m]·Q[n] of int8 rows P with int32 rows Q given as int16 halves.
 * split16, pairRows, transpose32, copyRows — operand layouts.
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

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...[...s].map((ch) => ch.charCodeAt(0))];
const simd = (code: number, ...imm: number[]): number[] => [0xfd, ...uleb(code), ...imm];

type Code = number[];
const I32 = 0x7f;
const V128 = 0x7b;

/** Instructions; `get`, `set` and the arithmetic helpers build whole expressions. */
const get = (l: number): Code => [0x20, ...uleb(l)];
const set = (l: number, value: Code): Code => [...value, 0x21, ...uleb(l)];
const tee = (l: number, value: Code): Code => [...value, 0x22, ...uleb(l)];
const c32 = (v: number): Code => [0x41, ...sleb(v)];
const add = (x: Code, y: Code): Code => [...x, ...y, 0x6a];
const sub = (x: Code, y: Code): Code => [...x, ...y, 0x6b];
const mul = (x: Code, y: Code): Code => [...x, ...y, 0x6c];
const ltU = (x: Code, y: Code): Code => [...x, ...y, 0x49];
const eqz = (x: Code): Code => [...x, 0x45];
const or = (x: Code, y: Code): Code => [...x, ...y, 0x72];
const load = (addr: Code, offset = 0): Code => [...addr, 0x28, 2, ...uleb(offset)];
const store = (addr: Code, value: Code, offset = 0): Code => [
  ...addr,
  ...value,
  0x36,
  2,
  ...uleb(offset),
];
const vload = (addr: Code, offset = 0): Code => [...addr, ...simd(0x00, 4, ...uleb(offset))];
/** v128.load8x8_s: eight int8 widened to eight int16 lanes. */
const vload8x8 = (addr: Code, offset = 0): Code => [...addr, ...simd(0x01, 3, ...uleb(offset))];
const vstore = (addr: Code, value: Code, offset = 0): Code => [
  ...addr,
  ...value,
  ...simd(0x0b, 4, ...uleb(offset)),
];
const splat = (x: Code): Code => [...x, ...simd(0x11)];
const lane = (v: Code, i: number): Code => [...v, ...simd(0x1b, i)];
const lowI16 = (v: Code): Code => [...v, ...simd(0xa7)];
const highI16 = (v: Code): Code => [...v, ...simd(0xa8)];
const vadd = (x: Code, y: Code): Code => [...x, ...y, ...simd(0xae)];
const vshl = (x: Code, k: Code): Code => [...x, ...k, ...simd(0xab)];
const vshrS = (x: Code, k: Code): Code => [...x, ...k, ...simd(0xac)];
/** i32x4.dot_i16x8_s: lane i = x[2i]·y[2i] + x[2i+1]·y[2i+1] (int16 lanes, int32 products). */
const vdot = (x: Code, y: Code): Code => [...x, ...y, ...simd(0xba)];
/** The low 16 bits of the eight int32 lanes of x and y, as eight int16 lanes. */
const low16 = (x: Code, y: Code): Code => [
  ...x,
  ...y,
  ...simd(0x0d, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29),
];
const extendLow8 = (v: Code): Code => [...v, ...simd(0x87)];
const extendHigh8 = (v: Code): Code => [...v, ...simd(0x88)];
/** Interleaves int16 lanes 0-3 (part 0) or 4-7 (part 1) of x and y: x0 y0 x1 y1 x2 y2 x3 y3. */
const zip16 = (x: Code, y: Code, part: 0 | 1): Code => {
  const lanes: number[] = [];
  for (let i = 4 * part; i < 4 * part + 4; i++)
    lanes.push(2 * i, 2 * i + 1, 16 + 2 * i, 16 + 2 * i + 1);
  return [...x, ...y, ...simd(0x0d, ...lanes)];
};
const vmul = (x: Code, y: Code): Code => [...x, ...y, ...simd(0xb5)];
const vzero: Code = splat(c32(0));
const block = (...body: Code[]): Code => [0x02, 0x40, ...body.flat(), 0x0b];
const loop = (...body: Code[]): Code => [0x03, 0x40, ...body.flat(), 0x0b];
const ifElse = (cond: Code, then: Code[], otherwise: Code[]): Code => [
  ...cond,
  0x04,
  0x40,
  ...then.flat(),
  0x05,
  ...otherwise.flat(),
  0x0b,
];
const brIf = (depth: number, cond: Code): Code => [...cond, 0x0d, ...uleb(depth)];

/** A function body: `params` i32 parameters, then locals declared on demand. */
class Body {
  private readonly types: number[] = [];
  constructor(readonly params: number) {}
  local(type: number): number {
    this.types.push(type);
    return this.params + this.types.length - 1;
  }
  i32(): number {
    return this.local(I32);
  }
  v128(): number {
    return this.local(V128);
  }
  encode(code: Code[]): number[] {
    const groups: number[][] = [];
    for (const t of this.types) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const body = [...vec(groups.map(([n, t]) => [...uleb(n), t])), ...code.flat(), 0x0b];
    return [...uleb(body.length), ...body];
  }
}

function axpy(bInt8: boolean): { params: number; body: number[] } {
  const f = new Body(12);
  const [a, aM, aR, b, rowT, panelT, c, cM, M, P, R, accumulate] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
  ];
  const [p, m, pbase, pc, rt, r, pb] = [
    f.i32(),
    f.i32(),
    f.i32(),
    f.i32(),
    f.i32(),
    f.i32(),
    f.i32(),
  ];
  const pa = [f.i32(), f.i32(), f.i32(), f.i32()];
  const acc = [f.v128(), f.v128(), f.v128(), f.v128(), f.v128(), f.v128(), f.v128(), f.v128()];
  const [v0, v1, s] = [f.v128(), f.v128(), f.v128()];
  const row = (i: number): Code => add(get(pc), mul(get(cM), c32(i)));

  const loadB = bInt8
    ? [set(v1, vload8x8(get(pb))), set(v0, lowI16(get(v1))), set(v1, highI16(get(v1)))]
    : [set(v0, vload(get(pb))), set(v1, vload(get(pb), 16))];
  const stepR: Code[] = [set(pb, add(get(pbase), load(get(rt)))), ...loadB];
  for (let i = 0; i < 4; i++) {
    stepR.push(set(s, splat(load(get(pa[i])))));
    stepR.push(set(acc[2 * i], vadd(get(acc[2 * i]), vmul(get(s), get(v0)))));
    stepR.push(set(acc[2 * i + 1], vadd(get(acc[2 * i + 1]), vmul(get(s), get(v1)))));
    stepR.push(set(pa[i], add(get(pa[i]), get(aR))));
  }
  stepR.push(set(rt, add(get(rt), c32(4))));

  const init: Code[] = [];
  const zero: Code[] = [];
  const save: Code[] = [];
  for (let i = 0; i < 4; i++) {
    init.push(set(acc[2 * i], vload(row(i))), set(acc[2 * i + 1], vload(row(i), 16)));
    zero.push(set(acc[2 * i], vzero), set(acc[2 * i + 1], vzero));
    save.push(vstore(row(i), get(acc[2 * i])), vstore(row(i), get(acc[2 * i + 1]), 16));
  }
  const code: Code[] = [
    set(p, c32(0)),
    block(
      brIf(0, or(eqz(get(M)), eqz(get(P)))),
      loop(
        set(pbase, add(get(b), load(add(get(panelT), mul(get(p), c32(4)))))),
        set(m, c32(0)),
        loop(
          set(pc, add(add(get(c), mul(get(m), get(cM))), mul(get(p), c32(32)))),
          ifElse(get(accumulate), init, zero),
          set(pa[0], add(get(a), mul(get(m), get(aM)))),
          set(pa[1], add(get(pa[0]), get(aM))),
          set(pa[2], add(get(pa[1]), get(aM))),
          set(pa[3], add(get(pa[2]), get(aM))),
          set(rt, get(rowT)),
          set(r, get(R)),
          block(brIf(0, eqz(get(r))), loop(...stepR, brIf(0, tee(r, sub(get(r), c32(1)))))),
          ...save,
          brIf(0, ltU(tee(m, add(get(m), c32(4))), get(M))),
        ),
        brIf(0, ltU(tee(p, add(get(p), c32(1))), get(P))),
      ),
    ),
  ];
  return { params: 12, body: f.encode(code) };
}

/**
 * copyRows (src, dst, outer, oSrc, oDst, inner, iSrc, iDst, bytes): outer × inner rows of `bytes`
 * bytes, row (o, i) from src + o·oSrc + i·iSrc to dst + o·oDst + i·iDst (memory.copy).
 */
function copyRows(): { params: number; body: number[] } {
  const f = new Body(9);
  const [src, dst, outer, oSrc, oDst, inner, iSrc, iDst, bytes] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [o, i, s, d] = [f.i32(), f.i32(), f.i32(), f.i32()];
  const code: Code[] = [
    block(
      brIf(0, or(eqz(get(outer)), eqz(get(inner)))),
      set(o, get(outer)),
      loop(
        set(s, get(src)),
        set(d, get(dst)),
        set(i, get(inner)),
        loop(
          [...get(d), ...get(s), ...get(bytes), 0xfc, ...uleb(10), 0, 0],
          set(s, add(get(s), get(iSrc))),
          set(d, add(get(d), get(iDst))),
          brIf(0, tee(i, sub(get(i), c32(1)))),
        ),
        set(src, add(get(src), get(oSrc))),
        set(dst, add(get(dst), get(oDst))),
        brIf(0, tee(o, sub(get(o), c32(1)))),
      ),
    ),
  ];
  return { params: 9, body: f.encode(code) };
}

/**
 * dot16 (pT, p, qLo, qHi, qRow, c, cP, cQ, M, N, I, J, pI, qI, accumulate) — C[m, n] (+)=
 * Σ_{i<I, e<8J} P[m][i·pI + e] · Q[n][i·qI + e], with P[m] int8 rows at p + pT[m] and Q[n] as
 * int16 halves at qLo / qHi + n·qRow (+ 2e); C[m, n] at c + m·cP + n·cQ (M, N multiples of 2).
 * Two rows of P by two of Q: i32x4.dot_i16x8_s of P (widened to int16) with each half, the halves
 * summed apart and joined as lo + (hi << 16) at the end.
 */
function dot16(): { params: number; body: number[] } {
  const f = new Body(15);
  const [pT, pBase, qLo, qHi, qRow, c, cP, cQ, M, N, I, J, pI, qI, accumulate] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
  ];
  const [m, n, i, j, offP, offQ, sum, at, x0, x1, yl0, yh0, yl1, yh1, pr0, pr1] = Array.from(
    { length: 16 },
    () => f.i32(),
  );
  // acc[2k + l]: low halves of (P row k, Q row l); hiAcc the high halves.
  const lo = [f.v128(), f.v128(), f.v128(), f.v128()];
  const hi = [f.v128(), f.v128(), f.v128(), f.v128()];
  const [p0, p1, l0, h0, l1, h1, v] = Array.from({ length: 7 }, () => f.v128());

  const stepJ: Code[] = [
    set(p0, vload8x8(get(x0))),
    set(p1, vload8x8(get(x1))),
    set(l0, vload(get(yl0))),
    set(h0, vload(get(yh0))),
    set(l1, vload(get(yl1))),
    set(h1, vload(get(yh1))),
  ];
  const pv = [p0, p1];
  const qv = [
    [l0, h0],
    [l1, h1],
  ];
  for (let k = 0; k < 2; k++) {
    for (let l = 0; l < 2; l++) {
      stepJ.push(set(lo[2 * k + l], vadd(get(lo[2 * k + l]), vdot(get(pv[k]), get(qv[l][0])))));
      stepJ.push(set(hi[2 * k + l], vadd(get(hi[2 * k + l]), vdot(get(pv[k]), get(qv[l][1])))));
    }
  }
  for (const ptr of [x0, x1]) stepJ.push(set(ptr, add(get(ptr), c32(8))));
  for (const ptr of [yl0, yh0, yl1, yh1]) stepJ.push(set(ptr, add(get(ptr), c32(16))));

  const stepI: Code[] = [
    set(x0, add(get(pr0), get(offP))),
    set(x1, add(get(pr1), get(offP))),
    set(yl0, add(add(get(qLo), mul(get(n), get(qRow))), get(offQ))),
    set(yh0, add(add(get(qHi), mul(get(n), get(qRow))), get(offQ))),
    set(yl1, add(get(yl0), get(qRow))),
    set(yh1, add(get(yh0), get(qRow))),
    set(j, get(J)),
    loop(...stepJ, brIf(0, tee(j, sub(get(j), c32(1))))),
    set(offP, add(get(offP), get(pI))),
    set(offQ, add(get(offQ), get(qI))),
  ];
  const save: Code[] = [];
  for (let k = 0; k < 2; k++) {
    for (let l = 0; l < 2; l++) {
      save.push(set(v, vadd(get(lo[2 * k + l]), vshl(get(hi[2 * k + l]), c32(16)))));
      save.push(
        set(sum, add(add(lane(get(v), 0), lane(get(v), 1)), add(lane(get(v), 2), lane(get(v), 3)))),
      );
      save.push(
        set(
          at,
          add(get(c), add(mul(add(get(m), c32(k)), get(cP)), mul(add(get(n), c32(l)), get(cQ)))),
        ),
      );
      save.push(store(get(at), ifElse2(get(accumulate), add(get(sum), load(get(at))), get(sum))));
    }
  }
  const code: Code[] = [
    set(m, c32(0)),
    block(
      brIf(0, or(or(eqz(get(M)), eqz(get(N))), or(eqz(get(I)), eqz(get(J))))),
      loop(
        set(pr0, add(get(pBase), load(add(get(pT), mul(get(m), c32(4)))))),
        set(pr1, add(get(pBase), load(add(get(pT), mul(get(m), c32(4))), 4))),
        set(n, c32(0)),
        loop(
          ...[...lo, ...hi].map((a) => set(a, vzero)),
          set(offP, c32(0)),
          set(offQ, c32(0)),
          set(i, get(I)),
          loop(...stepI, brIf(0, tee(i, sub(get(i), c32(1))))),
          ...save,
          brIf(0, ltU(tee(n, add(get(n), c32(2))), get(N))),
        ),
        brIf(0, ltU(tee(m, add(get(m), c32(2))), get(M))),
      ),
    ),
  ];
  return { params: 15, body: f.encode(code) };
}

/**
 * split16 (src, srcRow, lo, hi, dstRow, rows, chunks): int32 rows of 8·chunks values into their
 * int16 halves, lo = the low 16 bits (signed) and hi = (v + 2^15) >> 16 (mod 2^16), so that
 * v = hi·2^16 + lo modulo 2^32.
 */
function split16(): { params: number; body: number[] } {
  const f = new Body(7);
  const [src, srcRow, lo, hi, dstRow, rows, chunks] = [0, 1, 2, 3, 4, 5, 6];
  const [r, k, s, dl, dh] = [f.i32(), f.i32(), f.i32(), f.i32(), f.i32()];
  const [v0, v1] = [f.v128(), f.v128()];
  const high = (x: number): Code => vshrS(vadd(get(x), splat(c32(0x8000))), c32(16));
  const code: Code[] = [
    block(
      brIf(0, or(eqz(get(rows)), eqz(get(chunks)))),
      set(r, c32(0)),
      loop(
        set(s, add(get(src), mul(get(r), get(srcRow)))),
        set(dl, add(get(lo), mul(get(r), get(dstRow)))),
        set(dh, add(get(hi), mul(get(r), get(dstRow)))),
        set(k, get(chunks)),
        loop(
          set(v0, vload(get(s))),
          set(v1, vload(get(s), 16)),
          vstore(get(dl), low16(get(v0), get(v1))),
          vstore(get(dh), low16(high(v0), high(v1))),
          set(s, add(get(s), c32(32))),
          set(dl, add(get(dl), c32(16))),
          set(dh, add(get(dh), c32(16))),
          brIf(0, tee(k, sub(get(k), c32(1)))),
        ),
        brIf(0, ltU(tee(r, add(get(r), c32(1))), get(rows))),
      ),
    ),
  ];
  return { params: 7, body: f.encode(code) };
}

/** transpose32 (src, srcRow, dst, dstRow, R, C): int32 dst[c][r] = src[r][c]. */
function transpose32(): { params: number; body: number[] } {
  const f = new Body(6);
  const [src, srcRow, dst, dstRow, R, C] = [0, 1, 2, 3, 4, 5];
  const [r, k, s, d] = [f.i32(), f.i32(), f.i32(), f.i32()];
  const size = 4;
  const move = store(get(d), load(get(s)));
  const code: Code[] = [
    block(
      brIf(0, or(eqz(get(R)), eqz(get(C)))),
      set(r, c32(0)),
      loop(
        set(s, add(get(src), mul(get(r), get(srcRow)))),
        set(d, add(get(dst), mul(get(r), c32(size)))),
        set(k, get(C)),
        loop(
          move,
          set(s, add(get(s), c32(size))),
          set(d, add(get(d), get(dstRow))),
          brIf(0, tee(k, sub(get(k), c32(1)))),
        ),
        brIf(0, ltU(tee(r, add(get(r), c32(1))), get(R))),
      ),
    ),
  ];
  return { params: 6, body: f.encode(code) };
}

/**
 * axpy16 (xp, xpRow, gLo, gHi, gRow, c, cRow, O, tiles, pairs) — C[o, k] = Σ_b g[b, o]·x[b, k]
 * over pairs of batch rows: xp holds x as int16 pairs (x[2j, k], x[2j+1, k]) at
 * xp + j·xpRow + 4k; gLo/gHi hold the int16 halves of gᵀ at gLo + o·gRow + 2b, so one int32 load
 * is the pair (g[2j, o], g[2j+1, o]). i32x4.dot_i16x8_s multiplies a pair by a pair. A block is
 * two rows o by 8 columns k; C[o, 8t + j] at c + o·cRow + 32t + 4j (O a multiple of 2).
 */
function axpy16(): { params: number; body: number[] } {
  const f = new Body(10);
  const [xp, xpRow, gLo, gHi, gRow, c, cRow, O, tiles, pairs] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [t, o, j, px, pg, pc] = Array.from({ length: 6 }, () => f.i32());
  const lo = [f.v128(), f.v128(), f.v128(), f.v128()];
  const hi = [f.v128(), f.v128(), f.v128(), f.v128()];
  const [x0, x1, s] = [f.v128(), f.v128(), f.v128()];
  const step: Code[] = [set(x0, vload(get(px))), set(x1, vload(get(px), 16))];
  for (let r = 0; r < 2; r++) {
    const gAt = (base: number): Code =>
      r === 0 ? add(get(base), get(pg)) : add(add(get(base), get(pg)), get(gRow));
    step.push(set(s, splat(load(gAt(gLo)))));
    step.push(set(lo[2 * r], vadd(get(lo[2 * r]), vdot(get(x0), get(s)))));
    step.push(set(lo[2 * r + 1], vadd(get(lo[2 * r + 1]), vdot(get(x1), get(s)))));
    step.push(set(s, splat(load(gAt(gHi)))));
    step.push(set(hi[2 * r], vadd(get(hi[2 * r]), vdot(get(x0), get(s)))));
    step.push(set(hi[2 * r + 1], vadd(get(hi[2 * r + 1]), vdot(get(x1), get(s)))));
  }
  step.push(set(px, add(get(px), get(xpRow))), set(pg, add(get(pg), c32(4))));
  const save: Code[] = [];
  for (let r = 0; r < 2; r++) {
    const row = r === 0 ? get(pc) : add(get(pc), get(cRow));
    save.push(vstore(row, vadd(get(lo[2 * r]), vshl(get(hi[2 * r]), c32(16)))));
    save.push(vstore(row, vadd(get(lo[2 * r + 1]), vshl(get(hi[2 * r + 1]), c32(16))), 16));
  }
  const code: Code[] = [
    block(
      brIf(0, or(or(eqz(get(O)), eqz(get(tiles))), eqz(get(pairs)))),
      set(t, c32(0)),
      loop(
        set(o, c32(0)),
        loop(
          ...[...lo, ...hi].map((a) => set(a, vzero)),
          set(px, add(get(xp), mul(get(t), c32(32)))),
          set(pg, mul(get(o), get(gRow))),
          set(j, get(pairs)),
          loop(...step, brIf(0, tee(j, sub(get(j), c32(1))))),
          set(pc, add(add(get(c), mul(get(o), get(cRow))), mul(get(t), c32(32)))),
          ...save,
          brIf(0, ltU(tee(o, add(get(o), c32(2))), get(O))),
        ),
        brIf(0, ltU(tee(t, add(get(t), c32(1))), get(tiles))),
      ),
    ),
  ];
  return { params: 10, body: f.encode(code) };
}

/**
 * pairRows (src, srcRow, dst, dstRow, pairs, chunks): int8 rows 2j and 2j+1 (16·chunks values
 * each) interleaved into int16 pairs (x[2j, k], x[2j+1, k]) at dst + j·dstRow + 4k.
 */
function pairRows(): { params: number; body: number[] } {
  const f = new Body(6);
  const [src, srcRow, dst, dstRow, pairs, chunks] = [0, 1, 2, 3, 4, 5];
  const [j, k, s, d] = Array.from({ length: 4 }, () => f.i32());
  const [a, b, a2, b2] = [f.v128(), f.v128(), f.v128(), f.v128()];
  const code: Code[] = [
    block(
      brIf(0, or(eqz(get(pairs)), eqz(get(chunks)))),
      set(j, c32(0)),
      loop(
        set(s, add(get(src), mul(mul(get(j), c32(2)), get(srcRow)))),
        set(d, add(get(dst), mul(get(j), get(dstRow)))),
        set(k, get(chunks)),
        loop(
          set(a, vload(get(s))),
          set(b, vload(add(get(s), get(srcRow)))),
          set(a2, extendLow8(get(a))),
          set(b2, extendLow8(get(b))),
          vstore(get(d), zip16(get(a2), get(b2), 0)),
          vstore(get(d), zip16(get(a2), get(b2), 1), 16),
          set(a2, extendHigh8(get(a))),
          set(b2, extendHigh8(get(b))),
          vstore(get(d), zip16(get(a2), get(b2), 0), 32),
          vstore(get(d), zip16(get(a2), get(b2), 1), 48),
          set(s, add(get(s), c32(16))),
          set(d, add(get(d), c32(64))),
          brIf(0, tee(k, sub(get(k), c32(1)))),
        ),
        brIf(0, ltU(tee(j, add(get(j), c32(1))), get(pairs))),
      ),
    ),
  ];
  return { params: 6, body: f.encode(code) };
}

/** `if (result i32) … else … end` */
function ifElse2(cond: Code, then: Code, otherwise: Code): Code {
  return [...cond, 0x04, I32, ...then, 0x05, ...otherwise, 0x0b];
}

/** Pages of 64 KiB: the most the shared memory may grow to (4 GiB, all a 32-bit address reaches). */
const SHARED_MEMORY_PAGES = 65536;

/**
 * The module's bytes: the kernels, working on the memory the module imports as `env.memory`
 * (a shared one, `shared`, declared with a maximum of SHARED_MEMORY_PAGES, so that worker
 * threads can run the same kernels on it).
 */
export function kernelModuleBytes(shared = false): Uint8Array<ArrayBuffer> {
  const fns = [
    { name: 'axpy32', ...axpy(false) },
    { name: 'axpy8', ...axpy(true) },
    { name: 'copyRows', ...copyRows() },
    { name: 'dot16', ...dot16() },
    { name: 'split16', ...split16() },
    { name: 'transpose32', ...transpose32() },
    { name: 'axpy16', ...axpy16() },
    { name: 'pairRows', ...pairRows() },
  ];
  const arities = [...new Set(fns.map((fn) => fn.params))];
  const types = section(
    1,
    vec(arities.map((n) => [0x60, ...vec(Array.from({ length: n }, () => [I32])), ...vec([])])),
  );
  const limits = shared ? [0x03, ...uleb(1), ...uleb(SHARED_MEMORY_PAGES)] : [0x00, ...uleb(1)];
  const imports = section(2, vec([[...name('env'), ...name('memory'), 0x02, ...limits]]));
  const funcs = section(3, vec(fns.map((fn) => uleb(arities.indexOf(fn.params)))));
  const exports = section(7, vec(fns.map((fn, k) => [...name(fn.name), 0x00, ...uleb(k)])));
  const code = section(10, vec(fns.map((fn) => fn.body)));
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...types,
    ...imports,
    ...funcs,
    ...exports,
    ...code,
  ]);
}

export type Axpy = (
  a: number,
  aM: number,
  aR: number,
  b: number,
  rowT: number,
  panelT: number,
  c: number,
  cM: number,
  M: number,
  P: number,
  R: number,
  accumulate: number,
) => void;

export type CopyRows = (
  src: number,
  dst: number,
  outer: number,
  oSrc: number,
  oDst: number,
  inner: number,
  iSrc: number,
  iDst: number,
  bytes: number,
) => void;

export type Dot16 = (
  pT: number,
  p: number,
  qLo: number,
  qHi: number,
  qRow: number,
  c: number,
  cP: number,
  cQ: number,
  M: number,
  N: number,
  I: number,
  J: number,
  pI: number,
  qI: number,
  accumulate: number,
) => void;
export type Split16 = (
  src: number,
  srcRow: number,
  lo: number,
  hi: number,
  dstRow: number,
  rows: number,
  chunks: number,
) => void;
export type Transpose = (
  src: number,
  srcRow: number,
  dst: number,
  dstRow: number,
  R: number,
  C: number,
) => void;

export type Axpy16 = (
  xp: number,
  xpRow: number,
  gLo: number,
  gHi: number,
  gRow: number,
  c: number,
  cRow: number,
  O: number,
  tiles: number,
  pairs: number,
) => void;
export type PairRows = (
  src: number,
  srcRow: number,
  dst: number,
  dstRow: number,
  pairs: number,
  chunks: number,
) => void;

export interface Kernels {
  readonly axpy16: Axpy16;
  readonly pairRows: PairRows;
  readonly axpy32: Axpy;
  readonly axpy8: Axpy;
  readonly dot16: Dot16;
  readonly split16: Split16;
  readonly transpose32: Transpose;
  readonly copyRows: CopyRows;
}

export interface SimdKernels extends Kernels {
  /** The memory the kernels address (imported: shared when several instances use it). */
  readonly memory: WebAssembly.Memory;
}

function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer === 'function' && memory.buffer instanceof SharedArrayBuffer;
}

/** The module's bytes where WebAssembly and its SIMD extension are there, else null. */
function validBytes(shared: boolean): Uint8Array<ArrayBuffer> | null {
  if (typeof WebAssembly !== 'object') return null;
  try {
    const bytes = kernelModuleBytes(shared);
    return WebAssembly.validate(bytes) ? bytes : null;
  } catch {
    return null;
  }
}

/** A compiled kernel module, for a plain or a shared memory (compileKernelModule). */
export interface KernelModule {
  readonly module: WebAssembly.Module;
  readonly shared: boolean;
}

/**
 * The kernels instantiated on `memory` (a new plain one of one page when omitted; a shared
 * memory needs the module compiled with shared true).
 */
export function instantiateKernels(
  compiled: KernelModule,
  memory: WebAssembly.Memory = new WebAssembly.Memory({ initial: 1 }),
): SimdKernels {
  if (isShared(memory) !== compiled.shared)
    throw new Error(
      `instantiateKernels: the module imports a ${compiled.shared ? 'shared' : 'plain'} memory, the memory given is ${isShared(memory) ? 'shared' : 'plain'}`,
    );
  const instance = new WebAssembly.Instance(compiled.module, { env: { memory } });
  return { ...(instance.exports as unknown as Kernels), memory };
}

/**
 * The kernel module compiled synchronously, or null where WebAssembly or its SIMD extension is
 * missing, a content security policy forbids compiling, or the runtime compiles only
 * asynchronously. The module stays below the 4 KB browsers allow to compile on their main
 * thread (a test checks it).
 */
export function compileKernelModule(shared = false): KernelModule | null {
  const bytes = validBytes(shared);
  if (!bytes) return null;
  try {
    return { module: new WebAssembly.Module(bytes), shared };
  } catch {
    return null;
  }
}

/** compileKernelModule with WebAssembly.compile, which every runtime allows. */
export async function compileKernelModuleAsync(shared = false): Promise<KernelModule | null> {
  const bytes = validBytes(shared);
  if (!bytes) return null;
  try {
    return { module: await WebAssembly.compile(bytes), shared };
  } catch {
    return null;
  }
}

/** A new instance of the kernels on a plain memory of its own, compiled synchronously, or null. */
export function compileSimdKernels(): SimdKernels | null {
  const compiled = compileKernelModule();
  return compiled ? instantiateKernels(compiled) : null;
}

/** compileSimdKernels, compiled asynchronously where the runtime refuses to compile synchronously. */
export async function compileSimdKernelsAsync(): Promise<SimdKernels | null> {
  const compiled = compileKernelModule() ?? (await compileKernelModuleAsync());
  return compiled ? instantiateKernels(compiled) : null;
}
