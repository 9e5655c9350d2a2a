/**
 * The variant tuner: for every distinct shape of a GEMM-shaped op (linear forward, input and
 * weight gradient, conv forward and weight gradient) in a model's training step, each kernel
 * variant (src/kernels/gemm-tiles.ts) is recorded alone on random operands and timed, and the
 * fastest one is chosen for that shape. Every variant computes the same bits, so a choice only
 * changes speed. Runtime-neutral: the shapes come from tracing the network's step on a backend
 * that only keeps shapes, the timing from timestamp queries when the adapter has them (else the
 * wall clock around replays of the op alone).
 */
import type { Backend, Program, Tensor } from '../backend.ts';
import { WebGPUBackend } from '../gpu/webgpu-backend.ts';
import { withForcedVariant } from '../gpu/variants.ts';
import {
  defaultVariant,
  type GemmOp,
  GEMM_OPS,
  type GemmVariants,
  shapeKey,
  variantsOf,
} from '../kernels/gemm-tiles.ts';
import { Rng } from '../rng.ts';
import { allocateParameters, Network } from '../model/network.ts';
import { ShapeBackend } from '../train/shape-backend.ts';
import type { NetworkPlan } from '../model/plan.ts';
import { type KernelTiming, resolveTiming, timeProgram } from './timing.ts';
import { median, now, sig, table } from './util.ts';

/** One GEMM op call of a training step (parameters hold shape-only tensors). */
export interface GemmCall {
  op: GemmOp;
  params: Record<string, unknown>;
}

const isTensor = (v: unknown): v is Tensor =>
  typeof v === 'object' &&
  v !== null &&
  'shape' in v &&
  'dtype' in v &&
  'size' in v &&
  'label' in v;

function tensorOf(params: Record<string, unknown>, name: string): Tensor {
  const t = params[name];
  if (!isTensor(t)) throw new Error(`tune: op parameter '${name}' is not a tensor`);
  return t;
}

/** The dimensions chooseVariant sees for a call (as src/ops/linear/gpu.ts and src/ops/conv/gpu.ts pass them). */
export function gemmDims(op: GemmOp, params: Record<string, unknown>): number[] {
  switch (op) {
    case 'linear': {
      const [B, K] = tensorOf(params, 'x').shape;
      return [B, K, tensorOf(params, 'w').shape[0]];
    }
    case 'linearInputGrad': {
      const [B, O] = tensorOf(params, 'g').shape;
      return [B, tensorOf(params, 'w').shape[1], O];
    }
    case 'linearWeightGrad': {
      const [B, O] = tensorOf(params, 'g').shape;
      return [B, tensorOf(params, 'x').shape[1], O];
    }
    case 'conv2d':
    case 'conv2dWeightGrad': {
      const [B, C, H, W] = tensorOf(params, 'x').shape;
      // A weight gradient fused with IntegerSGD may have no out: the weights it updates give the shape.
      const w =
        op === 'conv2d'
          ? tensorOf(params, 'w')
          : params.out
            ? tensorOf(params, 'out')
            : tensorOf(params.sgd as Record<string, unknown>, 'w');
      return [B, C, H, W, w.shape[0], w.shape[2], params.padding as number];
    }
  }
}

/** Multiply-accumulates of a call. */
export function gemmMacs(op: GemmOp, dims: readonly number[]): number {
  if (op === 'conv2d' || op === 'conv2dWeightGrad') {
    const [B, C, H, W, F, KS, PAD] = dims;
    return B * F * (H + 2 * PAD - KS + 1) * (W + 2 * PAD - KS + 1) * C * KS * KS;
  }
  return dims[0] * dims[1] * dims[2];
}

function describeShape(op: GemmOp, dims: readonly number[]): string {
  if (op === 'conv2d' || op === 'conv2dWeightGrad') {
    const [B, C, H, W, F, KS, PAD] = dims;
    return `${B}x${C}x${H}x${W} * ${F}x${C}x${KS}x${KS} pad ${PAD}`;
  }
  const [B, K, O] = dims;
  return `${B}x${K} . ${O}x${K}`;
}

