/**
 * The learning head's pooling of a conv block (docs/algorithm.md §1.4): spec validation and the
 * model geometry both size heads with it.
 */

export interface HeadPooling {
  /** Max-pool before the head's linear layer (window = stride), absent when the block output already fits. */
  pool?: { kernel: [number, number]; padding: [number, number] };
  /** Per-sample shape fed to the head's flatten: [C, dh, dw] for a conv block, [O] for a linear one. */
  pooledShape: number[];
  /** Flattened size d_lr. */
  dlr: number;
}

/**
 * The learning head's pooling for a conv block output of C×H×W with target size `target`
 * (`headDim`), docs/algorithm.md §1.4: double the window height, then the width, until the flattened
 * size fits or the window covers the map's height; pad so that the pooled map has
 * ⌈H/kh⌉×⌈W/kw⌉ cells. The reference assumes square maps; for H ≠ W height terms use H and
 * width terms W, which is the same algorithm when H = W.
 */
export function headPooling(
  channels: number,
  height: number,
  width: number,
  target: number,
): HeadPooling {
  let kh = 1;
  let kw = 1;
  let dh = height;
  let dw = width;
  let d = channels * dh * dw;
  while (d > target && kh < height) {
    kh *= 2;
    dh = ceilDiv(height, kh);
    d = channels * dh * dw;
    if (d > target) {
      kw *= 2;
      dw = ceilDiv(width, kw);
      d = channels * dh * dw;
    }
  }
  if (kh === 1 && kw === 1) return { pooledShape: [channels, height, width], dlr: d };
  const ph = div(kh * (dh - div(height, kh)), 2);
  const pw = div(kw * (dw - div(width, kw)), 2);
  // The pool's own output size, floor((H + 2p - k) / k) + 1, equals ⌈H/k⌉ for these pads.
  const oh = div(height + 2 * ph - kh, kh) + 1;
  const ow = div(width + 2 * pw - kw, kw) + 1;
  if (oh !== dh || ow !== dw)
    throw new Error(`headPooling: pooled ${oh}x${ow} differs from ${dh}x${dw}`);
  return { pool: { kernel: [kh, kw], padding: [ph, pw] }, pooledShape: [channels, dh, dw], dlr: d };
}

function div(a: number, b: number): number {
  return Math.trunc(a / b);
}

function ceilDiv(a: number, b: number): number {
  return div(a + b - 1, b);
}
