/**
 * Kernel microbenchmarks: the linear and conv layers of the paper's networks (forward with the
 * fused NITRO epilogue as in training, input gradient of the linear layers, and weight gradient
 * with its IntegerSGD update fused as in training) on random data at a batch size (a conv
 * layer's delta as sparse as its head's max-pool backward leaves it in training), each op
 * recorded alone and replayed, so backends and kernel versions compare layer by layer. With
 * `variants`, each op is recorded and timed once per kernel variant of the WebGPU engine (a
 * recorded program keeps the pipelines it was recorded with).
 */
import type { Backend, Ops, Tensor } from '../backend.ts';
import { CpuBackend } from '../cpu-backend.ts';
import { WebGPUBackend } from '../gpu/webgpu-backend.ts';
import { withForcedVariant } from '../gpu/variants.ts';
import { variantsOf, type VariantChoice } from '../kernels/gemm-tiles.ts';
import { getPreset } from '../model/presets.ts';
import { planFromSpec } from '../model/plan.ts';
import { type HeadPool, keepOnePerWindow } from './tune.ts';
import { Rng } from '../rng.ts';
import { type KernelTiming, resolveTiming, timeProgram } from './timing.ts';
import { gops, runtimeName, type Runtime, sig } from './util.ts';

/** A layer shape the kernel benchmark times (linear or conv, with batch). */
export type KernelShape =
  | {
      kind: 'linear';
      layer: string;
      batch: number;
      inFeatures: number;
      outFeatures: number;
      output?: boolean;
    }
  | {
      kind: 'conv';
      layer: string;
      batch: number;
      channels: number;
      height: number;
      width: number;
      filters: number;
      kernel: number;
      padding: number;
      /** The block's head pooling: the weight gradient's delta then has one non-zero pixel per window, as in training. */
      headPool?: HeadPool;
    };

/** Which op of a layer a kernel benchmark row times. */
export type KernelOp =
  | 'linear'
  | 'linearInputGrad'
  | 'linearWeightGrad'
  | 'conv2d'
  | 'conv2dWeightGrad';

/** One timed (shape, op, variant) of the kernel benchmark. */
export interface KernelBenchRow {
  layer: string;
  op: KernelOp;
  /** WGSL kernel name on WebGPU, the op name on the CPU. */
  kernel: string;
  /** Kernel variant label on WebGPU (e.g. "tm4-tn4-dot4"), null on a backend without variants. */
  variant: string | null;
  /** Whether this is the variant the engine picks for this shape when nothing is forced. */
  isDefault: boolean;
  shape: string;
  /** Integer operations (2 per multiply-accumulate) of one call. */
  ops: number;
  /** Milliseconds per call, or null when skipped. */
  ms: number | null;
  gops: number | null;
  reps: number;
  skipped?: string;
}

/** The kernel benchmark of one shape: its rows and the backend it ran on. */
export interface KernelBenchResult {
  backend: Backend['kind'];
  /** The CPU backend's thread count (absent on WebGPU). */
  threads?: number;
  adapter: string;
  runtime: Runtime;
  timing: 'timestamps' | 'solo';
  rows: KernelBenchRow[];
  /**
   * The CPU backend's per-core ceiling in GOP/s: its register-only i32x4.dot_i16x8_s loop (null
   * on WebGPU, and on the CPU with JavaScript kernels).
   */
  peakGops?: number | null;
}

/** Options of {@link benchKernels}. */
export interface KernelBenchOptions {
  timing?: Exclude<KernelTiming, 'none'>;
  /** Each op is replayed until about this many milliseconds (default 50). */
  targetMs?: number;
  /** At most this many replays per op (default 100). */
  maxReps?: number;
  /** Ops of more integer operations than this are skipped (a slow backend's time budget). */
  maxOps?: number;
  /** Time every kernel variant of each op on WebGPU, not only the default (default false). */
  variants?: boolean;
  /** Called with every row as soon as it is timed. */
  onRow?: (row: KernelBenchRow) => void;
  /** The CPU backend's thread count, recorded in the result. */
  threads?: number;
}

/**
 * The layer shapes of the paper's MLP1 and MLP2 (hidden and output layers) and VGG8B's conv
 * layers on 28×28 inputs, at a batch size; shapes shared by several networks appear once.
 */
