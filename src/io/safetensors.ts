/**
 * safetensors reader and writer (runtime-neutral: no Node imports).
 *
 * Layout: u64 little-endian header length N, N bytes of JSON header, then the data section.
 * The header maps tensor names to {dtype, shape, data_offsets: [begin, end)} (offsets relative
 * to the data section) and may hold "__metadata__": {string: string}.
 * Tensor values are returned as Int32Array whatever the stored integer dtype.
 */
import { InputError } from './errors.ts';
import { jsonProblemText, scanJson } from './json.ts';

/** Integer dtypes this reader can widen to int32. */
export type SafetensorsDType = 'I8' | 'U8' | 'I16' | 'U16' | 'I32';

export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: Int32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

export interface ParseOptions {
  /** Names the file in error messages (default "<bytes>"). */
  file?: string;
  /** Word that starts every error message (default "safetensors"), e.g. "checkpoint". */
  kind?: string;
  /** Accepted dtypes (default I32 only, as checkpoints and batches require). */
  dtypes?: readonly SafetensorsDType[];
}

/** A malformed or unexpected safetensors file. `tensor` is set when one tensor is at fault. */
export class SafetensorsError extends InputError {
  constructor(
    message: string,
    file: string,
    readonly tensor?: string,
  ) {
    super(message, file);
    this.name = 'SafetensorsError';
  }
}

const ITEM_BYTES: Record<SafetensorsDType, number> = { I8: 1, U8: 1, I16: 2, U16: 2, I32: 4 };
/** Headers larger than this are refused before decoding (guards against absurd lengths). */
const MAX_HEADER = 100 * 1024 * 1024;
/** A header is an object of objects holding a shape array: three levels, with room to spare. */
const MAX_HEADER_DEPTH = 8;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** "[100, 784]": the shape notation of every error message. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** One tensor of a parsed header: offsets relative to the data section. */
export interface HeaderEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Bytes before the data section (8 + the JSON header's length). */
  dataStart: number;
  entries: HeaderEntry[];
  metadata: Record<string, string>;
}

function failer(options: ParseOptions) {
  const file = options.file ?? '<bytes>';
  const prefix = `${options.kind ?? 'safetensors'} ${file}`;
  return (what: string, tensor?: string): never => {
    throw new SafetensorsError(
      tensor === undefined ? `${prefix}: ${what}` : `${prefix}: tensor ${tensor}: ${what}`,
      file,
      tensor,
    );
  };
}

/**
 * Bytes before the data section, from the first 8 bytes of a file of `fileLength` bytes. A
 * length that cannot be a header (larger than the file or than any header) means the file is
 * not safetensors at all.
 */
export function safetensorsHeaderEnd(
  first: Uint8Array,
  fileLength: number,
  options: ParseOptions = {},
): number {
  const fail = failer(options);
  if (first.length < 8 || fileLength < 8)
    fail(`not a safetensors file: ${fileLength} bytes, too short for the 8-byte header length`);
  const view = new DataView(first.buffer, first.byteOffset, 8);
  // u64 as a bigint, so a length beyond 2^53 is printed exactly.
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER, fileLength - 8))) {
    const where =
      headerLength > BigInt(MAX_HEADER)
        ? `more than any header (${MAX_HEADER} bytes)`
        : `past the end of the file (${fileLength} bytes)`;
    fail(
      `not a safetensors file: its first 8 bytes give a header length of ${headerLength}, ${where}`,
    );
  }
  return 8 + Number(headerLength);
}

/**
 * Parses and checks the header of a safetensors file of `fileLength` bytes whose first bytes
 * (at least up to the end of the header) are `head`: every tensor's dtype, shape and offsets,
 * duplicates, overlaps, and that the tensors cover the data section exactly. Reads no data, so a
 * file's size can be checked against its header before the data is read.
 */
