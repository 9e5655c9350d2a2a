/**
 * NumPy files: `.npy` (one array) and `.npz` (a zip of `.npy` members, stored or deflated, as
 * numpy.savez and savez_compressed write them). Integer arrays only (bool, int8..int64,
 * uint8..uint64, either byte order), C order. Runtime-neutral: deflated members are inflated with
 * the standard DecompressionStream, so this module runs in browsers, Node and Deno alike.
 *
 * .npy layout: magic "\x93NUMPY", major and minor version bytes, a little-endian header length
 * (u16 in version 1, u32 in versions 2 and 3), then a Python dict literal such as
 * {'descr': '<u1', 'fortran_order': False, 'shape': (60000, 28, 28), } padded with spaces and a
 * newline, then the raw array. Every size is checked against the bytes at hand before anything
 * is allocated: the declared shape must account for exactly the bytes after the header, and a
 * zip member may not inflate to more than it declares.
 */

/** An integer array read from a .npy file, values widened to a JS typed array. */
export interface NpyArray {
  /** NumPy's type string, e.g. "<u1", "|i1", "<i8". */
  descr: string;
  shape: number[];
  /** C-order values. 64-bit integers are checked to fit in int32. */
  data: Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;
}

/** Largest array or zip member accepted (bytes), unless the caller allows more. */
export const NPY_MAX_BYTES = 2 ** 31 - 1;

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const KINDS: Record<string, { bytes: number; signed: boolean }> = {
  b1: { bytes: 1, signed: false },
  u1: { bytes: 1, signed: false },
  i1: { bytes: 1, signed: true },
  u2: { bytes: 2, signed: false },
  i2: { bytes: 2, signed: true },
  u4: { bytes: 4, signed: false },
  i4: { bytes: 4, signed: true },
  u8: { bytes: 8, signed: false },
  i8: { bytes: 8, signed: true },
};

function fail(file: string, what: string): never {
  throw new Error(`npy ${file}: ${what}`);
}

/** Parses the header dict literal numpy writes (keys descr, fortran_order, shape). */
function parseHeader(
  text: string,
  file: string,
): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    fail(
      file,
      `header ${JSON.stringify(text.trim().slice(0, 80))} lacks descr, fortran_order or shape`,
    );
  }
  const shape: number[] = [];
  for (const part of shapeText.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    if (!/^\d{1,15}$/.test(p))
      fail(file, `shape (${shapeText}) has a dimension that is not a size`);
    shape.push(Number(p));
  }
  return { descr, fortran: fortran === 'True', shape };
}

/**
 * Parses a .npy file. Errors read "npy FILE: ..." on one line. `maxBytes` bounds the array's
 * declared size (default NPY_MAX_BYTES).
 */
export function parseNpy(bytes: Uint8Array, file = '<bytes>', maxBytes = NPY_MAX_BYTES): NpyArray {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m))
    fail(file, 'not a NumPy .npy file (no \\x93NUMPY magic)');
  const major = bytes[6];
  if (major < 1 || major > 3) fail(file, `format version ${major}.${bytes[7]} is not 1, 2 or 3`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) fail(file, `truncated header: ${bytes.length} bytes`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lengthBytes + headerLength;
  if (start > bytes.length)
    fail(
      file,
      `header length ${headerLength} runs past the end of the file (${bytes.length} bytes)`,
    );
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(8 + lengthBytes, start),
  );
  const { descr, fortran, shape } = parseHeader(text, file);
  const m = /^([<>|=])([biu][1248])$/.exec(descr);
  const kind = m ? KINDS[m[2]] : undefined;
  if (!m || !kind)
    fail(file, `dtype '${descr}' is not an integer type (expected uint8, int8 .. int64 or bool)`);
  const big = m[1] === '>' && kind.bytes > 1;
  if (fortran && shape.filter((d) => d > 1).length > 1)
    fail(file, `the array is in Fortran order; save it in C order (numpy.ascontiguousarray)`);
  const count = shape.reduce((a, b) => a * b, 1);
  const need = count * kind.bytes;
  if (need > maxBytes)
    fail(file, `shape (${shape.join(', ')}) '${descr}' needs ${need} bytes, more than ${maxBytes}`);
  const have = bytes.length - start;
  if (have !== need) {
    fail(
      file,
      `${have < need ? 'truncated' : 'trailing bytes'}: shape (${shape.join(', ')}) '${descr}' needs ${need} data bytes, file has ${have}`,
    );
  }
  return { descr, shape, data: decode(bytes, view, start, count, m[2], big, file) };
}

function decode(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  count: number,
  type: string,
  big: boolean,
  file: string,
): NpyArray['data'] {
  const le = !big;
  switch (type) {
    case 'b1':
    case 'u1':
      return bytes.slice(start, start + count);
    case 'i1':
      return new Int8Array(bytes.slice(start, start + count).buffer);
    case 'u2': {
      const out = new Uint16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getUint16(start + 2 * i, le);
      return out;
    }
    case 'i2': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(start + 2 * i, le);
      return out;
    }
    case 'u4': {
      const out = new Uint32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getUint32(start + 4 * i, le);
      return out;
    }
    case 'i4': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(start + 4 * i, le);
      return out;
    }
    default: {
      // int64 / uint64 (NumPy's default integer): every value must fit in int32.
      const out = new Int32Array(count);
      const signed = type === 'i8';
      for (let i = 0; i < count; i++) {
        const at = start + 8 * i;
        const v = signed ? view.getBigInt64(at, le) : view.getBigUint64(at, le);
        if (v < -0x80000000n || v > 0x7fffffffn)
          fail(file, `value ${v} at ${i} does not fit in int32`);
        out[i] = Number(v);
      }
      return out;
    }
  }
}

