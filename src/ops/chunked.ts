/**
 * Ops whose bindings would exceed the adapter's maxStorageBufferBindingSize, run in chunks of
 * the batch. A tensor is one buffer (up to maxBufferSize), but a dispatch binds at most
 * maxStorageBufferBindingSize bytes of it, so an op over [B, ...] tensors that needs more runs as
 * several calls of its kernels, each binding a window of rows [b0, b1) of every batch tensor (at
 * an offset aligned to minStorageBufferOffsetAlignment) and the whole of the others (weights).
 *
 * The kernels need no change: each chunk is the same op on a smaller batch. Ops that sum over the
 * batch (weight and bias gradients) store each chunk's raw sum (their `out` form), add the chunks
 * up (i32 addition wraps, so any split gives the same bits), and apply IntegerSGD once after the
 * last chunk, as the fused update would. Metric and confusion counts already accumulate.
 *
 * The chunk size is the largest multiple of the alignment unit whose bindings all fit: the batch
 * tensors' windows, and the kernels' scratch for that many rows, measured by running the op's
 * wrappers against a planning context (so new kernel variants are sized without this file
 * knowing them). The memory plan traces the same code with the adapter's limits (`onSplit`).
 */
import { deviceBytes, type Ops, type Tensor } from '../backend.ts';
import type { KernelContext } from '../kernels/context.ts';
import { planningContext } from '../kernels/planning.ts';
import { rowWindow, strideBytes, TensorWindow } from '../kernels/window.ts';
import { accumulate } from './misc/gpu.ts';

type OpName = keyof Ops;
type Params = Record<string, unknown>;

/** How an op splits along its batch dimension. */
interface Split {
  /** Parameters (dotted paths) whose dimension 0 is the batch; each chunk binds their rows. */
  rows: readonly string[];
  /** The op sums over the batch into a result of this shape, `out` or an IntegerSGD update. */
  sum?: (p: Params) => readonly number[];
}

const shapeOf = (p: Params, key: string) => (p[key] as Tensor).shape;
const resultShape = (p: Params) => ((p.out ?? (p.sgd as { w: Tensor }).w) as Tensor).shape;

const SPLITS: { readonly [K in OpName]?: Split } = {
  linear: { rows: ['x', 'out', 'epilogue.relu.out'] },
  conv2d: { rows: ['x', 'out', 'epilogue.relu.out'] },
  scale: { rows: ['x', 'out'] },
  nitroRelu: { rows: ['x', 'out'] },
  nitroReluBackward: { rows: ['delta', 'x', 'out'] },
  maxPool: { rows: ['x', 'out'] },
  maxPoolBackward: { rows: ['x', 'delta', 'head.g', 'relu.x', 'out'] },
  // The metrics accumulate atomically, chunk after chunk.
  lossGradient: { rows: ['yhat', 'labels', 'out'] },
  confusion: { rows: ['yhat', 'labels'] },
  linearInputGrad: { rows: ['g', 'out', 'relu.x'] },
  normalize: { rows: ['x', 'out'] },
  fill: { rows: ['out'] },
  linearWeightGrad: {
    rows: ['g', 'x'],
    sum: (p) => [shapeOf(p, 'g')[1], shapeOf(p, 'x')[1]],
  },
  conv2dWeightGrad: { rows: ['delta', 'x'], sum: resultShape },
  conv2dBiasGrad: { rows: ['delta'], sum: resultShape },
};

/** Why an op cannot be split along its batch. */
const WHOLE: { readonly [K in OpName]?: string } = {
  gather: 'it picks each row by its position in the whole batch',
  dropout: 'its mask hashes the element index in the whole tensor',
  integerSgd: 'it has no batch dimension',
  advance: 'it has no batch dimension',
};

/** How one op is split (the memory plan lists these). */
export interface SplitPlan {
  op: OpName;
  /** What exceeds the binding limit unsplit: a tensor's label, or "scratch <role>". */
  what: string;
  /** Its bytes unsplit. */
  bytes: number;
  /** The layer's weight tensor (a head's for a pool backward through one), when the op has one. */
  weight?: string;
  batch: number;
  /** Rows per chunk (the last chunk may have fewer). */
  rows: number;
  chunks: number;
  /** The largest binding of a chunk: a window of a batch tensor, a whole tensor or a scratch role. */
  bindingBytes: number;
}

