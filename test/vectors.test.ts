/**
 * The hand-checkable test vectors of docs/algorithm.md §9 (items 1-11), run through the backend Ops on
 * both backends (CPU reference and WebGPU) and compared element by element with the values the
 * document gives. The micro training steps (items 10 and 11) are composed from the same ops the
 * trainer records (src/model/network.ts), with every intermediate checked, and then run again
 * as a whole recorded step of a Network. Items that no op expresses (negative divisors, the
 * int16 dropout value, initialisation bounds) are checked on the module implementing them.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dropoutKeeps, truncDiv } from '../src/arith.ts';
import { dropoutMultiplier } from '../src/ops/data/contract.ts';
import type { Backend, DType, Tensor } from '../src/backend.ts';
import { CpuBackend } from '../src/cpu-backend.ts';
import { initBound } from '../src/model/init.ts';
import { parseModelSpec } from '../src/model/spec.ts';
import {
  allocateParameters,
  METRIC_WORDS,
  Network,
  readParameters,
  writeParameters,
} from '../src/model/network.ts';
import { planFromSpec } from '../src/model/plan.ts';
import { webgpu } from './helpers.ts';

type Pair = readonly [number, number];

const BACKENDS: [string, () => Promise<Backend>][] = [
  ['CPU', async () => new CpuBackend()],
  ['WebGPU', webgpu],
];

const flat = (rows: readonly (readonly number[])[]): number[] => rows.flat();

describe.each(BACKENDS)('docs/algorithm.md §9 vectors on the %s backend', (_name, create) => {
  let b: Backend;
  const live: Tensor[] = [];
  const networks: Network[] = [];
  beforeAll(async () => {
    b = await create();
  });
  afterEach(() => {
    for (const t of live.splice(0)) b.dispose(t);
    for (const n of networks.splice(0)) n.dispose();
  });

  /** A tensor on the backend under test, optionally filled. */
  const tensor = (
    shape: number[],
    dtype: DType,
    values?: ArrayLike<number>,
    label = 't',
  ): Tensor => {
    const t = b.tensor(shape, dtype, label);
    if (values) b.write(t, values);
    live.push(t);
    return t;
  };
  const read = async (t: Tensor): Promise<number[]> => [...(await b.read(t))];

  it('1. truncated division through the ops: scale (SF 4) and NITRO-ReLU backward (g_inv 4)', async () => {
    const a = [-7, 7, -8, 8, 0, -1];
    const expected = [-1, 1, -2, 2, 0, 0];
    const x = tensor([6], 'i32', a, 'x');
    const scaled = tensor([6], 'i8', undefined, 'scaled');
    b.ops.scale({ x, out: scaled, scale: 4 });
    expect(await read(scaled)).toEqual(expected);
    // x = -1 makes NITRO-ReLU's inverse slope s = 4, so the backward is δ / 4 truncated.
    const saved = tensor([6], 'i8', new Array(6).fill(-1), 'saved');
    const delta = tensor([6], 'i32', a, 'delta');
    const out = tensor([6], 'i32', undefined, 'out');
    b.ops.nitroReluBackward({ delta, x: saved, out, slopeInv: 4 });
    expect(await read(out)).toEqual(expected);
  });

  it('2. NITRO scaling, SF 768', async () => {
    const x = tensor(
      [10],
      'i32',
      [-100000, -769, -768, -767, 0, 767, 768, 97535, 97536, 200000],
      'x',
    );
    const out = tensor([10], 'i8', undefined, 'out');
    b.ops.scale({ x, out, scale: 768 });
    expect(await read(out)).toEqual([-127, -1, -1, 0, 0, 0, 1, 126, 127, 127]);
  });

  it('3. NITRO-ReLU (s 4, c 36) forward and backward', async () => {
    const x = tensor([10], 'i8', [-127, -100, -5, -4, -3, -1, 0, 1, 126, 127], 'x');
    const out = tensor([10], 'i8', undefined, 'out');
    b.ops.nitroRelu({ x, out, slopeInv: 4 });
    expect(await read(out)).toEqual([-67, -61, -37, -37, -36, -36, -36, -35, 90, 91]);
    const delta = tensor([10], 'i32', [100, -100, 7, -7, 7, -7, 50, -50, 9, 9], 'delta');
    const back = tensor([10], 'i32', undefined, 'back');
    b.ops.nitroReluBackward({ delta, x, out: back, slopeInv: 4 });
    expect(await read(back)).toEqual([25, -25, 1, -1, 1, -1, 50, -50, 9, 0]);
  });

  it('4. loss gradient with int8 wrap', async () => {
    // One sample per element: class 0 holds ŷ, class 1 holds 0; the label puts y = 32 or 0 on class 0.
    const yhat = tensor([5, 2], 'i8', [-127, 0, -96, 0, -97, 0, 127, 0, 0, 0], 'yhat');
    const labels = tensor([5], 'i32', [0, 1, 0, 0, 1], 'labels');
    const out = tensor([5, 2], 'i8', undefined, 'g');
    b.ops.lossGradient({ yhat, labels, oneHot: 32, out });
    const g = await read(out);
    expect([0, 2, 4, 6, 8].map((j) => g[j])).toEqual([97, -96, 127, 95, 0]);
    // The other class of each sample: ŷ = 0 against y = 32 where the label is 1, else 0.
    expect([1, 3, 5, 7, 9].map((j) => g[j])).toEqual([0, -32, 0, 0, -32]);
  });

  it('5. IntegerSGD (lr_inv 512, A 640, η 12 000)', async () => {
    const w = tensor([4], 'i32', [24000, -24001, 11999, -5], 'w');
    const grad = tensor([4], 'i32', [327679, -327681, 655360, -1], 'grad');
    const lrInv = tensor([1], 'i32', [512], 'lrInv');
    b.ops.integerSgd({ w, grad, lrInv, amp: 640, decayInv: 12000 });
    const updated = await read(w);
    expect(updated).toEqual([23998, -23998, 11997, -5]);
    expect([24000, -24001, 11999, -5].map((v, i) => v - updated[i])).toEqual([2, -3, 2, 0]);
  });

  it('6. dropout rate 0.1, all kept, through the op (the int8-range elements)', async () => {
    // The keep mask comes from an integer hash; take the first seed that keeps all five elements at step 0.
    let seed = 0;
    while (![0, 1, 2, 3, 4].every((i) => dropoutKeeps(seed, 0, i, 100))) seed++;
    const x = tensor([5], 'i8', [91, -67, 50, -1, 0], 'x');
    const out = tensor([5], 'i8', undefined, 'out');
    const cursor = tensor([1], 'i32', [0], 'cursor');
    b.ops.dropout({ x, out, ratePermille: 100, seed, cursor });
    expect(await read(out)).toEqual([101, -74, 55, -1, 0]);
  });

  it('7. max-pool tie-break: first (top-left) cell of the window', async () => {
    const x = tensor([1, 1, 2, 2], 'i8', [5, 5, 5, 5], 'x');
    const out = tensor([1, 1, 1, 1], 'i8', undefined, 'out');
    const delta = tensor([1, 1, 1, 1], 'i32', [9], 'delta');
    const grad = tensor([1, 1, 2, 2], 'i32', undefined, 'grad');
    const kernel: Pair = [2, 2];
    const padding: Pair = [0, 0];
    b.ops.maxPool({ x, kernel, padding, padMode: 'zero', out });
    b.ops.maxPoolBackward({ x, kernel, padding, padMode: 'zero', delta, out: grad });
    expect(await read(out)).toEqual([5]);
    expect(await read(grad)).toEqual([9, 0, 0, 0]);
  });

  it('8. padded learning-layer pool k (4,4) pad (2,2) on a 7×7 map, pads count as 0', async () => {
    const x = tensor(
      [1, 1, 7, 7],
      'i8',
      Array.from({ length: 49 }, (_, i) => i - 60),
      'x',
    );
    const out = tensor([1, 1, 2, 2], 'i8', undefined, 'out');
    const delta = tensor([1, 1, 2, 2], 'i32', [1, 2, 3, 4], 'delta');
    // Garbage first: every cell must be written, the uncovered row/column 6 included.
    const grad = tensor([1, 1, 7, 7], 'i32', new Array(49).fill(-777), 'grad');
    const kernel: Pair = [4, 4];
    const padding: Pair = [2, 2];
    b.ops.maxPool({ x, kernel, padding, padMode: 'zero', out });
    b.ops.maxPoolBackward({ x, kernel, padding, padMode: 'zero', delta, out: grad });
    expect(await read(out)).toEqual([0, 0, 0, -20]);
    const expected = new Array(49).fill(0);
    expected[5 * 7 + 5] = 4;
    expect(await read(grad)).toEqual(expected);
  });

  it('10. micro MLP step (4→3 block, head 3→2, output 3→2, lr_inv 2, A 4) composed from the ops', async () => {
    const B = 2;
    const x = tensor([B, 4], 'i8', [100, -20, 50, -127, -60, 90, 10, 40], 'x');
    const labels = tensor([B], 'i32', [0, 1], 'labels');
    const W1 = tensor([3, 4], 'i32', [100, -50, 25, -100, -80, 60, -40, 20, 30, 30, 30, 30], 'W1');
    const P = tensor([2, 3], 'i32', [90, -60, 30, -70, 50, 10], 'P');
    const Wout = tensor([2, 3], 'i32', [-40, 80, 20, 60, -30, -90], 'Wout');
    const lrInv = tensor([1], 'i32', [2], 'lrInv');

    // Block forward: raw z1, then the fused scaling (SF 1024) + NITRO-ReLU, and the same two steps as separate ops.
    const z1 = tensor([B, 3], 'i32', undefined, 'z1');
    const s1 = tensor([B, 3], 'i8', undefined, 's1');
    const a1 = tensor([B, 3], 'i8', undefined, 'a1');
    const s1Alone = tensor([B, 3], 'i8', undefined, 's1 alone');
    const a1Alone = tensor([B, 3], 'i8', undefined, 'a1 alone');
    b.ops.linear({ x, w: W1, out: z1 });
    b.ops.linear({ x, w: W1, out: s1, epilogue: { scale: 1024, relu: { out: a1, slopeInv: 4 } } });
    b.ops.scale({ x: z1, out: s1Alone, scale: 1024 });
    b.ops.nitroRelu({ x: s1Alone, out: a1Alone, slopeInv: 4 });
    expect(await read(z1)).toEqual([24950, -13740, 90, -14250, 10600, 2400]);
    expect(await read(s1)).toEqual([24, -13, 0, -13, 10, 2]);
    expect(await read(a1)).toEqual([-12, -39, -36, -39, -26, -34]);
    expect(await read(s1Alone)).toEqual([24, -13, 0, -13, 10, 2]);
    expect(await read(a1Alone)).toEqual([-12, -39, -36, -39, -26, -34]);

    // Output layers: z, SF 768, loss gradient, dWout = gᵀ·a1, IntegerSGD (A 1, no decay).
    const zOut = tensor([B, 2], 'i32', undefined, 'zOut');
    const yhat = tensor([B, 2], 'i8', undefined, 'yhat');
    const g = tensor([B, 2], 'i8', undefined, 'g');
    const dWout = tensor([2, 3], 'i32', undefined, 'dWout');
    b.ops.linear({ x: a1, w: Wout, out: zOut });
    b.ops.linear({ x: a1, w: Wout, out: yhat, epilogue: { scale: 768 } });
    b.ops.lossGradient({ yhat, labels, oneHot: 32, out: g });
    b.ops.linearWeightGrad({ g, x: a1, out: dWout });
    b.ops.integerSgd({ w: Wout, grad: dWout, lrInv, amp: 1, decayInv: 0 });
    expect(await read(zOut)).toEqual([-3360, 3690, -1200, 1500]);
    expect(await read(yhat)).toEqual([-4, 4, -1, 1]);
    expect(await read(g)).toEqual([-36, 4, -1, -31]);
    expect(await read(dWout)).toEqual([471, 1430, 1330, 1161, 650, 910]);
    expect(await read(Wout)).toEqual([-275, -635, -645, -520, -355, -545]);

    // Learning head: ŷ_loc from the saved a1, g_loc, δ_a = g_loc·P (P before its update), dP, P update.
    const zHead = tensor([B, 2], 'i32', undefined, 'zHead');
    const yLoc = tensor([B, 2], 'i8', undefined, 'yLoc');
    const gLoc = tensor([B, 2], 'i8', undefined, 'gLoc');
    const deltaA = tensor([B, 3], 'i32', undefined, 'deltaA');
    const dP = tensor([2, 3], 'i32', undefined, 'dP');
    b.ops.linear({ x: a1, w: P, out: zHead });
    b.ops.linear({ x: a1, w: P, out: yLoc, epilogue: { scale: 768 } });
    b.ops.lossGradient({ yhat: yLoc, labels, oneHot: 32, out: gLoc });
    b.ops.linearInputGrad({ g: gLoc, w: P, out: deltaA });
    b.ops.linearWeightGrad({ g: gLoc, x: a1, out: dP });
    b.ops.integerSgd({ w: P, grad: dP, lrInv, amp: 1, decayInv: 0 });
    expect(await read(zHead)).toEqual([180, -1470, -2970, 1090]);
    expect(await read(yLoc)).toEqual([0, -1, -3, 1]);
    expect(await read(gLoc)).toEqual([-32, -1, -3, -31]);
    expect(await read(deltaA)).toEqual([-2810, 1870, -970, 1900, -1370, -400]);
    expect(await read(dP)).toEqual([501, 1326, 1254, 1221, 845, 1090]);
    expect(await read(P)).toEqual([-160, -723, -597, -680, -372, -535]);

    // Block backward: NITRO-ReLU⁻¹ on the saved s1, dW1 = δ_sᵀ·x, IntegerSGD with A 4.
    const deltaS = tensor([B, 3], 'i32', undefined, 'deltaS');
    const dW1 = tensor([3, 4], 'i32', undefined, 'dW1');
    b.ops.nitroReluBackward({ delta: deltaA, x: s1, out: deltaS, slopeInv: 4 });
    b.ops.linearWeightGrad({ g: deltaS, x, out: dW1 });
    b.ops.integerSgd({ w: W1, grad: dW1, lrInv, amp: 4, decayInv: 0 });
    expect(await read(deltaS)).toEqual([-2810, 467, -970, 475, -1370, -400]);
    expect(await read(W1)).toEqual([
      38787, -12418, 16993, -47083, -16192, 16640, -1246, 14283, 9155, 2105, 6592, -13368,
    ]);
  });

  it('10. micro MLP step as one recorded Network training step', async () => {
    const spec = parseModelSpec({
      input: [4, 1, 1],
      classes: 2,
      hidden: [3],
      training: { lrInv: 2, lrAmp: 4 },
    });
    const plan = planFromSpec(spec);
    expect([plan.blocks[0].sf, plan.blocks[0].head.sf, plan.output.sf]).toEqual([1024, 768, 768]);
    const params = allocateParameters(b, plan);
    for (const t of params.tensors.values()) live.push(t);
    writeParameters(
      b,
      params,
      new Map([
        [
          'blocks.0.weight',
          flat([
            [100, -50, 25, -100],
            [-80, 60, -40, 20],
            [30, 30, 30, 30],
          ]),
        ],
        [
          'blocks.0.head.weight',
          flat([
            [90, -60, 30],
            [-70, 50, 10],
          ]),
        ],
        [
          'output.weight',
          flat([
            [-40, 80, 20],
            [60, -30, -90],
          ]),
        ],
      ]),
    );
    const net = new Network(b, plan, params, 2);
    networks.push(net);
    b.write(net.x, [100, -20, 50, -127, -60, 90, 10, 40]);
    b.write(net.y, [0, 1]);
    b.run(net.recordTrainOnBatch());
    const after = await readParameters(b, params);
    expect([...(after.get('blocks.0.weight') ?? [])]).toEqual(
      flat([
        [38787, -12418, 16993, -47083],
        [-16192, 16640, -1246, 14283],
        [9155, 2105, 6592, -13368],
      ]),
    );
    expect([...(after.get('blocks.0.head.weight') ?? [])]).toEqual(
      flat([
        [-160, -723, -597],
        [-680, -372, -535],
      ]),
    );
    expect([...(after.get('output.weight') ?? [])]).toEqual(
      flat([
        [-275, -635, -645],
        [-520, -355, -545],
      ]),
    );
    expect(await read(net.logits)).toEqual([-4, 4, -1, 1]);
    expect(await read(net.headPrediction(0))).toEqual([0, -1, -3, 1]);
    // Metrics per head then output: [correct, RSS low, RSS high]; RSS = Σ g² (no wrap here).
    const sq = (v: number[]) => v.reduce((s, e) => s + e * e, 0);
    const headRss = sq([-32, -1, -3, -31]);
    const outRss = sq([-36, 4, -1, -31]);
    expect(await read(net.metrics)).toEqual([2, headRss, 0, 1, outRss, 0]);
    expect(METRIC_WORDS).toBe(3);
  });

  /** Item 11's inputs. */
  const conv = {
    x: flat([
      [10, -20, 30, -40],
      [50, -60, 70, -80],
      [90, -100, 110, -120],
      [127, -128, 0, 5],
    ]),
    w: flat([
      [100, -200, 100],
      [300, 0, -300],
      [50, 50, 50],
    ]),
    p: [
      Array.from({ length: 16 }, (_, i) => 10 * ((i % 5) - 2)),
      Array.from({ length: 16 }, (_, i) => 7 * ((i % 3) - 1)),
    ],
    a: flat([
      [-34, -36, -35, -33],
      [-31, -33, -37, -23],
      [-30, -29, -39, -12],
      [-32, -3, -45, -21],
    ]),
    wAfter: flat([
      [-22300, 13240, -4380],
      [972, -17808, -2708],
      [-31758, 52130, -1742],
    ]),
    p1After: [
      -1095, -1152, -1113, -1063, -992, -1049, -1191, -736, -953, -935, -1248, -377, -1031, -96,
      -1433, -679,
    ],
  };

  it('11. micro conv block (3×3 pad 1, head 16→2, SF 2304 / 4096, lr_inv 1, A 1) composed from the ops', async () => {
    const x = tensor([1, 1, 4, 4], 'i8', conv.x, 'x');
    const labels = tensor([1], 'i32', [1], 'labels');
    const W = tensor([1, 1, 3, 3], 'i32', conv.w, 'W');
    const P = tensor([2, 16], 'i32', flat(conv.p), 'P');
    const lrInv = tensor([1], 'i32', [1], 'lrInv');

    const z = tensor([1, 1, 4, 4], 'i32', undefined, 'z');
    const s = tensor([1, 1, 4, 4], 'i8', undefined, 's');
    const a = tensor([1, 1, 4, 4], 'i8', undefined, 'a');
    b.ops.conv2d({ x, w: W, padding: 1, out: z });
    b.ops.conv2d({
      x,
      w: W,
      padding: 1,
      out: s,
      epilogue: { scale: 2304, relu: { out: a, slopeInv: 4 } },
    });
    expect(await read(z)).toEqual(
      flat([
        [5500, -3000, 2500, 8500],
        [13500, 7000, -11500, 31500],
        [13950, 17950, -28150, 56250],
        [10400, 78100, -83900, 35000],
      ]),
    );
    expect(await read(s)).toEqual(
      flat([
        [2, -1, 1, 3],
        [5, 3, -4, 13],
        [6, 7, -12, 24],
        [4, 33, -36, 15],
      ]),
    );
    expect(await read(a)).toEqual(conv.a);

    // Head on the flattened block output (no pool: 16 ≤ 4096).
    const aFlat = b.view(a, [1, 16]);
    const zHead = tensor([1, 2], 'i32', undefined, 'zHead');
    const yLoc = tensor([1, 2], 'i8', undefined, 'yLoc');
    const gLoc = tensor([1, 2], 'i8', undefined, 'gLoc');
    const deltaA = tensor([1, 16], 'i32', undefined, 'deltaA');
    const dP = tensor([2, 16], 'i32', undefined, 'dP');
    b.ops.linear({ x: aFlat, w: P, out: zHead });
    b.ops.linear({ x: aFlat, w: P, out: yLoc, epilogue: { scale: 4096 } });
    b.ops.lossGradient({ yhat: yLoc, labels, oneHot: 32, out: gLoc });
    b.ops.linearInputGrad({ g: gLoc, w: P, out: deltaA });
    b.ops.linearWeightGrad({ g: gLoc, x: aFlat, out: dP });
    b.ops.integerSgd({ w: P, grad: dP, lrInv, amp: 1, decayInv: 0 });
    expect(await read(zHead)).toEqual([630, 217]);
    expect(await read(yLoc)).toEqual([0, 0]);
    expect(await read(gLoc)).toEqual([0, -32]);
    const deltaAExpected = flat([
      [224, 0, -224, 224],
      [0, -224, 224, 0],
      [-224, 224, 0, -224],
      [224, 0, -224, 224],
    ]);
    expect(await read(deltaA)).toEqual(deltaAExpected);
    expect(await read(P)).toEqual([...conv.p[0], ...conv.p1After]);

    // NITRO-ReLU⁻¹ on the saved s (δ flattened, s as [1, 1, 4, 4]), then the conv weight gradient.
    const deltaS = tensor([1, 16], 'i32', undefined, 'deltaS');
    const dW = tensor([1, 1, 3, 3], 'i32', undefined, 'dW');
    b.ops.nitroReluBackward({ delta: deltaA, x: s, out: deltaS, slopeInv: 4 });
    const deltaSExpected = [...deltaAExpected];
    deltaSExpected[1 * 4 + 2] = 56;
    deltaSExpected[3 * 4 + 2] = -56;
    expect(await read(deltaS)).toEqual(deltaSExpected);
    b.ops.conv2dWeightGrad({ delta: b.view(deltaS, [1, 1, 4, 4]), x, padding: 1, out: dW });
    const dWValues = await read(dW);
    expect(dWValues[0]).toBe(22400);
    expect(dWValues).toEqual(
      flat([
        [22400, -13440, 4480],
        [-672, 17808, 2408],
        [31808, -52080, 1792],
      ]),
    );
    b.ops.integerSgd({ w: W, grad: dW, lrInv, amp: 1, decayInv: 0 });
    expect(await read(W)).toEqual(conv.wAfter);
  });

  it('11. micro conv block as one recorded Network training step', async () => {
    const spec = parseModelSpec({
      input: [1, 4, 4],
      classes: 2,
      features: [{ conv: 1, kernel: 3, padding: 1 }],
      training: { lrInv: 1, lrAmp: 1 },
    });
    const plan = planFromSpec(spec);
    expect([plan.blocks[0].sf, plan.blocks[0].head.sf, plan.blocks[0].head.dlr]).toEqual([
      2304, 4096, 16,
    ]);
    expect(plan.blocks[0].head.pool).toBeUndefined();
    const params = allocateParameters(b, plan);
    for (const t of params.tensors.values()) live.push(t);
    // The output layer (not part of the vector) starts at zero: ŷ = 0, g = [0, -32], so its row 1 becomes 32·a.
    writeParameters(
      b,
      params,
      new Map([
        ['blocks.0.weight', conv.w],
        ['blocks.0.head.weight', flat(conv.p)],
        ['output.weight', new Array(32).fill(0)],
      ]),
    );
    const net = new Network(b, plan, params, 1);
    networks.push(net);
    b.write(net.x, conv.x);
    b.write(net.y, [1]);
    b.run(net.recordTrainOnBatch());
    const after = await readParameters(b, params);
    expect([...(after.get('blocks.0.weight') ?? [])]).toEqual(conv.wAfter);
    expect([...(after.get('blocks.0.head.weight') ?? [])]).toEqual([...conv.p[0], ...conv.p1After]);
    expect([...(after.get('output.weight') ?? [])]).toEqual([
      ...new Array(16).fill(0),
      ...conv.a.map((v) => 32 * v),
    ]);
    expect(await read(net.headPrediction(0))).toEqual([0, 0]);
  });
});

