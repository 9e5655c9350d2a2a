/**
 * Arithmetic cost of one op call, from the shapes of its tensors: multiply-accumulates of the
 * matrix ops (linear, conv and their gradients), 0 for element-wise ops. Integer bookkeeping,
 * the same counting as the model geometry (src/model/geometry.ts), so the calls of a training
 * step add up to `trainingStepOps`.
 */
import { type Ops, rowsOf, type Tensor } from '../backend.ts';

export type OpName = keyof Ops;

/** What one op call costs: multiply-adds and bytes moved (benchmarks' throughput figures). */
export interface OpCost {
  /** Multiply-accumulates of the call (0 for element-wise ops). */
  macs: number;
  /** The call's shape in words, e.g. "64x784 -> 100" or "64x1x28x28 * 128x3x3". */
  shape: string;
}

const dims = (t: Tensor) => t.shape.join('x');

/** The cost of one op call from its parameters' shapes. */
export function opCost(op: OpName, params: unknown): OpCost {
  const p = params as Record<string, Tensor>;
  switch (op) {
    case 'linear': {
      const { rows: B, rowLength: K } = rowsOf(p.x.shape);
      const O = p.w.shape[0];
      return { macs: B * O * K, shape: `${B}x${K} -> ${O}` };
    }
    case 'linearInputGrad': {
      const { rows: B, rowLength: O } = rowsOf(p.g.shape);
      const K = p.w.shape[1];
      return { macs: B * O * K, shape: `${B}x${O} -> ${K}` };
    }
    case 'linearWeightGrad': {
      const { rows: B, rowLength: O } = rowsOf(p.g.shape);
      const { rowLength: K } = rowsOf(p.x.shape);
      return { macs: B * O * K, shape: `${O}x${K} over ${B}` };
    }
    case 'conv2d': {
      const [B, F, HO, WO] = p.out.shape;
      const [, C, k] = p.w.shape;
      return { macs: B * F * HO * WO * C * k * k, shape: `${dims(p.x)} * ${dims(p.w)}` };
    }
    case 'conv2dWeightGrad': {
      const [B, F, HO, WO] = p.delta.shape;
      const w = p.out ?? (params as { sgd: { w: Tensor } }).sgd.w;
      const [, C, k] = w.shape;
      return { macs: B * F * HO * WO * C * k * k, shape: `${dims(w)} over ${dims(p.x)}` };
    }
    default: {
      const shaped = p.out ?? p.w ?? p.x ?? p.cursor;
      return { macs: 0, shape: shaped ? dims(shaped) : '' };
    }
  }
}