export function parseSafetensorsHeader(
  head: Uint8Array,
  fileLength: number,
  options: ParseOptions = {},
): SafetensorsHeader {
  const fail = failer(options);
  const accepted = new Set<string>(options.dtypes ?? ['I32']);
  const dataStart = safetensorsHeaderEnd(head, fileLength, options);
  if (head.length < dataStart)
    fail(`header runs past the ${head.length} bytes given (needs ${dataStart})`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(8, dataStart));
  } catch {
    return fail('not a safetensors file: the header is not valid UTF-8');
  }
  if (!text.trimStart().startsWith('{'))
    fail('not a safetensors file: the header is not a JSON object');
  const problem = scanJson(text, MAX_HEADER_DEPTH);
  if (problem?.kind === 'duplicate' && problem.depth === 1)
    fail('listed twice in the header', problem.key);
  if (problem) fail(`header: ${jsonProblemText(problem)}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${oneLine((e as Error).message)})`);
  }
  if (!isPlainObject(header)) return fail('header is not a JSON object');

  const dataLength = fileLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];

  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isPlainObject(entry)) fail('__metadata__ is not an object of strings');
      for (const [key, value] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof value !== 'string') fail(`__metadata__.${key} is not a string`);
        metadata[key] = value as string;
      }
      continue;
    }
    if (name === '') fail('a tensor has an empty name');
    if (!isPlainObject(entry)) fail('entry is not an object', name);
    const e = entry as Record<string, unknown>;
    for (const field of ['dtype', 'shape', 'data_offsets']) {
      if (!(field in e)) fail(`missing field ${field}`, name);
    }
    const dtype = e.dtype;
    if (typeof dtype !== 'string') return fail('dtype is not a string', name);
    if (!Object.hasOwn(ITEM_BYTES, dtype) || !accepted.has(dtype)) {
      fail(`dtype ${dtype} is not accepted (expected ${[...accepted].join(' or ')})`, name);
    }
    const shape = e.shape;
    if (!Array.isArray(shape)) return fail('shape is not an array', name);
    for (const d of shape) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
        fail(
          `shape ${oneLine(JSON.stringify(shape)).slice(0, 80)} has a dimension that is not a non-negative integer`,
          name,
        );
      }
    }
    const offsets = e.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
    ) {
      return fail(
        `data_offsets ${oneLine(JSON.stringify(offsets) ?? String(offsets)).slice(0, 80)} is not a pair of non-negative integers`,
        name,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`data_offsets [${begin}, ${end}] end before they begin`, name);
    if (end > dataLength) {
      fail(
        `data_offsets [${begin}, ${end}] run past the end of the data (${dataLength} bytes)`,
        name,
      );
    }
    // Exact in doubles only while below 2^53: a larger product cannot match the offsets anyway.
    let elements = 1;
    for (const d of shape as number[]) elements *= d;
    const need = elements * ITEM_BYTES[dtype as SafetensorsDType];
    if (end - begin !== need) {
      const needText = Number.isSafeInteger(need) ? String(need) : 'more than 2^53';
      fail(
        `data_offsets [${begin}, ${end}] hold ${end - begin} bytes, shape ${formatShape(shape as number[])} ${dtype} needs ${needText}`,
        name,
      );
    }
    entries.push({ name, dtype: dtype as SafetensorsDType, shape: shape as number[], begin, end });
  }

  // Overlaps, holes and coverage on the sorted extents (empty tensors occupy nothing): the
  // tensors must fill the data section exactly.
  const extents = entries.filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 0; i < extents.length; i++) {
    const end = i > 0 ? extents[i - 1].end : 0;
    if (extents[i].begin < end) {
      fail(
        `data_offsets [${extents[i].begin}, ${extents[i].end}] overlap tensor ${extents[i - 1].name}`,
        extents[i].name,
      );
    }
    if (extents[i].begin > end)
      fail(
        `data_offsets [${extents[i].begin}, ${extents[i].end}] leave a hole of ${extents[i].begin - end} bytes before it`,
        extents[i].name,
      );
  }
  const used = extents.length ? extents[extents.length - 1].end : 0;
  if (used < dataLength)
    fail(
      `${dataLength - used} bytes after the last tensor's data (the file has ${fileLength} bytes, the header accounts for ${dataStart + used})`,
    );
  return { dataStart, entries, metadata };
}

/**
 * Reads a safetensors file with the checks docs/contract.md §2 asks for (header, dtypes, shapes,
 * offsets, no duplicate names); errors name the file and the tensor.
 */
