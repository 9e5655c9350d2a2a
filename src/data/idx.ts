/**
 * IDX files (MNIST, Fashion-MNIST): a 4-byte magic 00 00 08 D (unsigned bytes, D dimensions),
 * D big-endian u32 dimensions, then the bytes in C order. Raw or gzip-compressed (detected by
 * the 1f 8b magic, inflated with the standard DecompressionStream, so this module runs in
 * browsers, Node and Deno alike; inflating stops at the size the header declares).
 */

import { InputError, MAX_FILE_BYTES } from '../io/errors.ts';

export interface Idx {
  dims: number[];
  /** Unsigned bytes, C order. */
  data: Uint8Array;
}

export const IDX_LABELS = 0x0801;
export const IDX_IMAGES = 0x0803;

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Where the data of an IDX file starts and how many bytes its header declares. */
export interface IdxHeader {
  dims: number[];
  headerBytes: number;
  dataBytes: number;
}

/**
 * Reads and checks an IDX header from the first bytes of a file (`head`). With `fileSize`, the
 * file must hold exactly the declared data; without it, only the header is checked. The
 * declared size is bounded (MAX_FILE_BYTES.idx), so nothing is allocated for an absurd header.
 */
export function idxDeclaredBytes(
  head: Uint8Array,
  file = '<bytes>',
  expect?: number,
  fileSize?: number,
): IdxHeader {
  const prefix = `idx ${file}`;
  const fail = (what: string): never => {
    throw new InputError(`${prefix}: ${what}`, file);
  };
  if (head.length < 4) fail(`truncated: ${head.length} bytes, no magic number`);
  const magic = (head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3];
  const hex = (m: number) => `0x${(m >>> 0).toString(16).padStart(8, '0')}`;
  const valid = head[0] === 0 && head[1] === 0 && head[2] === 0x08 && head[3] >= 1;
  if (!valid || (expect !== undefined && magic !== expect)) {
    const want =
      expect === undefined
        ? '0x000008NN (unsigned bytes)'
        : `${hex(expect)} (${expect === IDX_LABELS ? 'labels' : expect === IDX_IMAGES ? 'images' : 'idx'})`;
    fail(`bad magic ${hex(magic)}, expected ${want}`);
  }
  const rank = head[3];
  const headerBytes = 4 + 4 * rank;
  if (head.length < headerBytes)
    fail(`truncated header: ${head.length} bytes, ${rank} dimensions need ${headerBytes}`);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const dims: number[] = [];
  // A product of u32s: exact while below 2^53, and refused long before that.
  let dataBytes = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    dataBytes *= d;
  }
  const limit = MAX_FILE_BYTES.idx;
  if (dataBytes > limit)
    fail(
      `dimensions [${dims.join(', ')}] declare ${Number.isSafeInteger(dataBytes) ? dataBytes : 'more than 2^53'} data bytes, more than the ${limit}-byte limit`,
    );
  if (fileSize !== undefined && fileSize - headerBytes !== dataBytes) {
    const have = fileSize - headerBytes;
    const what = have < dataBytes ? 'truncated' : 'trailing bytes';
    fail(`${what}: dimensions [${dims.join(', ')}] need ${dataBytes} data bytes, file has ${have}`);
  }
  return { dims, headerBytes, dataBytes };
}

/**
 * Inflates a gzip-compressed IDX file incrementally, up to the size its header declares: memory
 * stays within twice what has arrived and within the declared size (itself bounded), whatever
 * the compressed data expands to or the header claims, and a stream that goes on past the
 * declared size is refused as soon as it does.
 */
export async function inflateIdx(
  bytes: Uint8Array,
  file = '<bytes>',
  expect?: number,
): Promise<Uint8Array> {
  const reader = new Blob([bytes as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new DecompressionStream('gzip'))
    .getReader();
  // Header bytes gathered before the declared size is known (at most 4 + 4·255).
  let head = new Uint8Array(0);
  let out: Uint8Array | undefined;
  let declared = 0;
  let total = 0;
  let over = false;
  try {
    for (;;) {
      let chunk: Uint8Array;
      try {
        const { done, value } = await reader.read();
        if (done) break;
        chunk = value;
      } catch (e) {
        throw new InputError(
          `cannot decompress ${file}: ${String((e as Error).message ?? e).replace(/\s+/g, ' ')}`,
          file,
        );
      }
      if (!out) {
        const joined = new Uint8Array(head.length + chunk.length);
        joined.set(head);
        joined.set(chunk, head.length);
        const need = joined.length >= 4 ? 4 + 4 * joined[3] : 4;
        if (joined.length < need) {
          head = joined;
          continue;
        }
        const h = idxDeclaredBytes(joined.subarray(0, need), file, expect);
        declared = h.headerBytes + h.dataBytes;
        out = new Uint8Array(Math.min(declared, 1 << 16));
        chunk = joined;
      }
      if (total + chunk.length > declared) {
        over = true;
        break;
      }
      if (total + chunk.length > out.length) {
        // Grown by doubling as data arrives: a header that claims much more than the stream
        // holds costs nothing.
        const grown = new Uint8Array(
          Math.min(declared, Math.max(2 * out.length, total + chunk.length)),
        );
        grown.set(out.subarray(0, total));
        out = grown;
      }
      out.set(chunk, total);
      total += chunk.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  if (!out) return head; // shorter than its header: parseIdx says what is missing
  if (over) {
    throw new InputError(
      `idx ${file}: trailing bytes: the inflated data runs past the ${declared} bytes its header declares`,
      file,
    );
  }
  return total === out.length ? out : out.subarray(0, total);
}

/**
 * Parses an uncompressed IDX file. `expect` (0x0801 labels, 0x0803 images) restricts the magic.
 */
export function parseIdx(bytes: Uint8Array, file = '<bytes>', expect?: number): Idx {
  const h = idxDeclaredBytes(bytes, file, expect, bytes.length);
  return { dims: h.dims, data: bytes.subarray(h.headerBytes) };
}

/** Parses IDX bytes that may be gzip-compressed. */
export async function decodeIdx(
  bytes: Uint8Array,
  file = '<bytes>',
  expect?: number,
): Promise<Idx> {
  return parseIdx(isGzip(bytes) ? await inflateIdx(bytes, file, expect) : bytes, file, expect);
}

/** Labels file: magic 0x0801, dims [N]. */
export async function decodeIdxLabels(bytes: Uint8Array, file = '<bytes>'): Promise<Uint8Array> {
  return (await decodeIdx(bytes, file, IDX_LABELS)).data;
}

/** Images file: magic 0x0803, dims [N, H, W]. */
export async function decodeIdxImages(
  bytes: Uint8Array,
  file = '<bytes>',
): Promise<{ count: number; height: number; width: number; data: Uint8Array }> {
  const { dims, data } = await decodeIdx(bytes, file, IDX_IMAGES);
  return { count: dims[0], height: dims[1], width: dims[2], data };
}