interface ZipEntry {
  name: string;
  method: number;
  compressed: number;
  size: number;
  offset: number;
}

/** The central directory of a zip file (zip64 sizes included). */
function zipEntries(bytes: Uint8Array, file: string): ZipEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (what: string): never => {
    throw new Error(`npz ${file}: ${what}`);
  };
  // End of central directory: 22 bytes plus a comment of at most 65535.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) bad('not a zip file (no end of central directory record)');
  let count = view.getUint16(eocd + 10, true);
  let dirOffset = view.getUint32(eocd + 16, true);
  if ((count === 0xffff || dirOffset === 0xffffffff) && eocd >= 20) {
    // Zip64 end of central directory locator just before the record.
    if (view.getUint32(eocd - 20, true) === 0x07064b50) {
      const at = Number(view.getBigUint64(eocd - 12, true));
      if (at + 56 > bytes.length || view.getUint32(at, true) !== 0x06064b50)
        bad('zip64 end of central directory record is missing');
      count = Number(view.getBigUint64(at + 32, true));
      dirOffset = Number(view.getBigUint64(at + 48, true));
    }
  }
  const entries: ZipEntry[] = [];
  let p = dirOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > bytes.length || view.getUint32(p, true) !== 0x02014b50)
      bad(`central directory entry ${n} is damaged or runs past the end of the file`);
    const method = view.getUint16(p + 10, true);
    let compressed = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const commentLength = view.getUint16(p + 32, true);
    let offset = view.getUint32(p + 42, true);
    if (p + 46 + nameLength + extraLength > bytes.length)
      bad(`central directory entry ${n} runs past the end of the file`);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLength));
    // Zip64 extended information: the fields that read 0xffffffff, in order.
    for (let e = p + 46 + nameLength; e + 4 <= p + 46 + nameLength + extraLength; ) {
      const id = view.getUint16(e, true);
      const len = view.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        const next = () => {
          if (q + 8 > e + 4 + len) bad(`entry ${name}: zip64 field is too short`);
          const v = Number(view.getBigUint64(q, true));
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = next();
        if (compressed === 0xffffffff) compressed = next();
        if (offset === 0xffffffff) offset = next();
      }
      e += 4 + len;
    }
    entries.push({ name, method, compressed, size, offset });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** Inflates raw deflate data, stopping as soon as it exceeds `size` bytes. */
async function inflateRaw(data: Uint8Array, size: number, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  let filled = 0;
  try {
    const reader = new Blob([data as Uint8Array<ArrayBuffer>])
      .stream()
      .pipeThrough(new DecompressionStream('deflate-raw'))
      .getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (filled + value.length > size) {
        await reader.cancel();
        throw new Error(`${what}: inflates to more than the ${size} bytes it declares`);
      }
      out.set(value, filled);
      filled += value.length;
    }
  } catch (e) {
    const message = String((e as Error).message ?? e).replace(/\s+/g, ' ');
    throw new Error(message.startsWith(what) ? message : `${what}: cannot inflate: ${message}`);
  }
  if (filled !== size) throw new Error(`${what}: inflates to ${filled} bytes, declares ${size}`);
  return out;
}

/**
 * Parses a .npz file into its arrays by name (the ".npy" suffix dropped). Only members named in
 * `only` are decompressed when it is given. Errors read "npz FILE: ..." on one line.
 */
export async function parseNpz(
  bytes: Uint8Array,
  file = '<bytes>',
  options: { only?: readonly string[]; maxBytes?: number } = {},
): Promise<Map<string, NpyArray>> {
  const maxBytes = options.maxBytes ?? NPY_MAX_BYTES;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const arrays = new Map<string, NpyArray>();
  for (const e of zipEntries(bytes, file)) {
    if (!e.name.endsWith('.npy')) continue;
    const name = e.name.slice(0, -4);
    if (options.only && !options.only.includes(name)) continue;
    const what = `npz ${file}: member ${e.name}`;
    if (e.offset + 30 > bytes.length || view.getUint32(e.offset, true) !== 0x04034b50)
      throw new Error(`${what}: local header is missing or damaged`);
    const start =
      e.offset + 30 + view.getUint16(e.offset + 26, true) + view.getUint16(e.offset + 28, true);
    if (start + e.compressed > bytes.length)
      throw new Error(`${what}: ${e.compressed} bytes run past the end of the file`);
    if (e.size > maxBytes)
      throw new Error(`${what}: declares ${e.size} bytes, more than ${maxBytes}`);
    const raw = bytes.subarray(start, start + e.compressed);
    let data: Uint8Array;
    if (e.method === 0) {
      if (e.compressed !== e.size)
        throw new Error(`${what}: stored with ${e.compressed} bytes but declares ${e.size}`);
      data = raw;
    } else if (e.method === 8) {
      // Deflate expands at most about 1032:1; a larger claim is a damaged or hostile header.
      if (e.size > e.compressed * 1032 + 1024)
        throw new Error(`${what}: declares ${e.size} bytes from ${e.compressed} compressed`);
      data = await inflateRaw(raw, e.size, what);
    } else {
      throw new Error(`${what}: compression method ${e.method} is not stored (0) or deflate (8)`);
    }
    arrays.set(name, parseNpy(data, `${file}:${e.name}`, maxBytes));
  }
  return arrays;
}
