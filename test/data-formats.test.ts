/**
 * Bring-your-own data: typed arrays, NumPy .npy/.npz and image folders. Each path gives the same
 * data set element for element as the same pixels through IDX, trains to the same checkpoint
 * bytes on the command line, and refuses bad files with one line naming the file.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { datasetFromArrays, splitFromNpz } from '../src/data/arrays.ts';
import { type Dataset, loadMnist } from '../src/data/dataset.ts';
import { loadImageFolder } from '../src/data/images.ts';
import { parseNpy, parseNpz } from '../src/data/npy.ts';
import { detectDataFormat, loadData } from '../src/data/sources.ts';
import { Model } from '../src/model/model.ts';
import { Trainer } from '../src/train/trainer.ts';
import { nitro, requireBuild, stderrLines, writeIdxDataset } from './cli-helpers.ts';
import { cpu, expectSameElements } from './helpers.ts';

const TMP = mkdtempSync(join(tmpdir(), 'nitro-data-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** A version-1 .npy file of little- or big-endian integers. */
function npy(descr: string, shape: number[], values: ArrayLike<number>): Uint8Array {
  const bytes = Number(descr.slice(2));
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const padded = dict + ' '.repeat(63 - ((10 + dict.length) % 64)) + '\n';
  const out = new Uint8Array(10 + padded.length + values.length * bytes);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const view = new DataView(out.buffer);
  view.setUint16(8, padded.length, true);
  for (let i = 0; i < padded.length; i++) out[10 + i] = padded.charCodeAt(i);
  const le = descr[0] !== '>';
  const at = 10 + padded.length;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const p = at + i * bytes;
    if (bytes === 1) out[p] = v & 0xff;
    else if (bytes === 2) view.setUint16(p, v & 0xffff, le);
    else if (bytes === 4) view.setUint32(p, v >>> 0, le);
    else view.setBigInt64(p, BigInt(v), le);
  }
  return out;
}

