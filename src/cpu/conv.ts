/**
 * Stride-1 zero-padded integer convolution on the CPU: forward with the NITRO epilogue, weight
 * gradient; both on the kernels of wasm.ts over a zero-padded copy of the input.
 */
import type { Conv2dParams, Tensor } from '../backend.ts';
import { reserve, roundUp, type Workspace } from './gemm.ts';
import { addBias, scratchZ, storeWithEpilogue, unpackRows } from './linear.ts';
import { expectShape, i32, i8 } from './tensor.ts';

function geometry(op: string, x: Tensor, w: Tensor, padding: number) {
  const [B, C, H, W] = x.shape;
  const [F, Cw, k, k2] = w.shape;
  if (x.shape.length !== 4 || w.shape.length !== 4 || Cw !== C || k !== k2) {
    throw new Error(`${op}: input ${x.label} [${x.shape.join(', ')}] and weights ${w.label} [${w.shape.join(', ')}] do not fit`);
  }
  const Ho = H + 2 * padding - k + 1;
  const Wo = W + 2 * padding - k + 1;
  if (Ho <= 0 || Wo <= 0) throw new Error(`${op}: kernel ${k} is larger than the padded input ${H}x${W}`);
  return { B, C, H, W, F, k, Ho, Wo };
}

/**
 * The padded input in the workspace: [B, C, Hp, Wp] int8 with zero borders, and the table of
 * the k·k·C window offsets (c, u, v) -> c·Hp·Wp + u·Wp + v (zero for padding rows up to `rows`).
 */
function paddedInput(
  x: Int8Array,
  g: { B: number; C: number; H: number; W: number; k: number },
  pad: number,
  ws: Workspace,
  rawAt: number,
  padAt: number,
  tableAt: number,
  rows: number,
): { plane: number; Wp: number; xAt: number } {
  const { B, C, H, W, k } = g;
  const Hp = H + 2 * pad;
  const Wp = W + 2 * pad;
  const plane = Hp * Wp;
  ws.i8.set(x.subarray(0, B * C * H * W), rawAt);
  let xAt = rawAt;
  if (pad > 0) {
    ws.i8.fill(0, padAt, padAt + B * C * plane);
    ws.k.copyRows(rawAt, padAt + pad * Wp + pad, B * C, H * W, plane, H, W, Wp, W);
    xAt = padAt;
  }
  const t = ws.i32;
  const o = tableAt >> 2;
  let m = 0;
  for (let c = 0; c < C; c++) for (let u = 0; u < k; u++) for (let v = 0; v < k; v++) t[o + m++] = c * plane + u * Wp + v;
  t.fill(0, o + m, o + rows);
  return { plane, Wp, xAt };
}

/**
 * z[b, f] = Σ_(c,u,v) w[f, c, u, v] · xpad[b, c, u + i, v + j]: per sample, the axpy kernel with
 * the input windows as its int8 B operand (rows (c, u, v) by table, 8 output columns of one
 * output row per panel; columns past Wo are computed and dropped).
 */
