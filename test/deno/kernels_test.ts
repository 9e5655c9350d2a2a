/**
 * Deno suite: the built bundle (dist/index.js, WGSL inlined) on Deno's WebGPU (wgpu), with the
 * matrix kernels compared element by element against the CPU reference backend.
 * Run with `npm run test:deno` (scripts/test-deno.sh builds nothing: run `npm run build` first).
 */
import type * as Nitro from '../../src/index.ts';

// Deno's globals, declared locally so the file also type-checks under the project's tsc.
declare const Deno: {
  test(def: {
    name: string;
    fn: () => Promise<void>;
    sanitizeOps?: boolean;
    sanitizeResources?: boolean;
  }): void;
};

type Backend = Nitro.Backend;
type Tensor = Nitro.Tensor;
type DType = Nitro.DType;

const lib = (await import(new URL('../../dist/index.js', import.meta.url).href)) as typeof Nitro &
  Record<string, unknown>;

function cpuBackend(): Backend {
  const CpuBackend = lib.CpuBackend as (new () => Backend) | undefined;
  if (typeof CpuBackend !== 'function') {
    throw new Error(
      'dist/index.js does not export CpuBackend (src/cpu-backend.ts, exported from src/index.ts)',
    );
  }
  return new CpuBackend();
}

/** One WebGPU device for the whole file. */
let device: Promise<Nitro.WebGPUBackend> | undefined;
function webgpu(): Promise<Nitro.WebGPUBackend> {
  device ??= lib.WebGPUBackend.create();
  return device;
}

async function both(): Promise<{ gpu: Backend; cpu: Backend }> {
  return { gpu: await webgpu(), cpu: cpuBackend() };
}

function ints(rng: Nitro.Rng, n: number, lo: number, hi: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(lo, hi);
  return out;
}

interface Input {
  shape: number[];
  dtype: DType;
  values: Int32Array;
}

function input(rng: Nitro.Rng, shape: number[], dtype: DType, lo: number, hi: number): Input {
  return {
    shape,
    dtype,
    values: ints(
      rng,
      shape.reduce((a, b) => a * b, 1),
      lo,
      hi,
    ),
  };
}

/**
 * Runs the same op on both backends with the same inputs and zero-filled outputs, then
 * compares every element of every output.
 */
async function compare(
  what: string,
  inputs: Record<string, Input>,
  outputs: Record<string, { shape: number[]; dtype: DType }>,
  run: (ops: Nitro.Ops, t: Record<string, Tensor>) => void,
  /** Inputs the op updates in place, compared too. */
  updated: string[] = [],
): Promise<void> {
  const { gpu, cpu } = await both();
  const results: Int32Array[][] = [];
  for (const b of [gpu, cpu]) {
    const t: Record<string, Tensor> = {};
    for (const [name, v] of Object.entries(inputs)) {
      t[name] = b.tensor(v.shape, v.dtype, name);
      b.write(t[name], v.values);
    }
    for (const [name, o] of Object.entries(outputs)) t[name] = b.tensor(o.shape, o.dtype, name);
    run(b.ops, t);
    const read: Int32Array[] = [];
    for (const name of [...Object.keys(outputs), ...updated]) read.push(await b.read(t[name]));
    for (const x of Object.values(t)) b.dispose(x);
    results.push(read);
  }
  [...Object.keys(outputs), ...updated].forEach((name, k) => {
    const [got, want] = [results[0][k], results[1][k]];
    if (got.length !== want.length)
      throw new Error(`${what}, ${name}: ${got.length} elements, expected ${want.length}`);
    let bad = -1;
    let count = 0;
    for (let i = 0; i < want.length; i++) {
      if (got[i] !== want[i]) {
        if (bad < 0) bad = i;
        count++;
      }
    }
    if (bad >= 0) {
      throw new Error(
        `${what}, ${name}: ${count} of ${want.length} elements differ; first at ${bad}: webgpu ${got[bad]}, cpu ${want[bad]}`,
      );
    }
  });
}

function gpuTest(name: string, fn: () => Promise<void>): void {
  // The device and its buffers live for the whole file, so Deno's per-test sanitizers do not apply.
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });
}