/** A zip of members, stored or deflated; `declare` overrides a member's declared size. */
function zip(members: { name: string; data: Uint8Array; deflate?: boolean; declare?: number }[]) {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const body = m.deflate ? new Uint8Array(zlib.deflateRawSync(m.data)) : m.data;
    const name = new TextEncoder().encode(m.name);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(8, m.deflate ? 8 : 0, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, m.declare ?? m.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const dir = new Uint8Array(46 + name.length);
    const dv = new DataView(dir.buffer);
    dv.setUint32(0, 0x02014b50, true);
    dv.setUint16(10, m.deflate ? 8 : 0, true);
    dv.setUint32(20, body.length, true);
    dv.setUint32(24, m.declare ?? m.data.length, true);
    dv.setUint16(28, name.length, true);
    dv.setUint32(42, offset, true);
    dir.set(name, 46);
    parts.push(local, body);
    central.push(dir);
    offset += local.length + body.length;
  }
  const dirSize = central.reduce((a, c) => a + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, members.length, true);
  ev.setUint16(10, members.length, true);
  ev.setUint32(12, dirSize, true);
  ev.setUint32(16, offset, true);
  const all = [...parts, ...central, end];
  const out = new Uint8Array(all.reduce((a, c) => a + c.length, 0));
  let p = 0;
  for (const c of all) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

function expectSameDataset(actual: Dataset, expected: Dataset, what: string): void {
  expect(actual.shape, `${what}: shape`).toEqual(expected.shape);
  expect(actual.classes, `${what}: classes`).toBe(expected.classes);
  expectSameElements(actual.images, expected.images, `${what}: images`);
  expectSameElements(actual.labels, expected.labels, `${what}: labels`);
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

async function asyncMessageOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe('npy', () => {
  it('reads every integer dtype in either byte order', () => {
    const values = [0, 1, 2, 100, 127];
    for (const descr of [
      '|u1',
      '|i1',
      '|b1',
      '<u2',
      '>u2',
      '<i2',
      '>i2',
      '<u4',
      '<i4',
      '>i4',
      '<i8',
      '>u8',
    ]) {
      const a = parseNpy(npy(descr, [5], values), `${descr}.npy`);
      expect(a.shape).toEqual([5]);
      expect([...a.data], descr).toEqual(values);
    }
    expect([...parseNpy(npy('<i2', [2, 2], [-300, 2, -1, 4])).data]).toEqual([-300, 2, -1, 4]);
    expect(parseNpy(npy('|u1', [0, 3], [])).shape).toEqual([0, 3]);
  });

  it('refuses bad files with one line naming the file', () => {
    const good = npy('|u1', [2, 3], [1, 2, 3, 4, 5, 6]);
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(20), /^npy x\.npy: not a NumPy \.npy file/],
      [
        good.subarray(0, good.length - 1),
        /^npy x\.npy: truncated: shape \(2, 3\) '\|u1' needs 6 data bytes, file has 5$/,
      ],
      [
        new Uint8Array([...good, 0]),
        /^npy x\.npy: trailing bytes: shape \(2, 3\) '\|u1' needs 6 data bytes, file has 7$/,
      ],
      [npy('<f4', [1], [0]), /^npy x\.npy: dtype '<f4' is not an integer type/],
      [npy('<i8', [1], [2 ** 40]), /^npy x\.npy: value 1099511627776 at 0 does not fit in int32$/],
      [
        good.subarray(0, 40),
        /^npy x\.npy: header length \d+ runs past the end of the file \(40 bytes\)$/,
      ],
    ];
    const fortran = new Uint8Array(good);
    const at = new TextDecoder('latin1').decode(fortran).indexOf('False');
    fortran.set(new TextEncoder().encode('True '), at);
    cases.push([fortran, /^npy x\.npy: the array is in Fortran order/]);
    for (const [bytes, re] of cases) {
      const m = messageOf(() => parseNpy(bytes, 'x.npy'));
      expect(m).toMatch(re);
      expect(m).not.toContain('\n');
    }
  });

  it('checks a declared shape against its bound before allocating', () => {
    const huge = npy('<i4', [1000000, 1000000], []);
    expect(messageOf(() => parseNpy(huge, 'big.npy'))).toBe(
      "npy big.npy: shape (1000000, 1000000) '<i4' needs 4000000000000 bytes, more than 2147483647",
    );
  });
});

