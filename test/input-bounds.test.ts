/** Bounded input at the parser level: JSON limits, safetensors duplicates and coverage, IDX inflation. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeIdx, IDX_IMAGES, inflateIdx } from '../src/data/idx.ts';
import { InputError } from '../src/io/errors.ts';
import { readIdxFile } from '../src/data/files.ts';
import { readSafetensorsFile } from '../src/io/files.ts';
import { parseJson, scanJson } from '../src/io/json.ts';
import { parseSafetensors, SafetensorsError, serializeSafetensors } from '../src/io/safetensors.ts';

/** A safetensors file from a header text and data bytes (the header padded to 8 bytes). */
function raw(header: string, data: Uint8Array): Uint8Array {
  const text = header + ' '.repeat((8 - (header.length % 8)) % 8);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setUint32(0, text.length, true);
  out.set(new TextEncoder().encode(text), 8);
  out.set(data, 8 + text.length);
  return out;
}

const msg = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error('did not throw');
};

describe('JSON limits', () => {
  it('refuses nesting deeper than the limit, naming the source, without a stack overflow', () => {
    const deep = `${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`;
    expect(msg(() => parseJson(deep, 'm.json'))).toBe('m.json: JSON nested deeper than 64 levels');
    expect(parseJson('[[[1]]]', 'm.json', { maxDepth: 3 })).toEqual([[[1]]]);
    expect(scanJson('[[[1]]]', 2)).toEqual({ kind: 'depth', maxDepth: 2 });
  });

  it('refuses duplicate keys at any depth; braces and quotes inside strings do not count', () => {
    expect(msg(() => parseJson('{"a":1,"b":{"c":1,"c":2}}', 'm.json'))).toBe(
      'm.json: duplicate key "c" at depth 2',
    );
    expect(msg(() => parseJson('{"a":1,"\\u0061":2}', 'm.json'))).toBe('m.json: duplicate key "a"');
    expect(parseJson('{"a":"{[\\"]}","b":["a","a"],"c":{"a":1}}', 'm.json')).toEqual({
      a: '{["]}',
      b: ['a', 'a'],
      c: { a: 1 },
    });
  });

  it('reports malformed JSON as one line naming the file', () => {
    expect(msg(() => parseJson('{"a":', 'm.json', { what: 'model spec m.json' }))).toMatch(
      /^model spec m\.json: invalid JSON \(.+\)$/,
    );
  });
});

describe('safetensors: every entry checked, the data covered exactly', () => {
  const data = new Uint8Array(8);
  it('a tensor listed twice is refused even when the second entry is valid', () => {
    const header =
      '{"w":{"dtype":"F64","shape":[-1],"data_offsets":[9,2]},"w":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}';
    let error: SafetensorsError | undefined;
    try {
      parseSafetensors(raw(header, data), { file: 'd.safetensors' });
    } catch (e) {
      error = e as SafetensorsError;
    }
    expect(error).toBeInstanceOf(SafetensorsError);
    expect(error?.message).toBe('safetensors d.safetensors: tensor w: listed twice in the header');
    expect(error?.tensor).toBe('w');
    expect(error?.file).toBe('d.safetensors');
  });

  it('refuses a hole between tensors and bytes after the last one', () => {
    const hole =
      '{"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I32","shape":[1],"data_offsets":[8,12]}}';
    expect(msg(() => parseSafetensors(raw(hole, new Uint8Array(12)), { file: 'h' }))).toBe(
      'safetensors h: tensor b: data_offsets [8, 12] leave a hole of 4 bytes before it',
    );
    const one = '{"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}';
    expect(msg(() => parseSafetensors(raw(one, data), { file: 't' }))).toMatch(
      /^safetensors t: 4 bytes after the last tensor's data/,
    );
  });

  it('a file whose first 8 bytes are no header length says it is not safetensors, exactly', () => {
    const bytes = new Uint8Array(64).fill(0xff);
    expect(msg(() => parseSafetensors(bytes, { file: 'r.bin' }))).toBe(
      'safetensors r.bin: not a safetensors file: its first 8 bytes give a header length of 18446744073709551615, more than any header (104857600 bytes)',
    );
  });

  it('readSafetensorsFile checks the size against the header before reading the data', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nitro-bounds-'));
    const good = serializeSafetensors({ x: { shape: [2], data: [1, 2] } });
    const file = join(dir, 'cut.safetensors');
    writeFileSync(file, good.subarray(0, good.length - 4));
    expect(msg(() => readSafetensorsFile(file, { kind: 'batches' }))).toBe(
      `batches ${file}: tensor x: data_offsets [0, 8] run past the end of the data (4 bytes)`,
    );
    writeFileSync(file, good);
    expect(readSafetensorsFile(file)).toEqual(good);
  });
});

describe('IDX: sizes from the header', () => {
  const header = (dims: number[]) => {
    const out = new Uint8Array(4 + 4 * dims.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, 0x0800 + dims.length, false);
    for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
    return out;
  };
  const withData = (dims: number[], n: number) => {
    const h = header(dims);
    const out = new Uint8Array(h.length + n);
    out.set(h);
    return out;
  };

  it('inflation stops at the declared size, and a short stream is truncated', async () => {
    const bomb = gzipSync(withData([2, 3, 3], 18 + (4 << 20)));
    await expect(inflateIdx(new Uint8Array(bomb), 'b.gz', IDX_IMAGES)).rejects.toThrow(
      'idx b.gz: trailing bytes: the inflated data runs past the 34 bytes its header declares',
    );
    const short = gzipSync(withData([2, 3, 3], 10));
    await expect(decodeIdx(new Uint8Array(short), 's.gz', IDX_IMAGES)).rejects.toThrow(
      'idx s.gz: truncated: dimensions [2, 3, 3] need 18 data bytes, file has 10',
    );
    const ok = await decodeIdx(new Uint8Array(gzipSync(withData([2, 3, 3], 18))), 'o.gz');
    expect(ok.dims).toEqual([2, 3, 3]);
    expect(ok.data.length).toBe(18);
  });

  it('a header declaring more than the limit is refused before anything is allocated', async () => {
    const big = gzipSync(header([65536, 65536, 2]));
    await expect(inflateIdx(new Uint8Array(big), 'x.gz')).rejects.toThrow(
      'idx x.gz: dimensions [65536, 65536, 2] declare 8589934592 data bytes, more than the 1073741824-byte limit',
    );
  });

  it('readIdxFile compares a raw file with its header before reading the data', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nitro-bounds-'));
    const file = join(dir, 'train-images-idx3-ubyte');
    writeFileSync(file, withData([4, 28, 28], 100));
    expect(msg(() => readIdxFile(file, IDX_IMAGES))).toBe(
      `idx ${file}: truncated: dimensions [4, 28, 28] need 3136 data bytes, file has 100`,
    );
  });
});
