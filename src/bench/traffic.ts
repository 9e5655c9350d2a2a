/**
 * Storage traffic of every kernel variant at the kernel benchmark's layer shapes
 * (`nitro-d bench-kernels --traffic`): bytes read from and written to storage buffers per
 * multiply-add of one op call, from the variants' traffic models (src/ops/traffic.ts, checked
 * against counts on the adapter by test/traffic.test.ts) in the benchmark's case: fresh
 * weights (one int8 limb), the NITRO-ReLU epilogue (scaling only on an output layer), int32
 * deltas, the IntegerSGD update fused into the weight gradient, and a conv delta with one
 * non-zero pixel per window of its head's max pooling. Needs no GPU: the figure is the same on
 * every adapter.
 */
import { leastTraffic } from '../gpu/variant-policy.ts';
import { defaultVariant, type GemmOp, variantsOf } from '../kernels/gemm-tiles.ts';
import { perMac, type TrafficCase } from '../kernels/traffic.ts';
import { gemmTraffic } from '../ops/traffic.ts';
import type { KernelShape } from './kernels.ts';
import { table } from './util.ts';

/** One (layer, op, variant) of the traffic table. */
export interface KernelTrafficRow {
  layer: string;
  op: GemmOp;
  variant: string;
  /** [B, K, O] or [B, C, H, W, F, k, padding]. */
  dims: number[];
  macs: number;
  readBytes: number;
  writeBytes: number;
  readPerMac: number;
  writePerMac: number;
  /** The default on software adapters (the measured table). */
  softwareDefault: boolean;
  /** The default on hardware adapters until tuned (least read traffic). */
  hardwareDefault: boolean;
}

/** Pooling windows of a map (the non-zero pixels a head's max-pool backward leaves). */
function windows(
  h: number,
  w: number,
  pool: { kernel: [number, number]; padding: [number, number] },
) {
  const n = (size: number, k: number, p: number) => Math.floor((size + 2 * p - k) / k) + 1;
  return n(h, pool.kernel[0], pool.padding[0]) * n(w, pool.kernel[1], pool.padding[1]);
}

/** The benchmark's calls of a layer: op, dimensions and traffic case. */
export function trafficCalls(s: KernelShape): { op: GemmOp; dims: number[]; c: TrafficCase }[] {
  if (s.kind === 'linear') {
    const dims = [s.batch, s.inFeatures, s.outFeatures];
    return [
      { op: 'linear', dims, c: { epilogue: s.output ? 'scaled' : 'relu', limbs: 1 } },
      { op: 'linearInputGrad', dims, c: { gPacked: false } },
      { op: 'linearWeightGrad', dims, c: { gPacked: false, sgd: true } },
    ];
  }
  const dims = [s.batch, s.channels, s.height, s.width, s.filters, s.kernel, s.padding];
  const HO = s.height + 2 * s.padding - s.kernel + 1;
  const WO = s.width + 2 * s.padding - s.kernel + 1;
  return [
    { op: 'conv2d', dims, c: { epilogue: 'relu', limbs: 1 } },
    {
      op: 'conv2dWeightGrad',
      dims,
      c: { sgd: true, nonZeroPerMap: s.headPool ? windows(HO, WO, s.headPool) : HO * WO },
    },
  ];
}

/** Every variant's traffic at every shape, in the benchmark's row order. */
export function kernelTraffic(shapes: readonly KernelShape[]): KernelTrafficRow[] {
  const rows: KernelTrafficRow[] = [];
  for (const s of shapes)
    for (const { op, dims, c } of trafficCalls(s)) {
      const hw = leastTraffic(op, dims, variantsOf(op), c)?.label;
      for (const v of variantsOf(op)) {
        const t = gemmTraffic(op, dims, v, c);
        const per = perMac(t);
        rows.push({
          layer: s.layer,
          op,
          variant: v.label,
          dims,
          macs: t.macs,
          readBytes: t.readBytes,
          writeBytes: t.writeBytes,
          readPerMac: per.read,
          writePerMac: per.write,
          softwareDefault: v.label === defaultVariant(op).label,
          hardwareDefault: v.label === hw,
        });
      }
    }
  return rows;
}

const fixed = (v: number) => (v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));

/** The traffic table as text: bytes per multiply-add, defaults marked. */
export function formatKernelTraffic(rows: readonly KernelTrafficRow[]): string {
  const lines = table(
    ['layer', 'op', 'variant', 'MMAC', 'read B/MAC', 'write B/MAC', 'default'],
    rows.map((r) => [
      r.layer,
      r.op,
      r.variant,
      (r.macs / 1e6).toFixed(1),
      fixed(r.readPerMac),
      fixed(r.writePerMac),
      [r.softwareDefault ? 'software' : '', r.hardwareDefault ? 'hardware' : '']
        .filter(Boolean)
        .join(', '),
    ]),
    [false, false, false, true, true, true, false],
  );
  return [
    'storage bytes per multiply-add of one call (traffic models, checked against counts by test/traffic.test.ts)',
    'default: software = measured winner on software adapters; hardware = least read traffic, the default on hardware adapters until tuned',
    ...lines,
  ].join('\n');
}