describe('npz', () => {
  const fixture = (f: string) => new Uint8Array(readFileSync(join('test', 'fixtures', 'npy', f)));
  // Both written by numpy 2.4 (savez_compressed, savez) from x = (arange(120) * 7 % 256)
  // reshaped (2, 5, 4, 3) as uint8, test/fixtures/npy.
  const x = Array.from({ length: 120 }, (_, i) => (i * 7) % 256);

  it('reads numpy.savez_compressed: [N, H, W, C] images become [C, H, W] samples', async () => {
    const arrays = await parseNpz(fixture('numpy-compressed.npz'), 'c.npz');
    expect([...arrays.keys()].sort()).toEqual(['x_test', 'x_train', 'y_test', 'y_train']);
    expect(arrays.get('y_train')).toMatchObject({ descr: '<i8', shape: [2, 1] });
    const split = splitFromNpz('c', arrays, 'npz c.npz');
    expect(split.train.shape).toEqual([3, 5, 4]);
    expect(split.train.classes).toBe(3);
    expect([...split.train.labels]).toEqual([2, 0]);
    // NHWC (s, y, x, c) -> NCHW (s, c, y, x), minus 128.
    const want = new Int8Array(120);
    for (let s = 0; s < 2; s++)
      for (let y = 0; y < 5; y++)
        for (let xx = 0; xx < 4; xx++)
          for (let c = 0; c < 3; c++)
            want[s * 60 + c * 20 + y * 4 + xx] = x[s * 60 + y * 12 + xx * 3 + c] - 128;
    expectSameElements(split.train.images, want, 'x_train');
    expectSameElements(split.test.images, want.subarray(60), 'x_test');
  });

  it('reads numpy.savez (stored members), [N, H, W] as one channel', async () => {
    const split = splitFromNpz('s', await parseNpz(fixture('numpy-stored.npz'), 's.npz'), 's');
    expect(split.train.shape).toEqual([1, 5, 4]);
    const want = Int8Array.from({ length: 40 }, (_, i) => x[i * 3] - 128);
    expectSameElements(split.train.images, want, 'x_train');
    expect([...split.test.labels]).toEqual([1]);
  });

  it('refuses bad archives with one line naming the file and member, within bounded memory', async () => {
    const member = npy('|u1', [4], [1, 2, 3, 4]);
    const msg = (bytes: Uint8Array) => asyncMessageOf(() => parseNpz(bytes, 'd.npz'));
    expect(await msg(new Uint8Array(100))).toBe(
      'npz d.npz: not a zip file (no end of central directory record)',
    );
    // A bomb: a small member that claims to inflate to 1 GiB is refused before inflating.
    expect(
      await msg(zip([{ name: 'x.npy', data: member, deflate: true, declare: 1 << 30 }])),
    ).toMatch(/^npz d\.npz: member x\.npy: declares 1073741824 bytes from \d+ compressed$/);
    expect(await msg(zip([{ name: 'x.npy', data: member, deflate: true, declare: 20 }]))).toBe(
      'npz d.npz: member x.npy: inflates to more than the 20 bytes it declares',
    );
    expect(await msg(zip([{ name: 'x.npy', data: member, declare: 20 }]))).toMatch(
      /^npz d\.npz: member x\.npy: stored with \d+ bytes but declares 20$/,
    );
    const corrupt = zip([{ name: 'x.npy', data: member, deflate: true }]);
    corrupt.fill(0xff, 35, 45); // deflate block type 3 does not exist
    expect(await msg(corrupt)).toMatch(/^npz d\.npz: member x\.npy: /);
    const arrays = await parseNpz(zip([{ name: 'x_train.npy', data: member }]), 'd.npz');
    expect(messageOf(() => splitFromNpz('d', arrays, 'npz d.npz'))).toBe(
      'npz d.npz: lacks y_train, x_test, y_test (has x_train); the data needs x_train, y_train, x_test, y_test',
    );
  });
});

