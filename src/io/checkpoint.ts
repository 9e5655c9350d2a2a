/**
 * Checkpoints (docs/contract.md §2): I32 safetensors whose tensor names and shapes are fixed by the
 * model, with the model spec JSON under metadata "model" and other string fields (steps, epoch,
 * RNG state, ...). The model layer supplies the expected tensor list; this module only checks
 * files against it. Every checkpoint written carries its format version under metadata "format"
 * (src/io/formats.ts); a newer version than this release reads is refused before anything else.
 */
import {
  checkpointFormatTag,
  checkpointVersion,
  FORMAT_KEY,
  peekSafetensorsMetadata,
} from './formats.ts';
import {
  formatShape,
  parseSafetensors,
  SafetensorsError,
  serializeSafetensors,
  type TensorToWrite,
} from './safetensors.ts';

export interface TensorSpec {
  name: string;
  shape: readonly number[];
}

/** A parsed checkpoint: its tensors, metadata and format version. */
export interface Checkpoint {
  /** Tensor values by name, in the order of the expected list. */
  tensors: Map<string, Int32Array>;
  /** Every metadata field, "model" included when present. */
  metadata: Record<string, string>;
  /** The file's format version (1 for files without a "format" field). */
  version: number;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Reads a checkpoint and checks it holds exactly the expected tensors with the expected shapes.
 * Errors read "checkpoint FILE: tensor NAME has shape [..], expected [..]" and the like.
 */
export function parseCheckpoint(
  bytes: Uint8Array,
  expected: readonly TensorSpec[],
  file = '<bytes>',
): Checkpoint {
  // The version first: a newer format may differ in anything checked below.
  checkpointVersion(peekSafetensorsMetadata(bytes), file);
  const parsed = parseSafetensors(bytes, { file, kind: 'checkpoint', dtypes: ['I32'] });
  const prefix = `checkpoint ${file}`;
  const wanted = new Map(expected.map((t) => [t.name, t.shape]));
  for (const [name, t] of parsed.tensors) {
    const shape = wanted.get(name);
    if (shape === undefined)
      throw new SafetensorsError(
        `${prefix}: unexpected tensor ${name} ${formatShape(t.shape)}`,
        file,
        name,
      );
    if (!sameShape(t.shape, shape)) {
      throw new SafetensorsError(
        `${prefix}: tensor ${name} has shape ${formatShape(t.shape)}, expected ${formatShape(shape)}`,
        file,
        name,
      );
    }
  }
  const missing = expected.filter((t) => !parsed.tensors.has(t.name));
  if (missing.length > 0) {
    const list = missing.map((t) => `${t.name} ${formatShape(t.shape)}`).join(', ');
    throw new SafetensorsError(
      `${prefix}: missing tensor${missing.length > 1 ? 's' : ''} ${list}`,
      file,
      missing[0].name,
    );
  }
  const tensors = new Map<string, Int32Array>();
  for (const t of expected) tensors.set(t.name, parsed.tensors.get(t.name)!.data);
  return { tensors, metadata: parsed.metadata, version: checkpointVersion(parsed.metadata, file) };
}

/**
 * Metadata for a checkpoint: the model spec (an object, serialised as JSON, or a JSON string)
 * under "model", plus extra fields converted to strings.
 */
export function checkpointMetadata(
  model: unknown,
  extra: Record<string, string | number | bigint | boolean> = {},
): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(extra)) meta[k] = String(v);
  meta.model = typeof model === 'string' ? model : JSON.stringify(model);
  return meta;
}

/**
 * Serialises a checkpoint after checking that `tensors` holds exactly the expected tensors with
 * the right number of values. Metadata "format" is set to this release's checkpoint format.
 */
export function serializeCheckpoint(
  expected: readonly TensorSpec[],
  tensors: Map<string, ArrayLike<number>> | Record<string, ArrayLike<number>>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const wanted = new Set(expected.map((t) => t.name));
  for (const name of map.keys()) {
    if (!wanted.has(name)) throw new Error(`checkpoint: unexpected tensor ${name}`);
  }
  const out = new Map<string, TensorToWrite>();
  for (const t of expected) {
    const data = map.get(t.name);
    if (data === undefined)
      throw new Error(`checkpoint: missing tensor ${t.name} ${formatShape(t.shape)}`);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) {
      throw new Error(
        `checkpoint: tensor ${t.name} has ${data.length} values, shape ${formatShape(t.shape)} needs ${size}`,
      );
    }
    out.set(t.name, { shape: t.shape, data });
  }
  return serializeSafetensors(out, { ...metadata, [FORMAT_KEY]: checkpointFormatTag() });
}