gpuTest(
  'webgpu device from the bundle: fill, packed int8 round trip, recorded replay',
  async () => {
    const gpu = await webgpu();
    if (gpu.info.runtime !== 'deno') throw new Error(`runtime detected as ${gpu.info.runtime}`);
    console.log(gpu.description);
    const t = gpu.tensor([3, 5], 'i32', 't');
    gpu.ops.fill({ out: t, value: -7 });
    const filled = await gpu.read(t);
    if (!filled.every((v) => v === -7)) throw new Error(`fill: got ${[...filled]}`);
    const bytes = [1, -2, 3, -128, 127, 0, 5, 6, 7, 8, 9, -10];
    const p = gpu.tensor([2, 6], 'i8', 'p');
    gpu.write(p, bytes);
    const back = [...(await gpu.read(p))];
    if (back.join() !== bytes.join()) throw new Error(`i8 round trip: got ${back}`);
    const cursor = gpu.tensor([1], 'i32', 'cursor');
    const prog = gpu.record('advance', (ops) => ops.advance({ cursor }));
    gpu.run(prog, 5);
    gpu.run(prog);
    const [count] = await gpu.read(cursor);
    if (count !== 6) throw new Error(`advance: got ${count}, expected 6`);
  },
);

// Shapes are deliberately ragged: rows that are not a multiple of four exercise int8 packing.
const B = 5;
const K = 37;
const O = 11;

gpuTest('linear: raw int32 accumulation with bias', async () => {
  const rng = new lib.Rng(101);
  await compare(
    'linear raw',
    {
      x: input(rng, [B, K], 'i8', -128, 127),
      w: input(rng, [O, K], 'i32', -3000, 3000),
      bias: input(rng, [O], 'i32', -50000, 50000),
    },
    { out: { shape: [B, O], dtype: 'i32' } },
    (ops, t) => ops.linear({ x: t.x, w: t.w, bias: t.bias, out: t.out }),
  );
});

gpuTest('linear: scaling and NITRO-ReLU epilogues', async () => {
  const rng = new lib.Rng(102);
  const inputs = { x: input(rng, [B, K], 'i8', -127, 127), w: input(rng, [O, K], 'i32', -64, 64) };
  // SF = 256 * fan_in as in the model, and a small SF that makes the clip to ±127 bite.
  for (const scale of [256 * K, 37]) {
    await compare(
      `linear scale ${scale}`,
      inputs,
      { out: { shape: [B, O], dtype: 'i8' } },
      (ops, t) => ops.linear({ x: t.x, w: t.w, out: t.out, epilogue: { scale } }),
    );
    await compare(
      `linear scale ${scale} + relu`,
      inputs,
      { out: { shape: [B, O], dtype: 'i8' }, act: { shape: [B, O], dtype: 'i8' } },
      (ops, t) =>
        ops.linear({
          x: t.x,
          w: t.w,
          out: t.out,
          epilogue: { scale, relu: { out: t.act, slopeInv: 4 } },
        }),
    );
  }
});

gpuTest('linear: weight gradients from int8 and int32 deltas', async () => {
  const rng = new lib.Rng(103);
  const x = input(rng, [B, K], 'i8', -128, 127);
  await compare(
    'linearWeightGrad i8',
    { g: input(rng, [B, O], 'i8', -128, 127), x },
    { out: { shape: [O, K], dtype: 'i32' } },
    (ops, t) => ops.linearWeightGrad({ g: t.g, x: t.x, out: t.out }),
  );
  await compare(
    'linearWeightGrad i32',
    { g: input(rng, [B, O], 'i32', -40000, 40000), x },
    { out: { shape: [O, K], dtype: 'i32' } },
    (ops, t) => ops.linearWeightGrad({ g: t.g, x: t.x, out: t.out }),
  );
  await compare(
    'linearInputGrad i8',
    { g: input(rng, [B, O], 'i8', -128, 127), w: input(rng, [O, K], 'i32', -3000, 3000) },
    { out: { shape: [B, K], dtype: 'i32' } },
    (ops, t) => ops.linearInputGrad({ g: t.g, w: t.w, out: t.out }),
  );
});

const C = 3;
const H = 9;
const W = 7;
const F = 5;