/** An op whose bindings cannot be brought within maxStorageBufferBindingSize. */
export class BindingLimitError extends Error {
  override name = 'BindingLimitError';
  constructor(
    readonly op: OpName,
    /** The tensor's label (with `shape`), or "scratch <role>". */
    readonly what: string,
    readonly shape: readonly number[] | undefined,
    readonly bytes: number,
    readonly limit: number,
    /** Why it cannot be split. */
    readonly why: string,
  ) {
    super(
      `${op}: ${what}${shape ? ` [${shape.join(', ')}]` : ''} takes ${mib(bytes)}, more than the adapter's ${mib(limit)} per binding (maxStorageBufferBindingSize), and ${why}`,
    );
  }
}

/** One key per op and layer (what the plan lists once however often a step issues it). */
export function splitKey(s: SplitPlan): string {
  return `${s.op}:${s.weight ?? ''}:${s.what}:${s.bytes}:${s.batch}`;
}

export interface ChunkOptions {
  /** Told of every op that runs in chunks, as it is issued. */
  onSplit?: (plan: SplitPlan) => void;
}

const isTensor = (v: unknown): v is Tensor =>
  typeof v === 'object' &&
  v !== null &&
  Array.isArray((v as Tensor).shape) &&
  typeof (v as Tensor).dtype === 'string' &&
  typeof (v as Tensor).size === 'number';

function getPath(p: Params, path: string): unknown {
  let v: unknown = p;
  for (const k of path.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Params)[k];
  }
  return v;
}

/** A copy of `p` with `value` at `path` (the objects along the path copied, the rest shared). */
function setPath(p: Params, path: string, value: unknown): Params {
  const [k, ...rest] = path.split('.');
  return { ...p, [k]: rest.length ? setPath(p[k] as Params, rest.join('.'), value) : value };
}

/** Every tensor among the parameters (nested objects included) with its path. */
function tensorsOf(p: Params, prefix = ''): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  for (const [k, v] of Object.entries(p)) {
    if (isTensor(v)) out.push([prefix + k, v]);
    else if (typeof v === 'object' && v !== null)
      out.push(...tensorsOf(v as Params, `${prefix}${k}.`));
  }
  return out;
}

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
const mib = (bytes: number) =>
  bytes >= 1048576 ? `${(bytes / 1048576).toFixed(2)} MiB` : `${bytes} bytes`;

/**
 * `p` with rows [b0, b1) of each batch tensor: tensors sharing storage (an op in place) get one
 * window object, so the kernels see them as one.
 */
function windowed(p: Params, rows: readonly string[], b0: number, b1: number): Params {
  const seen = new Map<unknown, [Tensor, TensorWindow]>();
  let q = p;
  for (const path of rows) {
    const t = getPath(p, path);
    if (!isTensor(t)) continue;
    const storage = (t as { buffer?: unknown }).buffer ?? t;
    const hit = seen.get(storage);
    const same = hit && hit[0].dtype === t.dtype && hit[0].shape.join() === t.shape.join();
    const w = same ? hit[1] : rowWindow(t, b0, b1);
    if (!hit) seen.set(storage, [t, w]);
    q = setPath(q, path, w);
  }
  return q;
}

/**
 * Wraps the WebGPU ops `raw(ctx)` so that each op runs in as many chunks of its batch as its
 * bindings need (see the top of this file). Without a finite binding limit it returns them as
 * they are.
 */
