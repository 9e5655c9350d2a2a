/**
 * The model spec (docs/contract.md §1): a plain JSON description of a NITRO-D network and its
 * IntegerSGD hyper-parameters. `parseModelSpec` fills in defaults and rejects anything that
 * could not be built, with one-line errors that name the offending field.
 *
 * "version" (optional, omitted = 1) is the spec format version (src/io/formats.ts): a spec from
 * a newer release is refused by name; the returned spec leaves it out, as every version this
 * release reads describes the same network.
 *
 * Extension beyond docs/contract.md §1 (optional, omitted = no dropout):
 *
 *   "dropout": { "features": 0, "hidden": 100 }   // per-mille rates, multiples of 50 in [0, 950]
 *
 * placed as the reference assembles its models (docs/algorithm.md §1.5):
 * - `hidden`: after every linear block (its output, as seen by the next block or the output
 *   layers); in a CNN also after the last conv block, i.e. just before the final pool.
 * - `features`: after every conv block; where both are set, the last conv block uses `hidden`.
 * A block's learning head always sees the block output before dropout. In a CNN with
 * `hidden` dropout the features must end with a conv block followed by a pool, the only
 * layout in which the reference's "before the last feature layer" is a block output.
 */
import { InputError } from '../io/errors.ts';
import { newerVersionMessage, SPEC_VERSION } from '../io/formats.ts';
import { modelGeometry } from './geometry.ts';
import { headPooling } from './head-pooling.ts';

export const I32_MAX = 0x7fffffff;

/**
 * Most parameters a model may have: 2^29 int32 weights make a 2 GiB checkpoint, the largest
 * file the readers accept (and far beyond what either backend trains).
 */
export const MAX_PARAMETERS = 2 ** 29;

import {
  type Compat,
  type ConvFeature,
  type DropoutSpec,
  type FeatureSpec,
  type ModelSpec,
  type PoolFeature,
  SLOPE_INVS,
  type SlopeInv,
  type TrainingSpec,
} from './spec-types.ts';

export {
  type Compat,
  type ConvFeature,
  type DropoutSpec,
  type FeatureSpec,
  type ModelSpec,
  type PoolFeature,
  SLOPE_INVS,
  type SlopeInv,
  type TrainingSpec,
};

export function isConv(f: FeatureSpec): f is ConvFeature {
  return 'conv' in f;
}

/** Defaults for omitted optional keys: the paper's settings (docs/algorithm.md §7.1). */
export const SPEC_DEFAULTS = {
  headDim: 4096,
  negativeSlopeInv: 4 as SlopeInv,
  bias: false,
  lrInv: 512,
  /** The reference's default amplification is 2^6 · classes (640 for 10 classes). */
  lrAmpPerClass: 64,
  forwardDecayInv: 0,
  headDecayInv: 0,
  compat: 'none' as Compat,
};

/** Dropout train-time multiplier R (output = trunc(x · R / 1000)): ⌊10^6 / (1000 − rate)⌋, the reference's table. */
export function dropoutMultiplier(permille: number): number {
  if (!Number.isInteger(permille) || permille < 0 || permille >= 1000)
    throw new Error(`dropout rate must be in [0, 1000) per mille, got ${permille}`);
  // Exact: the quotient of integers below 2^53 truncates correctly in double precision.
  return Math.trunc(1_000_000 / (1000 - permille));
}

export class ModelSpecError extends InputError {
  constructor(
    message: string,
    /** Field path, e.g. "training.lrInv" or "features[2]"; "" for the spec as a whole. */
    readonly field: string,
    /** The spec's source (its file), as named at the start of the message. */
    source = 'model spec',
  ) {
    super(message, source);
    this.name = 'ModelSpecError';
  }
}

const TOP_KEYS = [
  'version',
  'input',
  'classes',
  'features',
  'hidden',
  'headDim',
  'negativeSlopeInv',
  'bias',
  'training',
  'compat',
  'dropout',
];
const TRAINING_KEYS = ['lrInv', 'lrAmp', 'forwardDecayInv', 'headDecayInv'];
const CONV_KEYS = ['conv', 'kernel', 'padding'];
const POOL_KEYS = ['pool'];
const DROPOUT_KEYS = ['features', 'hidden'];

