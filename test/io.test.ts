import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseBatches, parseInputs, serializeBatches, serializeInputs } from '../src/io/batches.ts';
import {
  checkpointMetadata,
  parseCheckpoint,
  serializeCheckpoint,
  type TensorSpec,
} from '../src/io/checkpoint.ts';
import {
  readFileBytes,
  readFileBytesSync,
  writeFileAtomic,
  writeFileAtomicSync,
} from '../src/io/files.ts';
import { parseSafetensors, SafetensorsError, serializeSafetensors } from '../src/io/safetensors.ts';

const GOLDEN = path.resolve(__dirname, './golden');

/** A safetensors file from a header (object or raw text) and a data section. */
function raw(header: unknown, data: Uint8Array | number = 0, lengthOverride?: number): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const json = new TextEncoder().encode(text);
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, lengthOverride ?? json.length, true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

/** Byte equality without a slow deep comparison; reports the first differing offset. */
function expectBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  let first = -1;
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n && first < 0; i++) if (actual[i] !== expected[i]) first = i;
  expect({ length: actual.length, first }, what).toEqual({ length: expected.length, first: -1 });
}

/** The parse error message; fails the test when parsing succeeds or throws something else. */
function parseError(
  bytes: Uint8Array,
  file = 'bad.safetensors',
  dtypes?: ('I8' | 'U8' | 'I16' | 'U16' | 'I32')[],
): string {
  try {
    parseSafetensors(bytes, { file, dtypes });
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    expect(msg.startsWith(`safetensors ${file}: `)).toBe(true);
    return msg;
  }
  throw new Error('expected a parse error');
}

