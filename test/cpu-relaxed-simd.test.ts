/**
 * The relaxed-SIMD rule the CPU backend's kernels would rely on: the relaxed int8 dot products'
 * sums are the exact integer dot product while their second operand lies in [0, 127] (on every
 * CPU), and the offset transform for a second operand over [-127, 127] (b + 127 in two halves,
 * each in [0, 127], minus 127·Σ a) is exact too. The module is test/fixtures/relaxed-dot.wat; its
 * bytes are below (checked against wabt in Node).
 *
 * In this runtime where it validates relaxed SIMD (Chromium, Deno, Node 22+), and in Node also in
 * a child Node with --experimental-wasm-relaxed-simd. Node 20's V8 (11.3) takes the flag but
 * gets i32x4.relaxed_dot_i8x16_i7x16_add_s wrong (results/cpu-backend.md): it drops the
 * accumulator and doubles the dot. So WebAssembly.validate alone cannot select a relaxed kernel;
 * the child's test says which V8 does that.
 */
import { describe, expect, it } from 'vitest';
import { type RelaxedRuleReport, relaxedRuleCheck } from './relaxed-rule.ts';

/** test/fixtures/relaxed-dot.wat assembled by wabt (relaxed_simd on). */
const RELAXED_DOT_WASM =
  'AGFzbQEAAAABEwNgAXsBf2ADf39/AX9gAnt7AXsDBgUAAQIBAQUDAQABByQEBm1lbW9yeQIAA2RvdAABBWRvdDE2AAMJZG90U2lnbmVkAAQK/gEFGQAgAP0bACAA/RsBaiAA/RsCIAD9GwNqagsyAgF/AXsDQCAAIANq/QAEACABIANq/QAEACAE/ZMCIQQgA0EQaiIDIAJJDQALIAQQAAsLACAAIAH9kgL9fgs0AgF/AXsDQCAEIAAgA2r9AAQAIAEgA2r9AAQAEAL9rgEhBCADQRBqIgMgAkkNAAsgBBAAC24CAX8FewNAIAAgA2r9AAQAIQYgASADav0ABABB/wD9D/1uIQcgB0EB/W0hCCAEIAYgCBACIAYgByAI/XEQAv2uAf2uASEEIAUgBv18/X79rgEhBSADQRBqIgMgAkkNAAsgBBAAIAUQAEH/AGxrCw==';

function bytes(): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(RELAXED_DOT_WASM), (c) => c.charCodeAt(0));
}

const isNode =
  typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node ===
  'string';
const validatesHere = WebAssembly.validate(bytes());

/** Every relaxed form exact on every case (with the add form left out where `addForm` is false). */
function expectExact(r: RelaxedRuleReport, addForm = true): void {
  expect(r.validates).toBe(true);
  expect(r.cases).toBe(600);
  if (addForm) expect(r.plainMismatches, r.first).toBe(0);
  expect(r.dot16Mismatches, r.first).toBe(0);
  expect(r.offsetMismatches, r.first).toBe(0);
  expect(r.jsOffsetMismatches, r.first).toBe(0);
}

describe('relaxed SIMD int8 dot products', () => {
  it.runIf(isNode)('the module is test/fixtures/relaxed-dot.wat assembled', async () => {
    const { readFileSync } = await import('node:fs');
    const wabt = await (await import('wabt')).default();
    const features = { simd: true, relaxed_simd: true };
    const path = new URL('./fixtures/relaxed-dot.wat', import.meta.url);
    const m = wabt.parseWat('relaxed-dot.wat', readFileSync(path, 'utf8'), features);
    try {
      expect(Buffer.from(m.toBinary({ write_debug_names: false }).buffer).toString('base64')).toBe(
        RELAXED_DOT_WASM,
      );
    } finally {
      m.destroy();
    }
  });

  it.runIf(isNode)(
    'are exact for a second operand in [0, 127], and so is the offset transform over [-127, 127], in Node with --experimental-wasm-relaxed-simd',
    async () => {
      const { execFileSync } = await import('node:child_process');
      const source = `const check = ${relaxedRuleCheck.toString()};
        const bytes = Uint8Array.from(atob(${JSON.stringify(RELAXED_DOT_WASM)}), (c) => c.charCodeAt(0));
        console.log(JSON.stringify({ v8: process.versions.v8, report: check(bytes, 20261203) }));`;
      const out = execFileSync(
        process.execPath,
        ['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', source],
        { encoding: 'utf8' },
      );
      const { v8, report } = JSON.parse(out) as { v8: string; report: RelaxedRuleReport };
      // V8 11 (Node 20) miscompiles the accumulating form behind the flag: wrong on every case.
      const brokenAddForm = /^11\./.test(v8);
      expectExact(report, !brokenAddForm);
      if (brokenAddForm) expect(report.plainMismatches, `V8 ${v8}`).toBeGreaterThan(0);
    },
  );

  // Node 20 without the flag does not validate relaxed SIMD: there only the child above runs it.
  it.skipIf(!validatesHere)(
    `are exact for a second operand in [0, 127], and so is the offset transform, in this runtime (${validatesHere ? 'relaxed SIMD validates' : 'skipped: this runtime does not validate relaxed SIMD'})`,
    () => {
      expectExact(relaxedRuleCheck(bytes(), 7));
    },
  );

  it('the offset transform is exact in plain integer arithmetic over all of [-127, 127] × int8', () => {
    // Every pair (a, b): a·b = a·u1 + a·u2 - 127·a with u = b + 127, u1 = u >> 1, u2 = u - u1.
    let wrong = 0;
    for (let a = -128; a <= 127; a++) {
      for (let b = -127; b <= 127; b++) {
        const u = b + 127;
        const u1 = u >> 1;
        const u2 = u - u1;
        if (u1 < 0 || u1 > 127 || u2 < 0 || u2 > 127 || a * u1 + a * u2 - 127 * a !== a * b)
          wrong++;
      }
    }
    expect(wrong).toBe(0);
  });
});