describe('docs/algorithm.md §9 vectors no op expresses, on the modules implementing them', () => {
  it('1. truncated division with negative divisors too, via src/arith.ts truncDiv', () => {
    const cases: [number, number, number][] = [
      [-7, 4, -1],
      [7, 4, 1],
      [-8, 4, -2],
      [8, 4, 2],
      [0, 4, 0],
      [-1, 4, 0],
      [-7, -4, 1],
      [7, -4, -1],
    ];
    for (const [a, d, q] of cases) expect(truncDiv(a, d), `t(${a}, ${d})`).toBe(q);
    expect(Object.is(truncDiv(-1, 4), 0)).toBe(true);
  });

  it('6. dropout values including the int16 one (127 → 141), via the dropout table (src/ops/data/contract.ts) and truncDiv', () => {
    // The engine keeps dropout outputs int8 (rates ≤ 0.25 on NITRO-ReLU outputs ≤ 91), so 127 · 1.111 only exists here.
    const R = dropoutMultiplier(100);
    expect(R).toBe(1111);
    expect([91, -67, 50, -1, 0, 127].map((x) => truncDiv(x * R, 1000))).toEqual([
      101, -74, 55, -1, 0, 141,
    ]);
  });

  it('9. init bounds, via src/model/init.ts initBound', () => {
    expect([784, 4608, 9, 27].map((fanIn) => initBound(fanIn))).toEqual([10, 4, 64, 60]);
  });
});