describe('safetensors', () => {
  const tensors = {
    'b.weight': { shape: [2, 3], data: Int32Array.from([1, -2, 3, 2147483647, -2147483648, 0]) },
    a: { shape: [4], data: [7, 8, 9, 10] },
    empty: { shape: [0, 5], data: [] },
    scalar: { shape: [], data: [-5] },
  };

  it('round-trips tensors and metadata with stable bytes', () => {
    const bytes = serializeSafetensors(tensors, { steps: '12', model: '{"classes":10}' });
    const headerLength = new DataView(bytes.buffer).getUint32(0, true);
    expect(headerLength % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
    expect(header.trimEnd()).toBe(
      '{"__metadata__":{"model":"{\\"classes\\":10}","steps":"12"},' +
        '"a":{"dtype":"I32","shape":[4],"data_offsets":[0,16]},' +
        '"b.weight":{"dtype":"I32","shape":[2,3],"data_offsets":[16,40]},' +
        '"empty":{"dtype":"I32","shape":[0,5],"data_offsets":[40,40]},' +
        '"scalar":{"dtype":"I32","shape":[],"data_offsets":[40,44]}}',
    );
    expect(bytes.length).toBe(8 + headerLength + 44);
    const parsed = parseSafetensors(bytes);
    expect(parsed.metadata).toEqual({ model: '{"classes":10}', steps: '12' });
    expect([...parsed.tensors.keys()].sort()).toEqual(['a', 'b.weight', 'empty', 'scalar']);
    expect([...parsed.tensors.get('b.weight')!.data]).toEqual([
      1, -2, 3, 2147483647, -2147483648, 0,
    ]);
    expect(parsed.tensors.get('b.weight')!.shape).toEqual([2, 3]);
    expect(parsed.tensors.get('empty')!.data.length).toBe(0);
    expect([...parsed.tensors.get('scalar')!.data]).toEqual([-5]);
    // Same bytes again, whatever the insertion order.
    const again = serializeSafetensors(new Map(Object.entries(tensors).reverse()), {
      steps: '12',
      model: '{"classes":10}',
    });
    expect(again).toEqual(bytes);
    const reparsed = new Map(
      [...parsed.tensors].map(([k, v]) => [k, { shape: v.shape, data: v.data }]),
    );
    expect(serializeSafetensors(reparsed, parsed.metadata)).toEqual(bytes);
  });

  it('reads a Node Buffer (whose slice is a view) into tensors of their own length', () => {
    const bytes = serializeSafetensors(tensors, {});
    // A Buffer in a larger pool, as fs.readFileSync returns for small files.
    const pool = Buffer.alloc(bytes.length + 64);
    pool.set(bytes, 16);
    const parsed = parseSafetensors(pool.subarray(16, 16 + bytes.length));
    for (const [name, t] of Object.entries(tensors))
      expect([...parsed.tensors.get(name)!.data], name).toEqual([...t.data]);
  });

  it('writes the same bytes as the golden files', () => {
    let checked = 0;
    for (const dir of fs.readdirSync(GOLDEN)) {
      const caseDir = path.join(GOLDEN, dir);
      if (!fs.statSync(caseDir).isDirectory()) continue;
      for (const f of fs.readdirSync(caseDir).filter((n) => n.endsWith('.safetensors'))) {
        const bytes = new Uint8Array(fs.readFileSync(path.join(caseDir, f)));
        const parsed = parseSafetensors(bytes, { file: f });
        const again = serializeSafetensors(
          new Map([...parsed.tensors].map(([k, v]) => [k, { shape: v.shape, data: v.data }])),
          parsed.metadata,
        );
        expectBytes(again, bytes, `${dir}/${f}`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('reads a data section at any alignment and widens accepted integer dtypes', () => {
    const data = new Uint8Array([0xff, 0x80, 0x01, 0x02, 0xfe, 0xff, 0x01, 0x00, 0x00, 0x80]);
    const bytes = raw(
      {
        i8: { dtype: 'I8', shape: [2], data_offsets: [0, 2] },
        u8: { dtype: 'U8', shape: [2], data_offsets: [2, 4] },
        i16: { dtype: 'I16', shape: [3], data_offsets: [4, 10] },
      },
      data,
    );
    const p = parseSafetensors(bytes, { dtypes: ['I8', 'U8', 'I16'] });
    expect([...p.tensors.get('i8')!.data]).toEqual([-1, -128]);
    expect([...p.tensors.get('u8')!.data]).toEqual([1, 2]);
    expect([...p.tensors.get('i16')!.data]).toEqual([-2, 1, -32768]);
    // Odd header length: the I32 data starts unaligned.
    const odd = raw(
      '{"x":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}} ',
      Uint8Array.from([1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]),
    );
    expect([...parseSafetensors(odd).tensors.get('x')!.data]).toEqual([1, -1]);
  });

  const t = (extra: Record<string, unknown> = {}) => ({
    dtype: 'I32',
    shape: [2],
    data_offsets: [0, 8],
    ...extra,
  });

  it.each<[string, () => Uint8Array, RegExp]>([
    [
      'a file shorter than the length field',
      () => new Uint8Array(5),
      /: not a safetensors file: 5 bytes, too short for the 8-byte header length$/,
    ],
    [
      'a header length past the end',
      () => raw({ w: t() }, 8, 1000),
      /: not a safetensors file: its first 8 bytes give a header length of 1000, past the end of the file \(70 bytes\)$/,
    ],
    [
      'a huge header length',
      () => {
        const b = raw({ w: t() }, 8);
        new DataView(b.buffer).setUint32(4, 7, true);
        return b;
      },
      /: not a safetensors file: its first 8 bytes give a header length of \d+, more than any header/,
    ],
    ['bad JSON', () => raw('{"w": {"dtype": "I32",', 8), /: header is not valid JSON/],
    [
      'a header that is not an object',
      () => raw('[1, 2]', 8),
      /: not a safetensors file: the header is not a JSON object$/,
    ],
    [
      'invalid UTF-8',
      () => raw('{"a":1}').map((v, i) => (i === 10 ? 0xff : v)),
      /: not a safetensors file: the header is not valid UTF-8$/,
    ],
    [
      'a missing dtype',
      () => raw({ w: { shape: [2], data_offsets: [0, 8] } }, 8),
      /: tensor w: missing field dtype$/,
    ],
    [
      'a missing shape',
      () => raw({ w: { dtype: 'I32', data_offsets: [0, 8] } }, 8),
      /: tensor w: missing field shape$/,
    ],
    [
      'missing offsets',
      () => raw({ w: { dtype: 'I32', shape: [2] } }, 8),
      /: tensor w: missing field data_offsets$/,
    ],
    [
      'an entry that is not an object',
      () => raw({ w: 3 }, 8),
      /: tensor w: entry is not an object$/,
    ],
    [
      'dtype F32',
      () => raw({ w: t({ dtype: 'F32' }) }, 8),
      /: tensor w: dtype F32 is not accepted \(expected I32\)$/,
    ],
    [
      'dtype I8 when only I32 is accepted',
      () => raw({ w: t({ dtype: 'I8', data_offsets: [0, 2] }) }, 8),
      /: tensor w: dtype I8 is not accepted/,
    ],
    [
      'a fractional dimension',
      () => raw({ w: t({ shape: [1.5] }) }, 8),
      /: tensor w: shape \[1\.5\] has a dimension that is not a non-negative integer$/,
    ],
    [
      'a negative dimension',
      () => raw({ w: t({ shape: [-2] }) }, 8),
      /: tensor w: shape \[-2\] has a dimension/,
    ],
    [
      'a string dimension',
      () => raw({ w: t({ shape: ['2'] }) }, 8),
      /: tensor w: shape \["2"\] has a dimension/,
    ],
    [
      'a shape that is not an array',
      () => raw({ w: t({ shape: 2 }) }, 8),
      /: tensor w: shape is not an array$/,
    ],
    [
      'offsets past the end',
      () => raw({ w: t({ data_offsets: [4, 12] }) }, 8),
      /: tensor w: data_offsets \[4, 12\] run past the end of the data \(8 bytes\)$/,
    ],
    [
      'offsets not matching the shape',
      () => raw({ w: t({ shape: [3] }) }, 8),
      /: tensor w: data_offsets \[0, 8\] hold 8 bytes, shape \[3\] I32 needs 12$/,
    ],
    [
      'reversed offsets',
      () => raw({ w: t({ data_offsets: [8, 0] }) }, 8),
      /: tensor w: data_offsets \[8, 0\] end before they begin$/,
    ],
    [
      'offsets that are not a pair',
      () => raw({ w: t({ data_offsets: [0] }) }, 8),
      /: tensor w: data_offsets \[0\] is not a pair/,
    ],
    [
      'overlapping tensors',
      () => raw({ a: t(), b: t({ data_offsets: [4, 12] }) }, 12),
      /: tensor b: data_offsets \[4, 12\] overlap tensor a$/,
    ],
    [
      'a metadata value that is not a string',
      () => raw({ __metadata__: { steps: 12 }, w: t() }, 8),
      /: __metadata__\.steps is not a string$/,
    ],
    [
      'metadata that is not an object',
      () => raw({ __metadata__: ['x'], w: t() }, 8),
      /: __metadata__ is not an object of strings$/,
    ],
  ])('rejects %s with a one-line error naming the file and tensor', (_what, make, pattern) => {
    const msg = parseError(make());
    expect(msg).toMatch(/^safetensors bad\.safetensors: /);
    expect(msg).toMatch(pattern);
  });

  it('records the tensor at fault on the error', () => {
    try {
      parseSafetensors(raw({ 'blocks.1.weight': t({ dtype: 'F64' }) }, 8), {
        file: 'W.safetensors',
        kind: 'checkpoint',
      });
      throw new Error('no error');
    } catch (e) {
      expect((e as Error).message).toBe(
        'checkpoint W.safetensors: tensor blocks.1.weight: dtype F64 is not accepted (expected I32)',
      );
      expect((e as SafetensorsError).tensor).toBe('blocks.1.weight');
      expect((e as SafetensorsError).file).toBe('W.safetensors');
    }
  });

  it('refuses to write values that are not int32 or do not fill the shape', () => {
    expect(() => serializeSafetensors({ w: { shape: [2], data: [1] } })).toThrow(
      'tensor w: shape [2] needs 2 values, got 1',
    );
    expect(() => serializeSafetensors({ w: { shape: [1], data: [2 ** 31] } })).toThrow(
      'tensor w: value 2147483648 at 0 is not an int32',
    );
    expect(() => serializeSafetensors({ w: { shape: [1], data: [0.5] } })).toThrow(
      'is not an int32',
    );
  });
});

describe('checkpoint', () => {
  const spec: TensorSpec[] = [
    { name: 'blocks.0.weight', shape: [3, 4] },
    { name: 'blocks.0.head.weight', shape: [2, 3] },
    { name: 'output.weight', shape: [2, 3] },
  ];
  const values = () =>
    new Map(
      spec.map((t, k) => [
        t.name,
        Int32Array.from({ length: t.shape[0] * t.shape[1] }, (_, i) => i * 7 - k * 100),
      ]),
    );
  const model = { input: [1, 2, 2], classes: 2, hidden: [3] };

  it('round-trips the tensors and the model spec under "model"', () => {
    const bytes = serializeCheckpoint(
      spec,
      values(),
      checkpointMetadata(model, { steps: 5, epoch: 1, rng: '0x1234' }),
    );
    const ck = parseCheckpoint(bytes, spec, 'W.safetensors');
    expect([...ck.tensors.keys()]).toEqual(spec.map((t) => t.name));
    for (const [name, v] of values()) expect([...ck.tensors.get(name)!]).toEqual([...v]);
    expect(JSON.parse(ck.metadata.model)).toEqual(model);
    expect(ck.metadata).toMatchObject({ steps: '5', epoch: '1', rng: '0x1234' });
  });

  const wrong = (
    mutate: (m: Map<string, { shape: number[]; data: Int32Array }>) => void,
  ): Uint8Array => {
    const m = new Map(
      spec.map((t) => [
        t.name,
        { shape: [...t.shape], data: new Int32Array(t.shape[0] * t.shape[1]) },
      ]),
    );
    mutate(m);
    return serializeSafetensors(m, { model: '{}' });
  };

  it('names the tensor whose shape differs', () => {
    const bytes = wrong((m) =>
      m.set('blocks.0.weight', { shape: [100, 784], data: new Int32Array(78400) }),
    );
    const expected = [{ name: 'blocks.0.weight', shape: [100, 700] }, ...spec.slice(1)];
    expect(() => parseCheckpoint(bytes, expected, 'W.safetensors')).toThrow(
      /^checkpoint W\.safetensors: tensor blocks\.0\.weight has shape \[100, 784\], expected \[100, 700\]$/,
    );
  });

  it('names a missing tensor and an unexpected one', () => {
    expect(() =>
      parseCheckpoint(
        wrong((m) => m.delete('output.weight')),
        spec,
        'W.safetensors',
      ),
    ).toThrow(/^checkpoint W\.safetensors: missing tensor output\.weight \[2, 3\]$/);
    expect(() =>
      parseCheckpoint(
        wrong((m) => m.set('blocks.7.bias', { shape: [2], data: new Int32Array(2) })),
        spec,
        'W.safetensors',
      ),
    ).toThrow(/^checkpoint W\.safetensors: unexpected tensor blocks\.7\.bias \[2\]$/);
  });

  it('rejects a malformed file under the checkpoint name', () => {
    expect(() => parseCheckpoint(new Uint8Array(3), spec, 'W.safetensors')).toThrow(
      /^checkpoint W\.safetensors: not a safetensors file: 3 bytes/,
    );
  });

  it('refuses to write a checkpoint that does not match the model', () => {
    const v = values();
    v.delete('output.weight');
    expect(() => serializeCheckpoint(spec, v)).toThrow(
      'checkpoint: missing tensor output.weight [2, 3]',
    );
    const w = values();
    w.set('blocks.0.weight', new Int32Array(11));
    expect(() => serializeCheckpoint(spec, w)).toThrow(
      'checkpoint: tensor blocks.0.weight has 11 values, shape [3, 4] needs 12',
    );
  });
});

describe('batches and inputs files', () => {
  it('round-trips batches and checks shapes, ranges and labels', () => {
    const x = Int32Array.from({ length: 2 * 3 * 1 * 2 * 2 }, (_, i) => ((i * 37) % 256) - 128);
    const y = Int32Array.from([0, 1, 2, 2, 1, 0]);
    const bytes = serializeBatches({ steps: 2, batch: 3, shape: [1, 2, 2], x, y });
    const b = parseBatches(bytes, 'B.safetensors', { shape: [1, 2, 2], classes: 3 });
    expect(b.steps).toBe(2);
    expect(b.batch).toBe(3);
    expect(b.shape).toEqual([1, 2, 2]);
    expect([...b.x]).toEqual([...x]);
    expect([...b.y]).toEqual([...y]);
    expect(() => parseBatches(bytes, 'B.safetensors', { shape: [1, 2, 3] })).toThrow(
      'batches B.safetensors: tensor x has samples [1, 2, 2], the model expects [1, 2, 3]',
    );
    expect(() => parseBatches(bytes, 'B.safetensors', { classes: 2 })).toThrow(
      'batches B.safetensors: tensor y label 2 at 2 is outside [0, 2)',
    );
    const big = serializeSafetensors({
      x: { shape: [1, 1, 1, 1, 1], data: [128] },
      y: { shape: [1, 1], data: [0] },
    });
    expect(() => parseBatches(big, 'B.safetensors')).toThrow(
      'batches B.safetensors: tensor x value 128 at 0 is outside [-128, 127]',
    );
    const badY = serializeSafetensors({
      x: { shape: [1, 2, 1, 1, 1], data: [0, 0] },
      y: { shape: [2], data: [0, 0] },
    });
    expect(() => parseBatches(badY, 'B.safetensors')).toThrow(
      'batches B.safetensors: tensor y has shape [2], expected [1, 2]',
    );
    const noY = serializeSafetensors({ x: { shape: [1, 1, 1, 1, 1], data: [0] } });
    expect(() => parseBatches(noY, 'B.safetensors')).toThrow(
      'batches B.safetensors: missing tensor y',
    );
  });

  it('round-trips prediction inputs', () => {
    const x = Int32Array.from([1, -2, 3, -4, 5, -6, 7, -8]);
    const bytes = serializeInputs({ count: 2, shape: [1, 2, 2], x });
    const p = parseInputs(bytes, 'X.safetensors', { shape: [1, 2, 2] });
    expect(p.count).toBe(2);
    expect([...p.x]).toEqual([...x]);
    const rank3 = serializeSafetensors({ x: { shape: [2, 2, 2], data: x } });
    expect(() => parseInputs(rank3, 'X.safetensors')).toThrow(
      'input X.safetensors: tensor x has shape [2, 2, 2], expected [N, C, H, W]',
    );
  });
});

describe('files', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nitro-d-io-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(() => vi.restoreAllMocks());

  it('reports a missing file in one line', async () => {
    const missing = path.join(dir, 'nope.safetensors');
    await expect(readFileBytes(missing)).rejects.toThrow(`cannot read ${missing}: no such file`);
    expect(() => readFileBytesSync(missing)).toThrow(`cannot read ${missing}: no such file`);
    await expect(readFileBytes(dir)).rejects.toThrow(`cannot read ${dir}: is a directory`);
  });

  it('writes and replaces a file atomically', async () => {
    const file = path.join(dir, 'a.bin');
    await writeFileAtomic(file, Uint8Array.from([1, 2, 3]));
    expect([...(await readFileBytes(file))]).toEqual([1, 2, 3]);
    await writeFileAtomic(file, Uint8Array.from([4, 5]));
    expect([...(await readFileBytes(file))]).toEqual([4, 5]);
    expect(fs.readdirSync(dir).filter((n) => n.includes('.tmp'))).toEqual([]);
  });

  const leftovers = () => fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'));

  it('keeps the previous file when a write fails midway', () => {
    const file = path.join(dir, 'keep.bin');
    fs.writeFileSync(file, 'previous');
    const big = new Uint8Array(3 << 20).fill(7);
    const real = fs.writeSync;
    let calls = 0;
    vi.spyOn(fs, 'writeSync').mockImplementation(((...args: Parameters<typeof fs.writeSync>) => {
      if (++calls === 2)
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
          code: 'ENOSPC',
        });
      return (real as (...a: unknown[]) => number)(...args);
    }) as typeof fs.writeSync);
    expect(() => writeFileAtomicSync(file, big)).toThrow(
      `cannot write ${file}: no space left on device`,
    );
    expect(calls).toBe(2);
    expect(fs.readFileSync(file, 'utf8')).toBe('previous');
    expect(leftovers()).toEqual([]);
  });

  it('keeps the previous file when the flush or the rename fails', async () => {
    const file = path.join(dir, 'keep2.bin');
    fs.writeFileSync(file, 'previous');
    vi.spyOn(fs, 'fsyncSync').mockImplementationOnce(() => {
      throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    });
    await expect(writeFileAtomic(file, Uint8Array.from([1]))).rejects.toThrow(
      `cannot write ${file}: EIO: i/o error, fsync`,
    );
    expect(fs.readFileSync(file, 'utf8')).toBe('previous');
    vi.restoreAllMocks();
    vi.spyOn(fs, 'renameSync').mockImplementationOnce(() => {
      throw Object.assign(new Error('EXDEV'), { code: 'EXDEV' });
    });
    expect(() => writeFileAtomicSync(file, Uint8Array.from([1]))).toThrow(`cannot write ${file}:`);
    expect(fs.readFileSync(file, 'utf8')).toBe('previous');
    expect(leftovers()).toEqual([]);
  });

  it('reports a write into a missing directory', () => {
    const file = path.join(dir, 'no', 'such', 'x.bin');
    expect(() => writeFileAtomicSync(file, Uint8Array.from([1]))).toThrow(
      `cannot write ${file}: no such file`,
    );
  });
});
