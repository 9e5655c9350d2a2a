/**
 * The traffic model of every GEMM-shaped op (src/kernels/traffic.ts): the family's formula for
 * a variant at a shape. `nitro-d bench-kernels --traffic` reports these; test/traffic.test.ts
 * checks each against the count on the current adapter.
 */
import type { GemmOp, VariantChoice } from '../kernels/gemm-tiles.ts';
import type { Traffic, TrafficCase } from '../kernels/traffic.ts';
import { convTraffic } from './conv/traffic.ts';
import { linearTraffic } from './linear/traffic.ts';

/** Storage traffic of one call of `op` with `variant` at `dims` (gemm-tiles.ts shapeKey order). */
export function gemmTraffic(
  op: GemmOp,
  dims: readonly number[],
  variant: VariantChoice,
  c: TrafficCase = {},
): Traffic {
  return op === 'conv2d' || op === 'conv2dWeightGrad'
    ? convTraffic(op, dims, variant.params, c)
    : linearTraffic(op, dims, variant.params, c);
}
