/**
 * The variant tuner and its cache: a valid choice for every GEMM op shape of a small model's
 * training step, keys that the kernels actually look up, a cache that round-trips and is
 * keyed by adapter and engine, and training with tuned choices that ends in the same weights,
 * bit for bit, as training with the defaults.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  adapterKey,
  cacheKey,
  engineVersion,
  forgetTuned,
  installTuned,
  loadTuned,
  saveTuned,
  type TuneStore,
} from '../src/bench/tune-cache.ts';
import { trainingGemmShapes, tuneVariants, variantsInUse } from '../src/bench/tune.ts';
import {
  defaultVariant,
  findVariant,
  GEMM_OPS,
  GemmVariants,
  variantsOf,
} from '../src/kernels/gemm-tiles.ts';
import { setTunedVariants, tunedVariants } from '../src/gpu/variants.ts';
import { Model } from '../src/model/model.ts';
import { parseModelSpec } from '../src/model/spec.ts';
import { readParameters } from '../src/model/network.ts';
import { planFromSpec } from '../src/model/plan.ts';
import { expectSameElements, Rng, randomInts, webgpu } from './helpers.ts';

const GOLDEN = new URL('./golden/', import.meta.url).pathname;
const spec = (name: string) =>
  parseModelSpec(JSON.parse(readFileSync(`${GOLDEN}${name}/model.json`, 'utf8')));
/** A tiny MLP with a bias (so the bias gradients' [B, 1] ops appear) and the golden 8x8 CNN. */
const MLP = parseModelSpec({
  input: [1, 6, 6],
  classes: 10,
  features: [],
  hidden: [24, 12],
  headDim: 64,
  negativeSlopeInv: 4,
  bias: true,
  training: { lrInv: 64, lrAmp: 8, forwardDecayInv: 0, headDecayInv: 0 },
});
const CNN = spec('cnn_small_8x8');

function memoryStore(): TuneStore & { text?: string } {
  const s: TuneStore & { text?: string } = {
    where: 'memory',
    load: () => s.text,
    save: (t) => {
      s.text = t;
    },
  };
  return s;
}

/** For every shape, a variant other than the default (so the tuned path is the one exercised). */
function nonDefaultChoices(
  model: ReturnType<typeof parseModelSpec>,
  batch: number,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of trainingGemmShapes(planFromSpec(model), batch)) {
    const other = variantsOf(s.op).filter((v) => v.label !== defaultVariant(s.op).label);
    out[s.key] = other[other.length - 1].label;
  }
  return out;
}

afterEach(async () => setTunedVariants(await webgpu(), {}));

describe('GemmVariants', () => {
  it('two policies (two backends) share no forced or tuned choice', () => {
    const a = new GemmVariants();
    const b = new GemmVariants();
    const dims = [4, 784, 100];
    const other = variantsOf('linear').find((v) => v.label !== defaultVariant('linear').label)!;
    a.setTuned({ 'linear:4x784x100': other.label });
    expect(a.choose('linear', dims).label).toBe(other.label);
    expect(b.choose('linear', dims).label).toBe(defaultVariant('linear').label);
    expect(b.tuned()).toEqual({});
    const forced = variantsOf('conv2d')[0];
    b.withForced('conv2d', forced, () => {
      expect(b.choose('conv2d', [1]).label).toBe(forced.label);
      expect(a.choose('conv2d', [1]).label).toBe(defaultVariant('conv2d').label);
    });
    expect(b.choose('conv2d', [1]).label).toBe(defaultVariant('conv2d').label);
  });
});