/** Every GEMM op call of one training step of `plan` at `batch` (forward, heads, gradients). */
export function trainingGemmCalls(plan: NetworkPlan, batch: number): GemmCall[] {
  const shapes = new ShapeBackend();
  const net = new Network(shapes, plan, allocateParameters(shapes, plan), batch);
  net.recordTrainOnBatch();
  return shapes.calls
    .filter((c) => (GEMM_OPS as readonly string[]).includes(c.op))
    .map((c) => ({ op: c.op as GemmOp, params: c.params as Record<string, unknown> }));
}

/** One distinct op shape of the step and the calls that share its choice. */
export interface GemmShape {
  key: string;
  op: GemmOp;
  dims: number[];
  shape: string;
  macs: number;
  /** Calls of the step with this key. */
  calls: number;
  /** One call per distinct operand signature (dtypes, epilogue) among them. */
  representatives: GemmCall[];
}

function signature(params: Record<string, unknown>): string {
  const parts: string[] = [];
  const walk = (v: unknown, path: string) => {
    if (isTensor(v)) parts.push(`${path}:${v.dtype}`);
    else if (typeof v === 'object' && v !== null)
      for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
    else if (v !== undefined) parts.push(`${path}=${String(v)}`);
  };
  walk(params, '');
  return parts.join(',');
}

/** The distinct GEMM op shapes of a training step, largest first. */
export function trainingGemmShapes(plan: NetworkPlan, batch: number): GemmShape[] {
  const byKey = new Map<string, GemmShape & { sigs: Set<string> }>();
  for (const call of trainingGemmCalls(plan, batch)) {
    const dims = gemmDims(call.op, call.params);
    const key = shapeKey(call.op, dims);
    let s = byKey.get(key);
    if (!s) {
      s = {
        key,
        op: call.op,
        dims,
        shape: describeShape(call.op, dims),
        macs: gemmMacs(call.op, dims),
        calls: 0,
        representatives: [],
        sigs: new Set(),
      };
      byKey.set(key, s);
    }
    s.calls++;
    const sig = signature(call.params);
    if (!s.sigs.has(sig)) {
      s.sigs.add(sig);
      s.representatives.push(call);
    }
  }
  return [...byKey.values()]
    .map(({ sigs: _, ...s }) => s)
    .sort((a, b) => b.macs - a.macs || a.key.localeCompare(b.key));
}

/** Options of {@link tuneVariants}. */
export interface TuneOptions {
  timing?: Exclude<KernelTiming, 'none'>;
  /** Timed samples per variant, the median taken (default 15; wall-clock timing takes half as many). */
  reps?: number;
  /** Wall-clock timing replays an op for about this many milliseconds per sample (default 10). */
  targetMs?: number;
  /** Shapes below this many multiply-accumulates time only the default variant (default 2^20). */
  minMacs?: number;
  /** After this many milliseconds the remaining shapes keep their default untimed (default 120 000). */
  budgetMs?: number;
  /** A variant replaces the default only when this fraction faster (default 0.05). */
  margin?: number;
  /** Seed of the random operands. */
  seed?: number;
  /** Called with every row as soon as it is timed. */
  onShape?: (row: TuneRow) => void;
}

/** One timed kernel variant of one training GEMM shape. */
export interface TuneRow {
  key: string;
  op: GemmOp;
  shape: string;
  macs: number;
  calls: number;
  /** Milliseconds per call of each variant (summed over the distinct operand signatures), null when not timed. */
  ms: Record<string, number | null>;
  /** The variant chosen: the fastest, if faster than the default by the margin, else the default. */
  winner: string;
  defaultVariant: string;
  /** Why only the default was timed, or nothing was. */
  skipped?: 'tiny' | 'time budget';
}

/** What tuning measured and the fastest variant per op. */
export interface TuneResult {
  adapter: string;
  timing: 'timestamps' | 'solo';
  batch: number;
  /** Shape key -> chosen variant label (for setTunedVariants and the cache). */
  choices: Record<string, string>;
  rows: TuneRow[];
  elapsedMs: number;
}

/** A learning head's max pooling (kernel and padding per axis). */
export interface HeadPool {
  kernel: [number, number];
  padding: [number, number];
}

/**
 * The head pooling behind a conv weight gradient's delta: in a training step that delta comes
 * through the block's head max-pool backward (docs/algorithm.md §4, step 4.3), one pixel per window.
 */
export function headPoolOf(plan: NetworkPlan, deltaShape: readonly number[]): HeadPool | undefined {
  const per = deltaShape.slice(1).join('x');
  return plan.blocks.find((b) => b.kind === 'conv' && b.outShape.join('x') === per)?.head.pool;
}

