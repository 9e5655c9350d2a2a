/**
 * Fuzz drivers of every parser: generators of structured mutations of valid files (header
 * fields, shapes, dtypes, offsets, truncations, duplicate names, JSON edits, bytes), built with
 * fast-check, and a classifier of what each parser did with each input:
 * - valid: parsed, and the result passes the format's own invariants;
 * - clean: an InputError of one line that names the file;
 * - crash: anything else thrown (another type, several lines, the file not named);
 * - invalid: accepted although the mutation made the file invalid, or a result that breaks the
 *   invariants;
 * - hang: took longer than HANG_MS.
 * Shared by the test suite (test/fuzz.test.ts) and scripts/reliability-fuzz.ts.
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { parseCifar } from '../../src/data/cifar.ts';
import { decodeIdx, IDX_IMAGES, IDX_LABELS } from '../../src/data/idx.ts';
import { parseBatches, parseInputs } from '../../src/io/batches.ts';
import { parseCheckpoint } from '../../src/io/checkpoint.ts';
import { InputError } from '../../src/io/errors.ts';
import { parseJson } from '../../src/io/json.ts';
import { parseSafetensors } from '../../src/io/safetensors.ts';
import { MAX_PARAMETERS, parseModelSpec } from '../../src/model/spec.ts';
import { modelGeometry } from '../../src/model/geometry.ts';
import { planFromSpec } from '../../src/model/plan.ts';

export const HANG_MS = 2000;

/** An input and, when a mutation made it certainly invalid, why. */
export interface Case<T = Uint8Array> {
  input: T;
  invalid?: string;
}

export type Outcome = 'valid' | 'clean' | 'crash' | 'invalid' | 'hang';

export interface Driver<T = Uint8Array> {
  area: string;
  /** The name the parser is given for the input; every error must contain it. */
  file: string;
  cases: fc.Arbitrary<Case<T>>;
  /** Parses; throws Invalid when the result breaks the format's invariants. */
  parse(input: T): unknown;
}

export class Invalid extends Error {}

export interface Classified {
  outcome: Outcome;
  message?: string;
}

export async function classify<T>(driver: Driver<T>, c: Case<T>): Promise<Classified> {
  const t0 = performance.now();
  let result: Classified;
  try {
    await driver.parse(c.input);
    result = c.invalid
      ? { outcome: 'invalid', message: `accepted: ${c.invalid}` }
      : { outcome: 'valid' };
  } catch (e) {
    const message = (e as Error)?.message ?? String(e);
    if (e instanceof Invalid) result = { outcome: 'invalid', message };
    else if (
      e instanceof InputError &&
      !message.includes('\n') &&
      message.includes(driver.file) &&
      e.file === driver.file
    )
      result = { outcome: 'clean', message };
    else result = { outcome: 'crash', message: `${(e as Error)?.name}: ${message}` };
  }
  if (performance.now() - t0 > HANG_MS)
    return { outcome: 'hang', message: `took ${Math.round(performance.now() - t0)} ms` };
  return result;
}

export interface Counts {
  area: string;
  tried: number;
  valid: number;
  clean: number;
  crash: number;
  hang: number;
  invalid: number;
  /** The first few failures (crash, hang, invalid), for the report. */
  failures: string[];
}

/**
 * Runs `runs` generated cases through a driver with a fixed seed. With `check`, the first
 * failure fails the fast-check property (shrunk to a small counterexample); without it every
 * case is counted.
 */
export async function fuzz<T>(
  driver: Driver<T>,
  options: { runs: number; seed: number; check?: boolean },
): Promise<Counts> {
  const counts: Counts = {
    area: driver.area,
    tried: 0,
    valid: 0,
    clean: 0,
    crash: 0,
    hang: 0,
    invalid: 0,
    failures: [],
  };
  let counting = true;
  await fc.assert(
    fc.asyncProperty(driver.cases, async (c) => {
      const r = await classify(driver, c);
      if (counting) {
        counts.tried++;
        counts[r.outcome]++;
        if (r.outcome !== 'valid' && r.outcome !== 'clean' && counts.failures.length < 5)
          counts.failures.push(`${r.outcome}: ${r.message}`);
      }
      const ok = r.outcome === 'valid' || r.outcome === 'clean';
      if (!ok && options.check) {
        // Shrinking replays cases: count only the generated ones.
        counting = false;
        throw new Error(`${driver.area}: ${r.outcome}: ${r.message}`);
      }
    }),
    { seed: options.seed, numRuns: options.runs, endOnFailure: !options.check },
  );
  return counts;
}

// ---------------------------------------------------------------------------------------------
// safetensors: a file model the mutations edit, then its bytes.

type Dtype = 'I8' | 'U8' | 'I16' | 'U16' | 'I32';
const ITEM: Record<Dtype, number> = { I8: 1, U8: 1, I16: 2, U16: 2, I32: 4 };

interface Tensor {
  name: string;
  dtype: Dtype;
  shape: number[];
  data: Uint8Array;
}

/** A safetensors file being built: entries are raw JSON values, so anything can be said. */
interface StFile {
  entries: [string, unknown][];
  data: Uint8Array;
  /** Text edits of the header JSON, applied in order. */
  edits: ((text: string) => string)[];
  /** Byte edits of the whole file, applied in order. */
  bytes: ((b: Uint8Array) => Uint8Array)[];
  /** What a mutation last did, for reading a case (the verdict comes from the oracle). */
  invalid?: string;
  /** An edit that certainly breaks the file (a cut, trailing bytes, a duplicate key). */
  certain?: string;
  /** Bytes were overwritten: whether the file is valid is not known. */
  scrambled?: boolean;
}