export function chunkedOps(
  ctx: KernelContext,
  raw: (ctx: KernelContext) => Ops,
  options: ChunkOptions = {},
): Ops {
  const inner = raw(ctx);
  const limit = ctx.limits.maxStorageBufferBindingSize;
  if (!(limit < Number.MAX_SAFE_INTEGER)) return inner;
  const align = ctx.limits.minStorageBufferOffsetAlignment || 256;

  /** The kernels' largest scratch role for `p`, sized without a device. */
  const scratchOf = (name: OpName, p: Params): [string, number] => {
    const probe = planningContext(ctx.variants);
    (raw(probe)[name] as (p: Params) => void)(p);
    let best: [string, number] = ['', 0];
    for (const [role, bytes] of probe.scratch.roles()) if (bytes > best[1]) best = [role, bytes];
    return best;
  };

  const run = (name: OpName, p: Params): void => {
    const call = (q: Params) => (inner[name] as (p: Params) => void)(q);
    const split = SPLITS[name];
    const rowPaths = split?.rows ?? [];
    const batchTensors = rowPaths.map((path) => getPath(p, path)).filter(isTensor);
    const batchSet = new Set<Tensor>(batchTensors);
    const whole = tensorsOf(p).filter(([, t]) => !batchSet.has(t));
    for (const [, t] of whole) {
      const bytes = t instanceof TensorWindow ? t.byteLength : deviceBytes(t.shape, t.dtype);
      if (bytes > limit) {
        const why = split ? 'it is not a batch tensor' : (WHOLE[name] ?? 'the op has no batch');
        throw new BindingLimitError(
          name,
          t.label,
          t.shape,
          bytes,
          limit,
          `is bound whole (${why})`,
        );
      }
    }
    const wholeBytes = Math.max(0, ...whole.map(([, t]) => deviceBytes(t.shape, t.dtype)));
    const sumShape = split?.sum?.(p);
    const sumBytes = sumShape ? deviceBytes(sumShape, 'i32') : 0;
    // A chunk's parameters: batch windows, and the raw-sum form of a reduction.
    const chunkParams = (q: Params, out?: Tensor): Params => {
      if (!sumShape) return q;
      const { sgd: _, ...rest } = q;
      return {
        ...rest,
        out: out ?? { shape: sumShape, dtype: 'i32', label: 'sum', size: sumBytes / 4 },
      };
    };
    const batch = batchTensors[0]?.shape[0] ?? 0;
    /** The largest binding at `n` rows a chunk, and what it is. */
    const need = (n: number): [string, number] => {
      const q = n === batch ? p : windowed(p, rowPaths, 0, n);
      let best: [string, number] = ['', Math.max(wholeBytes, sumBytes)];
      for (const path of rowPaths) {
        const t = getPath(q, path);
        if (!isTensor(t)) continue;
        const bytes = t instanceof TensorWindow ? t.byteLength : deviceBytes(t.shape, t.dtype);
        if (bytes > best[1]) best = [t.label, bytes];
      }
      const scratch = scratchOf(name, chunkParams(q));
      return scratch[1] > best[1] ? [`scratch ${scratch[0]}`, scratch[1]] : best;
    };
    const full = need(batch);
    if (full[1] <= limit) {
      call(p);
      return;
    }
    const what = full[0];
    const shape = batchTensors.find((t) => t.label === what)?.shape;
    const refuse = (why: string) => new BindingLimitError(name, what, shape, full[1], limit, why);
    if (!split) throw refuse(`the op cannot run in parts: ${WHOLE[name] ?? 'it has no batch'}`);
    if (batchTensors.some((t) => t.shape[0] !== batch || t.shape.length === 0))
      throw refuse('its batch tensors differ in their first dimension');
    // Rows per chunk: a multiple of `unit`, so every window starts at an aligned offset.
    let unit = 1;
    for (const t of batchTensors) {
      const u = align / gcd(strideBytes(t) % align || align, align);
      unit = (unit * u) / gcd(unit, u);
    }
    if (unit >= batch)
      throw refuse(
        `windows must start at multiples of ${unit} rows (offset alignment ${align} bytes)`,
      );
    const least = need(unit);
    if (least[1] > limit)
      throw refuse(`even ${unit} rows at a time need ${mib(least[1])} (${least[0]})`);
    let lo = 1;
    let hi = Math.floor((batch - 1) / unit);
    while (lo < hi) {
      const mid = lo + Math.ceil((hi - lo) / 2);
      if (need(mid * unit)[1] <= limit) lo = mid;
      else hi = mid - 1;
    }
    const rows = lo * unit;
    const weight = (getPath(p, 'w') ?? getPath(p, 'sgd.w') ?? getPath(p, 'head.w')) as
      | Tensor
      | undefined;
    options.onSplit?.({
      op: name,
      what,
      bytes: full[1],
      weight: weight?.label,
      batch,
      rows,
      chunks: Math.ceil(batch / rows),
      bindingBytes: need(rows)[1],
    });
    if (!sumShape) {
      for (let b0 = 0; b0 < batch; b0 += rows)
        call(windowed(p, rowPaths, b0, Math.min(batch, b0 + rows)));
      return;
    }
    // The first chunk's sum goes to the result, each later one to `part` and is added in.
    const scratch = (role: string) =>
      TensorWindow.ofScratch(ctx.scratch.role(role, sumBytes), sumShape, 'i32');
    const total = (p.out as Tensor | undefined) ?? scratch('chunk.sum');
    const part = scratch('chunk.part');
    for (let b0 = 0; b0 < batch; b0 += rows) {
      const q = windowed(p, rowPaths, b0, Math.min(batch, b0 + rows));
      call(chunkParams(q, b0 === 0 ? total : part));
      if (b0 > 0) accumulate(ctx, { out: total, part });
    }
    const sgd = p.sgd as { w: Tensor; lrInv: Tensor; amp: number; decayInv: number } | undefined;
    if (sgd) inner.integerSgd({ ...sgd, grad: total });
  };

  const ops = {} as Record<OpName, (p: Params) => void>;
  for (const name of Object.keys(inner) as OpName[]) ops[name] = (p) => run(name, p);
  return ops as unknown as Ops;
}