export function parseSafetensors(bytes: Uint8Array, options: ParseOptions = {}): SafetensorsFile {
  const { dataStart, entries, metadata } = parseSafetensorsHeader(bytes, bytes.length, options);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const t of entries) {
    tensors.set(t.name, {
      dtype: t.dtype,
      shape: t.shape,
      data: decode(bytes, view, dataStart + t.begin, dataStart + t.end, t.dtype),
    });
  }
  return { tensors, metadata };
}

function decode(
  bytes: Uint8Array,
  view: DataView,
  begin: number,
  end: number,
  dtype: SafetensorsDType,
): Int32Array {
  const n = (end - begin) / ITEM_BYTES[dtype];
  if (dtype === 'I32' && LITTLE_ENDIAN) {
    // Copy into a fresh, aligned buffer (Uint8Array's slice: a Node Buffer's slice is a view).
    return new Int32Array(Uint8Array.prototype.slice.call(bytes, begin, end).buffer);
  }
  const out = new Int32Array(n);
  switch (dtype) {
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = view.getInt8(begin + i);
      break;
    case 'U8':
      for (let i = 0; i < n; i++) out[i] = view.getUint8(begin + i);
      break;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = view.getInt16(begin + 2 * i, true);
      break;
    case 'U16':
      for (let i = 0; i < n; i++) out[i] = view.getUint16(begin + 2 * i, true);
      break;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(begin + 4 * i, true);
      break;
  }
  return out;
}

/** A tensor to write: always stored as I32. */
export interface TensorToWrite {
  shape: readonly number[];
  data: ArrayLike<number>;
}

/**
 * Serialises tensors as I32 safetensors. Deterministic: "__metadata__" first (keys sorted, omitted
 * when empty), tensors sorted by name and laid out in that order, header padded with spaces so the
 * data section starts at a multiple of 8 bytes.
 */
export function serializeSafetensors(
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const names = [...map.keys()].sort(compareNames);
  const header: Record<string, unknown> = {};
  const metaKeys = Object.keys(metadata).sort(compareNames);
  if (metaKeys.length > 0) {
    const meta: Record<string, string> = {};
    for (const k of metaKeys) {
      if (typeof metadata[k] !== 'string')
        throw new Error(`safetensors: __metadata__.${k} is not a string`);
      meta[k] = metadata[k];
    }
    header.__metadata__ = meta;
  }
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__' || name === '')
      throw new Error(`safetensors: invalid tensor name "${name}"`);
    const t = map.get(name)!;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0)
        throw new Error(`safetensors: tensor ${name}: invalid shape ${formatShape(t.shape)}`);
    }
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length) {
      throw new Error(
        `safetensors: tensor ${name}: shape ${formatShape(t.shape)} needs ${elements} values, got ${t.data.length}`,
      );
    }
    header[name] = {
      dtype: 'I32',
      shape: [...t.shape],
      data_offsets: [offset, offset + 4 * elements],
    };
    offset += 4 * elements;
  }
  let json = JSON.stringify(header);
  let jsonBytes = new TextEncoder().encode(json);
  const padded = (jsonBytes.length + 7) & ~7;
  if (padded !== jsonBytes.length) {
    json += ' '.repeat(padded - jsonBytes.length);
    jsonBytes = new TextEncoder().encode(json);
  }
  const out = new Uint8Array(8 + jsonBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, jsonBytes.length, true);
  view.setUint32(4, 0, true);
  out.set(jsonBytes, 8);
  let pos = 8 + jsonBytes.length;
  for (const name of names) {
    const { data } = map.get(name)!;
    if (data instanceof Int32Array && LITTLE_ENDIAN) {
      // Already int32 in file byte order: one copy.
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pos);
      pos += data.byteLength;
      continue;
    }
    for (let i = 0; i < data.length; i++, pos += 4) {
      const v = data[i];
      if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
        throw new Error(`safetensors: tensor ${name}: value ${v} at ${i} is not an int32`);
      }
      view.setInt32(pos, v, true);
    }
  }
  return out;
}

/** Code-unit order, independent of locale. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