describe('datasetFromArrays', () => {
  it('stores pixel - 128 in [N, C, H, W], from either layout', () => {
    const nchw = Uint8Array.from({ length: 2 * 3 * 2 * 2 }, (_, i) => i * 10);
    const nhwc = new Uint8Array(nchw.length);
    for (let s = 0; s < 2; s++)
      for (let c = 0; c < 3; c++)
        for (let p = 0; p < 4; p++) nhwc[s * 12 + p * 3 + c] = nchw[s * 12 + c * 4 + p];
    const a = datasetFromArrays('a', nchw, [0, 1], { shape: [3, 2, 2] });
    const b = datasetFromArrays('b', nhwc, [0, 1], { shape: [3, 2, 2], layout: 'nhwc' });
    expectSameElements(
      a.images,
      Int8Array.from(nchw, (v) => v - 128),
      'nchw',
    );
    expectSameElements(b.images, a.images, 'nhwc');
    expect(a.classes).toBe(2);
  });

  it('refuses values that are not pixels or class indices, naming the index', () => {
    const shape = [1, 1, 2] as const;
    expect(messageOf(() => datasetFromArrays('d', [0, 256], [0], { shape }))).toBe(
      'd: pixel value 256 at 1 is not an integer in [0, 255]',
    );
    expect(
      messageOf(() => datasetFromArrays('d', [0, 1, 2, 3], [0, 3], { shape, classes: 3 })),
    ).toBe('d: label 3 at 1 is not a class index below 3 classes');
    expect(messageOf(() => datasetFromArrays('d', [0, 1, 2], [0, 1], { shape }))).toBe(
      'd: 3 pixel values are not 2 images (one per label) of [1, 1, 2]',
    );
  });

  it('trains: accuracy on separable RGB data rises from chance', async () => {
    // Three classes, each a bright colour channel over noise, held as [N, H, W, C] bytes.
    const n = 96;
    const rng = {
      s: 5,
      next() {
        this.s = (this.s * 1103515245 + 12345) >>> 0;
        return this.s >>> 16;
      },
    };
    const pixels = new Uint8Array(n * 6 * 6 * 3);
    const labels = Array.from({ length: n }, (_, i) => i % 3);
    for (let i = 0; i < n; i++)
      for (let p = 0; p < 36; p++)
        for (let c = 0; c < 3; c++)
          pixels[(i * 36 + p) * 3 + c] =
            c === labels[i] ? 160 + (rng.next() % 96) : rng.next() % 120;
    const ds = datasetFromArrays('rgb', pixels, labels, { shape: [3, 6, 6], layout: 'nhwc' });
    const backend = await cpu();
    const model = Model.create(
      backend,
      { input: [3, 6, 6], classes: 3, hidden: [16] },
      { seed: 3 },
    );
    const trainer = new Trainer(model, ds, undefined, { batch: 8, epochs: 4, seed: 1 });
    try {
      const before = await trainer.evaluate(ds);
      const results = await trainer.fit();
      const after = await trainer.evaluate(ds);
      expect(results).toHaveLength(4);
      expect(after.output.accuracyBp).toBeGreaterThan(before.output.accuracyBp);
      expect(after.output.accuracyBp).toBeGreaterThanOrEqual(9000);
    } finally {
      trainer.dispose();
      model.dispose();
      backend.destroy();
    }
  });
});

/** Writes the IDX data set's pixels as .npz, .npy files and PNG folders; returns the folders. */
function writeFormats(idxDir: string, root: string) {
  const read = (f: string, header: number) =>
    new Uint8Array(readFileSync(join(idxDir, f))).subarray(header);
  const arrays = {
    x_train: read('train-images-idx3-ubyte', 16),
    y_train: read('train-labels-idx1-ubyte', 8),
    x_test: read('t10k-images-idx3-ubyte', 16),
    y_test: read('t10k-labels-idx1-ubyte', 8),
  };
  const members = Object.entries(arrays).map(([name, data]) => {
    const n = name.startsWith('x') ? data.length / 784 : data.length;
    const file = name.startsWith('x') ? npy('|u1', [n, 28, 28], data) : npy('<i8', [n], data); // NumPy's default integer type
    return { name: `${name}.npy`, data: file };
  });
  const npz = join(root, 'data.npz');
  writeFileSync(npz, zip(members.map((m, i) => ({ ...m, deflate: i % 2 === 0 }))));
  const npyDir = join(root, 'npy');
  mkdirSync(npyDir);
  for (const m of members) writeFileSync(join(npyDir, m.name), m.data);
  const imagesDir = join(root, 'images');
  for (const split of ['train', 'test'] as const) {
    const x = arrays[`x_${split}`];
    const y = arrays[`y_${split}`];
    for (let i = 0; i < y.length; i++) {
      const dir = join(imagesDir, split, `class-${y[i]}`);
      mkdirSync(dir, { recursive: true });
      const png = new PNG({ width: 28, height: 28 });
      for (let p = 0; p < 784; p++) {
        png.data.set([x[i * 784 + p], x[i * 784 + p], x[i * 784 + p], 255], 4 * p);
      }
      // Names sort in sample order, so the folder lists samples as the IDX file holds them per class.
      writeFileSync(join(dir, `${String(i).padStart(5, '0')}.png`), PNG.sync.write(png));
    }
  }
  return { npz, npyDir, imagesDir };
}