export function paperKernelShapes(batch = 64): KernelShape[] {
  const shapes: KernelShape[] = [];
  const seen = new Map<string, KernelShape>();
  const add = (key: string, shape: KernelShape) => {
    const hit = seen.get(key);
    if (hit) hit.layer += ` = ${shape.layer}`;
    else {
      seen.set(key, shape);
      shapes.push(shape);
    }
  };
  for (const name of ['mlp1', 'mlp2']) {
    const g = getPreset(name).spec;
    let k = g.input.reduce((a, b) => a * b, 1);
    g.hidden.forEach((o, i) => {
      add(`l${k},${o}`, {
        kind: 'linear',
        layer: `${name} fc${i + 1}`,
        batch,
        inFeatures: k,
        outFeatures: o,
      });
      k = o;
    });
    add(`o${k},${g.classes}`, {
      kind: 'linear',
      layer: `${name} out`,
      batch,
      inFeatures: k,
      outFeatures: g.classes,
      output: true,
    });
  }
  const vgg = getPreset('vgg8b').spec;
  const convBlocks = planFromSpec(vgg).blocks.filter((b) => b.kind === 'conv');
  let [c, h, w] = vgg.input;
  let n = 0;
  for (const f of vgg.features) {
    if ('conv' in f) {
      n++;
      add(`c${c},${h},${w},${f.conv},${f.kernel},${f.padding}`, {
        kind: 'conv',
        layer: `vgg8b conv${n}`,
        batch,
        channels: c,
        height: h,
        width: w,
        filters: f.conv,
        kernel: f.kernel,
        padding: f.padding,
        headPool: convBlocks[n - 1]?.head.pool,
      });
      [c, h, w] = [f.conv, h + 2 * f.padding - f.kernel + 1, w + 2 * f.padding - f.kernel + 1];
    } else {
      h = Math.trunc(h / f.pool);
      w = Math.trunc(w / f.pool);
    }
  }
  return shapes;
}

/** The forward layers' gradient amplification of the paper's runs (every preset has the same). */
const LR_AMP = getPreset('vgg8b').spec.training.lrAmp;

function random(rng: Rng, n: number, lo: number, hi: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(lo, hi);
  return out;
}

interface Case {
  op: KernelOp;
  shape: string;
  macs: number;
  /** The dimensions the kernel wrapper picks a variant by. */
  dims: number[];
  issue: (ops: Ops) => void;
}

/** The ops timed for a layer, in row order. */
export function kernelOpsOf(s: KernelShape): KernelOp[] {
  return s.kind === 'linear'
    ? ['linear', 'linearInputGrad', 'linearWeightGrad']
    : ['conv2d', 'conv2dWeightGrad'];
}

/** The variants timed for an op: every one with `variants` on WebGPU, else the default alone (undefined). */
function variantsToTime(
  op: KernelOp,
  gpu: boolean,
  variants: boolean,
): (VariantChoice | undefined)[] {
  return gpu && variants ? [...variantsOf(op)] : [undefined];
}

/** How many rows benchKernels produces for these shapes (for progress bars). */
export function kernelBenchRowCount(
  shapes: KernelShape[],
  options: { webgpu: boolean; variants?: boolean },
): number {
  let n = 0;
  for (const s of shapes)
    for (const op of kernelOpsOf(s))
      n += variantsToTime(op, options.webgpu, options.variants ?? false).length;
  return n;
}

/**
 * The fastest row of each layer and op among rows of several variants (layers and ops timed with
 * one variant only have none).
 */
