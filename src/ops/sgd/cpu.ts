/** IntegerSGD (docs/algorithm.md §5) on the CPU, alone or after a weight gradient. */
import type { SgdUpdate, Tensor } from '../../backend.ts';
import { type CpuWorkspace, sgdMagic, type Workspace } from '../../cpu/gemm.ts';
import { i32 } from '../../cpu/tensor.ts';
import type { Kernels } from '../../cpu/wasm.ts';
import { share } from '../../cpu/threads.ts';
import type { IntegerSgdParams } from './contract.ts';

/**
 * w -= trunc(g / D) (+ trunc(w / decayInv)) with D = amp·lrInv. One division replaces
 * trunc(trunc(g / amp) / lrInv): the two are equal for positive divisors, and the double
 * quotient truncates exactly (|g| ≤ 2^31; a D too large to be exact makes both quotients 0).
 */
function sgdStep(w: Int32Array, g: Int32Array, n: number, D: number, decayInv: number): void {
  if (decayInv > 0) {
    for (let i = 0; i < n; i++) {
      const wi = w[i];
      w[i] = (wi - ((((g[i] / D) | 0) + ((wi / decayInv) | 0)) | 0)) | 0;
    }
  } else {
    for (let i = 0; i < n; i++) w[i] = (w[i] - ((g[i] / D) | 0)) | 0;
  }
}

/** Weights and gradient as flat arrays of one size (checked by the contract). */
function update(op: string, w: Tensor, grad: Int32Array, p: Omit<SgdUpdate, 'w'>): void {
  const wv = i32(w, op);
  sgdStep(wv, grad, wv.length, p.amp * lrInvOf(op, p), p.decayInv);
}

function lrInvOf(op: string, p: Omit<SgdUpdate, 'w'>): number {
  const lrInv = i32(p.lrInv, op)[0];
  // A value on the device, so only known here: the GPU cannot refuse it.
  if (lrInv <= 0) throw new Error(`${op}: lrInv ${lrInv} (in ${p.lrInv.label}) must be positive`);
  return lrInv;
}

/** The sgd kernel's arguments for an update, or null where it does not take the divisors. */
export interface KernelSgd {
  d: number;
  m: number;
  s: number;
  decayInv: number;
  mDecay: number;
  sDecay: number;
}

/**
 * The sgd kernel's divisors for `sgd` (D = amp·lrInv and decayInv with their magic numbers), or
 * null for divisors the kernel does not take (1, or 2^31 and up): the caller then updates with
 * fusedSgd. Checks lrInv either way.
 */
export function kernelSgd(op: string, sgd: SgdUpdate): KernelSgd | null {
  const d = sgd.amp * lrInvOf(op, sgd);
  if (d < 2 || d >= 2 ** 31 || sgd.decayInv === 1) return null;
  const lr = sgdMagic(d);
  const decay = sgd.decayInv > 0 ? sgdMagic(sgd.decayInv) : { m: 0, s: 0 };
  return { d, m: lr.m, s: lr.s, decayInv: sgd.decayInv, mDecay: decay.m, sDecay: decay.s };
}

/** The update of elements [start, end) of the weights at wAt by the gradient at gAt. */
export function sgdRange(
  k: Kernels,
  u: KernelSgd,
  wAt: number,
  gAt: number,
  start: number,
  end: number,
): void {
  if (start < end) k.sgd(wAt, gAt, start, end, u.d, u.m, u.s, u.decayInv, u.mDecay, u.sDecay);
}

/**
 * The fused update on the workspace's kernels: the gradient (dense int32, as many elements as
 * the weights) at byte offset gAt, the weights copied to wAt, updated there (the sgd kernel) and
 * copied back. False, with nothing done, for divisors the kernel does not take (see kernelSgd).
 * With `cw`, the update splits over its threads.
 */
export function fusedSgdInWorkspace(
  op: string,
  ws: Workspace,
  sgd: SgdUpdate,
  gAt: number,
  wAt: number,
  cw?: CpuWorkspace,
): boolean {
  const u = kernelSgd(op, sgd);
  if (!u) return false;
  const wv = i32(sgd.w, op);
  const w32 = wAt >> 2;
  ws.i32.set(wv, w32);
  // With `cw`, threads take ranges of the elements (of whole vectors).
  const n = wv.length;
  if (cw) {
    cw.parallel(ws, cw.threads(n), (t, T, k) => {
      const [start, end] = share(n, t, T, 16);
      sgdRange(k, u, wAt, gAt, start, end);
    });
  } else sgdRange(ws.k, u, wAt, gAt, 0, n);
  wv.set(ws.i32.subarray(w32, w32 + wv.length));
  return true;
}

export function integerSgd(p: IntegerSgdParams): void {
  update('integerSgd', p.w, i32(p.grad, 'integerSgd'), p);
}

/** The update a weight-gradient op fuses (Ops SgdUpdate), with the gradient in `grad`. */
export function fusedSgd(op: string, sgd: SgdUpdate, grad: Tensor): void {
  update(op, sgd.w, i32(grad, op), sgd);
}
