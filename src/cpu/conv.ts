/** Stride-1 zero-padded integer convolution on the CPU: forward with the NITRO epilogue, weight gradient. */
import type { Conv2dParams, Tensor } from '../backend.ts';
import { storeWithEpilogue } from './linear.ts';
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

export function conv2d(p: Conv2dParams): void {
  const op = 'conv2d';
  const { B, C, H, W, F, k, Ho, Wo } = geometry(op, p.x, p.w, p.padding);
  expectShape(op, p.out, [B, F, Ho, Wo]);
  if (p.bias) expectShape(op, p.bias, [F]);
  const x = i8(p.x, op);
  const w = i32(p.w, op);
  const bias = p.bias ? i32(p.bias, op) : undefined;
  const pad = p.padding;
  const plane = Ho * Wo;
  const z = new Int32Array(B * F * plane);
  for (let b = 0; b < B; b++) {
    for (let f = 0; f < F; f++) {
      const zo = (b * F + f) * plane;
      if (bias) z.fill(bias[f], zo, zo + plane);
      for (let c = 0; c < C; c++) {
        const xc = (b * C + c) * H * W;
        for (let u = 0; u < k; u++) {
          for (let v = 0; v < k; v++) {
            const wv = w[((f * C + c) * k + u) * k + v];
            if (wv === 0) continue;
            // Output rows/cols whose input tap (i+u-pad, j+v-pad) lies inside the image.
            const i0 = Math.max(0, pad - u);
            const i1 = Math.min(Ho, H + pad - u);
            const j0 = Math.max(0, pad - v);
            const j1 = Math.min(Wo, W + pad - v);
            for (let i = i0; i < i1; i++) {
              const xr = xc + (i + u - pad) * W + (v - pad);
              const zr = zo + i * Wo;
              for (let j = j0; j < j1; j++) z[zr + j] = (z[zr + j] + Math.imul(wv, x[xr + j])) | 0;
            }
          }
        }
      }
    }
  }
  storeWithEpilogue(op, z, p.out, p.epilogue);
}

/** out[F, C, k, k] = Σ_b,i,j delta[b,f,i,j] · xpad[b,c,i+u,j+v]. */
export function conv2dWeightGrad(p: { delta: Tensor; x: Tensor; padding: number; out: Tensor }): void {
  const op = 'conv2dWeightGrad';
  const { B, C, H, W, F, k, Ho, Wo } = geometry(op, p.x, p.out, p.padding);
  expectShape(op, p.delta, [B, F, Ho, Wo]);
  const d = i32(p.delta, op);
  const x = i8(p.x, op);
  const out = i32(p.out, op);
  const pad = p.padding;
  for (let f = 0; f < F; f++) {
    for (let c = 0; c < C; c++) {
      for (let u = 0; u < k; u++) {
        for (let v = 0; v < k; v++) {
          const i0 = Math.max(0, pad - u);
          const i1 = Math.min(Ho, H + pad - u);
          const j0 = Math.max(0, pad - v);
          const j1 = Math.min(Wo, W + pad - v);
          let acc = 0;
          for (let b = 0; b < B; b++) {
            const dp = (b * F + f) * Ho * Wo;
            const xc = (b * C + c) * H * W;
            for (let i = i0; i < i1; i++) {
              const dr = dp + i * Wo;
              const xr = xc + (i + u - pad) * W + (v - pad);
              for (let j = j0; j < j1; j++) acc = (acc + Math.imul(d[dr + j], x[xr + j])) | 0;
            }
          }
          out[((f * C + c) * k + u) * k + v] = acc;
        }
      }
    }
  }
}