/** Keeps one random pixel per pool window of each [H, W] plane of `values` (the rest zero). */
export function keepOnePerWindow(
  rng: Rng,
  values: Int32Array,
  shape: readonly number[],
  pool: HeadPool,
): void {
  const [H, W] = shape.slice(-2);
  const [kh, kw] = pool.kernel;
  const [ph, pw] = pool.padding;
  const plane = H * W;
  for (let p0 = 0; p0 < values.length; p0 += plane) {
    const kept = values.slice(p0, p0 + plane);
    values.fill(0, p0, p0 + plane);
    for (let r0 = -ph; r0 + kh <= H + ph; r0 += kh) {
      for (let c0 = -pw; c0 + kw <= W + pw; c0 += kw) {
        const r = rng.int(Math.max(r0, 0), Math.min(r0 + kh, H) - 1);
        const c = rng.int(Math.max(c0, 0), Math.min(c0 + kw, W) - 1);
        values[p0 + r * W + c] = kept[r * W + c];
      }
    }
  }
}

/**
 * Fresh tensors of the same shapes and dtypes as a traced call's, filled with random values;
 * a conv weight gradient's delta is as sparse as the training step makes it, since the sparse
 * kernel's speed depends on that.
 */
function randomOperands(
  backend: Backend,
  plan: NetworkPlan,
  call: GemmCall,
  rng: Rng,
  tensors: Tensor[],
): Record<string, unknown> {
  const clone = (v: unknown, name: string): unknown => {
    if (isTensor(v)) {
      const t = backend.tensor(v.shape, v.dtype, `tune.${name}`);
      tensors.push(t);
      // Weights as initialised (one int8 limb), gradients and biases wider, int8 data full range,
      // a positive inverse learning rate for a fused IntegerSGD update.
      const [lo, hi] =
        v.dtype === 'i8'
          ? [-127, 127]
          : name === 'w'
            ? [-64, 64]
            : name === 'lrInv'
              ? [1, 4096]
              : [-4096, 4096];
      const values = new Int32Array(t.size);
      for (let i = 0; i < values.length; i++) values[i] = rng.int(lo, hi);
      const pool =
        call.op === 'conv2dWeightGrad' && name === 'delta' ? headPoolOf(plan, v.shape) : undefined;
      if (pool) keepOnePerWindow(rng, values, v.shape, pool);
      backend.write(t, values);
      return t;
    }
    if (typeof v === 'object' && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x, k)]));
    }
    return v;
  };
  return clone(call.params, 'params') as Record<string, unknown>;
}

/** One sample of a program's milliseconds per run. */
async function sample(
  backend: Backend,
  program: Program,
  timing: 'timestamps' | 'solo',
  targetMs: number,
): Promise<number> {
  const options = { timing, targetMs, maxReps: 1000, windows: 1, warmup: false, replays: 1 };
  return (await timeProgram(backend, program, options)).ms;
}

/**
 * Milliseconds of each variant (programs[v][i]: variant v on operand set i, summed over i):
 * every program runs once untimed, then the variants take turns sample by sample, so a change
 * of load on a shared machine falls on all of them; the median of each variant's samples.
 */
async function timeVariants(
  backend: Backend,
  programs: Program[][],
  timing: 'timestamps' | 'solo',
  reps: number,
  targetMs: number,
): Promise<number[]> {
  for (const list of programs) for (const p of list) backend.run(p);
  await backend.sync();
  const samples = programs.map(() => [] as number[]);
  const rounds = timing === 'timestamps' ? reps : Math.max(1, Math.ceil(reps / 2));
  for (let r = 0; r < rounds; r++) {
    for (const [v, list] of programs.entries()) {
      let total = 0;
      for (const p of list) total += await sample(backend, p, timing, targetMs);
      samples[v].push(total);
    }
  }
  return samples.map(median);
}

/**
 * Times every variant of every GEMM op shape of `plan`'s training step at `batch` and returns
 * the fastest per shape. Installs nothing (see setTunedVariants and ./tune-cache.ts).
 */