/** A data set's samples grouped by class, in order within each class (how a folder lists them). */
function byClass(ds: Dataset): Dataset {
  const order = [...ds.labels.keys()].sort((a, b) => ds.labels[a] - ds.labels[b] || a - b);
  const size = ds.images.length / ds.labels.length;
  const images = new Int8Array(ds.images.length);
  for (const [i, s] of order.entries())
    images.set(ds.images.subarray(s * size, (s + 1) * size), i * size);
  return { ...ds, images, labels: Int32Array.from(order, (s) => ds.labels[s]) };
}

describe('the same pixels through IDX, .npz, .npy and image folders', () => {
  const idxDir = join(TMP, 'idx');
  // 400 training samples of 10 classes: every class occurs, so each format counts 10.
  writeIdxDataset(idxDir, 400, 100, 11);
  const formats = writeFormats(idxDir, TMP);

  it('detects each format and loads the same data set, element for element', async () => {
    const ref = await loadMnist(idxDir);
    expect(await detectDataFormat(idxDir)).toBe('idx');
    expect(await detectDataFormat(formats.npz)).toBe('npz');
    expect(await detectDataFormat(formats.npyDir)).toBe('npy');
    expect(await detectDataFormat(formats.imagesDir)).toBe('images');
    for (const [what, path] of [
      ['npz', formats.npz],
      ['npy', formats.npyDir],
    ] as const) {
      const split = await loadData(path);
      expectSameDataset(split.train, ref.train, `${what} train`);
      expectSameDataset(split.test, ref.test, `${what} test`);
    }
    const images = await loadImageFolder(formats.imagesDir);
    expect(images.classNames).toEqual(Array.from({ length: 10 }, (_, i) => `class-${i}`));
    expectSameDataset(images.train, byClass(ref.train), 'images train');
    expectSameDataset(images.test, byClass(ref.test), 'images test');
  });

  it('nitro-d train --data PATH: every format trains to the same checkpoint bytes as IDX', async () => {
    requireBuild();
    const model = join(TMP, 'mlp.json');
    writeFileSync(model, JSON.stringify({ input: [1, 28, 28], classes: 10, hidden: [32] }));
    const train = async (name: string, data: string, extra: string[] = []) => {
      const out = join(TMP, `run-${name}`);
      const r = await nitro([
        'train',
        '--model',
        model,
        '--dataset',
        'mnist',
        '--data',
        data,
        ...extra,
        '--epochs',
        '3',
        '--lr-inv',
        '128',
        '--batch',
        '8',
        '--no-augment',
        '--backend',
        'cpu',
        '--quiet',
        '--out',
        out,
      ]);
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      const log = readFileSync(join(out, 'log.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      return {
        bytes: readFileSync(join(out, 'last.safetensors')),
        epochs: log.filter((l) => l.event === 'epoch'),
      };
    };
    const idx = await train('idx', idxDir);
    // Learnable data: test accuracy rises well above chance (10 %) in three epochs.
    expect(idx.epochs).toHaveLength(3);
    expect(idx.epochs[2].test.accuracy).toBeGreaterThan(idx.epochs[0].test.accuracy);
    expect(idx.epochs[2].test.accuracy).toBeGreaterThan(30);
    for (const [name, data, extra] of [
      ['npz', formats.npz, ['--data-format', 'npz']],
      ['npy', formats.npyDir, []],
    ] as const) {
      const r = await train(name, data, [...extra]);
      expect(r.bytes.equals(idx.bytes), `${name}: last.safetensors equals the IDX run's`).toBe(
        true,
      );
    }
    // nitro-d eval reads the same data and finds the last epoch's test accuracy.
    const evaluated = await nitro([
      'eval',
      '--model',
      model,
      '--dataset',
      'mnist',
      '--weights',
      join(TMP, 'run-npz', 'last.safetensors'),
      '--data',
      formats.npz,
      '--data-format',
      'npz',
      '--backend',
      'cpu',
      '--json',
    ]);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(JSON.parse(evaluated.stdout).accuracy).toBe(idx.epochs[2].test.accuracy);
    // The folder lists samples by class: the same data in another order, so its own run.
    const img = await train('images', formats.imagesDir);
    expect(img.epochs[2].test.accuracy).toBeGreaterThan(img.epochs[0].test.accuracy);
    expect(img.epochs[2].test.accuracy).toBeGreaterThan(30);
  });

  it('refuses a bad --data-format or a format that does not fit the path in one line', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['--data', formats.npz, '--data-format', 'csv'],
        /^--data-format must be idx, cifar10, npz, npy, images, got 'csv'$/,
      ],
      [
        ['--data', formats.npz, '--data-format', 'images'],
        /^images: cannot list .*data\.npz\/train: not a folder$/,
      ],
      [
        ['--data', join(formats.npyDir, 'x_train.npy')],
        /^data .*x_train\.npy: a \.npy file holds one array; pass the folder holding x_train\.npy/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = await nitro([
        'train',
        '--dataset',
        'mnist',
        '--backend',
        'cpu',
        '--quiet',
        ...args,
        '--out',
        join(TMP, 'bad'),
      ]);
      expect(r.code).not.toBe(0);
      const lines = stderrLines(r.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0].replace(/^nitro-d( train)?: /, '')).toMatch(re);
    }
  });
});