export function fastestVariantRows(rows: readonly KernelBenchRow[]): Set<KernelBenchRow> {
  const groups = new Map<string, KernelBenchRow[]>();
  for (const r of rows) {
    const key = `${r.layer}\u0000${r.op}`;
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  const out = new Set<KernelBenchRow>();
  for (const g of groups.values()) {
    if (g.length < 2) continue;
    let best: KernelBenchRow | undefined;
    for (const r of g)
      if (r.ms !== null && r.ms > 0 && (!best || r.ms < (best.ms ?? Infinity))) best = r;
    if (best) out.add(best);
  }
  return out;
}

/** Allocates random operands for a layer; its forward and gradient ops, to record. */
function layerCases(backend: Backend, s: KernelShape, rng: Rng, tensors: Tensor[]): Case[] {
  const t = (shape: number[], dtype: 'i8' | 'i32', label: string, lo?: number, hi?: number) => {
    const tensor = backend.tensor(shape, dtype, label);
    tensors.push(tensor);
    if (lo !== undefined && hi !== undefined)
      backend.write(tensor, random(rng, tensor.size, lo, hi));
    return tensor;
  };
  const B = s.batch;
  // A large inverse learning rate: replays barely move the updated weights.
  const lrInv = t([1], 'i32', 'bench.lrInv', 1 << 20, 1 << 20);
  if (s.kind === 'linear') {
    const { inFeatures: K, outFeatures: O } = s;
    const x = t([B, K], 'i8', 'bench.x', -127, 127);
    const w = t([O, K], 'i32', 'bench.w', -64, 64);
    const out = t([B, O], 'i8', 'bench.s');
    const relu = s.output ? undefined : { out: t([B, O], 'i8', 'bench.a'), slopeInv: 4 };
    const g = t([B, O], 'i32', 'bench.delta', -4096, 4096);
    const dx = t([B, K], 'i32', 'bench.dx');
    // The update goes to its own weights, so the forward's limb count stays that of fresh weights.
    const sgd = { w: t([O, K], 'i32', 'bench.updated', -64, 64), lrInv, amp: LR_AMP, decayInv: 0 };
    const macs = B * O * K;
    const dims = [B, K, O];
    return [
      {
        op: 'linear',
        shape: `${B}x${K} -> ${O}`,
        macs,
        dims,
        issue: (ops) => ops.linear({ x, w, out, epilogue: { scale: 256 * K, relu } }),
      },
      {
        op: 'linearInputGrad',
        shape: `${B}x${O} * ${O}x${K}`,
        macs,
        dims,
        issue: (ops) => ops.linearInputGrad({ g, w, out: dx }),
      },
      {
        op: 'linearWeightGrad',
        shape: `${O}x${K} over ${B}`,
        macs,
        dims,
        issue: (ops) => ops.linearWeightGrad({ g, x, sgd }),
      },
    ];
  }
  const { channels: C, height: H, width: W, filters: F, kernel: k, padding } = s;
  const HO = H + 2 * padding - k + 1;
  const WO = W + 2 * padding - k + 1;
  const x = t([B, C, H, W], 'i8', 'bench.x', -127, 127);
  const w = t([F, C, k, k], 'i32', 'bench.w', -64, 64);
  const out = t([B, F, HO, WO], 'i8', 'bench.s');
  const a = t([B, F, HO, WO], 'i8', 'bench.a');
  const delta = t([B, F, HO, WO], 'i32', 'bench.delta');
  const values = random(rng, delta.size, -4096, 4096);
  if (s.headPool) keepOnePerWindow(rng, values, delta.shape, s.headPool);
  backend.write(delta, values);
  const sgd = {
    w: t([F, C, k, k], 'i32', 'bench.updated', -64, 64),
    lrInv,
    amp: LR_AMP,
    decayInv: 0,
  };
  const macs = B * F * HO * WO * C * k * k;
  const shape = `${B}x${C}x${H}x${W} * ${F}x${C}x${k}x${k}`;
  const dims = [B, C, H, W, F, k, padding];
  return [
    {
      op: 'conv2d',
      shape,
      macs,
      dims,
      issue: (ops) =>
        ops.conv2d({
          x,
          w,
          padding,
          out,
          epilogue: { scale: 256 * C * k * k, relu: { out: a, slopeInv: 4 } },
        }),
    },
    {
      op: 'conv2dWeightGrad',
      shape,
      macs,
      dims,
      issue: (ops) => ops.conv2dWeightGrad({ delta, x, padding, sgd }),
    },
  ];
}

function sigOrNull(x: number | null): number | null {
  return x === null ? null : sig(x);
}

/** Times every op (and kernel variant) of the given layer shapes on a backend. */
export async function benchKernels(
  backend: Backend,
  shapes: KernelShape[] = paperKernelShapes(),
  options: KernelBenchOptions = {},
): Promise<KernelBenchResult> {
  const timing = resolveTiming(backend, options.timing ?? 'auto') as 'timestamps' | 'solo';
  const gpu = backend instanceof WebGPUBackend ? backend : undefined;
  const targetMs = options.targetMs ?? 50;
  const maxReps = options.maxReps ?? 100;
  const rng = new Rng(7);
  const rows: KernelBenchRow[] = [];
  for (const s of shapes) {
    const tensors: Tensor[] = [];
    try {
      for (const c of layerCases(backend, s, rng, tensors)) {
        const ops = 2 * c.macs;
        // The variant the engine runs for this shape when nothing is forced (tuned or default).
        const defaultLabel = gpu ? gpu.variants.choose(c.op, c.dims).label : null;
        for (const choice of variantsToTime(c.op, gpu !== undefined, options.variants ?? false)) {
          const variant = choice?.label ?? defaultLabel;
          const row: KernelBenchRow = {
            layer: s.layer,
            op: c.op,
            kernel: c.op,
            variant,
            isDefault: variant === defaultLabel,
            shape: c.shape,
            ops,
            ms: null,
            gops: null,
            reps: 0,
          };
          const program = withForcedVariant(backend, c.op, choice, () =>
            backend.record(c.op, c.issue),
          );
          if (gpu) row.kernel = [...new Set(gpu.dispatchNames(program))].join('+');
          if (options.maxOps !== undefined && ops > options.maxOps) {
            row.skipped = `over ${options.maxOps} operations`;
          } else {
            const { ms, reps } = await timeProgram(backend, program, {
              timing,
              targetMs,
              maxReps,
            });
            row.ms = sig(ms);
            row.gops = sig(gops(ops, ms));
            row.reps = reps;
          }
          rows.push(row);
          options.onRow?.(row);
        }
      }
    } finally {
      for (const t of tensors) backend.dispose(t);
    }
  }
  return {
    backend: backend.kind,
    ...(options.threads ? { threads: options.threads } : {}),
    adapter: backend.description,
    runtime: runtimeName(),
    timing,
    rows,
    peakGops: backend instanceof CpuBackend ? sigOrNull(backend.workspace.measurePeak(200)) : null,
  };
}
