/**
 * Kernel variants of the GEMM-shaped ops (linear forward and gradients, conv forward and weight
 * gradient) and the policy that picks one per op and shape.
 *
 * The Ops contract has no tuning parameter, so the kernel wrappers ask their backend's policy
 * (`GemmVariants`, one per WebGPU backend). A variant is a set of override constants (register
 * tile sizes, the dot4I8Packed limb path, workgroup tiles). The choice is, in order: a variant
 * forced by a test or a benchmark (`withForced`), a choice the tuner measured on this adapter for
 * the shape (`setTuned`), else the default: on software adapters the op's measured winner (the
 * table below), on hardware adapters the variant of least storage traffic for the shape (a
 * `DefaultPolicy` the backend passes in, src/gpu/variant-policy.ts), which is not measured on
 * that adapter. Every variant computes the same bits; only the speed differs.
 */

export type GemmOp =
  | 'linear'
  | 'linearInputGrad'
  | 'linearWeightGrad'
  | 'conv2d'
  | 'conv2dWeightGrad';

/** Every GEMM-shaped op, in the order tables list them. */
export const GEMM_OPS: readonly GemmOp[] = [
  'linear',
  'linearInputGrad',
  'linearWeightGrad',
  'conv2d',
  'conv2dWeightGrad',
];

/** One kernel variant of an op: its label and the parameters the kernel wrapper applies. */
export interface VariantChoice {
  /** Stable name, e.g. "tf4-tp4-dot4" (what the tuner caches). */
  label: string;
  /** Override constants and path switches the wrapper applies. */
  params: Readonly<Record<string, number>>;
}

function variant(params: Record<string, number>): VariantChoice {
  const label = Object.entries(params)
    .map(([k, v]) =>
      k === 'DOT4'
        ? v
          ? 'dot4'
          : 'i32'
        : k === 'SPARSE'
          ? v
            ? 'sparse'
            : 'dense'
          : k === 'TILE'
            ? `wg${8 * v}`
            : `${k.toLowerCase()}${v}`,
    )
    .join('-');
  return { label, params };
}

/** Every variant of each op (the tuner measures these; tests force each one). */
const VARIANTS: Record<GemmOp, VariantChoice[]> = {
  linear: [
    variant({ TM: 1, TN: 8, DOT4: 0 }),
    variant({ TM: 2, TN: 8, DOT4: 0 }),
    variant({ TM: 1, TN: 8, DOT4: 1 }),
    variant({ TM: 2, TN: 8, DOT4: 1 }),
    variant({ TM: 4, TN: 4, DOT4: 1 }),
    // Workgroup-tiled (linear-tiled.wgsl): TILE x TILE registers, 8·TILE square blocks.
    variant({ TILE: 4, DOT4: 0 }),
    variant({ TILE: 8, DOT4: 0 }),
    variant({ TILE: 4, DOT4: 1 }),
    variant({ TILE: 8, DOT4: 1 }),
  ],
  linearInputGrad: [
    variant({ TM: 1, TN: 8 }),
    variant({ TM: 2, TN: 8 }),
    variant({ TM: 4, TN: 4 }),
    variant({ TILE: 4 }),
    variant({ TILE: 8 }),
  ],
  linearWeightGrad: [
    variant({ TN: 4 }),
    variant({ TN: 8 }),
    variant({ TILE: 4 }),
    variant({ TILE: 8 }),
    // 32 outputs by 128 inputs: for layers of few outputs (x is read once, g half as often).
    variant({ TILE: 4, TN: 16 }),
  ],
  conv2d: [
    variant({ TF: 4, TP: 4, DOT4: 0 }),
    variant({ TF: 8, TP: 4, DOT4: 0 }),
    variant({ TF: 8, TP: 2, DOT4: 0 }),
    variant({ TF: 4, TP: 4, DOT4: 1 }),
    variant({ TF: 8, TP: 4, DOT4: 1 }),
    // Tiled in workgroup memory (for GPUs): BM pixels by BN filters a workgroup.
    variant({ BM: 64, BN: 64, DOT4: 1 }),
    variant({ BM: 64, BN: 64, DOT4: 0 }),
  ],
  conv2dWeightGrad: [
    variant({ TF: 4 }),
    variant({ TF: 8 }),
    variant({ TF: 4, SPARSE: 1 }),
    variant({ TF: 8, SPARSE: 1 }),
    // Tiled in workgroup memory (for GPUs): BF filters by BK channels (of every tap) a workgroup.
    variant({ BF: 64, BK: 64, SPARSE: 0 }),
    variant({ BF: 64, BK: 64, SPARSE: 1 }),
  ],
};

/**
 * The tiled conv kernels' workgroup arrays (conv.wgsl): the forward's BM x BN tile is at most 64
 * x 64 and BM at least 16, multiples of 4 (a 4 x 4 register tile per invocation, BM * BN / 16
 * invocations, at least one per filter); the weight gradient's is fixed
 * at 64 filters by 64 channels.
 */
function convTileFits(op: GemmOp, BM?: number, BN?: number, BF?: number, BK?: number): boolean {
  if (BM === undefined && BN === undefined && BF === undefined && BK === undefined) return true;
  if (op === 'conv2d')
    return (
      BM !== undefined &&
      BN !== undefined &&
      BF === undefined &&
      BM % 4 === 0 &&
      BN % 4 === 0 &&
      BM <= 64 &&
      BN <= 64 &&
      BM >= 16
    );
  return BM === undefined && BN === undefined && BF === 64 && BK === 64;
}