/**
 * Validates a model spec (already parsed from JSON) and returns it with every optional key
 * filled in. Errors read "SOURCE: FIELD ..." on one line. Idempotent on its own output.
 */
export function parseModelSpec(json: unknown, source = 'model spec'): ModelSpec {
  const fail = (field: string, message: string): never => {
    throw new ModelSpecError(`${source}: ${message}`, field, source);
  };

  const obj = (v: unknown, field: string): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      return fail(field, `${field || 'the model spec'} must be a JSON object, got ${show(v)}`);
    }
    return v as Record<string, unknown>;
  };

  const onlyKeys = (o: Record<string, unknown>, allowed: readonly string[], field: string) => {
    for (const k of Object.keys(o)) {
      if (allowed.includes(k)) continue;
      const near = closest(k, allowed);
      fail(
        field,
        `unknown key "${k}"${field ? ` at ${field}` : ''}${near ? ` (did you mean "${near}"?)` : ''}`,
      );
    }
  };

  const int = (v: unknown, field: string, lo: number, hi = I32_MAX, what?: string): number => {
    if (typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi) return v === 0 ? 0 : v;
    let kind = what;
    if (!kind) {
      if (hi !== I32_MAX) kind = `an integer in [${lo}, ${hi}]`;
      else if (lo === 1) kind = 'a positive integer';
      else if (lo === 0) kind = 'a non-negative integer';
      else kind = `an integer ≥ ${lo}`;
      if (hi === I32_MAX && typeof v === 'number' && Number.isInteger(v) && v > hi)
        kind += ` that fits in i32 (≤ ${I32_MAX})`;
    }
    return fail(field, `${field} must be ${kind}, got ${show(v)}`);
  };

  const root = obj(json, '');
  // The version first: a newer spec may have keys this release does not know.
  if (root.version !== undefined) {
    const v = int(
      root.version,
      'version',
      1,
      I32_MAX,
      'a positive integer (the spec format version)',
    );
    if (v > SPEC_VERSION) fail('version', newerVersionMessage(v, SPEC_VERSION));
  }
  onlyKeys(root, TOP_KEYS, '');
  for (const k of ['input', 'classes']) if (root[k] === undefined) fail(k, `missing key "${k}"`);

  // input
  const inputRaw = root.input;
  if (!Array.isArray(inputRaw) || inputRaw.length !== 3) {
    fail('input', `input must be [channels, height, width], got ${show(inputRaw)}`);
  }
  const input = (inputRaw as unknown[]).map((v, i) => int(v, `input[${i}]`, 1)) as [
    number,
    number,
    number,
  ];

  const classes = int(root.classes, 'classes', 2);

  // features
  const featuresRaw = root.features ?? [];
  if (!Array.isArray(featuresRaw))
    fail('features', `features must be an array, got ${show(featuresRaw)}`);
  const features: FeatureSpec[] = (featuresRaw as unknown[]).map((f, i) => {
    const field = `features[${i}]`;
    const o = obj(f, field);
    if ('conv' in o) {
      onlyKeys(o, CONV_KEYS, field);
      if (o.kernel === undefined) fail(`${field}.kernel`, `missing key "kernel" at ${field}`);
      const kernel = int(o.kernel, `${field}.kernel`, 1);
      return {
        conv: int(o.conv, `${field}.conv`, 1),
        kernel,
        padding: int(o.padding ?? 0, `${field}.padding`, 0, kernel - 1),
      };
    }
    if ('pool' in o) {
      onlyKeys(o, POOL_KEYS, field);
      return { pool: int(o.pool, `${field}.pool`, 2) };
    }
    return fail(
      field,
      `${field} must be a conv block {"conv", "kernel", "padding"} or a pool {"pool"}, got ${show(o)}`,
    );
  });
  if (features.length > 0) {
    if (!isConv(features[0]))
      fail('features[0]', 'features[0] must be a conv block (a model cannot start with a pool)');
    for (let i = 1; i < features.length; i++) {
      if (!isConv(features[i]) && !isConv(features[i - 1])) {
        fail(
          `features[${i}]`,
          `features[${i}]: two pools in a row; use one pool of the product of their sizes`,
        );
      }
    }
  }

  // hidden
  const hiddenRaw = root.hidden ?? [];
  if (!Array.isArray(hiddenRaw))
    fail('hidden', `hidden must be an array of positive integers, got ${show(hiddenRaw)}`);
  const hidden = (hiddenRaw as unknown[]).map((v, i) => int(v, `hidden[${i}]`, 1));
  if (features.length === 0 && hidden.length === 0)
    fail('hidden', 'the model has no blocks: give "hidden" widths (MLP) or conv "features" (CNN)');

  const headDim = int(root.headDim ?? SPEC_DEFAULTS.headDim, 'headDim', 1, I32_MAX >> 8);
  if (headDim < classes)
    fail('headDim', `headDim must be at least classes (${classes}), got ${headDim}`);

  const slope = root.negativeSlopeInv ?? SPEC_DEFAULTS.negativeSlopeInv;
  if (!SLOPE_INVS.includes(slope as SlopeInv))
    fail(
      'negativeSlopeInv',
      `negativeSlopeInv must be one of ${SLOPE_INVS.join(',')}, got ${show(slope)}`,
    );

  const bias = root.bias ?? SPEC_DEFAULTS.bias;
  if (typeof bias !== 'boolean') fail('bias', `bias must be true or false, got ${show(bias)}`);

  // training
  const t = obj(root.training ?? {}, 'training');
  onlyKeys(t, TRAINING_KEYS, 'training');
  const training: TrainingSpec = {
    lrInv: int(t.lrInv ?? SPEC_DEFAULTS.lrInv, 'training.lrInv', 1),
    lrAmp: int(t.lrAmp ?? SPEC_DEFAULTS.lrAmpPerClass * classes, 'training.lrAmp', 1),
    forwardDecayInv: int(
      t.forwardDecayInv ?? SPEC_DEFAULTS.forwardDecayInv,
      'training.forwardDecayInv',
      0,
      I32_MAX,
      'a non-negative integer (0 = off)',
    ),
    headDecayInv: int(
      t.headDecayInv ?? SPEC_DEFAULTS.headDecayInv,
      'training.headDecayInv',
      0,
      I32_MAX,
      'a non-negative integer (0 = off)',
    ),
  };

  const compat = root.compat ?? SPEC_DEFAULTS.compat;
  if (compat !== 'reference' && compat !== 'none')
    fail('compat', `compat must be "reference" or "none", got ${show(compat)}`);

  // dropout (extension)
  let dropout: DropoutSpec | undefined;
  if (root.dropout !== undefined) {
    const d = obj(root.dropout, 'dropout');
    onlyKeys(d, DROPOUT_KEYS, 'dropout');
    // The reference's rates are multiples of 0.05 (docs/algorithm.md §1.6).
    const what = 'a per-mille rate, a multiple of 50 in [0, 950]';
    const rate = (v: unknown, field: string) => {
      const r = int(v ?? 0, field, 0, 950, what);
      if (r % 50 !== 0) fail(field, `${field} must be ${what}, got ${r}`);
      return r;
    };
    dropout = {
      features: rate(d.features, 'dropout.features'),
      hidden: rate(d.hidden, 'dropout.hidden'),
    };
  }

  const spec: ModelSpec = {
    input,
    classes,
    features,
    hidden,
    headDim,
    negativeSlopeInv: slope as SlopeInv,
    bias: bias as boolean,
    training,
    compat: compat as Compat,
  };
  if (dropout) spec.dropout = dropout;

  checkGeometry(spec, fail);
  return spec;
}