for (const [k, padding] of [
  [3, 1],
  [3, 0],
  [1, 0],
] as const) {
  const Ho = H + 2 * padding - k + 1;
  const Wo = W + 2 * padding - k + 1;

  gpuTest(`conv2d ${k}x${k} pad ${padding}: raw, scaled and NITRO-ReLU`, async () => {
    const rng = new lib.Rng(200 + k * 10 + padding);
    const inputs = {
      x: input(rng, [2, C, H, W], 'i8', -128, 127),
      w: input(rng, [F, C, k, k], 'i32', -64, 64),
      bias: input(rng, [F], 'i32', -9000, 9000),
    };
    await compare(
      'conv2d raw',
      inputs,
      { out: { shape: [2, F, Ho, Wo], dtype: 'i32' } },
      (ops, t) => ops.conv2d({ x: t.x, w: t.w, bias: t.bias, padding, out: t.out }),
    );
    const scale = 256 * k * k * C;
    await compare(
      'conv2d scaled + relu',
      inputs,
      { out: { shape: [2, F, Ho, Wo], dtype: 'i8' }, act: { shape: [2, F, Ho, Wo], dtype: 'i8' } },
      (ops, t) =>
        ops.conv2d({
          x: t.x,
          w: t.w,
          padding,
          out: t.out,
          epilogue: { scale, relu: { out: t.act, slopeInv: 4 } },
        }),
    );
    await compare(
      'conv2d small scale (clipping)',
      inputs,
      { out: { shape: [2, F, Ho, Wo], dtype: 'i8' } },
      (ops, t) => ops.conv2d({ x: t.x, w: t.w, padding, out: t.out, epilogue: { scale: 9 } }),
    );
  });

  gpuTest(`conv2dWeightGrad ${k}x${k} pad ${padding}`, async () => {
    const rng = new lib.Rng(300 + k * 10 + padding);
    await compare(
      'conv2dWeightGrad',
      {
        delta: input(rng, [2, F, Ho, Wo], 'i32', -20000, 20000),
        x: input(rng, [2, C, H, W], 'i8', -128, 127),
      },
      { out: { shape: [F, C, k, k], dtype: 'i32' } },
      (ops, t) => ops.conv2dWeightGrad({ delta: t.delta, x: t.x, padding, out: t.out }),
    );
  });
}

// Every GEMM kernel variant, forced one at a time: ragged rows, and rows of whole vec4 words
// (the tiled kernels' vec4 loads); the forward with bias and NITRO-ReLU, the input gradient
// through NITRO-ReLU's backward, both weight-gradient forms (raw sums, fused IntegerSGD).
for (const [B, K, O] of [
  [5, 37, 11],
  [9, 32, 16],
]) {
  for (const v of lib.variantsOf('linear')) {
    gpuTest(`linear variant ${v.label} ${B}x${K} -> ${O}`, async () => {
      const rng = new lib.Rng(400 + K);
      const gpu = await webgpu();
      await compare(
        `linear ${v.label}`,
        {
          x: input(rng, [B, K], 'i8', -128, 127),
          w: input(rng, [O, K], 'i32', -3000, 3000),
          bias: input(rng, [O], 'i32', -50000, 50000),
        },
        { out: { shape: [B, O], dtype: 'i8' }, act: { shape: [B, O], dtype: 'i8' } },
        (ops, t) =>
          lib.withForcedVariant(gpu, 'linear', v, () =>
            ops.linear({
              x: t.x,
              w: t.w,
              bias: t.bias,
              out: t.out,
              epilogue: { scale: 64 * K, relu: { out: t.act, slopeInv: 4 } },
            }),
          ),
      );
    });
  }
  for (const v of lib.variantsOf('linearInputGrad')) {
    gpuTest(`linearInputGrad variant ${v.label} ${B}x${K} -> ${O}`, async () => {
      const rng = new lib.Rng(500 + K);
      const gpu = await webgpu();
      await compare(
        `linearInputGrad ${v.label}`,
        {
          g: input(rng, [B, O], 'i32', -2147483648, 2147483647),
          w: input(rng, [O, K], 'i32', -3000, 3000),
          x: input(rng, [B, K], 'i8', -128, 127),
        },
        { out: { shape: [B, K], dtype: 'i32' } },
        (ops, t) =>
          lib.withForcedVariant(gpu, 'linearInputGrad', v, () =>
            ops.linearInputGrad({ g: t.g, w: t.w, out: t.out, relu: { x: t.x, slopeInv: 4 } }),
          ),
      );
    });
  }
  for (const v of lib.variantsOf('linearWeightGrad')) {
    gpuTest(`linearWeightGrad variant ${v.label} ${B}x${K} -> ${O}`, async () => {
      const rng = new lib.Rng(600 + K);
      const gpu = await webgpu();
      const x = input(rng, [B, K], 'i8', -128, 127);
      const forced = (f: () => void) => lib.withForcedVariant(gpu, 'linearWeightGrad', v, f);
      await compare(
        `linearWeightGrad ${v.label} i8 g`,
        { g: input(rng, [B, O], 'i8', -128, 127), x },
        { out: { shape: [O, K], dtype: 'i32' } },
        (ops, t) => forced(() => ops.linearWeightGrad({ g: t.g, x: t.x, out: t.out })),
      );
      await compare(
        `linearWeightGrad ${v.label} i32 g, IntegerSGD`,
        {
          g: input(rng, [B, O], 'i32', -2147483648, 2147483647),
          x,
          w: input(rng, [O, K], 'i32', -100000, 100000),
          lrInv: { shape: [1], dtype: 'i32', values: new Int32Array([3]) },
        },
        {},
        (ops, t) =>
          forced(() =>
            ops.linearWeightGrad({
              g: t.g,
              x: t.x,
              sgd: { w: t.w, lrInv: t.lrInv, amp: 7, decayInv: 0 },
            }),
          ),
        ['w'],
      );
    });
  }
}
// Every conv kernel variant forced in turn (the tiled ones too): channels a multiple of 16 and
// not of 4, maps of odd size and of a multiple of 4, filters and pixels past 64-wide tiles.
const VARIANT_SHAPES: [number, number, number, number, number, number, number][] = [
  // [B, C, H, W, F, k, padding]
  [3, 16, 5, 6, 70, 3, 1],
  [2, 5, 7, 5, 9, 3, 1],
  [5, 32, 4, 4, 66, 3, 1],
];