describe('image folders', () => {
  it('reads RGB JPEG files of any class folder names, within a tolerance of their pixels', async () => {
    const dir = join(TMP, 'jpeg');
    const colours = { cats: [200, 40, 40], dogs: [40, 40, 200] } as const;
    for (const split of ['train', 'test'])
      for (const [name, [r, g, b]] of Object.entries(colours)) {
        mkdirSync(join(dir, split, name), { recursive: true });
        for (let i = 0; i < 2; i++) {
          const data = new Uint8Array(8 * 8 * 4);
          for (let p = 0; p < 64; p++) data.set([r, g, b, 255], 4 * p);
          const file = jpeg.encode({ width: 8, height: 8, data }, 95).data;
          writeFileSync(join(dir, split, name, `${i}.jpg`), file);
        }
      }
    const split = await loadImageFolder(dir);
    expect(split.classNames).toEqual(['cats', 'dogs']);
    expect(split.train.shape).toEqual([3, 8, 8]);
    expect([...split.train.labels]).toEqual([0, 0, 1, 1]);
    for (let c = 0; c < 3; c++) {
      const v = split.train.images[c * 64] + 128;
      expect(Math.abs(v - colours.cats[c])).toBeLessThanOrEqual(8);
    }
    // Grey from colour for a one-channel model: integer luma.
    const grey = await loadImageFolder(dir, { shape: [1, 8, 8] });
    const luma = Math.floor((299 * 200 + 587 * 40 + 114 * 40 + 500) / 1000);
    expect(Math.abs(grey.train.images[0] + 128 - luma)).toBeLessThanOrEqual(8);
  });

  it('refuses a mis-sized image before decoding and names it', async () => {
    const dir = join(TMP, 'sizes');
    for (const [split, cls, w] of [
      ['train', 'a', 4],
      ['train', 'b', 4],
      ['test', 'a', 5],
    ] as const) {
      mkdirSync(join(dir, split, cls), { recursive: true });
      const png = new PNG({ width: w, height: 4 });
      writeFileSync(join(dir, split, cls, 'x.png'), PNG.sync.write(png));
    }
    expect(await asyncMessageOf(() => loadImageFolder(dir))).toBe(
      `image ${dir}/test/a/x.png: 5x4 pixels, the data set's images are 4x4`,
    );
    writeFileSync(join(dir, 'test', 'a', 'x.png'), 'not an image');
    expect(await asyncMessageOf(() => loadImageFolder(dir))).toBe(
      `image ${dir}/test/a/x.png: not a PNG or JPEG file`,
    );
  });
});