/** Walks the shapes through the network and rejects what cannot be built or would overflow i32. */
function checkGeometry(spec: ModelSpec, fail: (field: string, message: string) => never): void {
  const fitsSf = (fanIn: number) => fanIn <= I32_MAX >> 8;
  const fitsTensor = (...dims: number[]) => dims.reduce((a, b) => a * b, 1) <= I32_MAX;
  let [c, h, w] = spec.input;
  spec.features.forEach((f, i) => {
    const field = `features[${i}]`;
    if (isConv(f)) {
      const ph = h + 2 * f.padding;
      const pw = w + 2 * f.padding;
      if (f.kernel > ph || f.kernel > pw) {
        fail(
          field,
          `${field}: kernel ${f.kernel} does not fit the ${h}x${w} map with padding ${f.padding}`,
        );
      }
      const fanIn = c * f.kernel * f.kernel;
      if (!fitsSf(fanIn))
        fail(
          field,
          `${field}: fan-in ${fanIn} (channels·kernel²) makes the scaling factor 256·${fanIn} overflow i32`,
        );
      h = ph - f.kernel + 1;
      w = pw - f.kernel + 1;
      c = f.conv;
      if (!fitsTensor(f.conv, fanIn) || !fitsTensor(c, h, w))
        fail(field, `${field}: the block is too large for i32 indexing`);
      const head = headPooling(c, h, w, spec.headDim);
      if (!fitsSf(head.dlr))
        fail(
          field,
          `${field}: the learning head's input size ${head.dlr} makes its scaling factor overflow i32`,
        );
      if (!fitsTensor(spec.classes, head.dlr))
        fail(field, `${field}: the learning head is too large for i32 indexing`);
    } else {
      if (Math.trunc(h / f.pool) < 1 || Math.trunc(w / f.pool) < 1) {
        fail(
          field,
          `${field}: pool ${f.pool} shrinks the ${h}x${w} map to ${Math.trunc(h / f.pool)}x${Math.trunc(w / f.pool)}`,
        );
      }
      h = Math.trunc(h / f.pool);
      w = Math.trunc(w / f.pool);
    }
  });
  let inFeatures = c * h * w;
  if (!fitsTensor(c, h, w))
    fail('input', `the flattened input (${c}x${h}x${w}) is too large for i32 indexing`);
  spec.hidden.forEach((out, i) => {
    const field = `hidden[${i}]`;
    if (!fitsSf(inFeatures))
      fail(
        field,
        `${field}: fan-in ${inFeatures} makes the scaling factor 256·${inFeatures} overflow i32`,
      );
    if (!fitsTensor(out, inFeatures))
      fail(field, `${field}: the weight [${out}, ${inFeatures}] is too large for i32 indexing`);
    inFeatures = out;
  });
  if (!fitsSf(inFeatures))
    fail(
      'classes',
      `the output layer's fan-in ${inFeatures} makes its scaling factor overflow i32`,
    );

  const g = modelGeometry(spec);
  if (g.cost.parameters > MAX_PARAMETERS) {
    const largest = g.parameters.reduce((a, p) => (p.size > a.size ? p : a));
    const field = layerField(spec, largest.block, largest.role);
    fail(
      field,
      `the model has ${g.cost.parameters} parameters (${(g.cost.parameters / 2 ** 28).toFixed(1)} GiB as int32), more than the ${MAX_PARAMETERS} a checkpoint can hold; the largest, ${largest.name} [${largest.shape.join(', ')}], comes from ${field}`,
    );
  }

  const fc = spec.dropout?.hidden ?? 0;
  if (fc > 0 && spec.features.length > 0) {
    const n = spec.features.length;
    if (n < 2 || isConv(spec.features[n - 1]) || !isConv(spec.features[n - 2])) {
      fail(
        'dropout.hidden',
        'dropout.hidden in a CNN needs features that end with a conv block followed by a pool (the dropout sits before that pool)',
      );
    }
  }
}

/** The spec field that sizes block `block`'s tensors (the output layer: the last block's width). */
function layerField(spec: ModelSpec, block: number | undefined, role: string): string {
  const convs = spec.features.filter(isConv).length;
  const b = role === 'output' || block === undefined ? convs + spec.hidden.length - 1 : block;
  if (role === 'head' && b < convs) return 'headDim';
  if (b < convs) {
    let seen = -1;
    return `features[${spec.features.findIndex((f) => isConv(f) && ++seen === b)}]`;
  }
  return b - convs >= 0 ? `hidden[${b - convs}]` : 'input';
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s =
    typeof v === 'string'
      ? JSON.stringify(v)
      : typeof v === 'number'
        ? String(v)
        : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** The allowed key within edit distance 2 of `key`, if any (a likely typo). */
function closest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const a of allowed) {
    const d = editDistance(key.toLowerCase(), a.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = a;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