/**
 * The register arrays of shaders/linear.wgsl (MAXM, MAXACC), linear-tiled.wgsl (its workgroup
 * arrays hold 64-wide blocks, and words of 4 outputs: TILE 4 or 8) and conv.wgsl (MAXF, MAXP,
 * MAXACC; its tiled kernels' workgroup arrays, convTileFits) have fixed sizes and WGSL clamps
 * out-of-range indexes, so a tile past them would compute wrong sums silently: every variant
 * is checked against them when this module loads.
 */
export function checkTiles(op: GemmOp, v: VariantChoice): void {
  const { TM = 1, TN = 4, TF = 1, TP = 1, TILE, BM, BN, BF, BK } = v.params;
  const ok =
    op === 'conv2d' || op === 'conv2dWeightGrad'
      ? TF <= 8 && TP <= 4 && TF * TP <= 32 && convTileFits(op, BM, BN, BF, BK)
      : TILE !== undefined
        ? (TILE === 4 || TILE === 8) &&
          (v.params.TN === undefined ||
            (op === 'linearWeightGrad' && [4, 8, 16].includes(TN) && TILE * TN <= 64))
        : TM <= 4 && TM * TN <= 32 && (op !== 'linear' || TN % 4 === 0);
  if (!ok)
    throw new Error(`gemm-tiles: variant ${v.label} of ${op} exceeds the shader's register tile`);
}
for (const op of GEMM_OPS) for (const v of VARIANTS[op]) checkTiles(op, v);

/** Default when nothing is forced or tuned (measured on lavapipe, see results/kernels.md). */
const DEFAULTS: Record<GemmOp, string> = {
  linear: 'tm4-tn4-dot4',
  linearInputGrad: 'tm4-tn4',
  linearWeightGrad: 'tn8',
  conv2d: 'tf8-tp4-dot4',
  conv2dWeightGrad: 'tf8-sparse',
};

/** The variant an op runs with when nothing is forced or tuned. */
export function defaultVariant(op: GemmOp): VariantChoice {
  const d = findVariant(op, DEFAULTS[op]);
  if (!d) throw new Error(`gemm-tiles: no default variant for ${op}`);
  return d;
}

/** Every variant of an op: what the tuner measures, tests force and benchmarks time. */
export function variantsOf(op: GemmOp): readonly VariantChoice[] {
  return VARIANTS[op];
}

/** The variant of `op` labelled `label`, or undefined when the table has none. */
export function findVariant(op: GemmOp, label: string): VariantChoice | undefined {
  return VARIANTS[op].find((v) => v.label === label);
}

/** What a default chosen without measuring on the adapter is labelled with. */
export const NOT_MEASURED = 'not measured on this adapter';

/**
 * A default other than the table's for an op shape (undefined: the table's). The backend of a
 * hardware adapter passes one that picks the variant of least counted traffic.
 */
export type DefaultPolicy = (op: GemmOp, dims: readonly number[]) => VariantChoice | undefined;

/** Where a choice came from: forced, tuned on this adapter, the measured table, or traffic alone. */
export type ChoiceSource = 'forced' | 'tuned' | 'default' | 'traffic';

/** A variant with where it came from (and NOT_MEASURED for a traffic default). */
export interface ExplainedChoice {
  variant: VariantChoice;
  source: ChoiceSource;
  note?: string;
}

/** Key of an op's shape for tuned choices: the op and its dimensions. */
export function shapeKey(op: GemmOp, dims: readonly number[]): string {
  return `${op}:${dims.join('x')}`;
}

/**
 * One backend's variant policy: the variants forced by a test or benchmark and the tuned
 * choices installed for its adapter. Each WebGPU backend owns one, so two backends in one
 * process never see each other's choices.
 */
export class GemmVariants {
  private readonly forced = new Map<GemmOp, VariantChoice>();
  /** Tuned choices: shape key -> label. */
  private tunedChoices = new Map<string, string>();

  /** `fallback`: the default policy of the adapter (none: the measured table). */
  constructor(private readonly fallback?: DefaultPolicy) {}

  /**
   * Runs `f` with `choice` forced for `op` (undefined: no forcing). Ops issued inside `f` use it;
   * a recorded program keeps the pipelines it was recorded with.
   */
  withForced<T>(op: GemmOp, choice: VariantChoice | undefined, f: () => T): T {
    if (!choice) return f();
    const before = this.forced.get(op);
    this.forced.set(op, choice);
    try {
      return f();
    } finally {
      if (before) this.forced.set(op, before);
      else this.forced.delete(op);
    }
  }

  /** Installs tuned choices (shape key -> variant label); unknown labels are ignored. */
  setTuned(choices: Readonly<Record<string, string>>): void {
    this.tunedChoices = new Map(Object.entries(choices));
  }

  tuned(): Record<string, string> {
    return Object.fromEntries(this.tunedChoices);
  }

  /** The variant an op of this shape runs with now. */
  choose(op: GemmOp, dims: readonly number[]): VariantChoice {
    return this.explain(op, dims).variant;
  }

  /** The variant an op of this shape runs with now, and why. */
  explain(op: GemmOp, dims: readonly number[]): ExplainedChoice {
    const f = this.forced.get(op);
    if (f) return { variant: f, source: 'forced' };
    const t = this.tunedChoices.get(shapeKey(op, dims));
    const hit = t ? findVariant(op, t) : undefined;
    if (hit) return { variant: hit, source: 'tuned' };
    const d = this.fallback?.(op, dims);
    if (d) return { variant: d, source: 'traffic', note: NOT_MEASURED };
    return { variant: defaultVariant(op), source: 'default' };
  }
}