export function conv2d(p: Conv2dParams): void {
  const op = 'conv2d';
  const g = geometry(op, p.x, p.w, p.padding);
  const { B, C, H, W, F, k, Ho, Wo } = g;
  expectShape(op, p.out, [B, F, Ho, Wo]);
  if (p.bias) expectShape(op, p.bias, [F]);
  const x = i8(p.x, op);
  const w = i32(p.w, op);
  const pad = p.padding;
  const CKK = C * k * k;
  const F4 = roundUp(F, 4);
  const Wo8 = roundUp(Wo, 8);
  const panels = (Ho * Wo8) / 8;
  const sampleX = C * (H + 2 * pad) * (W + 2 * pad);
  const out = Ho * Wo;
  const { ws, at } = reserve([B * C * H * W, pad > 0 ? B * sampleX : 0, 4 * CKK, 4 * panels, 4 * F4 * CKK, 4 * F4 * Ho * Wo8, 4 * B * F * out]);
  const [rawAt, padAt, rowT, panelT, wAt, cAt, zAt] = at;
  const { Wp, xAt } = paddedInput(x, g, pad, ws, rawAt, padAt, rowT, CKK);
  const t = ws.i32;
  for (let i = 0, q = panelT >> 2; i < Ho; i++) for (let jb = 0; jb < Wo8; jb += 8) t[q++] = i * Wp + jb;
  t.set(w.subarray(0, F * CKK), wAt >> 2);
  for (let b = 0; b < B; b++) {
    ws.k.axpy8(wAt, 4 * CKK, 4, xAt + b * sampleX, rowT, panelT, cAt, 4 * Ho * Wo8, F4, panels, CKK, 0);
    ws.k.copyRows(cAt, zAt + 4 * b * F * out, F * Ho, 4 * Wo8, 4 * Wo, 1, 0, 0, 4 * Wo);
  }
  const z = scratchZ(B * F * out);
  z.set(t.subarray(zAt >> 2, (zAt >> 2) + B * F * out));
  if (p.bias) addBias(z, i32(p.bias, op), F, out);
  storeWithEpilogue(op, z, p.out, p.epilogue);
}

/**
 * out[F, C, k, k] = Σ_b,i,j delta[b,f,i,j] · xpad[b,c,i+u,j+v]: the dot16 kernel with input
 * windows (c, u, v) as int8 rows and delta rows (zero-padded to whole vectors, split into int16
 * halves) as the other operand, summed over the samples.
 */
export function conv2dWeightGrad(p: { delta: Tensor; x: Tensor; padding: number; out: Tensor }): void {
  const op = 'conv2dWeightGrad';
  const g = geometry(op, p.x, p.out, p.padding);
  const { B, C, H, W, F, k, Ho, Wo } = g;
  expectShape(op, p.delta, [B, F, Ho, Wo]);
  const d = i32(p.delta, op);
  const x = i8(p.x, op);
  const pad = p.padding;
  const CKK = C * k * k;
  const CKK2 = roundUp(CKK, 2);
  const F2 = roundUp(F, 2);
  const Wo8 = roundUp(Wo, 8);
  const sampleX = C * (H + 2 * pad) * (W + 2 * pad);
  const sampleD = F * Ho * Wo8;
  const padded = Wo8 !== Wo;
  // An odd F reads one delta row past the last sample: the halves get a row of slack.
  const halves = 2 * (B * sampleD + Ho * Wo8);
  const { ws, at } = reserve([B * C * H * W, pad > 0 ? B * sampleX : 0, 4 * CKK2, 4 * B * F * Ho * Wo, padded ? 4 * B * sampleD : 0, halves, halves, 4 * F2 * CKK2]);
  const [rawAt, padAt, pT, dRaw, dPad, lo, hi, cAt] = at;
  const { Wp, xAt } = paddedInput(x, g, pad, ws, rawAt, padAt, pT, CKK2);
  ws.i32.set(d.subarray(0, B * F * Ho * Wo), dRaw >> 2);
  let dAt = dRaw;
  if (padded) {
    ws.i32.fill(0, dPad >> 2, (dPad >> 2) + B * sampleD);
    ws.k.copyRows(dRaw, dPad, B * F * Ho, 4 * Wo, 4 * Wo8, 1, 0, 0, 4 * Wo);
    dAt = dPad;
  }
  ws.k.split16(dAt, 4 * Wo8, lo, hi, 2 * Wo8, B * F * Ho, Wo8 / 8);
  for (let b = 0; b < B; b++) {
    const q = 2 * b * sampleD;
    ws.k.dot16(pT, xAt + b * sampleX, lo + q, hi + q, 2 * Ho * Wo8, cAt, 4, 4 * CKK2, CKK2, F2, Ho, Wo8 / 8, Wp, 2 * Wo8, b > 0 ? 1 : 0);
  }
  unpackRows(ws, cAt, F, CKK, 4 * CKK2, i32(p.out, op));
}
