/**
 * The relaxed-SIMD rule check that test/cpu-relaxed-simd.test.ts runs in this runtime (where
 * relaxed SIMD validates) and in a child Node with --experimental-wasm-relaxed-simd: it is passed
 * there as source text, so it refers to nothing outside itself.
 */

/** What one run of the check found: cases compared and how many gave another sum than plain integer arithmetic. */
export interface RelaxedRuleReport {
  validates: boolean;
  cases: number;
  /** `dot` (i32x4.relaxed_dot_i8x16_i7x16_add_s) with its second operand in [0, 127] against Σ a·b. */
  plainMismatches: number;
  /** `dot16` (i16x8.relaxed_dot_i8x16_i7x16_s) with its second operand in [0, 127] against Σ a·b. */
  dot16Mismatches: number;
  /** `dotSigned` (the offset transform) with its second operand over [-127, 127] against Σ a·b. */
  offsetMismatches: number;
  /** The transform's arithmetic in plain JavaScript (halves of b + 127, minus 127·Σ a) against Σ a·b. */
  jsOffsetMismatches: number;
  /** The first mismatch, for the failure message. */
  first: string;
}

/** Runs the module's dot and dotSigned on random and extreme int8 vectors; `bytes` is test/fixtures/relaxed-dot.wat assembled. */
export function relaxedRuleCheck(bytes: Uint8Array<ArrayBuffer>, seed: number): RelaxedRuleReport {
  const report = {
    validates: WebAssembly.validate(bytes),
    cases: 0,
    plainMismatches: 0,
    dot16Mismatches: 0,
    offsetMismatches: 0,
    jsOffsetMismatches: 0,
    first: '',
  };
  if (!report.validates) return report;
  const e = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as {
    memory: WebAssembly.Memory;
    dot: (a: number, b: number, n: number) => number;
    dot16: (a: number, b: number, n: number) => number;
    dotSigned: (a: number, b: number, n: number) => number;
  };
  const mem = new Int8Array(e.memory.buffer);
  let state = seed >>> 0 || 1;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
  const int = (lo: number, hi: number) => lo + (next() % (hi - lo + 1));
  const A = 0;
  const B = 32768;
  for (let c = 0; c < 600; c++) {
    const n = 16 * int(1, 64);
    // Random vectors, and (every fourth case) the extremes that saturate int16 pair sums.
    const kind = c % 4;
    const a = Array.from({ length: n }, () =>
      kind === 3 ? [-128, 127][int(0, 1)] : int(-128, 127),
    );
    const b7 = Array.from({ length: n }, () => (kind === 3 ? [0, 127][int(0, 1)] : int(0, 127)));
    const bs = Array.from({ length: n }, () =>
      kind === 3 ? [-127, 127, 0][int(0, 2)] : int(-127, 127),
    );
    let exact7 = 0;
    let exactS = 0;
    let sumA = 0;
    let u1Dot = 0;
    let u2Dot = 0;
    for (let i = 0; i < n; i++) {
      exact7 += a[i] * b7[i];
      exactS += a[i] * bs[i];
      sumA += a[i];
      const u = bs[i] + 127;
      const u1 = u >> 1;
      u1Dot += a[i] * u1;
      u2Dot += a[i] * (u - u1);
    }
    mem.set(a, A);
    mem.set(b7, B);
    const plain = e.dot(A, B, n);
    const plain16 = e.dot16(A, B, n);
    mem.set(bs, B);
    const offset = e.dotSigned(A, B, n);
    const js = u1Dot + u2Dot - 127 * sumA;
    report.cases++;
    const note = (what: string, got: number, want: number) => {
      if (!report.first) report.first = `${what}, case ${c} (n ${n}): got ${got}, want ${want}`;
    };
    if (plain !== exact7) {
      report.plainMismatches++;
      note('dot', plain, exact7);
    }
    if (plain16 !== exact7) {
      report.dot16Mismatches++;
      note('dot16', plain16, exact7);
    }
    if (offset !== exactS) {
      report.offsetMismatches++;
      note('dotSigned', offset, exactS);
    }
    if (js !== exactS) {
      report.jsOffsetMismatches++;
      note('offset transform in JavaScript', js, exactS);
    }
  }
  return report;
}
