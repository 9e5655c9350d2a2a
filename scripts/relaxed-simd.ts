/**
 * Multiply-adds per second of WebAssembly's int8/int16 dot instructions on this core, in
 * registers (independent accumulator chains, operands changing every round): the standard
 * i32x4.dot_i16x8_s the kernels use against relaxed SIMD's int8 dots. Run where relaxed SIMD
 * validates; on Node 20:
 *
 *   node --experimental-wasm-relaxed-simd node_modules/.bin/vite-node scripts/relaxed-simd.ts
 *
 * Each line also checks the instruction's sum on one known vector pair (the accumulating relaxed
 * form is wrong on Node 20's V8; see test/cpu-relaxed-simd.test.ts).
 */
import { loadavg } from 'node:os';
import wabtInit from 'wabt';

const wabt = await wabtInit();
const features = { simd: true, relaxed_simd: true };

/** One loop of `chains` accumulators; `step(i, a, b)` is the WAT of accumulator i's update. */
function loop(
  name: string,
  lanes: string,
  chains: number,
  step: (i: number, a: string, b: string) => string,
): string {
  const acc = Array.from({ length: chains }, (_, i) => `$a${i}`);
  const sum = acc
    .slice(1)
    .reduce((s, a) => `(i32x4.add ${s} (local.get ${a}))`, `(local.get ${acc[0]})`);
  return `(func (export "${name}") (param $n i32) (result i32)
    (local $x v128) (local $y v128) (local $z v128) (local $w v128) ${acc.map((a) => `(local ${a} v128)`).join(' ')}
    (local.set $x (${lanes}.splat (local.get $n))) (local.set $y (${lanes}.splat (i32.add (local.get $n) (i32.const 3))))
    (local.set $z (${lanes}.splat (i32.const 5))) (local.set $w (${lanes}.splat (i32.const 7)))
    (loop $round
      (local.set $x (${lanes}.add (local.get $x) (local.get $z)))
      (local.set $y (${lanes}.add (local.get $y) (local.get $w)))
      ${acc.map((_, i) => step(i, ['$x', '$y'][i & 1], ['$y', '$z', '$w', '$x'][(i >> 1) & 3])).join('\n')}
      (br_if $round (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32x4.extract_lane 0 ${sum}))`;
}

const i16 = (i: number, a: string, b: string) =>
  `(local.set $a${i} (i32x4.add (local.get $a${i}) (i32x4.dot_i16x8_s (local.get ${a}) (local.get ${b}))))`;
const relaxedAdd = (i: number, a: string, b: string) =>
  `(local.set $a${i} (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get ${a}) (local.get ${b}) (local.get $a${i})))`;
const relaxed16 = (i: number, a: string, b: string) =>
  `(local.set $a${i} (i32x4.add (local.get $a${i}) (i32x4.extadd_pairwise_i16x8_s (i16x8.relaxed_dot_i8x16_i7x16_s (local.get ${a}) (local.get ${b})))))`;

const cases = [
  {
    name: 'i32x4.dot_i16x8_s + i32x4.add, 8 chains (bench-kernels peak)',
    fn: 'i16_8',
    macs: 8,
    chains: 8,
    lanes: 'i16x8',
    step: i16,
  },
  {
    name: 'i32x4.dot_i16x8_s + i32x4.add, 16 chains',
    fn: 'i16_16',
    macs: 8,
    chains: 16,
    lanes: 'i16x8',
    step: i16,
  },
  {
    name: 'i32x4.relaxed_dot_i8x16_i7x16_add_s, 16 chains',
    fn: 'r32',
    macs: 16,
    chains: 16,
    lanes: 'i8x16',
    step: relaxedAdd,
  },
  {
    name: 'i16x8.relaxed_dot_i8x16_i7x16_s + extadd_pairwise + add, 16 chains',
    fn: 'r16',
    macs: 16,
    chains: 16,
    lanes: 'i8x16',
    step: relaxed16,
  },
];
// Known-answer probes: lane 0 of each form on a = (-3, 5, 2, 1, 0...), b = (7, 9, 1, 1, 0...), acc 1000.
const probes = `
  (func (export "probe_i16") (result i32)
    (i32x4.extract_lane 0 (i32x4.add (v128.const i32x4 1000 0 0 0)
      (i32x4.dot_i16x8_s (v128.const i16x8 -3 5 0 0 0 0 0 0) (v128.const i16x8 7 9 0 0 0 0 0 0)))))
  (func (export "probe_r32") (result i32)
    (i32x4.extract_lane 0 (i32x4.relaxed_dot_i8x16_i7x16_add_s
      (v128.const i8x16 -3 5 2 1 0 0 0 0 0 0 0 0 0 0 0 0) (v128.const i8x16 7 9 1 1 0 0 0 0 0 0 0 0 0 0 0 0)
      (v128.const i32x4 1000 0 0 0))))
  (func (export "probe_r16") (result i32)
    (i32x4.extract_lane 0 (i32x4.add (v128.const i32x4 1000 0 0 0) (i32x4.extadd_pairwise_i16x8_s
      (i16x8.relaxed_dot_i8x16_i7x16_s
        (v128.const i8x16 -3 5 2 1 0 0 0 0 0 0 0 0 0 0 0 0) (v128.const i8x16 7 9 1 1 0 0 0 0 0 0 0 0 0 0 0 0))))))`;
const expected: Record<string, number> = { i16: 1024, r32: 1027, r16: 1027 };
const wat = `(module ${cases.map((c) => loop(c.fn, c.lanes, c.chains, c.step)).join('\n')} ${probes})`;
const parsed = wabt.parseWat('relaxed-simd.wat', wat, features);
const bytes = new Uint8Array(parsed.toBinary({ write_debug_names: false }).buffer);
parsed.destroy();
if (!WebAssembly.validate(bytes)) {
  console.log(
    'relaxed-simd: this runtime does not validate relaxed SIMD (on Node 20 pass --experimental-wasm-relaxed-simd)',
  );
  process.exit(1);
}
const e = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as Record<
  string,
  (n?: number) => number
>;
console.log(`${process.version} (V8 ${process.versions.v8}), load ${loadavg()[0].toFixed(2)}`);
for (const c of cases) {
  const f = e[c.fn];
  f(100_000);
  let best = 0;
  for (let r = 0; r < 20; r++) {
    const t0 = performance.now();
    f(1_000_000);
    best = Math.max(best, (c.macs * c.chains * 1e6) / (performance.now() - t0) / 1e6);
  }
  const kind = c.fn.startsWith('i16') ? 'i16' : c.fn;
  const got = e[`probe_${kind}`]();
  console.log(
    `${c.name.padEnd(72)} ${best.toFixed(1).padStart(6)} G multiply-adds/s   known answer ${got === expected[kind] ? 'right' : `WRONG (${got}, want ${expected[kind]})`}`,
  );
}