export async function tuneVariants(
  backend: Backend,
  plan: NetworkPlan,
  batch: number,
  options: TuneOptions = {},
): Promise<TuneResult> {
  if (!(backend instanceof WebGPUBackend))
    throw new Error(
      `tune: kernel variants exist on the WebGPU backend only, not on ${backend.kind}`,
    );
  const timing = resolveTiming(backend, options.timing ?? 'auto') as 'timestamps' | 'solo';
  const reps = options.reps ?? 15;
  if (!Number.isInteger(reps) || reps < 1)
    throw new Error(`tune: reps must be a positive integer, got ${reps}`);
  const targetMs = options.targetMs ?? 10;
  const minMacs = options.minMacs ?? 1 << 20;
  const budgetMs = options.budgetMs ?? 120_000;
  const margin = options.margin ?? 0.05;
  const rng = new Rng(options.seed ?? 11);
  const started = now();
  const rows: TuneRow[] = [];
  const choices: Record<string, string> = {};
  for (const s of trainingGemmShapes(plan, batch)) {
    const def = defaultVariant(s.op).label;
    const row: TuneRow = {
      key: s.key,
      op: s.op,
      shape: s.shape,
      macs: s.macs,
      calls: s.calls,
      ms: {},
      winner: def,
      defaultVariant: def,
    };
    for (const v of variantsOf(s.op)) row.ms[v.label] = null;
    let timed = variantsOf(s.op);
    if (now() - started >= budgetMs) {
      timed = [];
      row.skipped = 'time budget';
    } else if (s.macs < minMacs) {
      timed = timed.filter((v) => v.label === def);
      row.skipped = 'tiny';
    }
    if (timed.length) {
      const tensors: Tensor[] = [];
      try {
        const operands = s.representatives.map((call) =>
          randomOperands(backend, plan, call, rng, tensors),
        );
        const programs = timed.map((v) =>
          operands.map((params) =>
            withForcedVariant(backend, s.op, v, () =>
              backend.record(`tune ${s.op} ${v.label}`, (ops) =>
                (ops[s.op] as (p: unknown) => void)(params),
              ),
            ),
          ),
        );
        const ms = await timeVariants(backend, programs, timing, reps, targetMs);
        timed.forEach((v, i) => {
          row.ms[v.label] = sig(ms[i]);
        });
      } finally {
        await backend.sync();
        for (const t of tensors) backend.dispose(t);
      }
      // Another variant replaces the default only when faster by the margin (noise is not a reason).
      const defMs = row.ms[def] ?? Number.POSITIVE_INFINITY;
      let best = defMs;
      for (const v of timed) {
        const ms = row.ms[v.label];
        if (ms !== null && ms < best && ms * (1 + margin) < defMs) {
          best = ms;
          row.winner = v.label;
        }
      }
    }
    // Only a measured comparison enters the cache: a shape skipped here keeps an earlier run's choice.
    if (timed.length > 1) choices[s.key] = row.winner;
    rows.push(row);
    options.onShape?.(row);
  }
  return {
    adapter: backend.description,
    timing,
    batch,
    choices,
    rows,
    elapsedMs: sig(now() - started),
  };
}

/** The variant each GEMM op shape of the step runs with now, and whether it was tuned. */
export function variantsInUse(
  plan: NetworkPlan,
  batch: number,
  variants: GemmVariants,
): { key: string; variant: string; tuned: boolean; note?: string }[] {
  return trainingGemmShapes(plan, batch).map((s) => {
    const c = variants.explain(s.op, s.dims);
    const row: { key: string; variant: string; tuned: boolean; note?: string } = {
      key: s.key,
      variant: c.variant.label,
      tuned: c.source === 'tuned',
    };
    if (c.note) row.note = c.note;
    return row;
  });
}

/** Lines naming the variant of each GEMM op shape (for the training benchmark's table). */
export function formatVariantsInUse(
  variants: readonly { key: string; variant: string; tuned: boolean; note?: string }[],
): string {
  if (!variants.length) return '';
  const tuned = variants.filter((v) => v.tuned).length;
  const lines = [
    `  variants     ${tuned ? `${tuned} of ${variants.length} op shapes tuned (*)` : 'defaults (nothing tuned for this adapter)'}`,
  ];
  for (const l of table(
    ['op shape', 'variant'],
    variants.map((v) => [
      v.key,
      v.variant + (v.tuned ? ' *' : '') + (v.note ? ` (least traffic; ${v.note})` : ''),
    ]),
  ))
    lines.push(`    ${l}`);
  return lines.join('\n');
}
