/**
 * The model description layer: spec parsing and validation, geometry (docs/algorithm.md §1.2, §1.4,
 * §1.5, §9 item 13), integer Kaiming initialisation (§6, §9 item 9), presets (§7), and the
 * golden cases' model.json files against their case.md.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  headPooling,
  type ModelGeometry,
  modelGeometry,
  trainingStepOps,
} from '../src/model/geometry.ts';
import { initBound, initWeights, isqrt, KAIMING_GAINS } from '../src/model/init.ts';
import { getPreset, presetNames } from '../src/model/presets.ts';
import { DROPOUT } from '../src/ops/data/contract.ts';
import { type FeatureSpec, ModelSpecError, parseModelSpec, SLOPE_INVS } from '../src/model/spec.ts';

const GOLDEN = new URL('./golden/', import.meta.url);

const C = (filters: number): FeatureSpec => ({ conv: filters, kernel: 3, padding: 1 });
const P: FeatureSpec = { pool: 2 };
const VGG8B = [C(128), C(256), P, C(256), C(512), P, C(512), P, C(512), P];
const VGG11B = [C(128), C(128), C(128), C(256), P, C(256), C(512), P, C(512), C(512), P, C(512), P];

function geometryOf(json: Record<string, unknown>): ModelGeometry {
  return modelGeometry(parseModelSpec(json));
}

function headerOf(bytes: Uint8Array): Record<string, { shape: number[] }> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  delete header.__metadata__;
  return header;
}

describe('integer Kaiming initialisation (docs/algorithm.md §6)', () => {
  it('isqrt is the exact floor square root', () => {
    for (let n = 0; n < 5000; n++) {
      const r = isqrt(n);
      expect(r * r <= n && (r + 1) * (r + 1) > n).toBe(true);
    }
    for (const r of [46340, 46341, 94906264, 2 ** 26 - 1]) {
      expect(isqrt(r * r)).toBe(r);
      expect(isqrt(r * r - 1)).toBe(r - 1);
      expect(isqrt(r * r + 2 * r)).toBe(r);
    }
  });

  it('bounds of §9 item 9', () => {
    expect(initBound(784)).toBe(10);
    expect(initBound(4608)).toBe(4);
    expect(initBound(9)).toBe(64); // capped from 101
    expect(initBound(27)).toBe(60);
  });

  it('the full bound table of §6', () => {
    const table: [number, number][] = [
      [784, 10],
      [100, 30],
      [50, 43],
      [200, 21],
      [1024, 9],
      [3072, 5],
      [3000, 5],
      [2048, 6],
      [512, 13],
      [9, 64],
      [27, 60],
      [1152, 9],
      [2304, 6],
      [4608, 4],
      [4096, 4],
      [3584, 5],
    ];
    for (const [fanIn, bound] of table) expect(initBound(fanIn), `fan-in ${fanIn}`).toBe(bound);
    // Uncapped value for fan-in 9: 1372·128·1732 // (3·10^6) = 101.
    expect(Math.trunc((1372 * 128 * 1732) / 3_000_000)).toBe(101);
  });

  it('gain table by slope', () => {
    expect(KAIMING_GAINS).toEqual({
      3: 1342,
      4: 1372,
      5: 1387,
      7: 1400,
      8: 1403,
      10: 1407,
      15: 1411,
      16: 1411,
      20: 1412,
    });
    expect(initBound(100, 3)).toBe(29);
    expect(initBound(100, 4)).toBe(30);
    expect(initBound(100, 20)).toBe(31);
  });

  it('is deterministic, seed dependent, within bounds, and matches the checkpoint list', () => {
    const spec = getPreset('mlp1').spec;
    const a = initWeights(spec, 7);
    const b = initWeights(spec, 7);
    const c = initWeights(spec, 8);
    const g = modelGeometry(spec);
    expect([...a.keys()]).toEqual(g.parameters.map((p) => p.name));
    for (const p of g.parameters) {
      const w = a.get(p.name)!;
      expect(w.length).toBe(p.size);
      expect(w).toEqual(b.get(p.name));
      expect(w).not.toEqual(c.get(p.name));
      const bound = initBound(p.fanIn);
      let min = 0;
      let max = 0;
      for (const v of w) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      expect(min).toBe(-bound); // large tensors reach both ends
      expect(max).toBe(bound);
    }
  });

  it('draws one stream in checkpoint order (pinned values)', () => {
    const w = initWeights(parseModelSpec({ input: [1, 2, 2], classes: 2, hidden: [3] }), 42);
    expect([...w.keys()]).toEqual(['blocks.0.weight', 'blocks.0.head.weight', 'output.weight']);
    // Bounds: fan-in 4 -> 64 (capped), 3 -> 64 (capped).
    const all = [...w.values()].flatMap((t) => [...t]);
    expect(all.every((v) => v >= -64 && v <= 64)).toBe(true);
    expect(all).toEqual([
      -19, 39, 58, 41, 44, -22, -27, -15, 17, -47, 38, 12, -9, -4, -16, 63, -27, -23, -48, 55, 41,
      -49, -6, -17,
    ]);
  });

  it('includes biases, and uses the s = 4 gain in compat "reference"', () => {
    const json = { input: [1, 10, 10], classes: 10, hidden: [8], negativeSlopeInv: 3, bias: true };
    const none = initWeights(parseModelSpec(json), 1);
    expect([...none.keys()]).toEqual([
      'blocks.0.weight',
      'blocks.0.bias',
      'blocks.0.head.weight',
      'blocks.0.head.bias',
      'output.weight',
      'output.bias',
    ]);
    const maxAbs = (t: Int32Array) => t.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(maxAbs(none.get('blocks.0.weight')!)).toBeLessThanOrEqual(29);
    expect(maxAbs(none.get('blocks.0.bias')!)).toBeLessThanOrEqual(29);
    const ref = initWeights(parseModelSpec({ ...json, compat: 'reference' }), 1);
    expect(maxAbs(ref.get('blocks.0.weight')!)).toBe(30);
  });
});

describe('learning-head pooling (docs/algorithm.md §1.4, §9 item 13)', () => {
  it('CIFAR-10 table: dims 32/16/8/4, no padding, d_lr 4096', () => {
    const table: [number, number, [number, number]][] = [
      [128, 32, [8, 4]],
      [256, 32, [8, 8]],
      [256, 16, [4, 4]],
      [512, 16, [8, 4]],
      [512, 8, [4, 2]],
      [512, 4, [2, 1]],
    ];
    for (const [ch, dim, kernel] of table) {
      const h = headPooling(ch, dim, dim, 4096);
      expect(h.pool, `C${ch}@${dim}`).toEqual({ kernel, padding: [0, 0] });
      expect(h.dlr).toBe(4096);
    }
  });

  it('MNIST / Fashion-MNIST table: dims 28/14/7/3 with padding', () => {
    const table: [number, number, [number, number], [number, number], number][] = [
      [128, 28, [8, 4], [4, 0], 3584],
      [256, 28, [8, 8], [4, 4], 4096],
      [256, 14, [4, 4], [2, 2], 4096],
      [512, 14, [8, 4], [4, 2], 4096],
      [512, 7, [4, 2], [2, 1], 4096],
      [512, 3, [2, 1], [1, 0], 3072],
    ];
    for (const [ch, dim, kernel, padding, dlr] of table) {
      const h = headPooling(ch, dim, dim, 4096);
      expect(h.pool, `C${ch}@${dim}`).toEqual({ kernel, padding });
      expect(h.dlr).toBe(dlr);
      expect(h.pooledShape[0] * h.pooledShape[1] * h.pooledShape[2]).toBe(dlr);
    }
  });

  it('no pool when the block output already fits', () => {
    expect(headPooling(16, 4, 4, 4096)).toEqual({ pooledShape: [16, 4, 4], dlr: 256 });
    expect(headPooling(16, 4, 4, 256).pool).toBeUndefined();
  });

  it('stops when the window covers the map even if d_lr stays above the target', () => {
    const h = headPooling(512, 1, 1, 100);
    expect(h.pool).toBeUndefined();
    expect(h.dlr).toBe(512);
  });

  it('VGG8B and VGG11B heads and feature-extractor outputs', () => {
    const cases: [string, FeatureSpec[], [number, number, number], number, number[]][] = [
      ['VGG8B CIFAR', VGG8B, [3, 32, 32], 2048, [4096, 4096, 4096, 4096, 4096, 4096]],
      ['VGG8B MNIST', VGG8B, [1, 28, 28], 512, [3584, 4096, 4096, 4096, 4096, 3072]],
      [
        'VGG11B CIFAR',
        VGG11B,
        [3, 32, 32],
        2048,
        [4096, 4096, 4096, 4096, 4096, 4096, 4096, 4096, 4096],
      ],
      [
        'VGG11B MNIST',
        VGG11B,
        [1, 28, 28],
        512,
        [3584, 3584, 3584, 4096, 4096, 4096, 4096, 4096, 3072],
      ],
    ];
    for (const [name, features, input, fe, dlrs] of cases) {
      const g = geometryOf({ input, classes: 10, features, hidden: [1024], compat: 'reference' });
      expect(g.flatten.features, name).toBe(fe);
      expect(g.flatten.shape, name).toEqual(fe === 2048 ? [512, 2, 2] : [512, 1, 1]);
      expect(g.convBlocks).toBe(dlrs.length);
      expect(
        g.blocks.slice(0, dlrs.length).map((b) => b.head.dlr),
        name,
      ).toEqual(dlrs);
      expect(
        g.blocks.map((b) => b.updatesPerStep),
        name,
      ).toEqual([...dlrs.map(() => 1), 2]);
      expect(g.blocks[dlrs.length].inFeatures).toBe(fe);
      expect(g.output).toMatchObject({ inFeatures: 1024, sf: 262144, weightShape: [10, 1024] });
    }
  });

  it('VGG8B MNIST block shapes and plain pools (floor)', () => {
    const g = geometryOf({ input: [1, 28, 28], classes: 10, features: VGG8B, hidden: [1024] });
    expect(g.blocks.map((b) => b.outShape)).toEqual([
      [128, 28, 28],
      [256, 28, 28],
      [256, 14, 14],
      [512, 14, 14],
      [512, 7, 7],
      [512, 3, 3],
      [1024],
    ]);
    expect(g.blocks.map((b) => b.poolAfter?.outShape ?? null)).toEqual([
      null,
      [256, 14, 14],
      null,
      [512, 7, 7],
      [512, 3, 3],
      [512, 1, 1],
      null,
    ]);
    expect(g.blocks[4].head).toMatchObject({
      pool: { kernel: [4, 2], padding: [2, 1] },
      pooledShape: [512, 2, 4],
      dlr: 4096,
      sf: 1048576,
    });
    expect(g.headPoolPadMode).toBe('ignore');
    expect(g.blocks.map((b) => b.updatesPerStep)).toEqual([1, 1, 1, 1, 1, 1, 1]);
  });
});

describe('scaling factors (docs/algorithm.md §1.2)', () => {
  it('conv, linear, head and output SFs of the published models', () => {
    const sfs = new Map<string, number>();
    for (const name of ['mlp1', 'mlp2', 'mlp4', 'vgg8b', 'vgg8b-cifar10', 'vgg11b']) {
      const g = modelGeometry(getPreset(name).spec);
      for (const b of g.blocks) {
        sfs.set(`${b.kind} ${b.kind === 'conv' ? b.inShape[0] : b.fanIn}`, b.sf);
        sfs.set(`head ${b.head.dlr}`, b.head.sf);
      }
      sfs.set(`output ${g.output.inFeatures}`, g.output.sf);
    }
    const expected: Record<string, number> = {
      'conv 1': 2304,
      'conv 3': 6912,
      'conv 128': 294912,
      'conv 256': 589824,
      'conv 512': 1179648,
      'linear 784': 200704,
      'linear 100': 25600,
      'linear 200': 51200,
      'linear 3072': 786432,
      'linear 3000': 768000,
      'linear 2048': 524288,
      'linear 512': 131072,
      'output 50': 12800,
      'output 1024': 262144,
      'output 3000': 768000,
      'head 4096': 1048576,
      'head 3584': 917504,
      'head 3072': 786432,
      'head 100': 25600,
      'head 50': 12800,
    };
    for (const [k, v] of Object.entries(expected)) expect(sfs.get(k), k).toBe(v);
  });
});

describe('golden cases', () => {
  const cases = readdirSync(GOLDEN).filter((d) => existsSync(new URL(`${d}/model.json`, GOLDEN)));
  it('exist', () => expect(cases.length).toBeGreaterThanOrEqual(3));

  for (const name of cases) {
    it(`${name}: model.json parses; geometry matches case.md and init.safetensors`, () => {
      const dir = new URL(`${name}/`, GOLDEN);
      const spec = parseModelSpec(
        JSON.parse(readFileSync(new URL('model.json', dir), 'utf8')),
        `${name}/model.json`,
      );
      const g = modelGeometry(spec);
      const caseMd = readFileSync(new URL('case.md', dir), 'utf8');

      const updates = /block updates per step \[([\d, ]+)\]/.exec(caseMd);
      expect(updates).not.toBeNull();
      expect(g.blocks.map((b) => b.updatesPerStep)).toEqual(updates![1].split(',').map(Number));

      const heads = [...caseMd.matchAll(/k=\((\d+),(\d+)\) pad=\((\d+),(\d+)\) d_lr=(\d+)/g)].map(
        (m) => m.slice(1).map(Number),
      );
      const convHeads = g.blocks.filter((b) => b.kind === 'conv');
      expect(heads.length).toBe(convHeads.length);
      convHeads.forEach((b, i) => {
        const [kh, kw, ph, pw, dlr] = heads[i];
        expect(b.head.pool).toEqual({ kernel: [kh, kw], padding: [ph, pw] });
        expect(b.head.dlr).toBe(dlr);
      });

      const header = headerOf(readFileSync(new URL('init.safetensors', dir)));
      expect(Object.keys(header).sort()).toEqual(g.parameters.map((p) => p.name).sort());
      for (const p of g.parameters) expect(header[p.name].shape, p.name).toEqual(p.shape);
      expect(g.headPoolPadMode).toBe('zero');
    });
  }

  it('cnn_small_8x8 in detail', () => {
    const spec = parseModelSpec(
      JSON.parse(readFileSync(new URL('cnn_small_8x8/model.json', GOLDEN), 'utf8')),
    );
    const g = modelGeometry(spec);
    expect(g.blocks.map((b) => [b.kind, b.inShape, b.outShape, b.fanIn, b.sf])).toEqual([
      ['conv', [1, 8, 8], [4, 6, 6], 9, 2304],
      ['conv', [4, 3, 3], [8, 3, 3], 36, 9216],
      ['linear', [72], [16], 72, 18432],
    ]);
    expect(g.blocks[0].poolAfter).toEqual({ kernel: [2, 2], outShape: [4, 3, 3] });
    expect(g.blocks[0].head).toMatchObject({
      pool: { kernel: [4, 4], padding: [2, 2] },
      pooledShape: [4, 2, 2],
      dlr: 16,
      sf: 4096,
    });
    expect(g.blocks[1].head).toMatchObject({
      pool: { kernel: [4, 2], padding: [2, 1] },
      pooledShape: [8, 1, 2],
      dlr: 16,
      sf: 4096,
    });
    expect(g.blocks[2].head).toMatchObject({
      pooledShape: [16],
      dlr: 16,
      sf: 4096,
      weightShape: [10, 16],
    });
    expect(g.flatten).toEqual({ shape: [8, 3, 3], features: 72 });
    expect(g.output).toMatchObject({ inFeatures: 16, sf: 4096, weightShape: [10, 16] });
  });
});

describe('cost', () => {
  it('MLP1 parameters and MACs per sample', () => {
    const g = modelGeometry(getPreset('mlp1').spec);
    expect(g.cost).toEqual({
      parameters: 78400 + 1000 + 5000 + 500 + 500,
      inferenceMacs: 78400 + 5000 + 500,
      trainForwardMacs: 78400 + 5000 + 500 + 1000 + 500,
      trainBackwardMacs: 500 + (2 * 1000 + 78400) + (2 * 500 + 5000),
      trainMacs: 85400 + 86900,
    });
    expect(trainingStepOps(g, 64)).toBe(2 * 172300 * 64);
  });

  it('counts the double update of a CNN classifier block in compat "reference"', () => {
    const json = {
      input: [1, 8, 8],
      classes: 10,
      features: [{ conv: 4, kernel: 3 }],
      hidden: [16],
      headDim: 16,
    };
    const none = modelGeometry(parseModelSpec(json));
    const ref = modelGeometry(parseModelSpec({ ...json, compat: 'reference' }));
    const fc = 16 * 144;
    expect(ref.cost.trainBackwardMacs - none.cost.trainBackwardMacs).toBe(3 * 160 + fc);
    expect(ref.cost.trainForwardMacs).toBe(none.cost.trainForwardMacs);
  });
});

describe('spec defaults and extensions', () => {
  it('fills the paper defaults', () => {
    const spec = parseModelSpec({ input: [1, 28, 28], classes: 10, hidden: [100, 50] });
    expect(spec).toEqual({
      input: [1, 28, 28],
      classes: 10,
      features: [],
      hidden: [100, 50],
      headDim: 4096,
      negativeSlopeInv: 4,
      bias: false,
      training: { lrInv: 512, lrAmp: 640, forwardDecayInv: 0, headDecayInv: 0 },
      compat: 'none',
    });
    expect(parseModelSpec({ input: [1, 2, 2], classes: 2, hidden: [3] }).training.lrAmp).toBe(128);
    expect(
      parseModelSpec({ input: [1, 8, 8], classes: 2, features: [{ conv: 2, kernel: 3 }] }).features,
    ).toEqual([{ conv: 2, kernel: 3, padding: 0 }]);
  });

  it('is idempotent and survives a JSON round trip', () => {
    for (const name of presetNames) {
      const spec = getPreset(name).spec;
      expect(parseModelSpec(spec)).toEqual(spec);
      expect(parseModelSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
    }
  });

  it('dropout multipliers are the reference table (§1.6) up to the largest int8-safe rate', () => {
    // The reference's R by rate (50, 100, ... 950 per mille), as docs/algorithm.md §1.6 lists it.
    const reference = [
      1052, 1111, 1176, 1250, 1333, 1428, 1538, 1666, 1818, 2000, 2222, 2500, 2857, 3333, 4000,
      5000, 6666, 10000, 20000,
    ];
    const rates = reference.map((_, i) => 50 * (i + 1));
    // The largest NITRO-ReLU output after scaling is 91 (docs/algorithm.md §1.6): a rate is
    // trained when trunc(91 · R / 1000) still fits int8, that is 91 · R < 128 · 1000.
    const int8Safe = rates.filter((_, i) => 91 * reference[i] < 128 * 1000);
    expect(int8Safe).toEqual([50, 100, 150, 200, 250]);
    expect(Object.keys(DROPOUT).map(Number)).toEqual(int8Safe);
    for (const rate of int8Safe) expect(DROPOUT[rate]).toBe(reference[rate / 50 - 1]);
    for (const rate of rates.filter((r) => !int8Safe.includes(r)))
      expect(DROPOUT[rate]).toBeUndefined();
  });

  it('places dropout as the reference does (§1.5)', () => {
    const cnn = geometryOf({
      input: [1, 28, 28],
      classes: 10,
      features: VGG8B,
      hidden: [1024, 256],
      dropout: { hidden: 100 },
    });
    expect(cnn.blocks.map((b) => b.dropoutPermille ?? 0)).toEqual([0, 0, 0, 0, 0, 100, 100, 100]);
    const both = geometryOf({
      input: [1, 28, 28],
      classes: 10,
      features: VGG8B,
      hidden: [1024],
      dropout: { features: 50, hidden: 150 },
    });
    expect(both.blocks.map((b) => b.dropoutPermille ?? 0)).toEqual([50, 50, 50, 50, 50, 150, 150]);
    const fe = geometryOf({
      input: [1, 8, 8],
      classes: 10,
      features: [{ conv: 4, kernel: 3 }],
      hidden: [16],
      dropout: { features: 200 },
    });
    expect(fe.blocks.map((b) => b.dropoutPermille ?? 0)).toEqual([200, 0]);
    const mlp = geometryOf({
      input: [3, 32, 32],
      classes: 10,
      hidden: [3000, 3000, 3000],
      dropout: { hidden: 100 },
    });
    expect(mlp.blocks.map((b) => b.dropoutPermille)).toEqual([100, 100, 100]);
    const off = geometryOf({ input: [3, 32, 32], classes: 10, hidden: [30], dropout: {} });
    expect(off.blocks[0].dropoutPermille).toBeUndefined();
  });

  it('names bias tensors in checkpoint order', () => {
    const g = geometryOf({
      input: [1, 8, 8],
      classes: 3,
      features: [{ conv: 2, kernel: 3, padding: 1 }, { pool: 2 }],
      hidden: [5],
      bias: true,
    });
    expect(g.parameters.map((p) => `${p.name} [${p.shape}] ${p.fanIn}`)).toEqual([
      'blocks.0.weight [2,1,3,3] 9',
      'blocks.0.bias [2] 9',
      'blocks.0.head.weight [3,128] 128',
      'blocks.0.head.bias [3] 128',
      'blocks.1.weight [5,32] 32',
      'blocks.1.bias [5] 32',
      'blocks.1.head.weight [3,5] 5',
      'blocks.1.head.bias [3] 5',
      'output.weight [3,5] 5',
      'output.bias [3] 5',
    ]);
  });
});

describe('spec errors', () => {
  const base = { input: [1, 28, 28], classes: 10, hidden: [100] };
  const cnn = {
    input: [1, 8, 8],
    classes: 10,
    features: [{ conv: 4, kernel: 3, padding: 1 }, { pool: 2 }],
    hidden: [16],
  };
  const cases: [string, unknown, string, RegExp][] = [
    ['not an object', [1, 2], '', /the model spec must be a JSON object, got \[1,2\]/],
    ['null', null, '', /must be a JSON object, got null/],
    [
      'unknown top-level key',
      { ...base, hiden: [3] },
      '',
      /unknown key "hiden" \(did you mean "hidden"\?\)$/,
    ],
    ['unknown key far from any', { ...base, zzzzzzzz: 1 }, '', /unknown key "zzzzzzzz"$/],
    [
      'unknown key in training',
      { ...base, training: { lrInv: 512, lrInvv: 3 } },
      'training',
      /unknown key "lrInvv" at training/,
    ],
    [
      'unknown key in a conv',
      { ...cnn, features: [{ conv: 4, kernel: 3, stride: 2 }] },
      'features[0]',
      /unknown key "stride" at features\[0\]/,
    ],
    [
      'unknown key in a pool',
      {
        ...cnn,
        features: [
          { conv: 4, kernel: 3 },
          { pool: 2, padding: 1 },
        ],
      },
      'features[1]',
      /unknown key "padding" at features\[1\]/,
    ],
    [
      'unknown key in dropout',
      { ...base, dropout: { fc: 100 } },
      'dropout',
      /unknown key "fc" at dropout/,
    ],
    ['missing input', { classes: 10, hidden: [3] }, 'input', /missing key "input"/],
    ['missing classes', { input: [1, 2, 2], hidden: [3] }, 'classes', /missing key "classes"/],
    [
      'lrInv 0',
      { ...base, training: { lrInv: 0 } },
      'training.lrInv',
      /: training\.lrInv must be a positive integer, got 0$/,
    ],
    [
      'lrInv negative',
      { ...base, training: { lrInv: -512 } },
      'training.lrInv',
      /training\.lrInv must be a positive integer, got -512/,
    ],
    [
      'lrInv fractional',
      { ...base, training: { lrInv: 1.5 } },
      'training.lrInv',
      /training\.lrInv must be a positive integer, got 1\.5/,
    ],
    [
      'lrInv string',
      { ...base, training: { lrInv: '512' } },
      'training.lrInv',
      /training\.lrInv must be a positive integer, got "512"/,
    ],
    [
      'lrInv beyond i32',
      { ...base, training: { lrInv: 2 ** 31 } },
      'training.lrInv',
      /training\.lrInv must be a positive integer that fits in i32 \(≤ 2147483647\), got 2147483648/,
    ],
    [
      'lrAmp 0',
      { ...base, training: { lrAmp: 0 } },
      'training.lrAmp',
      /training\.lrAmp must be a positive integer, got 0/,
    ],
    [
      'negative decay',
      { ...base, training: { forwardDecayInv: -1 } },
      'training.forwardDecayInv',
      /training\.forwardDecayInv must be a non-negative integer \(0 = off\), got -1/,
    ],
    [
      'training not an object',
      { ...base, training: 5 },
      'training',
      /training must be a JSON object, got 5/,
    ],
    [
      'slope not allowed',
      { ...base, negativeSlopeInv: 6 },
      'negativeSlopeInv',
      /negativeSlopeInv must be one of 3,4,5,7,8,10,15,16,20, got 6$/,
    ],
    [
      'slope string',
      { ...base, negativeSlopeInv: '4' },
      'negativeSlopeInv',
      /negativeSlopeInv must be one of .*, got "4"/,
    ],
    [
      'input of two dims',
      { ...base, input: [1, 28] },
      'input',
      /input must be \[channels, height, width\], got \[1,28\]/,
    ],
    [
      'input zero',
      { ...base, input: [0, 28, 28] },
      'input[0]',
      /input\[0\] must be a positive integer, got 0/,
    ],
    ['one class', { ...base, classes: 1 }, 'classes', /classes must be an integer ≥ 2, got 1/],
    [
      'hidden not an array',
      { ...base, hidden: 100 },
      'hidden',
      /hidden must be an array of positive integers, got 100/,
    ],
    [
      'hidden width 0',
      { ...base, hidden: [100, 0] },
      'hidden[1]',
      /hidden\[1\] must be a positive integer, got 0/,
    ],
    ['no blocks', { ...base, hidden: [] }, 'hidden', /the model has no blocks/],
    ['bias not boolean', { ...base, bias: 0 }, 'bias', /bias must be true or false, got 0/],
    [
      'compat unknown',
      { ...base, compat: 'exact' },
      'compat',
      /compat must be "reference" or "none", got "exact"/,
    ],
    [
      'headDim below classes',
      { ...base, headDim: 8 },
      'headDim',
      /headDim must be at least classes \(10\), got 8/,
    ],
    [
      'headDim overflowing the SF',
      { ...base, headDim: 2 ** 24 },
      'headDim',
      /headDim must be an integer in \[1, 8388607\], got 16777216/,
    ],
    [
      'feature neither conv nor pool',
      { ...cnn, features: [{ kernel: 3 }] },
      'features[0]',
      /features\[0\] must be a conv block .* or a pool .*, got \{"kernel":3\}/,
    ],
    [
      'conv without kernel',
      { ...cnn, features: [{ conv: 4 }] },
      'features[0].kernel',
      /missing key "kernel" at features\[0\]/,
    ],
    [
      'conv filters 0',
      { ...cnn, features: [{ conv: 0, kernel: 3 }] },
      'features[0].conv',
      /features\[0\]\.conv must be a positive integer, got 0/,
    ],
    [
      'padding not below kernel',
      { ...cnn, features: [{ conv: 4, kernel: 3, padding: 3 }] },
      'features[0].padding',
      /features\[0\]\.padding must be an integer in \[0, 2\], got 3/,
    ],
    [
      'kernel larger than the padded input',
      { ...cnn, input: [1, 2, 2], features: [{ conv: 4, kernel: 5, padding: 1 }] },
      'features[0]',
      /features\[0\]: kernel 5 does not fit the 2x2 map with padding 1/,
    ],
    [
      'pool shrinking to 0',
      { ...cnn, input: [1, 3, 3], features: [{ conv: 4, kernel: 3, padding: 1 }, { pool: 4 }] },
      'features[1]',
      /features\[1\]: pool 4 shrinks the 3x3 map to 0x0/,
    ],
    [
      'pool 1',
      { ...cnn, features: [{ conv: 4, kernel: 3 }, { pool: 1 }] },
      'features[1].pool',
      /features\[1\]\.pool must be an integer ≥ 2, got 1/,
    ],
    [
      'leading pool',
      { ...cnn, features: [{ pool: 2 }, { conv: 4, kernel: 3 }] },
      'features[0]',
      /features\[0\] must be a conv block/,
    ],
    [
      'two pools in a row',
      { ...cnn, features: [{ conv: 4, kernel: 3 }, { pool: 2 }, { pool: 2 }] },
      'features[2]',
      /features\[2\]: two pools in a row/,
    ],
    [
      'fan-in overflowing the SF',
      { ...base, input: [1, 4096, 4096] },
      'hidden[0]',
      /hidden\[0\]: fan-in 16777216 makes the scaling factor 256·16777216 overflow i32/,
    ],
    [
      'dropout fractional',
      { ...base, dropout: { hidden: 0.1 } },
      'dropout.hidden',
      /dropout\.hidden must be a per-mille rate, a multiple of 50 in \[0, 950\], got 0\.1/,
    ],
    [
      'dropout not a multiple of 50',
      { ...base, dropout: { hidden: 75 } },
      'dropout.hidden',
      /dropout\.hidden must be .*, got 75/,
    ],
    [
      'dropout too large',
      { ...base, dropout: { features: 1000 } },
      'dropout.features',
      /dropout\.features must be .*, got 1000/,
    ],
    [
      'CNN hidden dropout without a final pool',
      { ...cnn, features: [{ conv: 4, kernel: 3 }], dropout: { hidden: 100 } },
      'dropout.hidden',
      /dropout\.hidden in a CNN needs features that end with a conv block followed by a pool/,
    ],
  ];

  for (const [what, json, field, message] of cases) {
    it(what, () => {
      let error: unknown;
      try {
        parseModelSpec(json, 'model.json');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ModelSpecError);
      const e = error as ModelSpecError;
      expect(e.message).toMatch(/^model\.json: /);
      expect(e.message).toMatch(message);
      expect(e.message).not.toContain('\n');
      expect(e.field).toBe(field);
      if (field) expect(e.message).toContain(field.replace(/\.(kernel|conv|padding|pool)$/, ''));
    });
  }

  it('every allowed slope parses', () => {
    for (const s of SLOPE_INVS)
      expect(parseModelSpec({ ...base, negativeSlopeInv: s }).negativeSlopeInv).toBe(s);
  });

  it('uses "model spec" as the default source', () => {
    expect(() => parseModelSpec({})).toThrow(/^model spec: missing key "input"$/);
  });
});

describe('presets (docs/algorithm.md §7)', () => {
  it('lists the paper models and the small CNN', () => {
    for (const n of ['mlp1', 'mlp2', 'mlp3', 'mlp4', 'vgg8b', 'vgg11b', 'cnn-small'])
      expect(presetNames).toContain(n);
    expect(() => getPreset('mlp5')).toThrow(
      /unknown preset "mlp5"; valid presets: mlp1, mlp2, .*cnn-small/,
    );
  });

  it('carry the paper hyper-parameters and protocol', () => {
    const mlp2 = getPreset('mlp2');
    expect(mlp2.dataset).toBe('fashion-mnist');
    expect(mlp2.spec).toMatchObject({
      input: [1, 28, 28],
      hidden: [200, 100, 50],
      compat: 'reference',
    });
    expect(mlp2.spec.training).toEqual({
      lrInv: 512,
      lrAmp: 640,
      forwardDecayInv: 10000,
      headDecayInv: 8000,
    });
    expect(mlp2.protocol).toEqual({
      batch: 64,
      epochs: 150,
      augment: 'none',
      augmentPad: 0,
      plateau: { factor: 3, minDelta: 100, patience: 15, fromEpoch: 10 },
      earlyStopping: { minDelta: 100, patience: 35, fromEpoch: 30 },
      statsSamples: 25000,
      seed: 42,
    });
    expect(mlp2.paper).toEqual({ testAccuracy: 8866, interval: 46 });

    const rows: [string, number, number, string, number][] = [
      ['mlp1', 12000, 3000, 'none', 0],
      ['mlp3', 29000, 6000, 'crop-flip', 2],
      ['mlp3-mnist', 28000, 500, 'crop', 2],
      ['mlp4', 19000, 7500, 'crop-flip', 4],
      ['vgg8b', 28000, 3500, 'crop-flip', 2],
      ['vgg8b-mnist', 30000, 3000, 'crop', 2],
      ['vgg8b-cifar10', 25000, 3000, 'crop-flip', 4],
      ['vgg11b', 28000, 4500, 'crop-flip', 4],
    ];
    for (const [name, fw, lr, augment, pad] of rows) {
      const p = getPreset(name);
      expect(p.spec.training, name).toMatchObject({ forwardDecayInv: fw, headDecayInv: lr });
      expect([p.protocol.augment, p.protocol.augmentPad], name).toEqual([augment, pad]);
    }
    expect(getPreset('mlp4').spec).toMatchObject({
      input: [3, 32, 32],
      hidden: [3000, 3000, 3000],
      dropout: { features: 0, hidden: 100 },
    });
    expect(getPreset('vgg8b').spec).toMatchObject({
      input: [1, 28, 28],
      features: VGG8B,
      hidden: [1024],
      dropout: { hidden: 100 },
    });
    expect(getPreset('vgg8b-cifar10').spec.dropout).toEqual({ features: 0, hidden: 150 });
    expect(getPreset('vgg11b').spec).toMatchObject({
      input: [3, 32, 32],
      features: VGG11B,
      hidden: [1024],
    });
    expect(getPreset('vgg11b').spec.dropout).toBeUndefined();
  });

  it('cnn-small is small', () => {
    const p = getPreset('cnn-small');
    const g = modelGeometry(p.spec);
    expect(g.blocks.map((b) => b.outShape)).toEqual([[16, 28, 28], [32, 14, 14], [128]]);
    expect(g.flatten.features).toBe(32 * 7 * 7);
    expect(g.blocks.map((b) => b.head.dlr)).toEqual([1568, 1568, 128]);
    expect(g.cost.trainMacs).toBeLessThan(3_000_000);
    expect(p.protocol.epochs).toBeLessThanOrEqual(150);
  });

  it('returns copies', () => {
    const a = getPreset('mlp2');
    a.spec.hidden.push(7);
    expect(getPreset('mlp2').spec.hidden).toEqual([200, 100, 50]);
  });
});
