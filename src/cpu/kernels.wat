;; The CPU backend's WebAssembly SIMD kernels. scripts/build-kernels.ts assembles this file with
;; wabt into src/cpu/kernels.wasm.ts (twice: importing a plain memory, and a shared one that
;; several worker instances use at once); test/cpu-kernels-build.test.ts checks it is current.
;; src/cpu/gemm.ts has a JavaScript twin of every kernel for runtimes without SIMD.
;;
;; Addresses, strides and table entries are byte offsets into the imported memory. No kernel
;; keeps state between calls (no globals): each takes its operands' pointers, and the GEMM
;; kernels a range [start, end) of output rows, so one product can be split over threads that
;; share the memory.
;;
;; Every product and sum wraps modulo 2^32 (i32x4.mul, i32x4.add, i32x4.dot_i16x8_s), which is
;; the int32 arithmetic of the reference in any order of summation. Where a kernel works on int16
;; halves of an int32 operand v = hi·2^16 + lo (lo the signed low 16 bits, hi = (v + 2^15) >> 16
;; modulo 2^16), Σ x·v = Σ x·lo + 2^16·Σ x·hi modulo 2^32 holds exactly. Operands whose values
;; mostly fit int16 (hi = 0) take the hi part as a short list of corrections instead of a second
;; pass (packW, packG, fixLinear, fixWgrad).
;;
;; Standard SIMD only. Relaxed SIMD's int8 dots are defined on every CPU only when their second
;; operand lies in [0, 127] (test/cpu-relaxed-simd.test.ts tests that rule and the offset that
;; brings [-127, 127] into it: b + 127 in two halves, minus 127·Σa). Here one operand of every
;; large product spans int16 (weights, the weight gradient's g), or both are signed int8, so each
;; product takes two relaxed dots per 16 multiply-adds: at the measured rates
;; (scripts/relaxed-simd.ts, results/cpu-backend.md) slower than i32x4.dot_i16x8_s. Node 20's V8
;; also miscompiles i32x4.relaxed_dot_i8x16_i7x16_add_s behind its flag. No relaxed path is built.
(module
  ;; The plain build imports (memory $mem 1) instead (scripts/kernels-source.ts).
  (import "env" "memory" (memory $mem 1 65536 shared))

  ;; The sums of each of four vectors, as one vector (a, b, c, d) -> (Σa, Σb, Σc, Σd).
  (func $hsum4 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (local $ab v128) (local $cd v128)
    (local.set $ab
      (i32x4.add
        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b))
        (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $b))))
    (local.set $cd
      (i32x4.add
        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c) (local.get $d))
        (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c) (local.get $d))))
    (i32x4.add
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $ab) (local.get $cd))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $ab) (local.get $cd))))

  ;; Stores s << shift at p, or adds it to what p holds when accumulate is non-zero.
  (func $put (param $p i32) (param $s v128) (param $shift i32) (param $accumulate i32)
    (local.set $s (i32x4.shl (local.get $s) (local.get $shift)))
    (if (local.get $accumulate)
      (then (local.set $s (i32x4.add (local.get $s) (v128.load (local.get $p))))))
    (v128.store (local.get $p) (local.get $s)))

  ;; The int16 high half (v + 2^15) >> 16 of each int32 lane.
  (func $high (param $v v128) (result v128)
    (i32x4.shr_s (i32x4.add (local.get $v) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000)) (i32.const 16)))

  ;; packW (src, srcRow, dst, blocks, chunks, half, list, cap) -> count: the linear layer's
  ;; int32 weights W[o, k] (rows of 8·chunks values at src + o·srcRow, 4·blocks rows) as int16
  ;; halves in blocks of four rows: lo(W[4q + r, 8t + e]) at dst + (q·chunks + t)·64 + 16r + 2e
  ;; (half 0), or the hi halves (half 1). With half 0, every element whose hi is non-zero is
  ;; counted, and the first `cap` go to the list as (o, k, hi << 16), 12 bytes each.
  (func $packW (export "packW")
    (param $src i32) (param $srcRow i32) (param $dst i32) (param $blocks i32) (param $chunks i32)
    (param $half i32) (param $list i32) (param $cap i32) (result i32)
    (local $o i32) (local $t i32) (local $s i32) (local $d i32) (local $n i32) (local $e i32)
    (local $h i32) (local $p i32) (local $rows i32)
    (local $v0 v128) (local $v1 v128) (local $h0 v128) (local $h1 v128)
    (if (i32.or (i32.eqz (local.get $blocks)) (i32.eqz (local.get $chunks)))
      (then (return (i32.const 0))))
    (local.set $rows (i32.shl (local.get $blocks) (i32.const 2)))
    (loop $row
      (local.set $s (i32.add (local.get $src) (i32.mul (local.get $o) (local.get $srcRow))))
      ;; block o >> 2, row o & 3 of the block
      (local.set $d
        (i32.add (local.get $dst)
          (i32.add
            (i32.shl (i32.mul (i32.shr_u (local.get $o) (i32.const 2)) (local.get $chunks)) (i32.const 6))
            (i32.shl (i32.and (local.get $o) (i32.const 3)) (i32.const 4)))))
      (local.set $t (i32.const 0))
      (loop $chunk
        (local.set $v0 (v128.load (local.get $s)))
        (local.set $v1 (v128.load offset=16 (local.get $s)))
        (local.set $h0
          (i32x4.shr_s (i32x4.add (local.get $v0) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000)) (i32.const 16)))
        (local.set $h1
          (i32x4.shr_s (i32x4.add (local.get $v1) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000)) (i32.const 16)))
        (if (local.get $half)
          (then
            (v128.store (local.get $d)
              (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $h0) (local.get $h1))))
          (else
            (v128.store (local.get $d)
              (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $v0) (local.get $v1)))
            (if (v128.any_true (v128.or (local.get $h0) (local.get $h1)))
              (then
                (local.set $e (i32.const 0))
                (loop $element
                  (local.set $h
                    (i32.shr_s
                      (i32.add
                        (i32.load (i32.add (local.get $s) (i32.shl (local.get $e) (i32.const 2))))
                        (i32.const 0x8000))
                      (i32.const 16)))
                  (if (local.get $h)
                    (then
                      (if (i32.lt_u (local.get $n) (local.get $cap))
                        (then
                          (local.set $p (i32.add (local.get $list) (i32.mul (local.get $n) (i32.const 12))))
                          (i32.store (local.get $p) (local.get $o))
                          (i32.store offset=4 (local.get $p)
                            (i32.add (i32.shl (local.get $t) (i32.const 3)) (local.get $e)))
                          (i32.store offset=8 (local.get $p) (i32.shl (local.get $h) (i32.const 16)))))
                      (local.set $n (i32.add (local.get $n) (i32.const 1)))))
                  (br_if $element
                    (i32.lt_u (local.tee $e (i32.add (local.get $e) (i32.const 1))) (i32.const 8))))))))
        (local.set $s (i32.add (local.get $s) (i32.const 32)))
        (local.set $d (i32.add (local.get $d) (i32.const 64)))
        (br_if $chunk (i32.lt_u (local.tee $t (i32.add (local.get $t) (i32.const 1))) (local.get $chunks))))
      (br_if $row (i32.lt_u (local.tee $o (i32.add (local.get $o) (i32.const 1))) (local.get $rows))))
    (local.get $n))

  ;; dot4 (x, xRow, segs, segStride, w, c, cRow, b0, b1, blocks, chunks, accumulate, shift) —
  ;; C[b, 4q + r] (+)= (Σ_{t, e} X[b, 8t + e] · W[q, t, r, e]) << shift for rows b0 ≤ b < b1 in
  ;; pairs (an odd count computes row b1 too), W int16 in packW's layout (segs·chunks chunks a
  ;; block) and C int32 at c + b·cRow + 4·(4q + r). Row b of X is `segs` runs of 8·chunks int8
  ;; at x + b·xRow + g·segStride (g < segs): one run for a linear layer, one per kernel row for a
  ;; convolution over a channels-innermost input. Two rows of X by four of W: eight
  ;; accumulators, i32x4.dot_i16x8_s of X (widened to int16) with W, summed across lanes at the end.
  (func $dot4 (export "dot4")
    (param $x i32) (param $xRow i32) (param $segs i32) (param $segStride i32) (param $w i32)
    (param $c i32) (param $cRow i32) (param $b0 i32) (param $b1 i32) (param $blocks i32)
    (param $chunks i32) (param $accumulate i32) (param $shift i32)
    (local $b i32) (local $q i32) (local $t i32) (local $g i32) (local $px0 i32) (local $px1 i32)
    (local $pw i32) (local $pc i32) (local $seg0 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $e0 v128) (local $e1 v128) (local $e2 v128) (local $e3 v128)
    (local $x0 v128) (local $x1 v128) (local $v v128)
    (if (i32.or (i32.ge_s (local.get $b0) (local.get $b1))
          (i32.or (i32.eqz (local.get $blocks))
            (i32.or (i32.eqz (local.get $chunks)) (i32.eqz (local.get $segs)))))
      (then (return)))
    (local.set $b (local.get $b0))
    (loop $rows
      (local.set $q (i32.const 0))
      (loop $block
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $e0 (v128.const i32x4 0 0 0 0))
        (local.set $e1 (v128.const i32x4 0 0 0 0))
        (local.set $e2 (v128.const i32x4 0 0 0 0))
        (local.set $e3 (v128.const i32x4 0 0 0 0))
        (local.set $seg0 (i32.add (local.get $x) (i32.mul (local.get $b) (local.get $xRow))))
        (local.set $pw
          (i32.add (local.get $w)
            (i32.shl (i32.mul (i32.mul (local.get $q) (local.get $segs)) (local.get $chunks)) (i32.const 6))))
        (local.set $g (local.get $segs))
        (loop $segment
          (local.set $px0 (local.get $seg0))
          (local.set $px1 (i32.add (local.get $seg0) (local.get $xRow)))
          (local.set $t (local.get $chunks))
          (loop $k
            (local.set $x0 (v128.load8x8_s (local.get $px0)))
            (local.set $x1 (v128.load8x8_s (local.get $px1)))
            (local.set $v (v128.load (local.get $pw)))
            (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (local.get $x0) (local.get $v))))
            (local.set $e0 (i32x4.add (local.get $e0) (i32x4.dot_i16x8_s (local.get $x1) (local.get $v))))
            (local.set $v (v128.load offset=16 (local.get $pw)))
            (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (local.get $x0) (local.get $v))))
            (local.set $e1 (i32x4.add (local.get $e1) (i32x4.dot_i16x8_s (local.get $x1) (local.get $v))))
            (local.set $v (v128.load offset=32 (local.get $pw)))
            (local.set $a2 (i32x4.add (local.get $a2) (i32x4.dot_i16x8_s (local.get $x0) (local.get $v))))
            (local.set $e2 (i32x4.add (local.get $e2) (i32x4.dot_i16x8_s (local.get $x1) (local.get $v))))
            (local.set $v (v128.load offset=48 (local.get $pw)))
            (local.set $a3 (i32x4.add (local.get $a3) (i32x4.dot_i16x8_s (local.get $x0) (local.get $v))))
            (local.set $e3 (i32x4.add (local.get $e3) (i32x4.dot_i16x8_s (local.get $x1) (local.get $v))))
            (local.set $px0 (i32.add (local.get $px0) (i32.const 8)))
            (local.set $px1 (i32.add (local.get $px1) (i32.const 8)))
            (local.set $pw (i32.add (local.get $pw) (i32.const 64)))
            (br_if $k (local.tee $t (i32.sub (local.get $t) (i32.const 1)))))
          (local.set $seg0 (i32.add (local.get $seg0) (local.get $segStride)))
          (br_if $segment (local.tee $g (i32.sub (local.get $g) (i32.const 1)))))
        (local.set $pc
          (i32.add (local.get $c)
            (i32.add (i32.mul (local.get $b) (local.get $cRow)) (i32.shl (local.get $q) (i32.const 4)))))
        (call $put (local.get $pc)
          (call $hsum4 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))
          (local.get $shift) (local.get $accumulate))
        (call $put (i32.add (local.get $pc) (local.get $cRow))
          (call $hsum4 (local.get $e0) (local.get $e1) (local.get $e2) (local.get $e3))
          (local.get $shift) (local.get $accumulate))
        (br_if $block (i32.lt_u (local.tee $q (i32.add (local.get $q) (i32.const 1))) (local.get $blocks))))
      (br_if $rows (i32.lt_s (local.tee $b (i32.add (local.get $b) (i32.const 2))) (local.get $b1)))))

  ;; fixLinear (list, n, x, xRow, c, cRow, b0, b1): for each of packW's n list entries
  ;; (o, k, h), C[b, o] += h · x[b, k] for b0 ≤ b < b1 (C int32 at c + b·cRow + 4o).
  (func $fixLinear (export "fixLinear")
    (param $list i32) (param $n i32) (param $x i32) (param $xRow i32) (param $c i32) (param $cRow i32)
    (param $b0 i32) (param $b1 i32)
    (local $px i32) (local $pc i32) (local $h i32) (local $b i32)
    (if (i32.or (i32.eqz (local.get $n)) (i32.ge_s (local.get $b0) (local.get $b1)))
      (then (return)))
    (loop $entry
      (local.set $px
        (i32.add (i32.add (local.get $x) (i32.load offset=4 (local.get $list)))
          (i32.mul (local.get $b0) (local.get $xRow))))
      (local.set $pc
        (i32.add (i32.add (local.get $c) (i32.shl (i32.load (local.get $list)) (i32.const 2)))
          (i32.mul (local.get $b0) (local.get $cRow))))
      (local.set $h (i32.load offset=8 (local.get $list)))
      (local.set $b (local.get $b0))
      (loop $row
        (i32.store (local.get $pc)
          (i32.add (i32.load (local.get $pc)) (i32.mul (local.get $h) (i32.load8_s (local.get $px)))))
        (local.set $px (i32.add (local.get $px) (local.get $xRow)))
        (local.set $pc (i32.add (local.get $pc) (local.get $cRow)))
        (br_if $row (i32.lt_s (local.tee $b (i32.add (local.get $b) (i32.const 1))) (local.get $b1))))
      (local.set $list (i32.add (local.get $list) (i32.const 12)))
      (br_if $entry (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))

  ;; packG (g, gRow, O, pairs, lo, hi, dstRow, list, cap) -> count: the weight gradient's int32
  ;; g[b, o] (at g + b·gRow + 4o, 2·pairs rows) transposed into int16 pairs of batch rows,
  ;; (lo(g[2j, o]), lo(g[2j+1, o])) at lo + o·dstRow + 4j (hi the same). Every element whose hi
  ;; is non-zero is counted, and the first `cap` go to the list as (b, o, hi << 16).
  (func $packG (export "packG")
    (param $g i32) (param $gRow i32) (param $O i32) (param $pairs i32) (param $lo i32) (param $hi i32)
    (param $dstRow i32) (param $list i32) (param $cap i32) (result i32)
    (local $o i32) (local $j i32) (local $ps i32) (local $pd i32) (local $v0 i32) (local $v1 i32)
    (local $h0 i32) (local $h1 i32) (local $n i32) (local $p i32)
    (if (i32.or (i32.eqz (local.get $O)) (i32.eqz (local.get $pairs)))
      (then (return (i32.const 0))))
    (loop $column
      (local.set $ps (i32.add (local.get $g) (i32.shl (local.get $o) (i32.const 2))))
      (local.set $pd (i32.mul (local.get $o) (local.get $dstRow)))
      (local.set $j (i32.const 0))
      (loop $pair
        (local.set $v0 (i32.load (local.get $ps)))
        (local.set $v1 (i32.load (i32.add (local.get $ps) (local.get $gRow))))
        (local.set $h0 (i32.shr_s (i32.add (local.get $v0) (i32.const 0x8000)) (i32.const 16)))
        (local.set $h1 (i32.shr_s (i32.add (local.get $v1) (i32.const 0x8000)) (i32.const 16)))
        (i32.store (i32.add (local.get $lo) (local.get $pd))
          (i32.or (i32.and (local.get $v0) (i32.const 0xffff)) (i32.shl (local.get $v1) (i32.const 16))))
        (i32.store (i32.add (local.get $hi) (local.get $pd))
          (i32.or (i32.and (local.get $h0) (i32.const 0xffff)) (i32.shl (local.get $h1) (i32.const 16))))
        (if (i32.or (local.get $h0) (local.get $h1))
          (then
            (if (local.get $h0)
              (then
                (if (i32.lt_u (local.get $n) (local.get $cap))
                  (then
                    (local.set $p (i32.add (local.get $list) (i32.mul (local.get $n) (i32.const 12))))
                    (i32.store (local.get $p) (i32.shl (local.get $j) (i32.const 1)))
                    (i32.store offset=4 (local.get $p) (local.get $o))
                    (i32.store offset=8 (local.get $p) (i32.shl (local.get $h0) (i32.const 16)))))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))))
            (if (local.get $h1)
              (then
                (if (i32.lt_u (local.get $n) (local.get $cap))
                  (then
                    (local.set $p (i32.add (local.get $list) (i32.mul (local.get $n) (i32.const 12))))
                    (i32.store (local.get $p)
                      (i32.add (i32.shl (local.get $j) (i32.const 1)) (i32.const 1)))
                    (i32.store offset=4 (local.get $p) (local.get $o))
                    (i32.store offset=8 (local.get $p) (i32.shl (local.get $h1) (i32.const 16)))))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))))))
        (local.set $ps (i32.add (local.get $ps) (i32.shl (local.get $gRow) (i32.const 1))))
        (local.set $pd (i32.add (local.get $pd) (i32.const 4)))
        (br_if $pair (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $pairs))))
      (br_if $column (i32.lt_u (local.tee $o (i32.add (local.get $o) (i32.const 1))) (local.get $O))))
    (local.get $n))

  ;; wgrad (xp, xpRow, gp, gpRow, c, cRow, o0, o1, tiles, pairs, accumulate, shift) — the linear
  ;; weight gradient C[o, k] (+)= (Σ_b g[b, o]·x[b, k]) << shift for rows o0 ≤ o < o1 in pairs,
  ;; 16·tiles columns k, over `pairs` pairs of batch rows: xp holds x as int16 pairs (x[2j, k],
  ;; x[2j+1, k]) at xp + j·xpRow + 4k (pairRows), gp holds g as packG's int16 pairs, so one
  ;; v128.load32_splat is (g[2j, o], g[2j+1, o]) in every lane and i32x4.dot_i16x8_s multiplies
  ;; it with four columns' pairs. Two rows o by sixteen columns: eight accumulators.
  ;; C[o, k] at c + o·cRow + 4k.
  (func $wgrad (export "wgrad")
    (param $xp i32) (param $xpRow i32) (param $gp i32) (param $gpRow i32) (param $c i32)
    (param $cRow i32) (param $o0 i32) (param $o1 i32) (param $tiles i32) (param $pairs i32)
    (param $accumulate i32) (param $shift i32)
    (local $o i32) (local $t i32) (local $j i32) (local $px i32) (local $pg i32) (local $pc i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $e0 v128) (local $e1 v128) (local $e2 v128) (local $e3 v128)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $s v128)
    (if (i32.or (i32.ge_s (local.get $o0) (local.get $o1))
          (i32.or (i32.eqz (local.get $tiles)) (i32.eqz (local.get $pairs))))
      (then (return)))
    (loop $tile
      (local.set $o (local.get $o0))
      (loop $rows
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $e0 (v128.const i32x4 0 0 0 0))
        (local.set $e1 (v128.const i32x4 0 0 0 0))
        (local.set $e2 (v128.const i32x4 0 0 0 0))
        (local.set $e3 (v128.const i32x4 0 0 0 0))
        (local.set $px (i32.add (local.get $xp) (i32.shl (local.get $t) (i32.const 6))))
        (local.set $pg (i32.add (local.get $gp) (i32.mul (local.get $o) (local.get $gpRow))))
        (local.set $j (local.get $pairs))
        (loop $pair
          (local.set $x0 (v128.load (local.get $px)))
          (local.set $x1 (v128.load offset=16 (local.get $px)))
          (local.set $x2 (v128.load offset=32 (local.get $px)))
          (local.set $x3 (v128.load offset=48 (local.get $px)))
          (local.set $s (v128.load32_splat (local.get $pg)))
          (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (local.get $x0) (local.get $s))))
          (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (local.get $x1) (local.get $s))))
          (local.set $a2 (i32x4.add (local.get $a2) (i32x4.dot_i16x8_s (local.get $x2) (local.get $s))))
          (local.set $a3 (i32x4.add (local.get $a3) (i32x4.dot_i16x8_s (local.get $x3) (local.get $s))))
          (local.set $s (v128.load32_splat (i32.add (local.get $pg) (local.get $gpRow))))
          (local.set $e0 (i32x4.add (local.get $e0) (i32x4.dot_i16x8_s (local.get $x0) (local.get $s))))
          (local.set $e1 (i32x4.add (local.get $e1) (i32x4.dot_i16x8_s (local.get $x1) (local.get $s))))
          (local.set $e2 (i32x4.add (local.get $e2) (i32x4.dot_i16x8_s (local.get $x2) (local.get $s))))
          (local.set $e3 (i32x4.add (local.get $e3) (i32x4.dot_i16x8_s (local.get $x3) (local.get $s))))
          (local.set $px (i32.add (local.get $px) (local.get $xpRow)))
          (local.set $pg (i32.add (local.get $pg) (i32.const 4)))
          (br_if $pair (local.tee $j (i32.sub (local.get $j) (i32.const 1)))))
        (local.set $pc
          (i32.add (local.get $c)
            (i32.add (i32.mul (local.get $o) (local.get $cRow)) (i32.shl (local.get $t) (i32.const 6)))))
        (call $put (local.get $pc) (local.get $a0) (local.get $shift) (local.get $accumulate))
        (call $put (i32.add (local.get $pc) (i32.const 16)) (local.get $a1) (local.get $shift) (local.get $accumulate))
        (call $put (i32.add (local.get $pc) (i32.const 32)) (local.get $a2) (local.get $shift) (local.get $accumulate))
        (call $put (i32.add (local.get $pc) (i32.const 48)) (local.get $a3) (local.get $shift) (local.get $accumulate))
        (local.set $pc (i32.add (local.get $pc) (local.get $cRow)))
        (call $put (local.get $pc) (local.get $e0) (local.get $shift) (local.get $accumulate))
        (call $put (i32.add (local.get $pc) (i32.const 16)) (local.get $e1) (local.get $shift) (local.get $accumulate))
        (call $put (i32.add (local.get $pc) (i32.const 32)) (local.get $e2) (local.get $shift) (local.get $accumulate))
        (call $put (i32.add (local.get $pc) (i32.const 48)) (local.get $e3) (local.get $shift) (local.get $accumulate))
        (br_if $rows (i32.lt_s (local.tee $o (i32.add (local.get $o) (i32.const 2))) (local.get $o1))))
      (br_if $tile (i32.lt_u (local.tee $t (i32.add (local.get $t) (i32.const 1))) (local.get $tiles)))))

  ;; fixWgrad (list, n, x, xRow, c, cRow, o0, o1, tiles): for each of packG's n list entries
  ;; (b, o, h) with o0 ≤ o < o1, C[o, k] += h · x[b, k] for 16·tiles columns k (x int8 rows at
  ;; x + b·xRow, C int32 at c + o·cRow + 4k).
  (func $fixWgrad (export "fixWgrad")
    (param $list i32) (param $n i32) (param $x i32) (param $xRow i32) (param $c i32) (param $cRow i32)
    (param $o0 i32) (param $o1 i32) (param $tiles i32)
    (local $o i32) (local $px i32) (local $pc i32) (local $t i32) (local $h v128) (local $v v128)
    (local $w v128)
    (if (i32.or (i32.eqz (local.get $n)) (i32.eqz (local.get $tiles)))
      (then (return)))
    (loop $entry
      (local.set $o (i32.load offset=4 (local.get $list)))
      (if (i32.and (i32.ge_s (local.get $o) (local.get $o0)) (i32.lt_s (local.get $o) (local.get $o1)))
        (then
          (local.set $px
            (i32.add (local.get $x) (i32.mul (i32.load (local.get $list)) (local.get $xRow))))
          (local.set $pc (i32.add (local.get $c) (i32.mul (local.get $o) (local.get $cRow))))
          (local.set $h (i32x4.splat (i32.load offset=8 (local.get $list))))
          (local.set $t (local.get $tiles))
          (loop $tile
            (local.set $v (v128.load (local.get $px)))
            (local.set $w (i16x8.extend_low_i8x16_s (local.get $v)))
            (v128.store (local.get $pc)
              (i32x4.add (v128.load (local.get $pc))
                (i32x4.mul (local.get $h) (i32x4.extend_low_i16x8_s (local.get $w)))))
            (v128.store offset=16 (local.get $pc)
              (i32x4.add (v128.load offset=16 (local.get $pc))
                (i32x4.mul (local.get $h) (i32x4.extend_high_i16x8_s (local.get $w)))))
            (local.set $w (i16x8.extend_high_i8x16_s (local.get $v)))
            (v128.store offset=32 (local.get $pc)
              (i32x4.add (v128.load offset=32 (local.get $pc))
                (i32x4.mul (local.get $h) (i32x4.extend_low_i16x8_s (local.get $w)))))
            (v128.store offset=48 (local.get $pc)
              (i32x4.add (v128.load offset=48 (local.get $pc))
                (i32x4.mul (local.get $h) (i32x4.extend_high_i16x8_s (local.get $w)))))
            (local.set $px (i32.add (local.get $px) (i32.const 16)))
            (local.set $pc (i32.add (local.get $pc) (i32.const 64)))
            (br_if $tile (local.tee $t (i32.sub (local.get $t) (i32.const 1)))))))
      (local.set $list (i32.add (local.get $list) (i32.const 12)))
      (br_if $entry (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  ;; axpy32 / axpy8 (a, aM, aR, b, rowT, panelT, c, cM, m0, m1, P, R, accumulate) — C (+)= A·B
  ;; for rows m0 ≤ m < m1 in fours: A[m, r] int32 at a + m·aM + r·aR; B[r, 8p + j] int32 / int8
  ;; at b + rowT[r] + panelT[p] + j·size (rowT, panelT: int32 tables); C[m, 8p + j] int32 at
  ;; c + m·cM + 4·(8p + j), P panels of 8 columns. A 4×8 block per step r: B's 8 values in two
  ;; vectors, each A value broadcast, 8 multiply-adds.
  (func $axpy32 (export "axpy32")
    (param $a i32) (param $aM i32) (param $aR i32) (param $b i32) (param $rowT i32) (param $panelT i32)
    (param $c i32) (param $cM i32) (param $m0 i32) (param $m1 i32) (param $P i32) (param $R i32)
    (param $accumulate i32)
    (local $p i32) (local $m i32) (local $pbase i32) (local $pc i32) (local $rt i32) (local $r i32)
    (local $pb i32) (local $pa0 i32) (local $pa1 i32) (local $pa2 i32) (local $pa3 i32)
    (local $c0l v128) (local $c0h v128) (local $c1l v128) (local $c1h v128)
    (local $c2l v128) (local $c2h v128) (local $c3l v128) (local $c3h v128)
    (local $v0 v128) (local $v1 v128) (local $s v128)
    (if (i32.or (i32.ge_s (local.get $m0) (local.get $m1)) (i32.eqz (local.get $P)))
      (then (return)))
    (loop $panel
      (local.set $pbase
        (i32.add (local.get $b) (i32.load (i32.add (local.get $panelT) (i32.shl (local.get $p) (i32.const 2))))))
      (local.set $m (local.get $m0))
      (loop $rows
        (local.set $pc
          (i32.add (local.get $c)
            (i32.add (i32.mul (local.get $m) (local.get $cM)) (i32.shl (local.get $p) (i32.const 5)))))
        (if (local.get $accumulate)
          (then
              (local.set $c0l (v128.load (local.get $pc)))
              (local.set $c0h (v128.load offset=16 (local.get $pc)))
              (local.set $c1l (v128.load (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 1)))))
              (local.set $c1h (v128.load offset=16 (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 1)))))
              (local.set $c2l (v128.load (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 2)))))
              (local.set $c2h (v128.load offset=16 (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 2)))))
              (local.set $c3l (v128.load (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 3)))))
              (local.set $c3h (v128.load offset=16 (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 3))))))
          (else
              (local.set $c0l (v128.const i32x4 0 0 0 0))
              (local.set $c0h (v128.const i32x4 0 0 0 0))
              (local.set $c1l (v128.const i32x4 0 0 0 0))
              (local.set $c1h (v128.const i32x4 0 0 0 0))
              (local.set $c2l (v128.const i32x4 0 0 0 0))
              (local.set $c2h (v128.const i32x4 0 0 0 0))
              (local.set $c3l (v128.const i32x4 0 0 0 0))
              (local.set $c3h (v128.const i32x4 0 0 0 0))))
        (local.set $pa0 (i32.add (local.get $a) (i32.mul (local.get $m) (local.get $aM))))
        (local.set $pa1 (i32.add (local.get $pa0) (local.get $aM)))
        (local.set $pa2 (i32.add (local.get $pa1) (local.get $aM)))
        (local.set $pa3 (i32.add (local.get $pa2) (local.get $aM)))
        (local.set $rt (local.get $rowT))
        (local.set $r (local.get $R))
        (block $done
          (br_if $done (i32.eqz (local.get $r)))
          (loop $step
            (local.set $pb (i32.add (local.get $pbase) (i32.load (local.get $rt))))
            (local.set $v0 (v128.load (local.get $pb)))
            (local.set $v1 (v128.load offset=16 (local.get $pb)))
            (local.set $s (i32x4.splat (i32.load (local.get $pa0))))
            (local.set $c0l (i32x4.add (local.get $c0l) (i32x4.mul (local.get $s) (local.get $v0))))
            (local.set $c0h (i32x4.add (local.get $c0h) (i32x4.mul (local.get $s) (local.get $v1))))
            (local.set $pa0 (i32.add (local.get $pa0) (local.get $aR)))
            (local.set $s (i32x4.splat (i32.load (local.get $pa1))))
            (local.set $c1l (i32x4.add (local.get $c1l) (i32x4.mul (local.get $s) (local.get $v0))))
            (local.set $c1h (i32x4.add (local.get $c1h) (i32x4.mul (local.get $s) (local.get $v1))))
            (local.set $pa1 (i32.add (local.get $pa1) (local.get $aR)))
            (local.set $s (i32x4.splat (i32.load (local.get $pa2))))
            (local.set $c2l (i32x4.add (local.get $c2l) (i32x4.mul (local.get $s) (local.get $v0))))
            (local.set $c2h (i32x4.add (local.get $c2h) (i32x4.mul (local.get $s) (local.get $v1))))
            (local.set $pa2 (i32.add (local.get $pa2) (local.get $aR)))
            (local.set $s (i32x4.splat (i32.load (local.get $pa3))))
            (local.set $c3l (i32x4.add (local.get $c3l) (i32x4.mul (local.get $s) (local.get $v0))))
            (local.set $c3h (i32x4.add (local.get $c3h) (i32x4.mul (local.get $s) (local.get $v1))))
            (local.set $pa3 (i32.add (local.get $pa3) (local.get $aR)))
            (local.set $rt (i32.add (local.get $rt) (i32.const 4)))
            (br_if $step (local.tee $r (i32.sub (local.get $r) (i32.const 1))))))
        (v128.store (local.get $pc) (local.get $c0l))
        (v128.store offset=16 (local.get $pc) (local.get $c0h))
        (v128.store (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 1))) (local.get $c1l))
        (v128.store offset=16 (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 1))) (local.get $c1h))
        (v128.store (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 2))) (local.get $c2l))
        (v128.store offset=16 (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 2))) (local.get $c2h))
        (v128.store (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 3))) (local.get $c3l))
        (v128.store offset=16 (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 3))) (local.get $c3h))
        (br_if $rows (i32.lt_s (local.tee $m (i32.add (local.get $m) (i32.const 4))) (local.get $m1))))
      (br_if $panel (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 1))) (local.get $P)))))

  (func $axpy8 (export "axpy8")
    (param $a i32) (param $aM i32) (param $aR i32) (param $b i32) (param $rowT i32) (param $panelT i32)
    (param $c i32) (param $cM i32) (param $m0 i32) (param $m1 i32) (param $P i32) (param $R i32)
    (param $accumulate i32)
    (local $p i32) (local $m i32) (local $pbase i32) (local $pc i32) (local $rt i32) (local $r i32)
    (local $pb i32) (local $pa0 i32) (local $pa1 i32) (local $pa2 i32) (local $pa3 i32)
    (local $c0l v128) (local $c0h v128) (local $c1l v128) (local $c1h v128)
    (local $c2l v128) (local $c2h v128) (local $c3l v128) (local $c3h v128)
    (local $v0 v128) (local $v1 v128) (local $s v128)
    (if (i32.or (i32.ge_s (local.get $m0) (local.get $m1)) (i32.eqz (local.get $P)))
      (then (return)))
    (loop $panel
      (local.set $pbase
        (i32.add (local.get $b) (i32.load (i32.add (local.get $panelT) (i32.shl (local.get $p) (i32.const 2))))))
      (local.set $m (local.get $m0))
      (loop $rows
        (local.set $pc
          (i32.add (local.get $c)
            (i32.add (i32.mul (local.get $m) (local.get $cM)) (i32.shl (local.get $p) (i32.const 5)))))
        (if (local.get $accumulate)
          (then
              (local.set $c0l (v128.load (local.get $pc)))
              (local.set $c0h (v128.load offset=16 (local.get $pc)))
              (local.set $c1l (v128.load (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 1)))))
              (local.set $c1h (v128.load offset=16 (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 1)))))
              (local.set $c2l (v128.load (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 2)))))
              (local.set $c2h (v128.load offset=16 (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 2)))))
              (local.set $c3l (v128.load (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 3)))))
              (local.set $c3h (v128.load offset=16 (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 3))))))
          (else
              (local.set $c0l (v128.const i32x4 0 0 0 0))
              (local.set $c0h (v128.const i32x4 0 0 0 0))
              (local.set $c1l (v128.const i32x4 0 0 0 0))
              (local.set $c1h (v128.const i32x4 0 0 0 0))
              (local.set $c2l (v128.const i32x4 0 0 0 0))
              (local.set $c2h (v128.const i32x4 0 0 0 0))
              (local.set $c3l (v128.const i32x4 0 0 0 0))
              (local.set $c3h (v128.const i32x4 0 0 0 0))))
        (local.set $pa0 (i32.add (local.get $a) (i32.mul (local.get $m) (local.get $aM))))
        (local.set $pa1 (i32.add (local.get $pa0) (local.get $aM)))
        (local.set $pa2 (i32.add (local.get $pa1) (local.get $aM)))
        (local.set $pa3 (i32.add (local.get $pa2) (local.get $aM)))
        (local.set $rt (local.get $rowT))
        (local.set $r (local.get $R))
        (block $done
          (br_if $done (i32.eqz (local.get $r)))
          (loop $step
            (local.set $pb (i32.add (local.get $pbase) (i32.load (local.get $rt))))
            (local.set $v1 (v128.load8x8_s (local.get $pb)))
            (local.set $v0 (i32x4.extend_low_i16x8_s (local.get $v1)))
            (local.set $v1 (i32x4.extend_high_i16x8_s (local.get $v1)))
            (local.set $s (i32x4.splat (i32.load (local.get $pa0))))
            (local.set $c0l (i32x4.add (local.get $c0l) (i32x4.mul (local.get $s) (local.get $v0))))
            (local.set $c0h (i32x4.add (local.get $c0h) (i32x4.mul (local.get $s) (local.get $v1))))
            (local.set $pa0 (i32.add (local.get $pa0) (local.get $aR)))
            (local.set $s (i32x4.splat (i32.load (local.get $pa1))))
            (local.set $c1l (i32x4.add (local.get $c1l) (i32x4.mul (local.get $s) (local.get $v0))))
            (local.set $c1h (i32x4.add (local.get $c1h) (i32x4.mul (local.get $s) (local.get $v1))))
            (local.set $pa1 (i32.add (local.get $pa1) (local.get $aR)))
            (local.set $s (i32x4.splat (i32.load (local.get $pa2))))
            (local.set $c2l (i32x4.add (local.get $c2l) (i32x4.mul (local.get $s) (local.get $v0))))
            (local.set $c2h (i32x4.add (local.get $c2h) (i32x4.mul (local.get $s) (local.get $v1))))
            (local.set $pa2 (i32.add (local.get $pa2) (local.get $aR)))
            (local.set $s (i32x4.splat (i32.load (local.get $pa3))))
            (local.set $c3l (i32x4.add (local.get $c3l) (i32x4.mul (local.get $s) (local.get $v0))))
            (local.set $c3h (i32x4.add (local.get $c3h) (i32x4.mul (local.get $s) (local.get $v1))))
            (local.set $pa3 (i32.add (local.get $pa3) (local.get $aR)))
            (local.set $rt (i32.add (local.get $rt) (i32.const 4)))
            (br_if $step (local.tee $r (i32.sub (local.get $r) (i32.const 1))))))
        (v128.store (local.get $pc) (local.get $c0l))
        (v128.store offset=16 (local.get $pc) (local.get $c0h))
        (v128.store (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 1))) (local.get $c1l))
        (v128.store offset=16 (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 1))) (local.get $c1h))
        (v128.store (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 2))) (local.get $c2l))
        (v128.store offset=16 (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 2))) (local.get $c2h))
        (v128.store (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 3))) (local.get $c3l))
        (v128.store offset=16 (i32.add (local.get $pc) (i32.mul (local.get $cM) (i32.const 3))) (local.get $c3h))
        (br_if $rows (i32.lt_s (local.tee $m (i32.add (local.get $m) (i32.const 4))) (local.get $m1))))
      (br_if $panel (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 1))) (local.get $P)))))

  ;; copyRows (src, dst, outer, oSrc, oDst, inner, iSrc, iDst, bytes): outer × inner rows of
  ;; `bytes` bytes, row (o, i) from src + o·oSrc + i·iSrc to dst + o·oDst + i·iDst.
  (func $copyRows (export "copyRows")
    (param $src i32) (param $dst i32) (param $outer i32) (param $oSrc i32) (param $oDst i32)
    (param $inner i32) (param $iSrc i32) (param $iDst i32) (param $bytes i32)
    (local $o i32) (local $i i32) (local $s i32) (local $d i32)
    (if (i32.or (i32.eqz (local.get $outer)) (i32.eqz (local.get $inner)))
      (then (return)))
    (local.set $o (local.get $outer))
    (loop $outerRows
      (local.set $s (local.get $src))
      (local.set $d (local.get $dst))
      (local.set $i (local.get $inner))
      (loop $innerRows
        (memory.copy (local.get $d) (local.get $s) (local.get $bytes))
        (local.set $s (i32.add (local.get $s) (local.get $iSrc)))
        (local.set $d (i32.add (local.get $d) (local.get $iDst)))
        (br_if $innerRows (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))
      (local.set $src (i32.add (local.get $src) (local.get $oSrc)))
      (local.set $dst (i32.add (local.get $dst) (local.get $oDst)))
      (br_if $outerRows (local.tee $o (i32.sub (local.get $o) (i32.const 1))))))

  ;; dot16 (pT, p, qLo, qHi, qRow, c, cP, cQ, m0, m1, N, I, J, pI, qI, accumulate) — C[m, n] (+)=
  ;; Σ_{i<I, e<8J} P[m][i·pI + e] · Q[n][i·qI + e] for rows m0 ≤ m < m1 in pairs, with P[m] int8
  ;; rows at p + pT[m] and Q[n] as int16 halves at qLo / qHi + n·qRow (+ 2e); C[m, n] at
  ;; c + m·cP + n·cQ (N a multiple of 2). Two rows of P by two of Q: i32x4.dot_i16x8_s of P
  ;; (widened to int16) with each half, the halves summed apart and joined as lo + (hi << 16).
  (func $dot16 (export "dot16")
    (param $pT i32) (param $pBase i32) (param $qLo i32) (param $qHi i32) (param $qRow i32)
    (param $c i32) (param $cP i32) (param $cQ i32) (param $m0 i32) (param $m1 i32) (param $N i32)
    (param $I i32) (param $J i32) (param $pI i32) (param $qI i32) (param $accumulate i32)
    (local $m i32) (local $n i32) (local $i i32) (local $j i32) (local $offP i32) (local $offQ i32)
    (local $x0 i32) (local $x1 i32) (local $yl0 i32) (local $yh0 i32) (local $yl1 i32) (local $yh1 i32)
    (local $pr0 i32) (local $pr1 i32)
    (local $lo00 v128) (local $lo01 v128) (local $lo10 v128) (local $lo11 v128)
    (local $hi00 v128) (local $hi01 v128) (local $hi10 v128) (local $hi11 v128)
    (local $p0 v128) (local $p1 v128) (local $l0 v128) (local $h0 v128) (local $l1 v128) (local $h1 v128)
    (if (i32.or (i32.ge_s (local.get $m0) (local.get $m1))
          (i32.or (i32.eqz (local.get $N)) (i32.or (i32.eqz (local.get $I)) (i32.eqz (local.get $J)))))
      (then (return)))
    (local.set $m (local.get $m0))
    (loop $rowsP
      (local.set $pr0
        (i32.add (local.get $pBase) (i32.load (i32.add (local.get $pT) (i32.shl (local.get $m) (i32.const 2))))))
      (local.set $pr1
        (i32.add (local.get $pBase)
          (i32.load offset=4 (i32.add (local.get $pT) (i32.shl (local.get $m) (i32.const 2))))))
      (local.set $n (i32.const 0))
      (loop $rowsQ
        (local.set $lo00 (v128.const i32x4 0 0 0 0))
        (local.set $lo01 (v128.const i32x4 0 0 0 0))
        (local.set $lo10 (v128.const i32x4 0 0 0 0))
        (local.set $lo11 (v128.const i32x4 0 0 0 0))
        (local.set $hi00 (v128.const i32x4 0 0 0 0))
        (local.set $hi01 (v128.const i32x4 0 0 0 0))
        (local.set $hi10 (v128.const i32x4 0 0 0 0))
        (local.set $hi11 (v128.const i32x4 0 0 0 0))
        (local.set $offP (i32.const 0))
        (local.set $offQ (i32.const 0))
        (local.set $i (local.get $I))
        (loop $window
          (local.set $x0 (i32.add (local.get $pr0) (local.get $offP)))
          (local.set $x1 (i32.add (local.get $pr1) (local.get $offP)))
          (local.set $yl0
            (i32.add (i32.add (local.get $qLo) (i32.mul (local.get $n) (local.get $qRow))) (local.get $offQ)))
          (local.set $yh0
            (i32.add (i32.add (local.get $qHi) (i32.mul (local.get $n) (local.get $qRow))) (local.get $offQ)))
          (local.set $yl1 (i32.add (local.get $yl0) (local.get $qRow)))
          (local.set $yh1 (i32.add (local.get $yh0) (local.get $qRow)))
          (local.set $j (local.get $J))
          (loop $chunk
            (local.set $p0 (v128.load8x8_s (local.get $x0)))
            (local.set $p1 (v128.load8x8_s (local.get $x1)))
            (local.set $l0 (v128.load (local.get $yl0)))
            (local.set $h0 (v128.load (local.get $yh0)))
            (local.set $l1 (v128.load (local.get $yl1)))
            (local.set $h1 (v128.load (local.get $yh1)))
            (local.set $lo00 (i32x4.add (local.get $lo00) (i32x4.dot_i16x8_s (local.get $p0) (local.get $l0))))
            (local.set $hi00 (i32x4.add (local.get $hi00) (i32x4.dot_i16x8_s (local.get $p0) (local.get $h0))))
            (local.set $lo01 (i32x4.add (local.get $lo01) (i32x4.dot_i16x8_s (local.get $p0) (local.get $l1))))
            (local.set $hi01 (i32x4.add (local.get $hi01) (i32x4.dot_i16x8_s (local.get $p0) (local.get $h1))))
            (local.set $lo10 (i32x4.add (local.get $lo10) (i32x4.dot_i16x8_s (local.get $p1) (local.get $l0))))
            (local.set $hi10 (i32x4.add (local.get $hi10) (i32x4.dot_i16x8_s (local.get $p1) (local.get $h0))))
            (local.set $lo11 (i32x4.add (local.get $lo11) (i32x4.dot_i16x8_s (local.get $p1) (local.get $l1))))
            (local.set $hi11 (i32x4.add (local.get $hi11) (i32x4.dot_i16x8_s (local.get $p1) (local.get $h1))))
            (local.set $x0 (i32.add (local.get $x0) (i32.const 8)))
            (local.set $x1 (i32.add (local.get $x1) (i32.const 8)))
            (local.set $yl0 (i32.add (local.get $yl0) (i32.const 16)))
            (local.set $yh0 (i32.add (local.get $yh0) (i32.const 16)))
            (local.set $yl1 (i32.add (local.get $yl1) (i32.const 16)))
            (local.set $yh1 (i32.add (local.get $yh1) (i32.const 16)))
            (br_if $chunk (local.tee $j (i32.sub (local.get $j) (i32.const 1)))))
          (local.set $offP (i32.add (local.get $offP) (local.get $pI)))
          (local.set $offQ (i32.add (local.get $offQ) (local.get $qI)))
          (br_if $window (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))
        (call $store1 (local.get $c) (local.get $cP) (local.get $cQ) (local.get $m) (local.get $n)
          (local.get $lo00) (local.get $hi00) (local.get $accumulate))
        (call $store1 (local.get $c) (local.get $cP) (local.get $cQ) (local.get $m)
          (i32.add (local.get $n) (i32.const 1)) (local.get $lo01) (local.get $hi01) (local.get $accumulate))
        (call $store1 (local.get $c) (local.get $cP) (local.get $cQ) (i32.add (local.get $m) (i32.const 1))
          (local.get $n) (local.get $lo10) (local.get $hi10) (local.get $accumulate))
        (call $store1 (local.get $c) (local.get $cP) (local.get $cQ) (i32.add (local.get $m) (i32.const 1))
          (i32.add (local.get $n) (i32.const 1)) (local.get $lo11) (local.get $hi11) (local.get $accumulate))
        (br_if $rowsQ (i32.lt_u (local.tee $n (i32.add (local.get $n) (i32.const 2))) (local.get $N))))
      (br_if $rowsP (i32.lt_s (local.tee $m (i32.add (local.get $m) (i32.const 2))) (local.get $m1)))))

  ;; C[m, n] (+)= the lane sum of lo + (hi << 16) (dot16's store).
  (func $store1 (param $c i32) (param $cP i32) (param $cQ i32) (param $m i32) (param $n i32)
    (param $lo v128) (param $hi v128) (param $accumulate i32)
    (local $v v128) (local $sum i32) (local $at i32)
    (local.set $v (i32x4.add (local.get $lo) (i32x4.shl (local.get $hi) (i32.const 16))))
    (local.set $sum
      (i32.add
        (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
        (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))
    (local.set $at
      (i32.add (local.get $c)
        (i32.add (i32.mul (local.get $m) (local.get $cP)) (i32.mul (local.get $n) (local.get $cQ)))))
    (if (local.get $accumulate)
      (then (local.set $sum (i32.add (local.get $sum) (i32.load (local.get $at))))))
    (i32.store (local.get $at) (local.get $sum)))

  ;; split16 (src, srcRow, lo, hi, dstRow, rows, chunks): int32 rows of 8·chunks values into
  ;; their int16 halves, lo = the low 16 bits and hi = (v + 2^15) >> 16 (modulo 2^16).
  (func $split16 (export "split16")
    (param $src i32) (param $srcRow i32) (param $lo i32) (param $hi i32) (param $dstRow i32)
    (param $rows i32) (param $chunks i32)
    (local $r i32) (local $k i32) (local $s i32) (local $dl i32) (local $dh i32)
    (local $v0 v128) (local $v1 v128)
    (if (i32.or (i32.eqz (local.get $rows)) (i32.eqz (local.get $chunks)))
      (then (return)))
    (loop $row
      (local.set $s (i32.add (local.get $src) (i32.mul (local.get $r) (local.get $srcRow))))
      (local.set $dl (i32.add (local.get $lo) (i32.mul (local.get $r) (local.get $dstRow))))
      (local.set $dh (i32.add (local.get $hi) (i32.mul (local.get $r) (local.get $dstRow))))
      (local.set $k (local.get $chunks))
      (loop $chunk
        (local.set $v0 (v128.load (local.get $s)))
        (local.set $v1 (v128.load offset=16 (local.get $s)))
        (v128.store (local.get $dl)
          (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $v0) (local.get $v1)))
        (v128.store (local.get $dh)
          (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29
            (call $high (local.get $v0)) (call $high (local.get $v1))))
        (local.set $s (i32.add (local.get $s) (i32.const 32)))
        (local.set $dl (i32.add (local.get $dl) (i32.const 16)))
        (local.set $dh (i32.add (local.get $dh) (i32.const 16)))
        (br_if $chunk (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))
      (br_if $row (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $rows)))))

  ;; pairRows (src, srcRow, dst, dstRow, pairs, chunks): int8 rows 2j and 2j+1 (16·chunks values
  ;; each) interleaved into int16 pairs (x[2j, k], x[2j+1, k]) at dst + j·dstRow + 4k.
  (func $pairRows (export "pairRows")
    (param $src i32) (param $srcRow i32) (param $dst i32) (param $dstRow i32) (param $pairs i32)
    (param $chunks i32)
    (local $j i32) (local $k i32) (local $s i32) (local $d i32)
    (local $a v128) (local $b v128) (local $a2 v128) (local $b2 v128)
    (if (i32.or (i32.eqz (local.get $pairs)) (i32.eqz (local.get $chunks)))
      (then (return)))
    (loop $pair
      (local.set $s (i32.add (local.get $src) (i32.mul (i32.shl (local.get $j) (i32.const 1)) (local.get $srcRow))))
      (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $j) (local.get $dstRow))))
      (local.set $k (local.get $chunks))
      (loop $chunk
        (local.set $a (v128.load (local.get $s)))
        (local.set $b (v128.load (i32.add (local.get $s) (local.get $srcRow))))
        (local.set $a2 (i16x8.extend_low_i8x16_s (local.get $a)))
        (local.set $b2 (i16x8.extend_low_i8x16_s (local.get $b)))
        (v128.store (local.get $d)
          (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $a2) (local.get $b2)))
        (v128.store offset=16 (local.get $d)
          (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $a2) (local.get $b2)))
        (local.set $a2 (i16x8.extend_high_i8x16_s (local.get $a)))
        (local.set $b2 (i16x8.extend_high_i8x16_s (local.get $b)))
        (v128.store offset=32 (local.get $d)
          (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $a2) (local.get $b2)))
        (v128.store offset=48 (local.get $d)
          (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $a2) (local.get $b2)))
        (local.set $s (i32.add (local.get $s) (i32.const 16)))
        (local.set $d (i32.add (local.get $d) (i32.const 64)))
        (br_if $chunk (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))
      (br_if $pair (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $pairs)))))

  ;; trunc(n / d) for every lane of n, by the magic number (m, s) of a divisor 2 ≤ d < 2^31
  ;; (the signed division by a constant of Hacker's Delight §10-3, exact for every int32 n): the
  ;; high half of n·m, plus n where m < 0, shifted right by s, plus 1 for negative n.
  (func $quotient (param $n v128) (param $m v128) (param $s i32) (result v128)
    (local $q v128)
    (local.set $q
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31
        (i64x2.extmul_low_i32x4_s (local.get $n) (local.get $m))
        (i64x2.extmul_high_i32x4_s (local.get $n) (local.get $m))))
    (local.set $q
      (i32x4.add (local.get $q) (v128.and (local.get $n) (i32x4.shr_s (local.get $m) (i32.const 31)))))
    (i32x4.add (i32x4.shr_s (local.get $q) (local.get $s)) (i32x4.shr_u (local.get $n) (i32.const 31))))

  ;; The scalar trunc(n / d) of $quotient.
  (func $quotient1 (param $n i32) (param $m i32) (param $s i32) (result i32)
    (local $q i32)
    (local.set $q
      (i32.wrap_i64
        (i64.shr_s
          (i64.mul (i64.extend_i32_s (local.get $n)) (i64.extend_i32_s (local.get $m)))
          (i64.const 32))))
    (local.set $q
      (i32.add (local.get $q) (i32.and (local.get $n) (i32.shr_s (local.get $m) (i32.const 31)))))
    (i32.add (i32.shr_s (local.get $q) (local.get $s)) (i32.shr_u (local.get $n) (i32.const 31))))

  ;; sgd (w, g, start, end, d, m, s, dDecay, mDecay, sDecay) — IntegerSGD on int32 elements
  ;; start ≤ i < end: w[i] -= trunc(g[i] / d) + trunc(w[i] / dDecay), the decay term only when
  ;; dDecay is non-zero. (m, s) and (mDecay, sDecay) are the divisors' magic numbers (sgdMagic in
  ;; gemm.ts; 2 ≤ d, dDecay < 2^31); the JavaScript twin divides by d and dDecay.
  (func $sgd (export "sgd")
    (param $w i32) (param $g i32) (param $start i32) (param $end i32) (param $d i32) (param $m i32)
    (param $s i32) (param $dDecay i32) (param $mDecay i32) (param $sDecay i32)
    (local $pw i32) (local $pg i32) (local $i i32) (local $v v128) (local $mv v128) (local $mw v128)
    (local $x i32) (local $n v128) (local $q v128) (local $mvSign v128) (local $mwSign v128)
    (local.set $mv (i32x4.splat (local.get $m)))
    (local.set $mw (i32x4.splat (local.get $mDecay)))
    (local.set $mvSign (i32x4.shr_s (local.get $mv) (i32.const 31)))
    (local.set $mwSign (i32x4.shr_s (local.get $mw) (i32.const 31)))
    (local.set $i (local.get $start))
    (local.set $pw (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2))))
    (local.set $pg (i32.add (local.get $g) (i32.shl (local.get $i) (i32.const 2))))
    (block $vectors
      (loop $four
        (br_if $vectors (i32.gt_s (i32.add (local.get $i) (i32.const 4)) (local.get $end)))
        (local.set $v (v128.load (local.get $pw)))
        ;; $quotient written out here: a call per vector costs as much as the division
        (local.set $n (v128.load (local.get $pg)))
        (local.set $q
          (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31
            (i64x2.extmul_low_i32x4_s (local.get $n) (local.get $mv))
            (i64x2.extmul_high_i32x4_s (local.get $n) (local.get $mv))))
        (local.set $q
          (i32x4.add
            (i32x4.shr_s
              (i32x4.add (local.get $q) (v128.and (local.get $n) (local.get $mvSign)))
              (local.get $s))
            (i32x4.shr_u (local.get $n) (i32.const 31))))
        (if (local.get $dDecay)
          (then
            (local.set $n
              (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31
                (i64x2.extmul_low_i32x4_s (local.get $v) (local.get $mw))
                (i64x2.extmul_high_i32x4_s (local.get $v) (local.get $mw))))
            (local.set $q
              (i32x4.add (local.get $q)
                (i32x4.add
                  (i32x4.shr_s
                    (i32x4.add (local.get $n) (v128.and (local.get $v) (local.get $mwSign)))
                    (local.get $sDecay))
                  (i32x4.shr_u (local.get $v) (i32.const 31)))))))
        (v128.store (local.get $pw) (i32x4.sub (local.get $v) (local.get $q)))
        (local.set $pw (i32.add (local.get $pw) (i32.const 16)))
        (local.set $pg (i32.add (local.get $pg) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $four)))
    (block $done
      (loop $one
        (br_if $done (i32.ge_s (local.get $i) (local.get $end)))
        (local.set $x (i32.load (local.get $pw)))
        (i32.store (local.get $pw)
          (i32.sub (local.get $x)
            (i32.add (call $quotient1 (i32.load (local.get $pg)) (local.get $m) (local.get $s))
              (if (result i32) (local.get $dDecay)
                (then (call $quotient1 (local.get $x) (local.get $mDecay) (local.get $sDecay)))
                (else (i32.const 0))))))
        (local.set $pw (i32.add (local.get $pw) (i32.const 4)))
        (local.set $pg (i32.add (local.get $pg) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $one))))

  ;; scale8 (c, cRow, bias, hasBias, out, rows, cols, d, m, s) — the NITRO scaling epilogue:
  ;; out[b, o] = clip(trunc((C[b, o] + bias[o]) / d), -127, 127) as int8 at out + b·cols + o,
  ;; for C int32 at c + b·cRow + 4o, bias int32 at bias + 4o (added where hasBias), rows b of
  ;; `cols` columns; (m, s) the magic number of 2 ≤ d < 2^31 (see $quotient). Four columns at a
  ;; time, the tail of a row one by one, so no row writes into the next.
  (func $scale8 (export "scale8")
    (param $c i32) (param $cRow i32) (param $bias i32) (param $hasBias i32) (param $out i32)
    (param $rows i32) (param $cols i32) (param $d i32) (param $m i32) (param $s i32)
    (local $b i32) (local $o i32) (local $pc i32) (local $po i32) (local $v v128) (local $mv v128)
    (local $x i32)
    (if (i32.or (i32.eqz (local.get $rows)) (i32.eqz (local.get $cols))) (then (return)))
    (local.set $mv (i32x4.splat (local.get $m)))
    (loop $row
      (local.set $pc (i32.add (local.get $c) (i32.mul (local.get $b) (local.get $cRow))))
      (local.set $po (i32.add (local.get $out) (i32.mul (local.get $b) (local.get $cols))))
      (local.set $o (i32.const 0))
      (block $vectors
        (loop $four
          (br_if $vectors (i32.gt_s (i32.add (local.get $o) (i32.const 4)) (local.get $cols)))
          (local.set $v (v128.load (i32.add (local.get $pc) (i32.shl (local.get $o) (i32.const 2)))))
          (if (local.get $hasBias)
            (then
              (local.set $v
                (i32x4.add (local.get $v)
                  (v128.load (i32.add (local.get $bias) (i32.shl (local.get $o) (i32.const 2))))))))
          (local.set $v
            (i32x4.max_s (v128.const i32x4 -127 -127 -127 -127)
              (i32x4.min_s (v128.const i32x4 127 127 127 127)
                (call $quotient (local.get $v) (local.get $mv) (local.get $s)))))
          (v128.store32_lane 0 (i32.add (local.get $po) (local.get $o))
            (i8x16.narrow_i16x8_s
              (i16x8.narrow_i32x4_s (local.get $v) (local.get $v))
              (i16x8.narrow_i32x4_s (local.get $v) (local.get $v))))
          (local.set $o (i32.add (local.get $o) (i32.const 4)))
          (br $four)))
      (block $done
        (loop $one
          (br_if $done (i32.ge_s (local.get $o) (local.get $cols)))
          (local.set $x (i32.load (i32.add (local.get $pc) (i32.shl (local.get $o) (i32.const 2)))))
          (if (local.get $hasBias)
            (then
              (local.set $x
                (i32.add (local.get $x)
                  (i32.load (i32.add (local.get $bias) (i32.shl (local.get $o) (i32.const 2))))))))
          (local.set $x (call $quotient1 (local.get $x) (local.get $m) (local.get $s)))
          (if (i32.gt_s (local.get $x) (i32.const 127)) (then (local.set $x (i32.const 127))))
          (if (i32.lt_s (local.get $x) (i32.const -127)) (then (local.set $x (i32.const -127))))
          (i32.store8 (i32.add (local.get $po) (local.get $o)) (local.get $x))
          (local.set $o (i32.add (local.get $o) (i32.const 1)))
          (br $one)))
      (br_if $row (i32.lt_u (local.tee $b (i32.add (local.get $b) (i32.const 1))) (local.get $rows)))))

  ;; ---- The convolutional path's passes around the products: max pooling and its backward,
  ;; table lookups, layout changes and the sparse weight gradient's gather. Each takes a range
  ;; of whole planes, images or filter groups (the caller offsets the pointers), so threads
  ;; split them with no element written by two threads.

  ;; maxPool8 (x, out, planes, H, W, Ho, Wo, kh, kw, ph, pw, zeroPads) — max pooling with
  ;; kernel = stride: out[p, oi, oj] (int8 at out + (p·Ho + oi)·Wo + oj) = the max of window
  ;; (oi, oj) of plane p (int8 [H, W] at x + p·H·W) over its cells inside the image; with
  ;; zeroPads a window that reaches into the padding also takes the pad cells' 0. Windows of
  ;; two columns wholly inside rows of the image go eight (or, in rows of 4-7, four) at a time
  ;; (i8x16.max_s over the rows, then over even and odd bytes).
  (func $maxPool8 (export "maxPool8")
    (param $x i32) (param $out i32) (param $planes i32) (param $H i32) (param $W i32)
    (param $Ho i32) (param $Wo i32) (param $kh i32) (param $kw i32) (param $ph i32) (param $pw i32)
    (param $zeroPads i32)
    (local $p i32) (local $oi i32) (local $oj i32) (local $h0 i32) (local $w0 i32)
    (local $hs i32) (local $he i32) (local $ws i32) (local $we i32) (local $h i32) (local $w i32)
    (local $best i32) (local $v i32) (local $xp i32) (local $po i32) (local $row i32)
    (local $rowPads i32) (local $pads i32) (local $u i32) (local $vec v128) (local $fast i32)
    (local.set $fast (i32.and (i32.eq (local.get $kw) (i32.const 2)) (i32.eqz (local.get $pw))))
    (block $planesDone
      (loop $plane
        (br_if $planesDone (i32.ge_u (local.get $p) (local.get $planes)))
        (local.set $xp (i32.add (local.get $x) (i32.mul (local.get $p) (i32.mul (local.get $H) (local.get $W)))))
        (local.set $oi (i32.const 0))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.ge_u (local.get $oi) (local.get $Ho)))
            (local.set $po
              (i32.add (local.get $out)
                (i32.mul (i32.add (i32.mul (local.get $p) (local.get $Ho)) (local.get $oi)) (local.get $Wo))))
            (local.set $h0 (i32.sub (i32.mul (local.get $oi) (local.get $kh)) (local.get $ph)))
            (local.set $hs (select (i32.const 0) (local.get $h0) (i32.lt_s (local.get $h0) (i32.const 0))))
            (local.set $he (i32.add (local.get $h0) (local.get $kh)))
            (local.set $rowPads (i32.or (i32.lt_s (local.get $h0) (i32.const 0)) (i32.gt_s (local.get $he) (local.get $H))))
            (if (i32.gt_s (local.get $he) (local.get $H)) (then (local.set $he (local.get $H))))
            (local.set $oj (i32.const 0))
            (if (i32.and (local.get $fast) (i32.eqz (local.get $rowPads)))
              (then
                (block $vecDone
                  (loop $vec8
                    (br_if $vecDone (i32.gt_s (i32.add (local.get $oj) (i32.const 8)) (local.get $Wo)))
                    (local.set $row
                      (i32.add (i32.add (local.get $xp) (i32.mul (local.get $h0) (local.get $W)))
                        (i32.shl (local.get $oj) (i32.const 1))))
                    (local.set $vec (v128.load (local.get $row)))
                    (local.set $u (i32.const 1))
                    (block $uDone
                      (loop $uRows
                        (br_if $uDone (i32.ge_u (local.get $u) (local.get $kh)))
                        (local.set $row (i32.add (local.get $row) (local.get $W)))
                        (local.set $vec (i8x16.max_s (local.get $vec) (v128.load (local.get $row))))
                        (local.set $u (i32.add (local.get $u) (i32.const 1)))
                        (br $uRows)))
                    (v128.store64_lane 0 (i32.add (local.get $po) (local.get $oj))
                      (i8x16.max_s
                        (i8x16.shuffle 0 2 4 6 8 10 12 14 0 2 4 6 8 10 12 14 (local.get $vec) (local.get $vec))
                        (i8x16.shuffle 1 3 5 7 9 11 13 15 1 3 5 7 9 11 13 15 (local.get $vec) (local.get $vec))))
                    (local.set $oj (i32.add (local.get $oj) (i32.const 8)))
                    ;; The last eight windows of a row whose count is not a multiple of 8: a
                    ;; group that overlaps the previous one (rewriting the same values).
                    (if (i32.and (i32.lt_s (local.get $oj) (local.get $Wo))
                          (i32.gt_s (i32.add (local.get $oj) (i32.const 8)) (local.get $Wo)))
                      (then (local.set $oj (i32.sub (local.get $Wo) (i32.const 8)))))
                    (br $vec8)))
                ;; Rows of 4-7 windows: four at a time (the last four overlapping the first).
                (if (i32.and (i32.lt_s (local.get $Wo) (i32.const 8)) (i32.ge_s (local.get $Wo) (i32.const 4)))
                  (then
                    (loop $vec4
                      (local.set $row
                        (i32.add (i32.add (local.get $xp) (i32.mul (local.get $h0) (local.get $W)))
                          (i32.shl (local.get $oj) (i32.const 1))))
                      (local.set $vec (v128.load64_zero (local.get $row)))
                      (local.set $u (i32.const 1))
                      (block $u4Done
                        (loop $u4Rows
                          (br_if $u4Done (i32.ge_u (local.get $u) (local.get $kh)))
                          (local.set $row (i32.add (local.get $row) (local.get $W)))
                          (local.set $vec (i8x16.max_s (local.get $vec) (v128.load64_zero (local.get $row))))
                          (local.set $u (i32.add (local.get $u) (i32.const 1)))
                          (br $u4Rows)))
                      (v128.store32_lane 0 (i32.add (local.get $po) (local.get $oj))
                        (i8x16.max_s
                          (i8x16.shuffle 0 2 4 6 0 2 4 6 0 2 4 6 0 2 4 6 (local.get $vec) (local.get $vec))
                          (i8x16.shuffle 1 3 5 7 1 3 5 7 1 3 5 7 1 3 5 7 (local.get $vec) (local.get $vec))))
                      (if (i32.and (i32.eqz (local.get $oj)) (i32.gt_s (local.get $Wo) (i32.const 4)))
                        (then
                          (local.set $oj (i32.sub (local.get $Wo) (i32.const 4)))
                          (br $vec4)))
                      (local.set $oj (local.get $Wo)))))))
            (block $colsDone
              (loop $cols
                (br_if $colsDone (i32.ge_u (local.get $oj) (local.get $Wo)))
                (local.set $w0 (i32.sub (i32.mul (local.get $oj) (local.get $kw)) (local.get $pw)))
                (local.set $ws (select (i32.const 0) (local.get $w0) (i32.lt_s (local.get $w0) (i32.const 0))))
                (local.set $we (i32.add (local.get $w0) (local.get $kw)))
                (local.set $pads
                  (i32.or (local.get $rowPads)
                    (i32.or (i32.lt_s (local.get $w0) (i32.const 0)) (i32.gt_s (local.get $we) (local.get $W)))))
                (if (i32.gt_s (local.get $we) (local.get $W)) (then (local.set $we (local.get $W))))
                (local.set $best (i32.const -129))
                (local.set $h (local.get $hs))
                (block $hDone
                  (loop $hLoop
                    (br_if $hDone (i32.ge_s (local.get $h) (local.get $he)))
                    (local.set $row (i32.add (local.get $xp) (i32.mul (local.get $h) (local.get $W))))
                    (local.set $w (local.get $ws))
                    (block $wDone
                      (loop $wLoop
                        (br_if $wDone (i32.ge_s (local.get $w) (local.get $we)))
                        (local.set $v (i32.load8_s (i32.add (local.get $row) (local.get $w))))
                        (local.set $best
                          (select (local.get $v) (local.get $best) (i32.gt_s (local.get $v) (local.get $best))))
                        (local.set $w (i32.add (local.get $w) (i32.const 1)))
                        (br $wLoop)))
                    (local.set $h (i32.add (local.get $h) (i32.const 1)))
                    (br $hLoop)))
                (if (i32.and (i32.and (local.get $zeroPads) (local.get $pads))
                      (i32.lt_s (local.get $best) (i32.const 0)))
                  (then (local.set $best (i32.const 0))))
                (if (i32.lt_s (local.get $best) (i32.const -128)) (then (local.set $best (i32.const 0))))
                (i32.store8 (i32.add (local.get $po) (local.get $oj)) (local.get $best))
                (local.set $oj (i32.add (local.get $oj) (i32.const 1)))
                (br $cols)))
            (local.set $oi (i32.add (local.get $oi) (i32.const 1)))
            (br $rows)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $plane))))

  ;; maxPoolBack (x, delta, s, table, out, planes, H, W, Ho, Wo, kh, kw, ph, pw, zeroPads,
  ;; hasRelu) — max pooling's backward: out (int32 [planes, H, W]) is 0 but at each window's
  ;; first maximum in row-major order (x int8 as for maxPool8; with zeroPads the pad cells hold
  ;; 0 and take part, and a pad cell winning sends nothing), which gets the window's delta
  ;; (int32 at delta + 4·((p·Ho + oi)·Wo + oj)), with hasRelu divided (truncating) by
  ;; table[s + 128], s the int8 at the winner's place in s's planes (table: 256 int32 at table).
  (func $maxPoolBack (export "maxPoolBack")
    (param $x i32) (param $delta i32) (param $s i32) (param $table i32) (param $out i32)
    (param $planes i32) (param $H i32) (param $W i32) (param $Ho i32) (param $Wo i32)
    (param $kh i32) (param $kw i32) (param $ph i32) (param $pw i32) (param $zeroPads i32)
    (param $hasRelu i32)
    (local $p i32) (local $oi i32) (local $oj i32) (local $h0 i32) (local $w0 i32)
    (local $u i32) (local $v i32) (local $h i32) (local $w i32) (local $best i32) (local $at i32)
    (local $val i32) (local $cand i32) (local $xp i32) (local $op i32) (local $dp i32)
    (local $plane i32) (local $d i32) (local $inside i32)
    (local.set $plane (i32.mul (local.get $H) (local.get $W)))
    (memory.fill (local.get $out) (i32.const 0)
      (i32.shl (i32.mul (local.get $planes) (local.get $plane)) (i32.const 2)))
    (local.set $dp (local.get $delta))
    (block $planesDone
      (loop $planeLoop
        (br_if $planesDone (i32.ge_u (local.get $p) (local.get $planes)))
        (local.set $xp (i32.mul (local.get $p) (local.get $plane)))
        (local.set $oi (i32.const 0))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.ge_u (local.get $oi) (local.get $Ho)))
            (local.set $h0 (i32.sub (i32.mul (local.get $oi) (local.get $kh)) (local.get $ph)))
            (local.set $oj (i32.const 0))
            (block $colsDone
              (loop $cols
                (br_if $colsDone (i32.ge_u (local.get $oj) (local.get $Wo)))
                (local.set $w0 (i32.sub (i32.mul (local.get $oj) (local.get $kw)) (local.get $pw)))
                (local.set $best (i32.const 0x80000000))
                (local.set $at (i32.const -1))
                (local.set $u (i32.const 0))
                (if (i32.and
                      (i32.and (i32.ge_s (local.get $h0) (i32.const 0))
                        (i32.le_s (i32.add (local.get $h0) (local.get $kh)) (local.get $H)))
                      (i32.and (i32.ge_s (local.get $w0) (i32.const 0))
                        (i32.le_s (i32.add (local.get $w0) (local.get $kw)) (local.get $W))))
                  (then
                    ;; A window wholly inside: no pad cells, and selects instead of branches
                    ;; (which ties and random data mispredict).
                    (local.set $cand (i32.add (i32.mul (local.get $h0) (local.get $W)) (local.get $w0)))
                    (block $iuDone
                      (loop $iu
                        (br_if $iuDone (i32.ge_u (local.get $u) (local.get $kh)))
                        (local.set $v (i32.const 0))
                        (block $ivDone
                          (loop $iv
                            (br_if $ivDone (i32.ge_u (local.get $v) (local.get $kw)))
                            (local.set $val
                              (i32.load8_s
                                (i32.add (local.get $x)
                                  (i32.add (local.get $xp) (i32.add (local.get $cand) (local.get $v))))))
                            (local.set $inside (i32.gt_s (local.get $val) (local.get $best)))
                            (local.set $best (select (local.get $val) (local.get $best) (local.get $inside)))
                            (local.set $at
                              (select (i32.add (local.get $cand) (local.get $v)) (local.get $at) (local.get $inside)))
                            (local.set $v (i32.add (local.get $v) (i32.const 1)))
                            (br $iv)))
                        (local.set $cand (i32.add (local.get $cand) (local.get $W)))
                        (local.set $u (i32.add (local.get $u) (i32.const 1)))
                        (br $iu)))
                    ;; Skips the general scan below.
                    (local.set $u (local.get $kh))))
                (block $uDone
                  (loop $uLoop
                    (br_if $uDone (i32.ge_u (local.get $u) (local.get $kh)))
                    (local.set $h (i32.add (local.get $h0) (local.get $u)))
                    (local.set $v (i32.const 0))
                    (block $vDone
                      (loop $vLoop
                        (br_if $vDone (i32.ge_u (local.get $v) (local.get $kw)))
                        (local.set $w (i32.add (local.get $w0) (local.get $v)))
                        ;; Unsigned compares: a negative h or w is out too.
                        (local.set $inside
                          (i32.and (i32.lt_u (local.get $h) (local.get $H)) (i32.lt_u (local.get $w) (local.get $W))))
                        (if (i32.or (local.get $inside) (local.get $zeroPads))
                          (then
                            (if (local.get $inside)
                              (then
                                (local.set $cand (i32.add (i32.mul (local.get $h) (local.get $W)) (local.get $w)))
                                (local.set $val
                                  (i32.load8_s (i32.add (local.get $x) (i32.add (local.get $xp) (local.get $cand))))))
                              (else
                                (local.set $cand (i32.const -1))
                                (local.set $val (i32.const 0))))
                            (if (i32.gt_s (local.get $val) (local.get $best))
                              (then
                                (local.set $best (local.get $val))
                                (local.set $at (local.get $cand))))))
                        (local.set $v (i32.add (local.get $v) (i32.const 1)))
                        (br $vLoop)))
                    (local.set $u (i32.add (local.get $u) (i32.const 1)))
                    (br $uLoop)))
                (if (i32.ge_s (local.get $at) (i32.const 0))
                  (then
                    (local.set $d (i32.load (local.get $dp)))
                    (local.set $at (i32.add (local.get $xp) (local.get $at)))
                    (if (local.get $hasRelu)
                      (then
                        (local.set $d
                          (i32.div_s (local.get $d)
                            (i32.load
                              (i32.add (local.get $table)
                                (i32.shl
                                  (i32.add (i32.load8_s (i32.add (local.get $s) (local.get $at))) (i32.const 128))
                                  (i32.const 2))))))))
                    (i32.store (i32.add (local.get $out) (i32.shl (local.get $at) (i32.const 2))) (local.get $d))))
                (local.set $dp (i32.add (local.get $dp) (i32.const 4)))
                (local.set $oj (i32.add (local.get $oj) (i32.const 1)))
                (br $cols)))
            (local.set $oi (i32.add (local.get $oi) (i32.const 1)))
            (br $rows)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $planeLoop))))

  ;; lut8 (src, dst, n, table) — dst[i] = table[src[i] + 128] for n int8 (table: 256 int8).
  (func $lut8 (export "lut8") (param $src i32) (param $dst i32) (param $n i32) (param $table i32)
    (local $i i32)
    (local.set $table (i32.add (local.get $table) (i32.const 128)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (i32.add (local.get $dst) (local.get $i))
          (i32.load8_s (i32.add (local.get $table) (i32.load8_s (i32.add (local.get $src) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each))))

  ;; pixelsToPlanes (c, z, images, F, Ho, Wo, Wo2, F4) — int32 [images, Ho, Wo2, F4] at c to
  ;; [images, F, Ho, Wo] at z: z[b, f, i, j] = c[b, i, j, f] (pixels past Wo, filters past F
  ;; dropped).
  (func $pixelsToPlanes (export "pixelsToPlanes")
    (param $c i32) (param $z i32) (param $images i32) (param $F i32) (param $Ho i32) (param $Wo i32)
    (param $Wo2 i32) (param $F4 i32)
    (local $b i32) (local $f i32) (local $i i32) (local $j i32) (local $src i32) (local $step i32)
    (local.set $step (i32.shl (local.get $F4) (i32.const 2)))
    (block $bDone
      (loop $bLoop
        (br_if $bDone (i32.ge_u (local.get $b) (local.get $images)))
        (local.set $f (i32.const 0))
        (block $fDone
          (loop $fLoop
            (br_if $fDone (i32.ge_u (local.get $f) (local.get $F)))
            (local.set $i (i32.const 0))
            (block $iDone
              (loop $iLoop
                (br_if $iDone (i32.ge_u (local.get $i) (local.get $Ho)))
                (local.set $src
                  (i32.add (local.get $c)
                    (i32.shl
                      (i32.add
                        (i32.mul
                          (i32.mul (i32.add (i32.mul (local.get $b) (local.get $Ho)) (local.get $i)) (local.get $Wo2))
                          (local.get $F4))
                        (local.get $f))
                      (i32.const 2))))
                (local.set $j (i32.const 0))
                (block $jDone
                  (loop $jLoop
                    (br_if $jDone (i32.ge_u (local.get $j) (local.get $Wo)))
                    (i32.store (local.get $z) (i32.load (local.get $src)))
                    (local.set $z (i32.add (local.get $z) (i32.const 4)))
                    (local.set $src (i32.add (local.get $src) (local.get $step)))
                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                    (br $jLoop)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $iLoop)))
            (local.set $f (i32.add (local.get $f) (i32.const 1)))
            (br $fLoop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bLoop))))

  ;; channelsLast (x, dst, images, C, H, W, pad, C8) — int8 [images, C, H, W] at x to
  ;; [images, Hp, Wp, C8] at dst (Hp = H + 2·pad, Wp = W + 2·pad): zero borders, zero past
  ;; channel C.
  (func $channelsLast (export "channelsLast")
    (param $x i32) (param $dst i32) (param $images i32) (param $C i32) (param $H i32) (param $W i32)
    (param $pad i32) (param $C8 i32)
    (local $b i32) (local $c i32) (local $h i32) (local $w i32) (local $Hp i32) (local $Wp i32)
    (local $d i32)
    (local.set $Hp (i32.add (local.get $H) (i32.shl (local.get $pad) (i32.const 1))))
    (local.set $Wp (i32.add (local.get $W) (i32.shl (local.get $pad) (i32.const 1))))
    (memory.fill (local.get $dst) (i32.const 0)
      (i32.mul (i32.mul (local.get $images) (local.get $Hp)) (i32.mul (local.get $Wp) (local.get $C8))))
    (block $bDone
      (loop $bLoop
        (br_if $bDone (i32.ge_u (local.get $b) (local.get $images)))
        (local.set $c (i32.const 0))
        (block $cDone
          (loop $cLoop
            (br_if $cDone (i32.ge_u (local.get $c) (local.get $C)))
            (local.set $h (i32.const 0))
            (block $hDone
              (loop $hLoop
                (br_if $hDone (i32.ge_u (local.get $h) (local.get $H)))
                (local.set $d
                  (i32.add (i32.add (local.get $dst) (local.get $c))
                    (i32.mul
                      (i32.add
                        (i32.mul (i32.add (i32.mul (local.get $b) (local.get $Hp)) (i32.add (local.get $h) (local.get $pad)))
                          (local.get $Wp))
                        (local.get $pad))
                      (local.get $C8))))
                (local.set $w (i32.const 0))
                (block $wDone
                  (loop $wLoop
                    (br_if $wDone (i32.ge_u (local.get $w) (local.get $W)))
                    (i32.store8 (local.get $d) (i32.load8_s (local.get $x)))
                    (local.set $x (i32.add (local.get $x) (i32.const 1)))
                    (local.set $d (i32.add (local.get $d) (local.get $C8)))
                    (local.set $w (i32.add (local.get $w) (i32.const 1)))
                    (br $wLoop)))
                (local.set $h (i32.add (local.get $h) (i32.const 1)))
                (br $hLoop)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $cLoop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bLoop))))

  ;; sparseRows (d, group, F, B, Ho, Wo, Hp, Wp, C8, a, rowT, count) — the sparse conv weight
  ;; gradient's gather for one group of filters (`group` ≤ 4 of them, d pointing at the first's
  ;; delta, int32 [B, F, Ho, Wo] rows of the whole delta): for each pixel (b, i, j) in order
  ;; where any of the group's deltas is non-zero, its four deltas (zero past `group`) as the next
  ;; int32 row of a (16 bytes) and ((b·Hp + i)·Wp + j)·C8 as the next entry of rowT; the number
  ;; of such pixels goes to count (int32).
  (func $sparseRows (export "sparseRows")
    (param $d i32) (param $group i32) (param $F i32) (param $B i32) (param $Ho i32) (param $Wo i32)
    (param $Hp i32) (param $Wp i32) (param $C8 i32) (param $a i32) (param $rowT i32) (param $count i32)
    (local $b i32) (local $i i32) (local $j i32) (local $m i32) (local $HW4 i32) (local $pd i32)
    (local $any i32) (local $R i32) (local $v i32) (local $pa i32)
    (local.set $HW4 (i32.shl (i32.mul (local.get $Ho) (local.get $Wo)) (i32.const 2)))
    (block $bDone
      (loop $bLoop
        (br_if $bDone (i32.ge_u (local.get $b) (local.get $B)))
        (local.set $pd (i32.add (local.get $d) (i32.mul (i32.mul (local.get $b) (local.get $F)) (local.get $HW4))))
        (local.set $i (i32.const 0))
        (block $iDone
          (loop $iLoop
            (br_if $iDone (i32.ge_u (local.get $i) (local.get $Ho)))
            (local.set $j (i32.const 0))
            (block $jDone
              (loop $jLoop
                (br_if $jDone (i32.ge_u (local.get $j) (local.get $Wo)))
                (local.set $any (i32.const 0))
                (local.set $m (i32.const 0))
                (block $mDone
                  (loop $mLoop
                    (br_if $mDone (i32.ge_u (local.get $m) (local.get $group)))
                    (local.set $any
                      (i32.or (local.get $any)
                        (i32.load (i32.add (local.get $pd) (i32.mul (local.get $m) (local.get $HW4))))))
                    (local.set $m (i32.add (local.get $m) (i32.const 1)))
                    (br $mLoop)))
                (if (local.get $any)
                  (then
                    (local.set $pa (i32.add (local.get $a) (i32.shl (local.get $R) (i32.const 4))))
                    (v128.store (local.get $pa) (v128.const i32x4 0 0 0 0))
                    (local.set $m (i32.const 0))
                    (block $sDone
                      (loop $sLoop
                        (br_if $sDone (i32.ge_u (local.get $m) (local.get $group)))
                        (i32.store (i32.add (local.get $pa) (i32.shl (local.get $m) (i32.const 2)))
                          (i32.load (i32.add (local.get $pd) (i32.mul (local.get $m) (local.get $HW4)))))
                        (local.set $m (i32.add (local.get $m) (i32.const 1)))
                        (br $sLoop)))
                    (i32.store (i32.add (local.get $rowT) (i32.shl (local.get $R) (i32.const 2)))
                      (i32.mul
                        (i32.add
                          (i32.mul (i32.add (i32.mul (local.get $b) (local.get $Hp)) (local.get $i)) (local.get $Wp))
                          (local.get $j))
                        (local.get $C8)))
                    (local.set $R (i32.add (local.get $R) (i32.const 1)))))
                (local.set $pd (i32.add (local.get $pd) (i32.const 4)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $jLoop)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $iLoop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bLoop)))
    (i32.store (local.get $count) (local.get $R)))

  ;; reorderConvW (src, dst, filters, C, k, seg, KK) — conv weights int32 [filters, C, k, k] at
  ;; src to the forward's order: dst[f·KK + u·seg + v·C + c] = w[f, c, u, v], zero elsewhere in
  ;; each row of KK int32 (so the runs of k·C values a window row reads are zero-padded).
  (func $reorderConvW (export "reorderConvW")
    (param $src i32) (param $dst i32) (param $filters i32) (param $C i32) (param $k i32)
    (param $seg i32) (param $KK i32)
    (local $f i32) (local $c i32) (local $u i32) (local $v i32) (local $row i32)
    (memory.fill (local.get $dst) (i32.const 0)
      (i32.shl (i32.mul (local.get $filters) (local.get $KK)) (i32.const 2)))
    (block $fDone
      (loop $fLoop
        (br_if $fDone (i32.ge_u (local.get $f) (local.get $filters)))
        (local.set $row (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $f) (local.get $KK)) (i32.const 2))))
        (local.set $c (i32.const 0))
        (block $cDone
          (loop $cLoop
            (br_if $cDone (i32.ge_u (local.get $c) (local.get $C)))
            (local.set $u (i32.const 0))
            (block $uDone
              (loop $uLoop
                (br_if $uDone (i32.ge_u (local.get $u) (local.get $k)))
                (local.set $v (i32.const 0))
                (block $vDone
                  (loop $vLoop
                    (br_if $vDone (i32.ge_u (local.get $v) (local.get $k)))
                    (i32.store
                      (i32.add (local.get $row)
                        (i32.shl
                          (i32.add (i32.mul (local.get $u) (local.get $seg))
                            (i32.add (i32.mul (local.get $v) (local.get $C)) (local.get $c)))
                          (i32.const 2)))
                      (i32.load (local.get $src)))
                    (local.set $src (i32.add (local.get $src) (i32.const 4)))
                    (local.set $v (i32.add (local.get $v) (i32.const 1)))
                    (br $vLoop)))
                (local.set $u (i32.add (local.get $u) (i32.const 1)))
                (br $uLoop)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $cLoop)))
        (local.set $f (i32.add (local.get $f) (i32.const 1)))
        (br $fLoop))))

  ;; unpackTaps (src, dst, filters, C, taps, C8) — the sparse weight gradient's sums, int32
  ;; [filters, taps, C8] at src, to the weights' order: dst[(f·C + c)·taps + t] = src[f, t, c].
  (func $unpackTaps (export "unpackTaps")
    (param $src i32) (param $dst i32) (param $filters i32) (param $C i32) (param $taps i32)
    (param $C8 i32)
    (local $f i32) (local $c i32) (local $t i32) (local $p i32) (local $step i32)
    (local.set $step (i32.shl (local.get $C8) (i32.const 2)))
    (block $fDone
      (loop $fLoop
        (br_if $fDone (i32.ge_u (local.get $f) (local.get $filters)))
        (local.set $c (i32.const 0))
        (block $cDone
          (loop $cLoop
            (br_if $cDone (i32.ge_u (local.get $c) (local.get $C)))
            (local.set $p (i32.add (local.get $src) (i32.shl (local.get $c) (i32.const 2))))
            (local.set $t (i32.const 0))
            (block $tDone
              (loop $tLoop
                (br_if $tDone (i32.ge_u (local.get $t) (local.get $taps)))
                (i32.store (local.get $dst) (i32.load (local.get $p)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
                (local.set $p (i32.add (local.get $p) (local.get $step)))
                (local.set $t (i32.add (local.get $t) (i32.const 1)))
                (br $tLoop)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $cLoop)))
        (local.set $src (i32.add (local.get $src) (i32.mul (local.get $taps) (local.get $step))))
        (local.set $f (i32.add (local.get $f) (i32.const 1)))
        (br $fLoop))))

  ;; packWCount (src, srcRow, dst, blocks, chunks, half, count): packW without a list, its count
  ;; of elements whose hi half is non-zero stored at count (int32), for a call on a thread whose
  ;; result nobody reads back.
  (func $packWCount (export "packWCount")
    (param $src i32) (param $srcRow i32) (param $dst i32) (param $blocks i32) (param $chunks i32)
    (param $half i32) (param $count i32)
    (i32.store (local.get $count)
      (call $packW (local.get $src) (local.get $srcRow) (local.get $dst) (local.get $blocks)
        (local.get $chunks) (local.get $half) (i32.const 0) (i32.const 0))))
  ;; relu8 (src, dst, n, slope, m, s, c) — NITRO-ReLU of n int8 values: dst[i] = clip(v, 0, 127)
  ;; + trunc(clip(v, -127, 0) / slope) - c for v = src[i], (m, s) the magic number of the slope
  ;; (see $quotient; `slope` itself is for the JavaScript twin). Eight values a step in int16
  ;; lanes, each half's quotient in int32 lanes, the tail one by one.
  (func $relu8 (export "relu8")
    (param $src i32) (param $dst i32) (param $n i32) (param $slope i32) (param $m i32) (param $s i32)
    (param $c i32)
    (local $i i32) (local $v v128) (local $neg v128) (local $q v128) (local $mv v128) (local $cv v128)
    (local $x i32)
    (local.set $mv (i32x4.splat (local.get $m)))
    (local.set $cv (i16x8.splat (local.get $c)))
    (block $vectors
      (loop $eight
        (br_if $vectors (i32.gt_s (i32.add (local.get $i) (i32.const 8)) (local.get $n)))
        (local.set $v (v128.load8x8_s (i32.add (local.get $src) (local.get $i))))
        (local.set $neg
          (i16x8.max_s (i16x8.min_s (local.get $v) (v128.const i16x8 0 0 0 0 0 0 0 0))
            (v128.const i16x8 -127 -127 -127 -127 -127 -127 -127 -127)))
        (local.set $q
          (i16x8.narrow_i32x4_s
            (call $quotient (i32x4.extend_low_i16x8_s (local.get $neg)) (local.get $mv) (local.get $s))
            (call $quotient (i32x4.extend_high_i16x8_s (local.get $neg)) (local.get $mv) (local.get $s))))
        (local.set $v
          (i16x8.sub
            (i16x8.add (i16x8.max_s (local.get $v) (v128.const i16x8 0 0 0 0 0 0 0 0)) (local.get $q))
            (local.get $cv)))
        (v128.store64_lane 0 (i32.add (local.get $dst) (local.get $i))
          (i8x16.narrow_i16x8_s (local.get $v) (local.get $v)))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $eight)))
    (block $done
      (loop $one
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $x (i32.load8_s (i32.add (local.get $src) (local.get $i))))
        (i32.store8 (i32.add (local.get $dst) (local.get $i))
          (i32.sub
            (i32.add
              (select (local.get $x) (i32.const 0) (i32.gt_s (local.get $x) (i32.const 0)))
              (call $quotient1
                (select
                  (select (local.get $x) (i32.const 0) (i32.lt_s (local.get $x) (i32.const 0)))
                  (i32.const -127)
                  (i32.ge_s (local.get $x) (i32.const -127)))
                (local.get $m) (local.get $s)))
            (local.get $c)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $one))))

  ;; reluBack (d, dRow, x, xRow, rows, cols, slope, m, s) — NITRO-ReLU's backward in place:
  ;; d[r, j] = trunc(d[r, j] / g(x[r, j])) for int32 d at d + r·dRow + 4j and the saved int8
  ;; input x at x + r·xRow + j, where g(x) is 1 on [0, 126], the inverse slope on [-127, -1]
  ;; and 2^31 - 1 at 127 and -128 (NITRO-ReLU's clipped ends: the quotient is 1 for d = 2^31 - 1,
  ;; -1 for d ≤ -(2^31 - 1), else 0); (m, s) is the slope's magic number (see $quotient).
  (func $reluBack (export "reluBack")
    (param $d i32) (param $dRow i32) (param $x i32) (param $xRow i32) (param $rows i32) (param $cols i32)
    (param $slope i32) (param $m i32) (param $s i32)
    (local $r i32) (local $j i32) (local $pd i32) (local $px i32) (local $v v128) (local $xs v128)
    (local $mv v128) (local $q v128) (local $y i32) (local $e i32)
    (if (i32.or (i32.eqz (local.get $rows)) (i32.eqz (local.get $cols))) (then (return)))
    (local.set $mv (i32x4.splat (local.get $m)))
    (loop $row
      (local.set $pd (i32.add (local.get $d) (i32.mul (local.get $r) (local.get $dRow))))
      (local.set $px (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $xRow))))
      (local.set $j (i32.const 0))
      (block $vectors
        (loop $four
          (br_if $vectors (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $cols)))
          (local.set $v (v128.load (local.get $pd)))
          (local.set $xs
            (i32x4.extend_low_i16x8_s (i16x8.extend_low_i8x16_s (v128.load32_zero (local.get $px)))))
          ;; $quotient by the slope, written out (as in sgd)
          (local.set $q
            (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31
              (i64x2.extmul_low_i32x4_s (local.get $v) (local.get $mv))
              (i64x2.extmul_high_i32x4_s (local.get $v) (local.get $mv))))
          (local.set $q
            (i32x4.add
              (i32x4.shr_s
                (i32x4.add (local.get $q) (v128.and (local.get $v) (i32x4.shr_s (local.get $mv) (i32.const 31))))
                (local.get $s))
              (i32x4.shr_u (local.get $v) (i32.const 31))))
          (v128.store (local.get $pd)
            (v128.bitselect
              (local.get $v)
              (v128.bitselect
                (local.get $q)
                (i32x4.sub
                  (i32x4.lt_s (local.get $v) (v128.const i32x4 -2147483646 -2147483646 -2147483646 -2147483646))
                  (i32x4.eq (local.get $v) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
                (v128.and
                  (i32x4.ge_s (local.get $xs) (v128.const i32x4 -127 -127 -127 -127))
                  (i32x4.lt_s (local.get $xs) (v128.const i32x4 0 0 0 0))))
              (v128.and
                (i32x4.ge_s (local.get $xs) (v128.const i32x4 0 0 0 0))
                (i32x4.lt_s (local.get $xs) (v128.const i32x4 127 127 127 127)))))
          (local.set $pd (i32.add (local.get $pd) (i32.const 16)))
          (local.set $px (i32.add (local.get $px) (i32.const 4)))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $four)))
      (block $done
        (loop $one
          (br_if $done (i32.ge_s (local.get $j) (local.get $cols)))
          (local.set $y (i32.load8_s (local.get $px)))
          (local.set $e (i32.load (local.get $pd)))
          (if (i32.and (i32.ge_s (local.get $y) (i32.const -127)) (i32.lt_s (local.get $y) (i32.const 0)))
            (then (local.set $e (call $quotient1 (local.get $e) (local.get $m) (local.get $s))))
            (else
              (if (i32.or (i32.eq (local.get $y) (i32.const 127)) (i32.eq (local.get $y) (i32.const -128)))
                (then
                  (local.set $e
                    (i32.sub
                      (i32.eq (local.get $e) (i32.const 0x7fffffff))
                      (i32.lt_s (local.get $e) (i32.const -2147483646))))))))
          (i32.store (local.get $pd) (local.get $e))
          (local.set $pd (i32.add (local.get $pd) (i32.const 4)))
          (local.set $px (i32.add (local.get $px) (i32.const 1)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $one)))
      (br_if $row (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $rows)))))

  ;; peak (n) -> checksum: n rounds of eight independent i32x4.dot_i16x8_s + i32x4.add on
  ;; registers (64 multiply-adds a round), the per-core ceiling bench-kernels compares with. Two
  ;; operands change every round (two more adds) so the compiler cannot hoist the products.
  (func $peak (export "peak") (param $n i32) (result i32)
    (local $x v128) (local $y v128) (local $z v128) (local $w v128) (local $v v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (local.set $x (i16x8.splat (local.get $n)))
    (local.set $y (i16x8.splat (i32.add (local.get $n) (i32.const 3))))
    (local.set $z (i16x8.splat (i32.const 5)))
    (local.set $w (i16x8.splat (i32.const 7)))
    (local.set $v (i16x8.splat (i32.const 11)))
    (loop $round
      (local.set $x (i16x8.add (local.get $x) (local.get $z)))
      (local.set $y (i16x8.add (local.get $y) (local.get $w)))
      (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (local.get $x) (local.get $y))))
      (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (local.get $x) (local.get $z))))
      (local.set $a2 (i32x4.add (local.get $a2) (i32x4.dot_i16x8_s (local.get $x) (local.get $w))))
      (local.set $a3 (i32x4.add (local.get $a3) (i32x4.dot_i16x8_s (local.get $x) (local.get $x))))
      (local.set $a4 (i32x4.add (local.get $a4) (i32x4.dot_i16x8_s (local.get $y) (local.get $y))))
      (local.set $a5 (i32x4.add (local.get $a5) (i32x4.dot_i16x8_s (local.get $y) (local.get $z))))
      (local.set $a6 (i32x4.add (local.get $a6) (i32x4.dot_i16x8_s (local.get $y) (local.get $w))))
      (local.set $a7 (i32x4.add (local.get $a7) (i32x4.dot_i16x8_s (local.get $x) (local.get $v))))
      (br_if $round (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32x4.extract_lane 0
      (i32x4.add
        (i32x4.add (i32x4.add (local.get $a0) (local.get $a1)) (i32x4.add (local.get $a2) (local.get $a3)))
        (i32x4.add (i32x4.add (local.get $a4) (local.get $a5)) (i32x4.add (local.get $a6) (local.get $a7))))))
)
