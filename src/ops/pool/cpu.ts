/**
 * Max-pooling with kernel = stride on the CPU; the backward recomputes each window's argmax,
 * optionally takes the window gradients from a linear head and applies NITRO-ReLU's backward.
 * Both on the maxPool8 / maxPoolBack kernels over a copy of the operands in the workspace,
 * split over threads by planes.
 */
import type { MaxPoolBackwardParams, MaxPoolParams } from '../../backend.ts';
import type { CpuWorkspace } from '../../cpu/gemm.ts';
import { CpuTensor, i32, i8 } from '../../cpu/tensor.ts';
import { share } from '../../cpu/threads.ts';
import { invSlopeTable } from '../activation/cpu.ts';
import { linearInputGrad } from '../linear/cpu.ts';
import { poolGeometry } from './contract.ts';

export function maxPool(cw: CpuWorkspace, p: MaxPoolParams): void {
  const op = 'maxPool';
  const { B, C, H, W, kh, kw, ph, pw, ho: Ho, wo: Wo } = poolGeometry(p);
  const planes = B * C;
  const x = i8(p.x, op);
  const out = i8(p.out, op);
  const { ws, at } = cw.reserve([planes * H * W, planes * Ho * Wo]);
  const [xAt, oAt] = at;
  const xIn = cw.place(ws, x, planes * H * W, xAt);
  const zeroPads = p.padMode === 'zero' ? 1 : 0;
  // Threads take ranges of the planes (b, c).
  // A cell costs about what a multiply-add does: the products' threshold applies to cells.
  cw.parallel(ws, cw.threads(planes * H * W), (t, T, k) => {
    const [p0, p1] = share(planes, t, T);
    if (p0 < p1)
      k.maxPool8(
        xIn + p0 * H * W,
        oAt + p0 * Ho * Wo,
        p1 - p0,
        H,
        W,
        Ho,
        Wo,
        kh,
        kw,
        ph,
        pw,
        zeroPads,
      );
  });
  out.set(ws.i8.subarray(oAt, oAt + planes * Ho * Wo));
  // The next conv reads it next (the backend drops it on any other use of it).
  if (out.length === planes * Ho * Wo) cw.keep(out, oAt);
}

/** The gradient at every pool output [B, C, Ho, Wo]: p.delta, or the head's input gradient g·w (linearInputGrad into a reused array). */
function windowDeltas(
  cw: CpuWorkspace,
  op: string,
  p: MaxPoolBackwardParams,
  shape: readonly number[],
): Int32Array {
  if (p.delta) return i32(p.delta, op);
  const { g, w } = p.head!;
  const [B, C, Ho, Wo] = shape;
  const J = C * Ho * Wo;
  const d = cw.array('pool.head', B * J);
  linearInputGrad(cw, { g, w, out: new CpuTensor([B, J], 'i32', `${op} head gradient`, d, false) });
  return d;
}

export function maxPoolBackward(cw: CpuWorkspace, p: MaxPoolBackwardParams): void {
  const op = 'maxPoolBackward';
  const { B, C, H, W, kh, kw, ph, pw, ho: Ho, wo: Wo } = poolGeometry(p);
  // First: the head's product reserves the workspace itself.
  const delta = windowDeltas(cw, op, p, [B, C, Ho, Wo]);
  const planes = B * C;
  const cells = planes * H * W;
  const windows = planes * Ho * Wo;
  const x = i8(p.x, op);
  const out = i32(p.out, op);
  const { ws, at } = cw.reserve([cells, 4 * windows, p.relu ? cells : 0, 4 * 256, 4 * cells]);
  const [xAt, dAt, sAt, tAt, oAt] = at;
  const xIn = cw.place(ws, x, cells, xAt);
  ws.i32.set(delta.subarray(0, windows), dAt >> 2);
  const sIn = p.relu ? cw.place(ws, i8(p.relu.x, op), cells, sAt) : sAt;
  if (p.relu) {
    ws.i32.set(invSlopeTable(p.relu.slopeInv), tAt >> 2);
  }
  const zeroPads = p.padMode === 'zero' ? 1 : 0;
  const relu = p.relu ? 1 : 0;
  // Threads take ranges of the planes (b, c): a window's cells lie in its plane.
  cw.parallel(ws, cw.threads(cells), (t, T, k) => {
    const [p0, p1] = share(planes, t, T);
    if (p0 < p1)
      k.maxPoolBack(
        xIn + p0 * H * W,
        dAt + 4 * p0 * Ho * Wo,
        sIn + p0 * H * W,
        tAt,
        oAt + 4 * p0 * H * W,
        p1 - p0,
        H,
        W,
        Ho,
        Wo,
        kh,
        kw,
        ph,
        pw,
        zeroPads,
        relu,
      );
  });
  out.set(ws.i32.subarray(oAt >> 2, (oAt >> 2) + cells));
  // The conv weight gradient reads it next (the backend drops it on any other use of out).
  if (out.length === cells) cw.keep(out, oAt);
}
