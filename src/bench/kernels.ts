/**
 * Kernel microbenchmarks: the linear and conv layers of the paper's networks (forward with the
 * fused NITRO epilogue as in training, and weight gradient) on random data at a batch size,
 * each op recorded alone and replayed, so backends and kernel versions compare layer by layer.
 */
import type { Backend, Program, Tensor } from '../backend.ts';
import { WebGPUBackend } from '../gpu/webgpu-backend.ts';
import { getPreset } from '../model/presets.ts';
import { Rng } from '../rng.ts';
import { type KernelTiming, gops, now, resolveTiming, runtimeName, type Runtime, sig, wallTime } from './util.ts';

export type KernelShape =
  | { kind: 'linear'; layer: string; batch: number; inFeatures: number; outFeatures: number; output?: boolean }
  | { kind: 'conv'; layer: string; batch: number; channels: number; height: number; width: number; filters: number; kernel: number; padding: number };

export type KernelOp = 'linear' | 'linearWeightGrad' | 'conv2d' | 'conv2dWeightGrad';

export interface KernelBenchRow {
  layer: string;
  op: KernelOp;
  /** WGSL kernel name on WebGPU, the op name on the CPU. */
  kernel: string;
  shape: string;
  /** Integer operations (2 per multiply-accumulate) of one call. */
  ops: number;
  /** Milliseconds per call, or null when skipped. */
  ms: number | null;
  gops: number | null;
  reps: number;
  skipped?: string;
}

export interface KernelBenchResult {
  backend: Backend['kind'];
  adapter: string;
  runtime: Runtime;
  timing: 'timestamps' | 'solo';
  rows: KernelBenchRow[];
}

export interface KernelBenchOptions {
  timing?: Exclude<KernelTiming, 'none'>;
  /** Each op is replayed until about this many milliseconds (default 50). */
  targetMs?: number;
  /** At most this many replays per op (default 100). */
  maxReps?: number;
  /** Ops of more integer operations than this are skipped (a slow backend's time budget). */
  maxOps?: number;
  onRow?: (row: KernelBenchRow) => void;
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
      add(`l${k},${o}`, { kind: 'linear', layer: `${name} fc${i + 1}`, batch, inFeatures: k, outFeatures: o });
      k = o;
    });
    add(`o${k},${g.classes}`, { kind: 'linear', layer: `${name} out`, batch, inFeatures: k, outFeatures: g.classes, output: true });
  }
  const vgg = getPreset('vgg8b').spec;
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
      });
      [c, h, w] = [f.conv, h + 2 * f.padding - f.kernel + 1, w + 2 * f.padding - f.kernel + 1];
    } else {
      h = Math.trunc(h / f.pool);
      w = Math.trunc(w / f.pool);
    }
  }
  return shapes;
}

function random(rng: Rng, n: number, lo: number, hi: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(lo, hi);
  return out;
}

interface Case {
  op: KernelOp;
  shape: string;
  macs: number;
  program: Program;
}

/** Allocates random operands for a layer and records its forward and weight-gradient ops. */
function layerCases(backend: Backend, s: KernelShape, rng: Rng, tensors: Tensor[]): Case[] {
  const t = (shape: number[], dtype: 'i8' | 'i32', label: string, lo?: number, hi?: number) => {
    const tensor = backend.tensor(shape, dtype, label);
    tensors.push(tensor);
    if (lo !== undefined && hi !== undefined) backend.write(tensor, random(rng, tensor.size, lo, hi));
    return tensor;
  };
  const B = s.batch;
  if (s.kind === 'linear') {
    const { inFeatures: K, outFeatures: O } = s;
    const x = t([B, K], 'i8', 'bench.x', -127, 127);
    const w = t([O, K], 'i32', 'bench.w', -64, 64);
    const out = t([B, O], 'i8', 'bench.s');
    const relu = s.output ? undefined : { out: t([B, O], 'i8', 'bench.a'), slopeInv: 4 };
    const g = t([B, O], 'i32', 'bench.delta', -4096, 4096);
    const dw = t([O, K], 'i32', 'bench.dw');
    const macs = B * O * K;
    return [
      {
        op: 'linear',
        shape: `${B}x${K} -> ${O}`,
        macs,
        program: backend.record('linear', (ops) => ops.linear({ x, w, out, epilogue: { scale: 256 * K, relu } })),
      },
      {
        op: 'linearWeightGrad',
        shape: `${O}x${K} over ${B}`,
        macs,
        program: backend.record('linearWeightGrad', (ops) => ops.linearWeightGrad({ g, x, out: dw })),
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
  const delta = t([B, F, HO, WO], 'i32', 'bench.delta', -4096, 4096);
  const dw = t([F, C, k, k], 'i32', 'bench.dw');
  const macs = B * F * HO * WO * C * k * k;
  const dims = `${B}x${C}x${H}x${W} * ${F}x${C}x${k}x${k}`;
  return [
    {
      op: 'conv2d',
      shape: dims,
      macs,
      program: backend.record('conv2d', (ops) =>
        ops.conv2d({ x, w, padding, out, epilogue: { scale: 256 * C * k * k, relu: { out: a, slopeInv: 4 } } }),
      ),
    },
    {
      op: 'conv2dWeightGrad',
      shape: dims,
      macs,
      program: backend.record('conv2dWeightGrad', (ops) => ops.conv2dWeightGrad({ delta, x, padding, out: dw })),
    },
  ];
}

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
        const kernel = gpu ? [...new Set(gpu.dispatchNames(c.program))].join('+') : c.op;
        const row: KernelBenchRow = { layer: s.layer, op: c.op, kernel, shape: c.shape, ops, ms: null, gops: null, reps: 0 };
        if (options.maxOps !== undefined && ops > options.maxOps) {
          row.skipped = `over ${options.maxOps} operations`;
        } else {
          let ms: number;
          let reps: number;
          if (timing === 'timestamps' && gpu) {
            // The first timed replay is the warm-up; enough replays for `targetMs` follow,
            // unless that one alone took ten times as long.
            const t = now();
            const warm = (await gpu.timeDispatches(c.program, 1)).reduce((a, b) => a + b, 0) / 1e6;
            const wall = now() - t;
            reps = wall >= 10 * targetMs ? 0 : Math.max(1, Math.min(maxReps, Math.ceil(targetMs / Math.max(wall, 1e-3))));
            ms = reps === 0 ? warm : (await gpu.timeDispatches(c.program, reps)).reduce((a, b) => a + b, 0) / 1e6;
            reps = Math.max(reps, 1);
          } else {
            ({ ms, reps } = await wallTime(backend, (times) => backend.run(c.program, times), targetMs, maxReps));
          }
          row.ms = sig(ms);
          row.gops = sig(gops(ops, ms));
          row.reps = reps;
        }
        rows.push(row);
        options.onRow?.(row);
      }
    } finally {
      for (const t of tensors) backend.dispose(t);
    }
  }
  return { backend: backend.kind, adapter: backend.description, runtime: runtimeName(), timing, rows };
}