function stFromTensors(tensors: Tensor[], metadata?: Record<string, unknown>): StFile {
  const entries: [string, unknown][] = [];
  if (metadata) entries.push(['__metadata__', metadata]);
  let off = 0;
  const chunks: Uint8Array[] = [];
  for (const t of tensors) {
    entries.push([
      t.name,
      { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.length] },
    ]);
    off += t.data.length;
    chunks.push(t.data);
  }
  const data = new Uint8Array(off);
  let p = 0;
  for (const c of chunks) {
    data.set(c, p);
    p += c.length;
  }
  return { entries, data, edits: [], bytes: [] };
}

export function stBytes(f: StFile): Uint8Array {
  let text = `{${f.entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
  for (const e of f.edits) text = e(text);
  let header = new TextEncoder().encode(text);
  const padded = (header.length + 7) & ~7;
  if (padded !== header.length) {
    header = new TextEncoder().encode(text + ' '.repeat(padded - header.length));
  }
  let out: Uint8Array = new Uint8Array(8 + header.length + f.data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(f.data, 8 + header.length);
  for (const e of f.bytes) out = e(out);
  return out;
}

const sized = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

function tensorArb(name: string, dtypes: readonly Dtype[], rank = fc.integer({ min: 0, max: 3 })) {
  return fc
    .record({
      dtype: fc.constantFrom(...dtypes),
      shape: rank.chain((r) =>
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: r, maxLength: r }),
      ),
    })
    .chain(({ dtype, shape }) =>
      sized(shape.reduce((a, b) => a * b, 1) * ITEM[dtype]).map(
        (data): Tensor => ({ name, dtype, shape, data }),
      ),
    );
}

const NAMES = ['x', 'y', 'w', 'blocks.0.weight', 'output.weight', 'a.b', 'é', 'z'];

/** Random valid safetensors files (the dtypes given). */
function stFileArb(dtypes: readonly Dtype[]): fc.Arbitrary<StFile> {
  return fc
    .record({
      names: fc.uniqueArray(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 4 }),
      metadata: fc.option(
        fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
      ),
    })
    .chain(({ names, metadata }) =>
      fc
        .tuple(...names.map((n) => tensorArb(n, dtypes)))
        .map((ts) => stFromTensors(ts, metadata ?? undefined)),
    );
}

const WEIRD_NUMBERS = [
  -1,
  1.5,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  1e308,
  -0,
  Number.MAX_SAFE_INTEGER,
];
const WEIRD_VALUES: unknown[] = [
  null,
  'x',
  '3',
  true,
  [],
  {},
  [1, 2, 3],
  { a: 1 },
  ...WEIRD_NUMBERS,
];

/** An entry still in the form the writer made (later mutations edit only those). */
function intact(e: [string, unknown]): boolean {
  const v = e[1] as Record<string, unknown> | null;
  return (
    e[0] !== '__metadata__' &&
    typeof v === 'object' &&
    v !== null &&
    Array.isArray(v.shape) &&
    v.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0) &&
    Array.isArray(v.data_offsets) &&
    v.data_offsets.length === 2 &&
    v.data_offsets.every((d) => Number.isSafeInteger(d) && (d as number) >= 0) &&
    typeof v.dtype === 'string' &&
    v.dtype in ITEM
  );
}

/** Index of an intact tensor entry, if any. */
function tensorIndex(f: StFile, pick: number): number | undefined {
  const idx = f.entries.map((e, i) => (intact(e) ? i : -1)).filter((i) => i >= 0);
  return idx.length ? idx[pick % idx.length] : undefined;
}

function entryOf(f: StFile, i: number): Record<string, unknown> {
  return f.entries[i][1] as Record<string, unknown>;
}

function setEntry(f: StFile, i: number, e: Record<string, unknown>) {
  f.entries[i] = [f.entries[i][0], e];
}

const nonEmpty = (e: Record<string, unknown>) => {
  const o = e.data_offsets as number[];
  return Array.isArray(o) && o[1] > o[0];
};

type Mutation = (f: StFile) => void;

/** Structured mutations of a safetensors file; each says when it certainly makes it invalid. */
const stMutation: fc.Arbitrary<Mutation> = fc.oneof(
  // A tensor listed twice: the second entry with another (maybe valid-looking) body.
  fc
    .record({
      pick: fc.nat(),
      body: fc.constantFrom<unknown>(
        { dtype: 'I32', shape: [1], data_offsets: [0, 4] },
        { dtype: 'F64', shape: [-1], data_offsets: [9, 2] },
        'x',
      ),
      first: fc.boolean(),
    })
    .map(({ pick, body, first }) => (f: StFile) => {
      const i = tensorIndex(f, pick);
      if (i === undefined) return;
      const dup: [string, unknown] = [f.entries[i][0], body];
      if (first) f.entries.splice(i, 0, dup);
      else f.entries.push(dup);
      f.invalid = `tensor ${dup[0]} listed twice`;
    }),
  fc
    .record({
      pick: fc.nat(),
      dtype: fc.constantFrom<unknown>(
        'I32',
        'I8',
        'U8',
        'I16',
        'U16',
        'F32',
        'F64',
        'BOOL',
        '',
        5,
        null,
      ),
    })
    .map(({ pick, dtype }) => (f: StFile) => {
      const i = tensorIndex(f, pick);
      if (i === undefined) return;
      const e = entryOf(f, i);
      if (e.dtype === dtype) return;
      setEntry(f, i, { ...e, dtype });
      const known = typeof dtype === 'string' && dtype in ITEM;
      const size = (e.shape as number[]).reduce((a, b) => a * b, 1);
      // Another known dtype of the same item size still fits its offsets.
      if (!known || (size > 0 && ITEM[dtype as Dtype] !== ITEM[e.dtype as Dtype]))
        f.invalid = `dtype ${String(dtype)}`;
    }),
  fc
    .record({ pick: fc.nat(), dim: fc.nat(), value: fc.constantFrom<unknown>(...WEIRD_VALUES) })
    .map(({ pick, dim, value }) => (f: StFile) => {
      const i = tensorIndex(f, pick);
      if (i === undefined) return;
      const e = entryOf(f, i);
      const shape = [...(e.shape as unknown[])];
      if (shape.length === 0) shape.push(value);
      else shape[dim % shape.length] = value;
      setEntry(f, i, { ...e, shape });
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
        f.invalid = `shape ${JSON.stringify(shape)}`;
    }),
  fc
    .record({ pick: fc.nat(), value: fc.constantFrom<unknown>(...WEIRD_VALUES) })
    .map(({ pick, value }) => (f: StFile) => {
      const i = tensorIndex(f, pick);
      if (i === undefined) return;
      setEntry(f, i, { ...entryOf(f, i), shape: value });
      if (!Array.isArray(value)) f.invalid = 'shape not an array';
    }),
  fc
    .record({
      pick: fc.nat(),
      kind: fc.constantFrom('shift', 'swap', 'far', 'neg', 'triple', 'string', 'end'),
      k: fc.integer({ min: 1, max: 9 }),
    })
    .map(({ pick, kind, k }) => (f: StFile) => {
      const i = tensorIndex(f, pick);
      if (i === undefined) return;
      const e = entryOf(f, i);
      const [b, en] = e.data_offsets as number[];
      const offsets: Record<string, unknown> = {
        shift: [b + k, en + k],
        swap: [en, b],
        far: [b, 2 ** 53 + 2],
        neg: [-k, en],
        triple: [b, en, en],
        string: [String(b), en],
        end: [b, en + k],
      };
      setEntry(f, i, { ...e, data_offsets: offsets[kind] });
      if (kind !== 'shift' && kind !== 'swap') f.invalid = `data_offsets ${kind}`;
      else if (nonEmpty(e)) f.invalid = `data_offsets ${kind}`;
    }),
  fc
    .record({ pick: fc.nat(), field: fc.constantFrom('dtype', 'shape', 'data_offsets') })
    .map(({ pick, field }) => (f: StFile) => {
      const i = tensorIndex(f, pick);
      if (i === undefined) return;
      const e = { ...entryOf(f, i) };
      delete e[field];
      setEntry(f, i, e);
      f.invalid = `no ${field}`;
    }),
  fc.constantFrom<unknown>(['x'], 'x', { a: 1 }, { a: null }, null).map((value) => (f: StFile) => {
    const i = f.entries.findIndex((e) => e[0] === '__metadata__');
    if (i >= 0) f.entries[i] = ['__metadata__', value];
    else f.entries.unshift(['__metadata__', value]);
    f.invalid = '__metadata__ not an object of strings';
  }),
  // Nesting: a shape wrapped in arrays, a few levels to far past any limit.
  fc
    .record({ pick: fc.nat(), depth: fc.integer({ min: 2, max: 20_000 }) })
    .map(({ pick, depth }) => (f: StFile) => {
      const i = tensorIndex(f, pick);
      if (i === undefined) return;
      const name = JSON.stringify(f.entries[i][0]);
      f.edits.push((t) =>
        t.replace(`${name}:{`, `${name}:{"shape":${'['.repeat(depth)}${']'.repeat(depth)},`),
      );
      // Too deep, or a duplicate "shape" key: invalid either way.
      f.certain = 'nested shape given twice';
    }),
  fc.constantFrom('', '__metadata__x', 'x\n', '\u0000').map((name) => (f: StFile) => {
    f.entries.push([name, { dtype: 'I32', shape: [0], data_offsets: [0, 0] }]);
    if (name === '') f.invalid = 'empty name';
  }),
  // The length field: random u64, nearby values, 0, 2^63.
  fc
    .oneof(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.integer({ min: -8, max: 8 }).map((d) => d),
      fc.constantFrom(0n, 2n ** 63n, 2n ** 53n + 1n),
    )
    .map((v) => (f: StFile) => {
      f.bytes.push((b) => {
        const out = b.slice();
        if (out.length < 8) return out;
        const view = new DataView(out.buffer);
        const len = view.getBigUint64(0, true);
        const next = typeof v === 'bigint' ? v : len + BigInt(v);
        if (next < 0n || next === len) return out;
        view.setBigUint64(0, next, true);
        return out;
      });
      f.scrambled = true;
    }),
  fc.double({ min: 0, max: 0.999, noNaN: true }).map((at) => (f: StFile) => {
    f.bytes.push((b) => b.subarray(0, Math.floor(at * b.length)));
    f.certain = 'truncated';
  }),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((extra) => (f: StFile) => {
    f.bytes.push((b) => {
      const out = new Uint8Array(b.length + extra.length);
      out.set(b);
      out.set(extra, b.length);
      return out;
    });
    f.certain = 'trailing bytes';
  }),
  fc
    .array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 4,
    })
    .map((flips) => (f: StFile) => {
      f.bytes.push((b) => {
        const out = b.slice();
        for (const [at, v] of flips) if (out.length) out[Math.floor(at * (out.length - 1))] = v;
        return out;
      });
      f.scrambled = true;
    }),
);

/**
 * Applies mutations to a copy of `f`; the verdict: unknown when bytes were overwritten,
 * certainly invalid after a cut, trailing bytes or a duplicate key, else the oracle's, which
 * judges the final header entries and data independently of the parser.
 */
function applyMutations(
  f: StFile,
  ms: Mutation[],
  oracle: (f: StFile) => string | undefined,
): Case {
  const file: StFile = { ...f, entries: [...f.entries], edits: [], bytes: [] };
  let certain: string | undefined;
  let scrambled = false;
  for (const m of ms) {
    file.certain = undefined;
    file.scrambled = false;
    m(file);
    // A fresh reference: the mutation changed these fields behind the type checker's back.
    const after: StFile = file;
    certain = after.certain ?? certain;
    scrambled ||= after.scrambled === true;
  }
  const input = stBytes(file);
  return { input, invalid: scrambled ? undefined : (certain ?? oracle(file)) };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const product = (a: readonly number[]) => a.reduce((x, y) => x * y, 1);

/** Why the file's entries and data do not make a valid safetensors file (own reading). */
function stOracle(f: StFile, accepted: readonly string[]): string | undefined {
  const seen = new Set<string>();
  const extents: [number, number][] = [];
  for (const [name, v] of f.entries) {
    if (seen.has(name)) return `duplicate ${name}`;
    seen.add(name);
    if (name === '__metadata__') {
      if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) return 'metadata';
      continue;
    }
    if (name === '') return 'empty name';
    if (!isObject(v)) return 'entry';
    const { dtype, shape, data_offsets: o } = v;
    if (typeof dtype !== 'string' || !accepted.includes(dtype)) return `dtype ${String(dtype)}`;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      return 'shape';
    if (!Array.isArray(o) || o.length !== 2 || !o.every((d) => Number.isSafeInteger(d) && d >= 0))
      return 'offsets';
    if (o[1] < o[0] || o[1] > f.data.length) return 'offsets range';
    if (o[1] - o[0] !== product(shape) * ITEM[dtype as Dtype]) return 'offsets size';
    if (o[1] > o[0]) extents.push([o[0], o[1]]);
  }
  extents.sort((a, b) => a[0] - b[0]);
  let end = 0;
  for (const [b, e] of extents) {
    if (b !== end) return b < end ? 'overlap' : 'hole';
    end = e;
  }
  return end === f.data.length ? undefined : 'data not covered';
}

/** The int32 values of tensor `name` (which the oracle found well-formed). */
function int32Of(f: StFile, name: string): Int32Array {
  const e = f.entries.find((x) => x[0] === name)?.[1] as { data_offsets: number[] };
  const [b, en] = e.data_offsets;
  return new Int32Array(f.data.slice(b, en).buffer);
}

function mutated<F extends StFile>(
  base: fc.Arbitrary<F>,
  extra: fc.Arbitrary<Mutation>[] = [],
  oracle: (f: StFile) => string | undefined = (f) => stOracle(f, Object.keys(ITEM)),
) {
  const mutation = extra.length ? fc.oneof(stMutation, ...extra) : stMutation;
  return fc
    .tuple(base, fc.array(mutation, { minLength: 0, maxLength: 3 }))
    .map(([f, ms]) => applyMutations(f, ms, oracle));
}

/** A parsed file must have every tensor the size of its shape and cover the file exactly. */
function checkParsed(bytes: Uint8Array, parsed: ReturnType<typeof parseSafetensors>): void {
  if (bytes.length < 8) throw new Invalid(`accepted ${bytes.length} bytes`);
  const headerLength = Number(
    new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true),
  );
  let total = 0;
  for (const [name, t] of parsed.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n)
      throw new Invalid(`tensor ${name}: ${t.data.length} values for ${t.shape}`);
    total += n * ITEM[t.dtype];
  }
  if (8 + headerLength + total !== bytes.length)
    throw new Invalid(`tensors cover ${8 + headerLength + total} of ${bytes.length} bytes`);
}

export function safetensorsDriver(): Driver {
  const file = 'fuzz.safetensors';
  const dtypes: Dtype[] = ['I8', 'U8', 'I16', 'U16', 'I32'];
  return {
    area: 'safetensors (raw)',
    file,
    cases: mutated(stFileArb(dtypes)),
    parse(bytes) {
      const parsed = parseSafetensors(bytes, { file, dtypes });
      checkParsed(bytes, parsed);
      return parsed;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Checkpoints of a small model.

const CKPT_SPEC = parseModelSpec({ input: [1, 4, 4], classes: 3, hidden: [5, 4], bias: true });
const CKPT_TENSORS = planFromSpec(CKPT_SPEC).parameters;

function checkpointOracle(f: StFile): string | undefined {
  const tensors = f.entries.filter((e) => e[0] !== '__metadata__');
  if (tensors.length !== CKPT_TENSORS.length) return 'tensor count';
  for (const t of CKPT_TENSORS) {
    const e = tensors.find((x) => x[0] === t.name)?.[1] as { shape: number[] } | undefined;
    if (!e) return `missing ${t.name}`;
    if (JSON.stringify(e.shape) !== JSON.stringify(t.shape)) return `shape of ${t.name}`;
  }
  return undefined;
}

/** Only the named tensors, each present. */
function onlyTensors(f: StFile, names: string[]): string | undefined {
  const have = f.entries.filter((e) => e[0] !== '__metadata__').map((e) => e[0]);
  return have.length === names.length && names.every((n) => have.includes(n))
    ? undefined
    : `tensors ${have.join(',')}`;
}

function shapeOf(f: StFile, name: string): number[] {
  const entry = f.entries.find((e) => e[0] === name);
  return (entry?.[1] as { shape: number[] } | undefined)?.shape ?? [];
}

function batchesOracle(f: StFile, sh: BatchShape): string | undefined {
  const only = onlyTensors(f, ['x', 'y']);
  if (only) return only;
  const x = shapeOf(f, 'x');
  const y = shapeOf(f, 'y');
  if (x.length !== 5 || x[0] < 1 || x[1] < 1) return 'x shape';
  if (x[2] !== sh.c || x[3] !== sh.h || x[4] !== sh.w) return 'x samples';
  if (y.length !== 2 || y[0] !== x[0] || y[1] !== x[1]) return 'y shape';
  if (int32Of(f, 'x').some((v) => v < -128 || v > 127)) return 'x value';
  if (int32Of(f, 'y').some((v) => v < 0 || v >= sh.classes)) return 'label';
  return undefined;
}

function inputsOracle(f: StFile, sh: BatchShape): string | undefined {
  const only = onlyTensors(f, ['x']);
  if (only) return only;
  const x = shapeOf(f, 'x');
  if (x.length !== 4 || x[0] < 1) return 'x shape';
  if (x[1] !== sh.c || x[2] !== sh.h || x[3] !== sh.w) return 'x samples';
  if (int32Of(f, 'x').some((v) => v < -128 || v > 127)) return 'x value';
  return undefined;
}

export function checkpointDriver(): Driver {
  const file = 'fuzz-checkpoint.safetensors';
  const base = fc
    .tuple(...CKPT_TENSORS.map((t) => sized(4 * t.shape.reduce((a, b) => a * b, 1))))
    .map((datas) =>
      stFromTensors(
        CKPT_TENSORS.map((t, i) => ({
          name: t.name,
          dtype: 'I32' as Dtype,
          shape: [...t.shape],
          data: datas[i],
        })),
        { model: JSON.stringify(CKPT_SPEC), steps: '3' },
      ),
    );
  const semantic: fc.Arbitrary<Mutation>[] = [
    fc
      .record({ pick: fc.nat(), name: fc.constantFrom('blocks.9.weight', 'output.bias ', 'x') })
      .map(({ pick, name }) => (f: StFile) => {
        const i = tensorIndex(f, pick);
        if (i === undefined) return;
        f.entries[i] = [name, f.entries[i][1]];
        f.invalid = `tensor renamed to ${name}`;
      }),
    fc.record({ pick: fc.nat() }).map(({ pick }) => (f: StFile) => {
      const i = tensorIndex(f, pick);
      if (i === undefined) return;
      const e = entryOf(f, i);
      const shape = e.shape as number[];
      if (shape.length < 2) return;
      // Same number of values, other shape.
      setEntry(f, i, { ...e, shape: [shape[1], shape[0]] });
      if (shape[0] !== shape[1]) f.invalid = 'transposed shape';
    }),
  ];
  return {
    area: 'checkpoint',
    file,
    cases: mutated(base, semantic, (f) => stOracle(f, ['I32']) ?? checkpointOracle(f)),
    parse(bytes) {
      const ckpt = parseCheckpoint(bytes, CKPT_TENSORS, file);
      for (const t of CKPT_TENSORS) {
        const n = t.shape.reduce((a, b) => a * b, 1);
        if (ckpt.tensors.get(t.name)?.length !== n) throw new Invalid(`tensor ${t.name} size`);
      }
      if (ckpt.tensors.size !== CKPT_TENSORS.length) throw new Invalid('tensor count');
      return ckpt;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Batches and prediction inputs.

function int32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Int32Array.from(values).buffer);
}

interface BatchShape {
  s: number;
  b: number;
  c: number;
  h: number;
  w: number;
  classes: number;
}

const batchShape = fc.record({
  s: fc.integer({ min: 1, max: 3 }),
  b: fc.integer({ min: 1, max: 3 }),
  c: fc.integer({ min: 1, max: 2 }),
  h: fc.integer({ min: 1, max: 3 }),
  w: fc.integer({ min: 1, max: 3 }),
  classes: fc.integer({ min: 2, max: 5 }),
});

/** Mutations of values: an x value outside [-128, 127], a label outside [0, classes). */
function valueMutation(tensor: string, bad: number[]): fc.Arbitrary<Mutation> {
  return fc.record({ at: fc.nat(), v: fc.constantFrom(...bad) }).map(({ at, v }) => (f: StFile) => {
    const i = f.entries.findIndex((e) => e[0] === tensor && intact(e));
    if (i < 0) return;
    const [b, e] = entryOf(f, i).data_offsets as number[];
    if (b < 0 || e <= b || e > f.data.length || b % 4 !== 0 || (e - b) % 4 !== 0) return;
    const data = f.data.slice();
    const word = b / 4 + (at % ((e - b) / 4));
    new DataView(data.buffer).setInt32(4 * word, v, true);
    f.data = data;
    f.invalid = `${tensor} value ${v}`;
  });
}

export function batchesDriver(): Driver<Case['input']> & { shapeOf?: never } {
  const file = 'fuzz-batches.safetensors';
  let current: BatchShape = { s: 1, b: 1, c: 1, h: 1, w: 1, classes: 2 };
  const base = batchShape.chain((sh) => {
    const nx = sh.s * sh.b * sh.c * sh.h * sh.w;
    return fc
      .tuple(
        fc.array(fc.integer({ min: -128, max: 127 }), { minLength: nx, maxLength: nx }),
        fc.array(fc.integer({ min: 0, max: sh.classes - 1 }), {
          minLength: sh.s * sh.b,
          maxLength: sh.s * sh.b,
        }),
      )
      .map(([x, y]) => ({
        sh,
        file: stFromTensors([
          { name: 'x', dtype: 'I32', shape: [sh.s, sh.b, sh.c, sh.h, sh.w], data: int32Bytes(x) },
          { name: 'y', dtype: 'I32', shape: [sh.s, sh.b], data: int32Bytes(y) },
        ]),
      }));
  });
  const semantic = [
    valueMutation('x', [128, -129, 2 ** 31 - 1, -(2 ** 31)]),
    valueMutation('y', [-1, 5, 99, 2 ** 31 - 1]),
    fc.constant((f: StFile) => {
      const i = f.entries.findIndex((e) => e[0] === 'x' && intact(e));
      if (i < 0) return;
      const e = entryOf(f, i);
      const shape = e.shape as number[];
      setEntry(f, i, { ...e, shape: [shape[0] * shape[1], ...shape.slice(2)] });
      f.invalid = 'x of rank 4';
    }),
  ];
  const cases = fc
    .tuple(base, fc.array(fc.oneof(stMutation, ...semantic), { maxLength: 3 }))
    .map(([{ sh, file: f }, ms]) => {
      const c = applyMutations(f, ms, (g) => stOracle(g, ['I32']) ?? batchesOracle(g, sh));
      return { input: { bytes: c.input, sh }, invalid: c.invalid };
    });
  return {
    area: 'batches',
    file,
    cases: cases as unknown as fc.Arbitrary<Case>,
    parse(input) {
      const { bytes, sh } = input as unknown as { bytes: Uint8Array; sh: BatchShape };
      current = sh;
      const b = parseBatches(bytes, file, { shape: [sh.c, sh.h, sh.w], classes: sh.classes });
      if (b.x.some((v) => v < -128 || v > 127)) throw new Invalid('x value out of range');
      if (b.y.some((v) => v < 0 || v >= current.classes)) throw new Invalid('label out of range');
      if (b.x.length !== b.steps * b.batch * sh.c * sh.h * sh.w) throw new Invalid('x size');
      if (b.y.length !== b.steps * b.batch) throw new Invalid('y size');
      return b;
    },
  };
}

export function inputsDriver(): Driver {
  const file = 'fuzz-input.safetensors';
  const base = batchShape.chain((sh) => {
    const nx = sh.b * sh.c * sh.h * sh.w;
    return fc
      .array(fc.integer({ min: -128, max: 127 }), { minLength: nx, maxLength: nx })
      .map((x) => ({
        sh,
        file: stFromTensors([
          { name: 'x', dtype: 'I32', shape: [sh.b, sh.c, sh.h, sh.w], data: int32Bytes(x) },
        ]),
      }));
  });
  const cases = fc
    .tuple(
      base,
      fc.array(fc.oneof(stMutation, valueMutation('x', [128, -129, 1000])), { maxLength: 3 }),
    )
    .map(([{ sh, file: f }, ms]) => {
      const c = applyMutations(f, ms, (g) => stOracle(g, ['I32']) ?? inputsOracle(g, sh));
      return { input: { bytes: c.input, sh }, invalid: c.invalid };
    });
  return {
    area: 'prediction inputs',
    file,
    cases: cases as unknown as fc.Arbitrary<Case>,
    parse(input) {
      const { bytes, sh } = input as unknown as { bytes: Uint8Array; sh: BatchShape };
      const r = parseInputs(bytes, file, { shape: [sh.c, sh.h, sh.w] });
      if (r.x.some((v) => v < -128 || v > 127)) throw new Invalid('x value out of range');
      if (r.x.length !== r.count * sh.c * sh.h * sh.w) throw new Invalid('x size');
      return r;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Model spec JSON.

const specArb = fc.oneof(
  fc.record({
    input: fc.tuple(
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 28 }),
      fc.integer({ min: 1, max: 28 }),
    ),
    classes: fc.integer({ min: 2, max: 10 }),
    hidden: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 3 }),
  }),
  fc.record({
    input: fc.constant([1, 12, 12]),
    classes: fc.integer({ min: 2, max: 10 }),
    features: fc.constantFrom(
      [{ conv: 4, kernel: 3, padding: 1 }, { pool: 2 }],
      [{ conv: 2, kernel: 3 }, { conv: 3, kernel: 3, padding: 1 }, { pool: 2 }],
    ),
    hidden: fc.array(fc.integer({ min: 1, max: 16 }), { maxLength: 2 }),
    headDim: fc.constantFrom(16, 64, 4096),
    training: fc.record({ lrInv: fc.integer({ min: 1, max: 1024 }) }),
  }),
);

const PATHS = [
  'input',
  'classes',
  'hidden',
  'features',
  'headDim',
  'negativeSlopeInv',
  'bias',
  'training',
  'compat',
  'dropout',
  'training.lrInv',
  'training.lrAmp',
  'hidden.0',
  'input.1',
  'features.0',
  'features.0.kernel',
];

function setPath(o: Record<string, unknown>, path: string, value: unknown, remove: boolean) {
  const keys = path.split('.');
  let cur: Record<string, unknown> = o;
  for (const k of keys.slice(0, -1)) {
    const next = cur[k];
    if (typeof next !== 'object' || next === null) return;
    cur = next as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  if (remove) delete cur[last];
  else cur[last] = value;
}

export function specDriver(): Driver<string> {
  const file = 'fuzz-model.json';
  const value = fc.oneof(
    fc.constantFrom<unknown>(
      ...WEIRD_VALUES,
      0,
      4,
      1e6,
      1e9,
      3e9,
      [1000000],
      [100000, 100000],
      [1, 28, 28],
      'reference',
    ),
    fc.jsonValue({ maxDepth: 3 }),
  );
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(...PATHS), value }),
    fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...PATHS) }),
    fc.record({
      kind: fc.constant('unknown' as const),
      key: fc.constantFrom('hiden', 'extra', 'lr', '__proto__', 'constructor'),
    }),
  );
  const text = fc.oneof(
    fc.record({
      kind: fc.constant('cut' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
    fc.record({ kind: fc.constant('deep' as const), depth: fc.integer({ min: 10, max: 50_000 }) }),
    fc.record({
      kind: fc.constant('dup' as const),
      key: fc.constantFrom('classes', 'hidden', 'input'),
    }),
    fc.record({
      kind: fc.constant('flip' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      c: fc.constantFrom('{', '}', '[', ']', '"', ',', ':', '0', '-', 'e', '\\', ' '),
    }),
  );
  const cases = fc
    .tuple(specArb, fc.array(edit, { maxLength: 3 }), fc.array(text, { maxLength: 2 }))
    .map(([spec, edits, texts]) => {
      const o = structuredClone(spec) as Record<string, unknown>;
      let invalid: string | undefined;
      for (const e of edits) {
        if (e.kind === 'unknown') {
          Object.defineProperty(o, e.key, {
            value: 1,
            enumerable: true,
            configurable: true,
            writable: true,
          });
          invalid = `unknown key ${e.key}`;
        } else setPath(o, e.path, e.kind === 'set' ? e.value : undefined, e.kind === 'delete');
      }
      let t = JSON.stringify(o);
      for (const x of texts) {
        if (x.kind === 'cut') {
          const at = Math.floor(x.at * t.length);
          if (at < t.length) invalid = 'truncated';
          t = t.slice(0, at);
        } else if (x.kind === 'deep') {
          t = t.replace(/^\{/, `{"deep":${'['.repeat(x.depth)}${']'.repeat(x.depth)},`);
          invalid = 'deep';
        } else if (x.kind === 'dup' && t.includes(`"${x.key}":`)) {
          t = t.replace(/^\{/, `{"${x.key}":1,`);
          invalid = `duplicate ${x.key}`;
        } else if (x.kind === 'flip' && t.length) {
          const at = Math.floor(x.at * (t.length - 1));
          t = t.slice(0, at) + x.c + t.slice(at + 1);
          if (invalid !== 'deep' && invalid?.startsWith('duplicate') !== true) invalid = undefined;
        }
      }
      return { input: t, invalid };
    });
  return {
    area: 'model spec JSON',
    file,
    cases,
    parse(text) {
      const spec = parseModelSpec(parseJson(text, file, { what: `model spec ${file}` }), file);
      // The parser's own guarantees: idempotent, within the parameter limit, buildable.
      const again = parseModelSpec(structuredClone(spec), file);
      if (JSON.stringify(again) !== JSON.stringify(spec)) throw new Invalid('not idempotent');
      const g = modelGeometry(spec);
      if (g.cost.parameters > MAX_PARAMETERS) throw new Invalid(`${g.cost.parameters} parameters`);
      return spec;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// IDX (raw and gzip) and CIFAR-10.

function idxRaw(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic, false);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  out.set(data, 4 + 4 * dims.length);
  return out;
}

interface IdxCase {
  bytes: Uint8Array;
  expect: number;
}

const idxBase = fc
  .oneof(
    fc.record({ expect: fc.constant(IDX_LABELS), dims: fc.tuple(fc.integer({ min: 0, max: 20 })) }),
    fc.record({
      expect: fc.constant(IDX_IMAGES),
      dims: fc.tuple(
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
      ),
    }),
  )
  .chain(({ expect, dims }) =>
    sized((dims as number[]).reduce((a, b) => a * b, 1)).map((data) => ({
      expect,
      dims: [...dims] as number[],
      data,
    })),
  );

type IdxEdit = (c: { magic: number; dims: number[]; data: Uint8Array }) => string | undefined;

const idxEdit: fc.Arbitrary<IdxEdit> = fc.oneof(
  fc.constantFrom(0x0801, 0x0803, 0x0800, 0x0c03, 0x0808, 0xffffffff, 0x1f8b0803).map(
    (m): IdxEdit =>
      (c) => {
        const was = c.magic;
        c.magic = m;
        return m === was ? undefined : `magic ${m.toString(16)}`;
      },
  ),
  fc
    .record({
      i: fc.nat(),
      d: fc.oneof(fc.nat(), fc.constantFrom(0, 2 ** 32 - 1, 2 ** 31, 65536, 1 << 20)),
    })
    .map(
      ({ i, d }): IdxEdit =>
        (c) => {
          const was = c.dims.reduce((a, b) => a * b, 1);
          c.dims[i % c.dims.length] = d;
          return c.dims.reduce((a, b) => a * b, 1) === was ? undefined : 'dims';
        },
    ),
  fc.double({ min: 0, max: 1, noNaN: true }).map(
    (at): IdxEdit =>
      (c) => {
        const n = Math.floor(at * c.data.length);
        if (n === c.data.length) return undefined;
        c.data = c.data.subarray(0, n);
        return 'truncated data';
      },
  ),
  fc.uint8Array({ minLength: 1, maxLength: 32 }).map(
    (x): IdxEdit =>
      (c) => {
        const d = new Uint8Array(c.data.length + x.length);
        d.set(c.data);
        d.set(x, c.data.length);
        c.data = d;
        return 'trailing bytes';
      },
  ),
);

/** Why raw IDX bytes are not a valid file of the expected kind (own reading), or undefined. */
function idxOracle(raw: Uint8Array, expect: number): string | undefined {
  if (raw.length < 4) return 'short';
  const magic = ((raw[0] << 24) | (raw[1] << 16) | (raw[2] << 8) | raw[3]) >>> 0;
  if (magic !== expect) return 'magic';
  const rank = raw[3];
  if (raw.length < 4 + 4 * rank) return 'header';
  let size = 1;
  for (let d = 0; d < rank; d++) {
    const at = 4 + 4 * d;
    size *= ((raw[at] << 24) | (raw[at + 1] << 16) | (raw[at + 2] << 8) | raw[at + 3]) >>> 0;
  }
  return raw.length - 4 - 4 * rank === size ? undefined : 'size';
}

function idxCases(gzip: boolean): fc.Arbitrary<Case<IdxCase>> {
  const at = fc.double({ min: 0, max: 1, noNaN: true });
  const rawEdit = fc.oneof(
    at.map((x) => ({ cut: x })),
    fc.tuple(at, fc.integer({ min: 0, max: 255 })).map(([x, v]) => ({ flip: [x, v] as const })),
    // A bomb in small: zeros far past the declared size.
    fc.integer({ min: 1, max: 1 << 20 }).map((zeros) => ({ zeros })),
  );
  const gzEdit = fc.oneof(
    at.map((x) => ({ cut: x })),
    fc.tuple(at, fc.integer({ min: 0, max: 255 })).map(([x, v]) => ({ flip: [x, v] as const })),
  );
  return fc
    .tuple(
      idxBase,
      fc.array(idxEdit, { maxLength: 2 }),
      fc.array(rawEdit, { maxLength: 2 }),
      fc.array(gzEdit, { maxLength: gzip ? 2 : 0 }),
    )
    .map(([b, edits, rawEdits, gzEdits]) => {
      const c = { magic: b.expect, dims: [...b.dims], data: b.data };
      for (const e of edits) e(c);
      let raw = idxRaw(c.magic, c.dims, c.data);
      for (const e of rawEdits) {
        if ('zeros' in e) {
          const out = new Uint8Array(raw.length + e.zeros);
          out.set(raw);
          raw = out;
        } else if ('cut' in e) raw = raw.subarray(0, Math.floor(e.cut * raw.length));
        else {
          raw = raw.slice();
          if (raw.length) raw[Math.floor(e.flip[0] * (raw.length - 1))] = e.flip[1];
        }
      }
      let invalid = idxOracle(raw, b.expect);
      if (!gzip) return { input: { bytes: raw, expect: b.expect }, invalid };
      let bytes = new Uint8Array(gzipSync(raw));
      for (const e of gzEdits) {
        if ('cut' in e) {
          const n = Math.floor(e.cut * bytes.length);
          // A gzip member cut short is never valid.
          if (n < bytes.length) invalid = 'truncated stream';
          bytes = bytes.subarray(0, n);
        } else {
          bytes = bytes.slice();
          const k = Math.floor(e.flip[0] * (bytes.length - 1));
          if (bytes[k] !== e.flip[1]) invalid = undefined; // a changed byte: unknown
          bytes[k] = e.flip[1];
        }
      }
      return { input: { bytes, expect: b.expect }, invalid };
    });
}

function idxDriver(gzip: boolean): Driver<IdxCase> {
  const file = gzip ? 'fuzz-images.idx.gz' : 'fuzz-images.idx';
  return {
    area: gzip ? 'IDX (.gz)' : 'IDX (raw)',
    file,
    cases: idxCases(gzip),
    async parse({ bytes, expect }) {
      const idx = await decodeIdx(bytes, file, expect);
      if (idx.data.length !== idx.dims.reduce((a, b) => a * b, 1)) throw new Invalid('data size');
      if (idx.dims.length !== (expect === IDX_IMAGES ? 3 : 1)) throw new Invalid('rank');
      return idx;
    },
  };
}

export const idxRawDriver = () => idxDriver(false);
export const idxGzDriver = () => idxDriver(true);

export function cifarDriver(): Driver {
  const file = 'fuzz_batch.bin';
  const cases = fc
    .record({
      records: fc.integer({ min: 1, max: 3 }),
      labels: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 3, maxLength: 3 }),
      seed: fc.integer({ min: 0, max: 255 }),
      edit: fc.option(
        fc.oneof(
          fc.record({ label: fc.integer({ min: 10, max: 255 }), at: fc.nat() }),
          fc.record({ cut: fc.integer({ min: 1, max: 3073 * 3 }) }),
          fc.record({ append: fc.integer({ min: 1, max: 3072 }) }),
        ),
      ),
    })
    .map(({ records, labels, seed, edit }) => {
      let bytes = new Uint8Array(records * 3073);
      for (let r = 0; r < records; r++) {
        bytes[r * 3073] = labels[r];
        for (let i = 1; i < 3073; i++) bytes[r * 3073 + i] = (seed + i * 31 + r) & 0xff;
      }
      let invalid: string | undefined;
      if (edit && 'label' in edit) {
        bytes[(edit.at % records) * 3073] = edit.label;
        invalid = `label ${edit.label}`;
      } else if (edit && 'cut' in edit) {
        bytes = bytes.subarray(0, Math.max(0, bytes.length - edit.cut));
        invalid = 'truncated';
      } else if (edit && 'append' in edit) {
        const out = new Uint8Array(bytes.length + edit.append);
        out.set(bytes);
        bytes = out;
        invalid = 'trailing bytes';
      }
      return { input: bytes, invalid };
    });
  return {
    area: 'CIFAR-10',
    file,
    cases,
    parse(bytes) {
      const r = parseCifar(bytes, file);
      if (r.count * 3073 !== bytes.length) throw new Invalid('record count');
      if (r.labels.some((l) => l > 9)) throw new Invalid('label > 9');
      return r;
    },
  };
}

/** Every parser's driver, in the order of the report. */
export function allDrivers(): Driver<unknown>[] {
  return [
    safetensorsDriver(),
    checkpointDriver(),
    batchesDriver(),
    inputsDriver(),
    specDriver(),
    idxRawDriver(),
    idxGzDriver(),
    cifarDriver(),
  ] as Driver<unknown>[];
}