describe('tuneVariants', () => {
  it.each([
    ['MLP', MLP],
    ['CNN', CNN],
  ])('%s: every GEMM op shape of the step gets a measured, valid variant', async (_, model) => {
    const gpu = await webgpu();
    const plan = planFromSpec(model);
    const shapes = trainingGemmShapes(plan, 4);
    const ops = new Set(shapes.map((s) => s.op));
    const expected = model.features.length
      ? GEMM_OPS
      : GEMM_OPS.filter((o) => !o.startsWith('conv'));
    expect([...ops].sort()).toEqual([...expected].sort());
    const r = await tuneVariants(gpu, plan, 4, {
      timing: 'solo',
      reps: 1,
      targetMs: 1,
      minMacs: 0,
    });
    expect(Object.keys(r.choices).sort()).toEqual(shapes.map((s) => s.key).sort());
    for (const row of r.rows) {
      expect(findVariant(row.op, r.choices[row.key]), row.key).toBeDefined();
      expect(row.skipped).toBeUndefined();
      const def = row.ms[row.defaultVariant]!;
      for (const v of variantsOf(row.op)) {
        const ms = row.ms[v.label];
        expect(ms !== null && ms >= 0, `${row.key} ${v.label}`).toBe(true);
        // The default stays unless the winner is the fastest and 5% faster than it.
        if (row.winner === row.defaultVariant)
          expect(ms! * 1.05 >= def, `${row.key} ${v.label}`).toBe(true);
        else
          expect(
            row.ms[row.winner]! <= ms! && row.ms[row.winner]! * 1.05 < def,
            `${row.key} ${v.label}`,
          ).toBe(true);
      }
    }
    // Measuring forced nothing permanently and installed nothing.
    expect(tunedVariants(gpu)).toEqual({});
    for (const s of shapes)
      expect(gpu.variants.choose(s.op, s.dims).label).toBe(defaultVariant(s.op).label);
  });

  it('small ops time only the default; past the time budget nothing is timed; neither enters the cache', async () => {
    const gpu = await webgpu();
    const plan = planFromSpec(MLP);
    const tiny = await tuneVariants(gpu, plan, 2, {
      timing: 'solo',
      reps: 1,
      targetMs: 1,
      minMacs: Number.MAX_SAFE_INTEGER,
    });
    for (const row of tiny.rows) {
      expect(row.skipped).toBe('tiny');
      expect(row.winner).toBe(row.defaultVariant);
      const timed = Object.entries(row.ms)
        .filter(([, ms]) => ms !== null)
        .map(([l]) => l);
      expect(timed).toEqual([row.defaultVariant]);
    }
    // Nothing was compared, so nothing may replace an earlier run's measured choice.
    expect(tiny.choices).toEqual({});
    const none = await tuneVariants(gpu, plan, 2, { timing: 'solo', budgetMs: 0 });
    for (const row of none.rows) {
      expect(row.skipped).toBe('time budget');
      expect(Object.values(row.ms).every((ms) => ms === null)).toBe(true);
      expect(row.winner).toBe(defaultVariant(row.op).label);
    }
    expect(none.choices).toEqual({});
  });

  it('the shape keys are the ones the kernels look up', async () => {
    const gpu = await webgpu();
    const choices = nonDefaultChoices(CNN, 3);
    setTunedVariants(gpu, choices);
    const model = Model.create(gpu, CNN, { seed: 3 });
    try {
      const program = model.network(3).recordTrainOnBatch() as unknown as {
        dispatches: { kernel: { name: string; pipeline: GPUComputePipeline } }[];
      };
      const used = program.dispatches.map((d) => d.kernel.pipeline.label);
      for (const [key, label] of Object.entries(choices)) {
        const op = key.split(':')[0] as (typeof GEMM_OPS)[number];
        const p = findVariant(op, label)!.params;
        // Untiled: DOT4 picks an entry point (`_limbs`), the rest are override constants.
        // Tiled (linear-tiled.wgsl): TILE is the TM x TN register tile, DOT4 an override.
        // Tiled conv (conv.wgsl `_tiled` entry points): BF and BK are fixed by the shader.
        const tiled = p.TILE !== undefined;
        const convTiled = p.BM !== undefined || p.BF !== undefined;
        const tile = tiled
          ? [
              `TM=${p.TILE}`,
              `TN=${p.TN ?? p.TILE}`,
              ...(p.DOT4 === undefined ? [] : [`DOT4=${p.DOT4}`]),
            ]
          : Object.entries(p)
              .filter(([k]) => k !== 'DOT4' && k !== 'BF' && k !== 'BK')
              .map(([k, v]) => `${k}=${v}`);
        const family = op.startsWith('conv') ? 'conv/' : tiled ? 'linear-tiled/' : 'linear/';
        const entry = op.endsWith('WeightGrad')
          ? 'weight_grad'
          : op === 'linearInputGrad'
            ? 'input_grad'
            : 'forward';
        const hit = used.some(
          (l) =>
            l.startsWith(`${family}${entry}`) &&
            l.includes('_tiled') === convTiled &&
            tile.every((t) => l.includes(t)) &&
            (tiled || p.DOT4 === undefined || l.includes('_limbs') === (p.DOT4 === 1)),
        );
        expect(hit, `${key} -> ${label} not among ${[...new Set(used)].join(' ')}`).toBe(true);
      }
      const inUse = variantsInUse(model.plan, 3, gpu.variants);
      expect(inUse.every((v) => v.tuned && v.variant === choices[v.key])).toBe(true);
    } finally {
      model.dispose();
    }
  });
});

