/**
 * IDX files (MNIST, Fashion-MNIST): a 4-byte magic 00 00 08 D (unsigned bytes, D dimensions),
 * D big-endian u32 dimensions, then the bytes in C order. Raw or gzip-compressed (detected by
 * the 1f 8b magic, inflated with the standard DecompressionStream, so this module runs in
 * browsers, Node and Deno alike).
 */

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

/** Inflates a gzip member; errors name the file. */
export async function gunzip(bytes: Uint8Array, file = '<bytes>'): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>])
      .stream()
      .pipeThrough(new DecompressionStream('gzip'));
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
    }
  } catch (e) {
    throw new Error(
      `cannot decompress ${file}: ${String((e as Error).message ?? e).replace(/\s+/g, ' ')}`,
    );
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * Parses an uncompressed IDX file. `expect` (0x0801 labels, 0x0803 images) restricts the magic.
 */
export function parseIdx(bytes: Uint8Array, file = '<bytes>', expect?: number): Idx {
  const prefix = `idx ${file}`;
  if (bytes.length < 4)
    throw new Error(`${prefix}: truncated: ${bytes.length} bytes, no magic number`);
  const magic = (bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3];
  const hex = (m: number) => `0x${(m >>> 0).toString(16).padStart(8, '0')}`;
  const valid = bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 0x08 && bytes[3] >= 1;
  if (!valid || (expect !== undefined && magic !== expect)) {
    const want =
      expect === undefined
        ? '0x000008NN (unsigned bytes)'
        : `${hex(expect)} (${expect === IDX_LABELS ? 'labels' : expect === IDX_IMAGES ? 'images' : 'idx'})`;
    throw new Error(`${prefix}: bad magic ${hex(magic)}, expected ${want}`);
  }
  const rank = bytes[3];
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes)
    throw new Error(
      `${prefix}: truncated header: ${bytes.length} bytes, ${rank} dimensions need ${headerBytes}`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let size = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    size *= d;
  }
  const have = bytes.length - headerBytes;
  if (have !== size) {
    const what = have < size ? 'truncated' : 'trailing bytes';
    throw new Error(
      `${prefix}: ${what}: dimensions [${dims.join(', ')}] need ${size} data bytes, file has ${have}`,
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/** Parses IDX bytes that may be gzip-compressed. */
export async function decodeIdx(
  bytes: Uint8Array,
  file = '<bytes>',
  expect?: number,
): Promise<Idx> {
  return parseIdx(isGzip(bytes) ? await gunzip(bytes, file) : bytes, file, expect);
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
