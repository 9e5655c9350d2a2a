/**
 * Storage traffic of the linear kernels (src/kernels/traffic.ts), exact: what each live
 * invocation of shaders/linear.wgsl or linear-tiled.wgsl loads and stores, summed over the dispatches one call
 * issues. Dimensions [B, K, O] as the variant policy sees them. Defaults of the case: int32 g,
 * one weight limb, the NITRO-ReLU epilogue without bias, the fused IntegerSGD update.
 */
import type { Traffic, TrafficCase } from '../../kernels/traffic.ts';
import { LIMB_PLANES, limbChunkRows } from './gpu.ts';

const words = (n: number) => Math.ceil(n / 4);
const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

/** Bytes the forward's epilogue stores (raw int32 sums or int8 words, plus NITRO-ReLU's). */
function forwardWrites(B: number, O: number, c: TrafficCase): number {
  const epilogue = c.epilogue ?? 'relu';
  if (epilogue === 'raw') return B * O * 4;
  return B * words(O) * 4 * (epilogue === 'relu' ? 2 : 1);
}

/** Loads and stores of pack_weights over rows O0 .. O1 (limb counts, then LIMB_PLANES planes). */
function packWeights(rows: number, K: number): { read: number; write: number } {
  return { read: rows * K * 4, write: rows * (LIMB_PLANES * words(K) + 1) * 4 };
}

function forward(dims: readonly number[], p: Readonly<Record<string, number>>, c: TrafficCase) {
  const [B, K, O] = dims;
  const { TM = 1, TN = 8, DOT4 = 0 } = p;
  const KW = words(K);
  const live = ceilDiv(B, TM);
  const bias = c.bias ? 4 * TN : 0;
  const i32Inner = KW * (4 * TM + 16 * TN);
  let read = 0;
  let write = forwardWrites(B, O, c);
  if (!DOT4) read = ceilDiv(O, TN) * live * (i32Inner + bias);
  else {
    const limbs = Math.max(1, c.limbs ?? 1);
    const inner = limbs > LIMB_PLANES ? i32Inner : limbs * KW * (4 * TM + 4 * TN);
    const rows = limbChunkRows(O, KW);
    for (let O0 = 0; O0 < O; O0 += rows) {
      const n = Math.min(O, O0 + rows) - O0;
      const pack = packWeights(n, K);
      read += pack.read + ceilDiv(n, TN) * live * (4 * TN + inner + bias);
      write += pack.write;
    }
  }
  return { read, write };
}

function inputGrad(dims: readonly number[], p: Readonly<Record<string, number>>, c: TrafficCase) {
  const [B, K, O] = dims;
  const { TM = 1, TN = 8 } = p;
  const read = ceilDiv(K, TN) * ceilDiv(B, TM) * O * (4 * TM + 4 * TN) + (c.relu ? B * K * 4 : 0);
  return { read, write: B * K * 4 };
}

function weightGrad(dims: readonly number[], p: Readonly<Record<string, number>>, c: TrafficCase) {
  const [B, K, O] = dims;
  const { TN = 4 } = p;
  const live = words(K) * ceilDiv(O, TN);
  const sums = live * B * (4 + 4 * TN);
  if (c.sgd ?? true) return { read: sums + live * 4 + O * K * 4, write: O * K * 4 };
  return { read: sums, write: O * K * 4 };
}

/**
 * The tiled variants (linear-tiled.wgsl): each operand element is loaded once per block of the
 * other operand (side 8·TILE), whichever entry point (scalar or vec4 loads) runs.
 */
function tiled(
  op: string,
  dims: readonly number[],
  p: Readonly<Record<string, number>>,
  c: TrafficCase,
) {
  const [B, K, O] = dims;
  const side = 8 * p.TILE;
  const KW = words(K);
  const OW = words(O);
  const gBytes = c.gPacked ? OW * 4 : O * 4;
  if (op === 'linear') {
    const rowBlocks = ceilDiv(B, side);
    const limbs = Math.max(1, c.limbs ?? 1);
    const dot4 = Boolean(p.DOT4);
    // Rows of w per step: int32 values, or the limb planes the block needs.
    const wRow = dot4 && limbs <= LIMB_PLANES ? limbs * KW * 4 : K * 4;
    const rows = dot4 ? limbChunkRows(O, KW) : O;
    let read = 0;
    let write = forwardWrites(B, O, c);
    for (let O0 = 0; O0 < O; O0 += rows) {
      const n = Math.min(O, O0 + rows) - O0;
      read += ceilDiv(n, side) * B * KW * 4 + rowBlocks * n * wRow;
      // The bias once per invocation row of a block, the limb counts once per block.
      if (c.bias) read += rowBlocks * 8 * n * 4;
      if (dot4) {
        const pack = packWeights(n, K);
        read += pack.read + rowBlocks * n * 4;
        write += pack.write;
      }
    }
    return { read, write };
  }
  if (op === 'linearInputGrad') {
    const read =
      ceilDiv(K, side) * B * gBytes + ceilDiv(B, side) * O * K * 4 + (c.relu ? B * KW * 4 : 0);
    return { read, write: B * K * 4 };
  }
  const blocks = ceilDiv(O, side) * ceilDiv(K, side);
  const sums = ceilDiv(K, side) * B * gBytes + ceilDiv(O, side) * B * KW * 4;
  if (c.sgd ?? true) return { read: sums + blocks * 64 * 4 + O * K * 4, write: O * K * 4 };
  return { read: sums, write: O * K * 4 };
}

/** The traffic of one call of a linear op with a variant (linear.wgsl, linear-tiled.wgsl). */
export function linearTraffic(
  op: string,
  dims: readonly number[],
  params: Readonly<Record<string, number>>,
  c: TrafficCase,
): Traffic {
  const [B, K, O] = dims;
  const f =
    op === 'linear'
      ? forward
      : op === 'linearInputGrad'
        ? inputGrad
        : op === 'linearWeightGrad'
          ? weightGrad
          : undefined;
  if (!f) throw new Error(`linearTraffic: ${op} is not a linear op`);
  const { read, write } = params.TILE ? tiled(op, dims, params, c) : f(dims, params, c);
  return { readBytes: read, writeBytes: write, macs: B * K * O };
}