describe('tuned-variant cache', () => {
  it('round-trips, merges, and is keyed by adapter and engine version', () => {
    const store = memoryStore();
    expect(loadTuned(store, 'vendor A | arch | dev | driver 1 | node')).toBeUndefined();
    const a = { 'linear:64x784x100': 'tm1-tn8-dot4', 'conv2dWeightGrad:2x1x8x8x4x3x0': 'tf4' };
    saveTuned(store, 'vendor A | arch | dev | driver 1 | node', a, 'test');
    expect(loadTuned(store, 'vendor A | arch | dev | driver 1 | node')?.choices).toEqual(a);
    // Another adapter, or the same adapter with another driver, does not see them.
    expect(loadTuned(store, 'vendor B | arch | dev | driver 1 | node')).toBeUndefined();
    expect(loadTuned(store, 'vendor A | arch | dev | driver 2 | node')).toBeUndefined();
    // Newer choices win per shape; unknown labels are dropped.
    saveTuned(
      store,
      'vendor A | arch | dev | driver 1 | node',
      { 'linear:64x784x100': 'tm2-tn8-i32', 'linear:1x2x3': 'no-such-variant' },
      'again',
    );
    const entry = loadTuned(store, 'vendor A | arch | dev | driver 1 | node')!;
    expect(entry.choices).toEqual({
      'linear:64x784x100': 'tm2-tn8-i32',
      'conv2dWeightGrad:2x1x8x8x4x3x0': 'tf4',
    });
    expect(entry.tuned).toEqual(['test', 'again']);
    // An entry of another engine version is not loaded.
    const doc = JSON.parse(store.text!);
    const old = doc.entries[cacheKey('vendor A | arch | dev | driver 1 | node')];
    doc.entries = { [cacheKey('vendor A | arch | dev | driver 1 | node', 'deadbeef')]: old };
    store.text = JSON.stringify(doc);
    expect(engineVersion()).not.toBe('deadbeef');
    expect(loadTuned(store, 'vendor A | arch | dev | driver 1 | node')).toBeUndefined();
    store.text = '{"format":"something else"}';
    expect(() => loadTuned(store, 'x')).toThrow(/tuned variants memory/);
  });

  it('forgets every entry of one adapter and keeps the others', () => {
    const store = memoryStore();
    const a = 'vendor A | arch | dev | driver 1 | browser';
    const b = 'vendor B | arch | dev | driver 1 | browser';
    expect(forgetTuned(store, a)).toBe(0);
    expect(store.text).toBeUndefined();
    saveTuned(store, a, { 'linear:64x784x100': 'tm1-tn8-dot4' }, 'a');
    saveTuned(store, b, { 'linear:64x784x100': 'tm2-tn8-i32' }, 'b');
    // An entry of an older engine version of the same adapter goes too.
    const doc = JSON.parse(store.text!);
    doc.entries[cacheKey(a, 'deadbeef')] = { ...doc.entries[cacheKey(a)], engine: 'deadbeef' };
    store.text = JSON.stringify(doc);
    expect(forgetTuned(store, a)).toBe(2);
    expect(loadTuned(store, a)).toBeUndefined();
    expect(Object.keys(JSON.parse(store.text!).entries)).toEqual([cacheKey(b)]);
    expect(loadTuned(store, b)?.choices).toEqual({ 'linear:64x784x100': 'tm2-tn8-i32' });
    expect(forgetTuned(store, a)).toBe(0);
    store.text = 'not json';
    expect(() => forgetTuned(store, a)).toThrow(/tuned variants memory: not JSON/);
  });

  it('installs the choices of this adapter only', async () => {
    const gpu = await webgpu();
    const adapter = adapterKey(gpu)!;
    expect(adapter).toContain(gpu.info.description);
    const store = memoryStore();
    const choices = nonDefaultChoices(MLP, 4);
    saveTuned(store, `${adapter} (another)`, choices, 'other');
    expect(installTuned(store, gpu)).toBe(0);
    expect(tunedVariants(gpu)).toEqual({});
    saveTuned(store, adapter, choices, 'this');
    expect(installTuned(store, gpu)).toBe(Object.keys(choices).length);
    expect(tunedVariants(gpu)).toEqual(choices);
  });
});

describe('training with tuned choices', () => {
  it.each([
    ['MLP', MLP],
    ['CNN', CNN],
  ])('%s: the same weights as with the defaults, bit for bit', async (_, model) => {
    const gpu = await webgpu();
    const batch = 4;
    const steps = 3;
    const rng = new Rng(5);
    const sample = model.input.reduce((a, b) => a * b, 1);
    const x = randomInts(rng, steps * batch * sample, -127, 127);
    const y = randomInts(rng, steps * batch, 0, model.classes - 1);
    const run = async () => {
      const m = Model.create(gpu, model, { seed: 9 });
      try {
        await m.trainOnBatches(x, y, steps, batch);
        return await readParameters(gpu, m.params);
      } finally {
        m.dispose();
      }
    };
    const defaults = await run();
    const choices = nonDefaultChoices(model, batch);
    setTunedVariants(gpu, choices);
    for (const s of trainingGemmShapes(planFromSpec(model), batch))
      expect(gpu.variants.choose(s.op, s.dims).label).toBe(choices[s.key]);
    const tuned = await run();
    expect([...tuned.keys()]).toEqual([...defaults.keys()]);
    for (const [name, w] of defaults) expectSameElements(tuned.get(name)!, w, name);
    // Training moved the weights (the comparison is not of untouched initial values).
    const init = Model.create(gpu, model, { seed: 9 });
    try {
      const start = await readParameters(gpu, init.params);
      expect([...defaults].some(([name, w]) => w.some((v, i) => v !== start.get(name)![i]))).toBe(
        true,
      );
    } finally {
      init.dispose();
    }
  });
});