/** Delta with most pixels zero in every other filter (the sparse kernels' lists). */
function sparseDelta(rng: Nitro.Rng, shape: number[]): Input {
  const [, f, ho, wo] = shape;
  const d = input(rng, shape, 'i32', -20000, 20000);
  for (let i = 0; i < d.values.length; i++) {
    const filter = Math.trunc(i / (ho * wo)) % f;
    if (filter % 2 === 0 && rng.below(6) !== 0) d.values[i] = 0;
  }
  return d;
}

gpuTest('conv2d: every kernel variant forced, raw and fused epilogue', async () => {
  const gpu = await webgpu();
  for (const v of lib.variantsOf('conv2d')) {
    for (const [i, [b, c, h, w, f, k, padding]] of VARIANT_SHAPES.entries()) {
      const rng = new lib.Rng(400 + i);
      const out = [b, f, h + 2 * padding - k + 1, w + 2 * padding - k + 1];
      await compare(
        `conv2d ${v.label} shape #${i}`,
        {
          x: input(rng, [b, c, h, w], 'i8', -128, 127),
          w: input(rng, [f, c, k, k], 'i32', i === 1 ? -40000 : -64, i === 1 ? 40000 : 64),
          bias: input(rng, [f], 'i32', -9000, 9000),
        },
        {
          z: { shape: out, dtype: 'i32' },
          s: { shape: out, dtype: 'i8' },
          act: { shape: out, dtype: 'i8' },
        },
        (ops, t) =>
          lib.withForcedVariant(gpu, 'conv2d', v, () => {
            ops.conv2d({ x: t.x, w: t.w, bias: t.bias, padding, out: t.z });
            ops.conv2d({
              x: t.x,
              w: t.w,
              bias: t.bias,
              padding,
              out: t.s,
              epilogue: { scale: 64 * c * k * k, relu: { out: t.act, slopeInv: 4 } },
            });
          }),
      );
    }
  }
});

gpuTest(
  'conv2dWeightGrad: every kernel variant forced, raw sums and fused IntegerSGD',
  async () => {
    const gpu = await webgpu();
    for (const v of lib.variantsOf('conv2dWeightGrad')) {
      for (const [i, [b, c, h, w, f, k, padding]] of VARIANT_SHAPES.entries()) {
        const rng = new lib.Rng(500 + i);
        const out = [b, f, h + 2 * padding - k + 1, w + 2 * padding - k + 1];
        await compare(
          `conv2dWeightGrad ${v.label} shape #${i}`,
          {
            delta: sparseDelta(rng, out),
            x: input(rng, [b, c, h, w], 'i8', -128, 127),
            lrInv: { shape: [1], dtype: 'i32', values: Int32Array.of(3) },
          },
          { dw: { shape: [f, c, k, k], dtype: 'i32' }, w: { shape: [f, c, k, k], dtype: 'i32' } },
          (ops, t) =>
            lib.withForcedVariant(gpu, 'conv2dWeightGrad', v, () => {
              ops.conv2dWeightGrad({ delta: t.delta, x: t.x, padding, out: t.dw });
              ops.conv2dWeightGrad({
                delta: t.delta,
                x: t.x,
                padding,
                sgd: { w: t.w, lrInv: t.lrInv, amp: 5, decayInv: 0 },
              });
            }),
        );
      }
    }
  },
);
