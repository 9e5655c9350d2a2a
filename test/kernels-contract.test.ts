/**
 * The op contracts (src/ops/<family>/contract.ts) run in front of both backends: every op gets a
 * set of bad calls, and each must fail on WebGPU and on the CPU with the same one-line message
 * naming the op. A good call of every op runs first on both, so each bad call differs from a
 * working one by the one thing it gets wrong.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Ops, Tensor } from '../src/backend.ts';
import { CHECKS } from '../src/ops/checked.ts';
import { type Twin, Twins } from './kernels-twin.ts';

type On = (t: Twin) => Tensor;
type Call = { [K in keyof Ops]: [K, (on: On) => Parameters<Ops[K]>[0]] }[keyof Ops];

let twins: Twins;
let T: ReturnType<typeof tensors>;
beforeAll(async () => {
  twins = await Twins.create();
  T = tensors(twins);
});

/** Named tensors the calls are made of (labels are the names, so messages can name them). */
function tensors(tw: Twins) {
  const t = (name: string, shape: number[], dtype: 'i8' | 'i32', values?: number[]) =>
    tw.tensor(shape, dtype, values, name);
  return {
    x8: t('x8', [2, 6], 'i8'),
    x32: t('x32', [2, 6], 'i32'),
    w: t('w', [3, 6], 'i32'),
    w5: t('w5', [3, 5], 'i32'),
    bias3: t('bias3', [3], 'i32'),
    bias4: t('bias4', [4], 'i32'),
    z: t('z', [2, 3], 'i32'),
    s: t('s', [2, 3], 'i8'),
    a: t('a', [2, 3], 'i8'),
    a4: t('a4', [2, 4], 'i8'),
    g8: t('g8', [2, 3], 'i8'),
    g1: t('g1', [6], 'i8'),
    dx: t('dx', [2, 6], 'i32'),
    dx8: t('dx8', [2, 6], 'i8'),
    gw: t('gw', [3, 6], 'i32'),
    gw2: t('gw2', [6, 3], 'i32'),
    lrInv: t('lrInv', [1], 'i32', [4]),
    lrInv2: t('lrInv2', [2], 'i32', [4, 4]),
    img: t('img', [2, 2, 5, 5], 'i8'),
    cw: t('cw', [4, 2, 3, 3], 'i32'),
    cw1: t('cw1', [4, 1, 3, 3], 'i32'),
    cw7: t('cw7', [4, 2, 7, 7], 'i32'),
    cz: t('cz', [2, 4, 5, 5], 'i32'),
    cz3: t('cz3', [2, 4, 3, 3], 'i32'),
    cs: t('cs', [2, 4, 5, 5], 'i8'),
    cb: t('cb', [4], 'i32'),
    cb3: t('cb3', [3], 'i32'),
    px: t('px', [2, 2, 4, 4], 'i8'),
    pout: t('pout', [2, 2, 2, 2], 'i8'),
    pout3: t('pout3', [2, 2, 3, 3], 'i8'),
    pd: t('pd', [2, 2, 2, 2], 'i32'),
    pd3: t('pd3', [2, 2, 3, 3], 'i32'),
    pg: t('pg', [2, 3], 'i8'),
    pw: t('pw', [3, 8], 'i32'),
    pw9: t('pw9', [3, 9], 'i32'),
    pback: t('pback', [2, 2, 4, 4], 'i32'),
    yhat: t('yhat', [2, 3], 'i8'),
    yhat32: t('yhat32', [2, 3], 'i32'),
    labels: t('labels', [2], 'i32', [0, 2]),
    labels3: t('labels3', [3], 'i32', [0, 1, 2]),
    labels8: t('labels8', [2], 'i8', [0, 2]),
    lg: t('lg', [2, 3], 'i8'),
    metrics: t('metrics', [6], 'i32'),
    conf: t('conf', [3, 3], 'i32'),
    conf2: t('conf2', [3, 2], 'i32'),
    data: t('data', [4, 1, 3, 3], 'i8'),
    dlabels: t('dlabels', [4], 'i32', [0, 1, 2, 1]),
    dlabels3: t('dlabels3', [3], 'i32', [0, 1, 2]),
    indices: t('indices', [4], 'i32', [3, 2, 1, 0]),
    cursor: t('cursor', [1], 'i32'),
    cursor2: t('cursor2', [2], 'i32'),
    cursor8: t('cursor8', [1], 'i8'),
    batch: t('batch', [2, 1, 3, 3], 'i8'),
    batch3: t('batch3', [3, 1, 3, 3], 'i8'),
    blabels: t('blabels', [2], 'i32'),
    aug: t('aug', [2, 5], 'i32'),
    aug4: t('aug4', [2, 4], 'i32'),
    nx: t('nx', [2, 2, 2, 2], 'i8'),
    nout: t('nout', [2, 2, 2, 2], 'i8'),
    nout32: t('nout32', [2, 2, 2, 2], 'i32'),
    stats: t('stats', [2, 2], 'i32', [0, 0, 10, 10]),
    stats3: t('stats3', [2, 3], 'i32', [0, 0, 0, 10, 10, 10]),
    statsRows: t('statsRows', [3, 2], 'i32'),
    padded: t('padded', [2, 3], 'i8'),
    whole: t('whole', [2, 4], 'i8'),
    words: t('words', [5], 'i32'),
  };
}

const sgd = (
  on: On,
  over: Partial<{ w: Twin; lrInv: Twin; amp: number; decayInv: number }> = {},
) => ({
  w: on(over.w ?? T.gw),
  lrInv: on(over.lrInv ?? T.lrInv),
  amp: over.amp ?? 2,
  decayInv: over.decayInv ?? 0,
});

/** One good call per op. */
const GOOD: Call[] = [
  ['linear', (on) => ({ x: on(T.x8), w: on(T.w), bias: on(T.bias3), out: on(T.z) })],
  ['conv2d', (on) => ({ x: on(T.img), w: on(T.cw), bias: on(T.cb), padding: 1, out: on(T.cz) })],
  ['scale', (on) => ({ x: on(T.z), out: on(T.s), scale: 3 })],
  ['nitroRelu', (on) => ({ x: on(T.s), out: on(T.a), slopeInv: 4 })],
  ['nitroReluBackward', (on) => ({ delta: on(T.z), x: on(T.s), out: on(T.z), slopeInv: 4 })],
  [
    'maxPool',
    (on) => ({ x: on(T.px), kernel: [2, 2], padding: [0, 0], padMode: 'zero', out: on(T.pout) }),
  ],
  [
    'maxPoolBackward',
    (on) => ({
      x: on(T.px),
      kernel: [2, 2],
      padding: [0, 0],
      padMode: 'zero',
      delta: on(T.pd),
      out: on(T.pback),
    }),
  ],
  [
    'lossGradient',
    (on) => ({
      yhat: on(T.yhat),
      labels: on(T.labels),
      oneHot: 32,
      out: on(T.lg),
      metrics: { tensor: on(T.metrics), offset: 3 },
    }),
  ],
  [
    'linearInputGrad',
    (on) => ({ g: on(T.g8), w: on(T.w), out: on(T.dx), relu: { x: on(T.x8), slopeInv: 4 } }),
  ],
  ['linearWeightGrad', (on) => ({ g: on(T.g8), x: on(T.x8), out: on(T.gw) })],
  ['conv2dWeightGrad', (on) => ({ delta: on(T.cz), x: on(T.img), padding: 1, out: on(T.cw) })],
  ['conv2dBiasGrad', (on) => ({ delta: on(T.cz), sgd: sgd(on, { w: T.cb }) })],
  ['integerSgd', (on) => ({ w: on(T.w), grad: on(T.gw), lrInv: on(T.lrInv), amp: 1, decayInv: 8 })],
  ['confusion', (on) => ({ yhat: on(T.yhat), labels: on(T.labels), out: on(T.conf) })],
  [
    'gather',
    (on) => ({
      data: on(T.data),
      labels: on(T.dlabels),
      indices: on(T.indices),
      cursor: on(T.cursor),
      out: on(T.batch),
      outLabels: on(T.blabels),
      augment: { params: on(T.aug), pad: 1 },
    }),
  ],
  ['normalize', (on) => ({ x: on(T.nx), stats: on(T.stats), out: on(T.nout) })],
  [
    'dropout',
    (on) => ({ x: on(T.s), out: on(T.a), ratePermille: 100, seed: 7, cursor: on(T.cursor) }),
  ],
  ['advance', (on) => ({ cursor: on(T.cursor) })],
  ['fill', (on) => ({ out: on(T.whole), value: -3 })],
];

/** [what, call, a pattern the message must match after "op: "]. */
const BAD: [string, Call, RegExp][] = [
  [
    'x is i32',
    ['linear', (on) => ({ x: on(T.x32), w: on(T.w), out: on(T.z) })],
    /x32 \[2, 6\] must be i8/,
  ],
  [
    'K differs',
    ['linear', (on) => ({ x: on(T.x8), w: on(T.w5), out: on(T.z) })],
    /w5 .* must have shape \[3, 6\]/,
  ],
  [
    'bias size',
    ['linear', (on) => ({ x: on(T.x8), w: on(T.w), bias: on(T.bias4), out: on(T.z) })],
    /bias4 .* \[3\]/,
  ],
  [
    'out shape',
    ['linear', (on) => ({ x: on(T.x8), w: on(T.w), out: on(T.x32) })],
    /x32 .* \[2, 3\]/,
  ],
  [
    'raw out i8',
    ['linear', (on) => ({ x: on(T.x8), w: on(T.w), out: on(T.s) })],
    /s .* must be i32/,
  ],
  [
    'scale 0',
    ['linear', (on) => ({ x: on(T.x8), w: on(T.w), out: on(T.s), epilogue: { scale: 0 } })],
    /scale 0 must be a positive int32/,
  ],
  [
    'relu out shape',
    [
      'linear',
      (on) => ({
        x: on(T.x8),
        w: on(T.w),
        out: on(T.s),
        epilogue: { scale: 2, relu: { out: on(T.a4), slopeInv: 4 } },
      }),
    ],
    /a4 .* \[2, 3\]/,
  ],
  [
    'slope 6',
    [
      'linear',
      (on) => ({
        x: on(T.x8),
        w: on(T.w),
        out: on(T.s),
        epilogue: { scale: 2, relu: { out: on(T.a), slopeInv: 6 } },
      }),
    ],
    /slopeInv 6 is not one of/,
  ],
  [
    'padding -1',
    ['conv2d', (on) => ({ x: on(T.img), w: on(T.cw), padding: -1, out: on(T.cz3) })],
    /padding -1 must be a non-negative integer/,
  ],
  [
    'padding 0.5',
    ['conv2d', (on) => ({ x: on(T.img), w: on(T.cw), padding: 0.5, out: on(T.cz) })],
    /padding 0.5/,
  ],
  [
    'channels',
    ['conv2d', (on) => ({ x: on(T.img), w: on(T.cw1), padding: 1, out: on(T.cz) })],
    /do not fit/,
  ],
  [
    'kernel too large',
    ['conv2d', (on) => ({ x: on(T.img), w: on(T.cw7), padding: 0, out: on(T.cz) })],
    /kernel 7 is larger/,
  ],
  [
    'out shape',
    ['conv2d', (on) => ({ x: on(T.img), w: on(T.cw), padding: 0, out: on(T.cz) })],
    /cz .* \[2, 4, 3, 3\]/,
  ],
  [
    'bias size',
    ['conv2d', (on) => ({ x: on(T.img), w: on(T.cw), bias: on(T.cb3), padding: 1, out: on(T.cz) })],
    /cb3 .* \[4\]/,
  ],
  [
    'slope 6',
    [
      'conv2d',
      (on) => ({
        x: on(T.img),
        w: on(T.cw),
        padding: 1,
        out: on(T.cs),
        epilogue: { scale: 9, relu: { out: on(T.cs), slopeInv: 6 } },
      }),
    ],
    /slopeInv 6/,
  ],
  ['x is i8', ['scale', (on) => ({ x: on(T.s), out: on(T.a), scale: 3 })], /s .* must be i32/],
  [
    'scale 0',
    ['scale', (on) => ({ x: on(T.z), out: on(T.s), scale: 0 })],
    /scale 0 must be a positive int32/,
  ],
  [
    'scale 2^31',
    ['scale', (on) => ({ x: on(T.z), out: on(T.s), scale: 2 ** 31 })],
    /scale 2147483648 must be a positive int32/,
  ],
  [
    'sizes',
    ['scale', (on) => ({ x: on(T.z), out: on(T.a4), scale: 3 })],
    /z .* must have 8 elements/,
  ],
  [
    'slope 6',
    ['nitroRelu', (on) => ({ x: on(T.s), out: on(T.a), slopeInv: 6 })],
    /slopeInv 6 is not one of 3, 4, 5, 7, 8, 10, 15, 16, 20/,
  ],
  [
    'out i32',
    ['nitroRelu', (on) => ({ x: on(T.s), out: on(T.z), slopeInv: 4 })],
    /z .* must be i8/,
  ],
  ['out rows', ['nitroRelu', (on) => ({ x: on(T.s), out: on(T.a4), slopeInv: 4 })], /a4 .* rows/],
  [
    'x i32',
    ['nitroReluBackward', (on) => ({ delta: on(T.z), x: on(T.z), out: on(T.z), slopeInv: 4 })],
    /z .* must be i8/,
  ],
  [
    'sizes',
    ['nitroReluBackward', (on) => ({ delta: on(T.dx), x: on(T.s), out: on(T.z), slopeInv: 4 })],
    /dx .* must have 6 elements/,
  ],
  [
    'slope 6',
    ['nitroReluBackward', (on) => ({ delta: on(T.z), x: on(T.s), out: on(T.z), slopeInv: 6 })],
    /slopeInv 6/,
  ],
  [
    'kernel 0',
    [
      'maxPool',
      (on) => ({ x: on(T.px), kernel: [0, 2], padding: [0, 0], padMode: 'zero', out: on(T.pout) }),
    ],
    /kernel \[0, 2\] must be positive integers/,
  ],
  [
    'padding > half',
    [
      'maxPool',
      (on) => ({ x: on(T.px), kernel: [2, 2], padding: [0, 2], padMode: 'zero', out: on(T.pout) }),
    ],
    /padding \[0, 2\] must be at most half the kernel/,
  ],
  [
    'pad mode',
    [
      'maxPool',
      (on) => ({
        x: on(T.px),
        kernel: [2, 2],
        padding: [0, 0],
        padMode: 'max' as 'zero',
        out: on(T.pout),
      }),
    ],
    /unknown padMode max/,
  ],
  [
    'out shape',
    [
      'maxPool',
      (on) => ({ x: on(T.px), kernel: [2, 2], padding: [0, 0], padMode: 'zero', out: on(T.pout3) }),
    ],
    /pout3 .* \[2, 2, 2, 2\]/,
  ],
  [
    'x rank 2',
    [
      'maxPool',
      (on) => ({ x: on(T.s), kernel: [2, 2], padding: [0, 0], padMode: 'zero', out: on(T.pout) }),
    ],
    /s .* must have rank 4/,
  ],
  [
    'in place',
    [
      'maxPool',
      (on) => ({ x: on(T.px), kernel: [1, 1], padding: [0, 0], padMode: 'zero', out: on(T.px) }),
    ],
    /share storage/,
  ],
  [
    'neither',
    [
      'maxPoolBackward',
      (on) => ({ x: on(T.px), kernel: [2, 2], padding: [0, 0], padMode: 'zero', out: on(T.pback) }),
    ],
    /exactly one of delta/,
  ],
  [
    'delta size',
    [
      'maxPoolBackward',
      (on) => ({
        x: on(T.px),
        kernel: [2, 2],
        padding: [0, 0],
        padMode: 'zero',
        delta: on(T.pd3),
        out: on(T.pback),
      }),
    ],
    /pd3 .* must have 16 elements/,
  ],
  [
    'head w',
    [
      'maxPoolBackward',
      (on) => ({
        x: on(T.px),
        kernel: [2, 2],
        padding: [0, 0],
        padMode: 'zero',
        head: { g: on(T.pg), w: on(T.pw9) },
        out: on(T.pback),
      }),
    ],
    /pw9 .* \[3, 8\]/,
  ],
  [
    'slope 6',
    [
      'maxPoolBackward',
      (on) => ({
        x: on(T.px),
        kernel: [2, 2],
        padding: [0, 0],
        padMode: 'zero',
        head: { g: on(T.pg), w: on(T.pw) },
        relu: { x: on(T.px), slopeInv: 6 },
        out: on(T.pback),
      }),
    ],
    /slopeInv 6/,
  ],
  [
    'yhat i32',
    [
      'lossGradient',
      (on) => ({ yhat: on(T.yhat32), labels: on(T.labels), oneHot: 32, out: on(T.lg) }),
    ],
    /yhat32 .* must be i8/,
  ],
  [
    'labels',
    [
      'lossGradient',
      (on) => ({ yhat: on(T.yhat), labels: on(T.labels3), oneHot: 32, out: on(T.lg) }),
    ],
    /labels3 .* \[2\]/,
  ],
  [
    'oneHot 200',
    [
      'lossGradient',
      (on) => ({ yhat: on(T.yhat), labels: on(T.labels), oneHot: 200, out: on(T.lg) }),
    ],
    /oneHot 200 must be an int8/,
  ],
  [
    'metrics offset',
    [
      'lossGradient',
      (on) => ({
        yhat: on(T.yhat),
        labels: on(T.labels),
        oneHot: 32,
        out: on(T.lg),
        metrics: { tensor: on(T.metrics), offset: 4 },
      }),
    ],
    /metrics offset 4 needs three words/,
  ],
  [
    'in place',
    [
      'lossGradient',
      (on) => ({ yhat: on(T.yhat), labels: on(T.labels), oneHot: 32, out: on(T.yhat) }),
    ],
    /share storage/,
  ],
  [
    'g rank 1',
    ['linearInputGrad', (on) => ({ g: on(T.g1), w: on(T.w), out: on(T.dx) })],
    /g1 .* must have rank 2/,
  ],
  [
    'w shape',
    ['linearInputGrad', (on) => ({ g: on(T.g8), w: on(T.gw2), out: on(T.dx) })],
    /gw2 .* \[3, 3\]|dx .* \[2, 3\]/,
  ],
  [
    'out i8',
    ['linearInputGrad', (on) => ({ g: on(T.g8), w: on(T.w), out: on(T.dx8) })],
    /dx8 .* must be i32/,
  ],
  [
    'relu x shape',
    [
      'linearInputGrad',
      (on) => ({ g: on(T.g8), w: on(T.w), out: on(T.dx), relu: { x: on(T.s), slopeInv: 4 } }),
    ],
    /s .* \[2, 6\]/,
  ],
  [
    'slope 6',
    [
      'linearInputGrad',
      (on) => ({ g: on(T.g8), w: on(T.w), out: on(T.dx), relu: { x: on(T.x8), slopeInv: 6 } }),
    ],
    /slopeInv 6/,
  ],
  [
    'no target',
    ['linearWeightGrad', (on) => ({ g: on(T.g8), x: on(T.x8) })],
    /needs out .* or sgd/,
  ],
  [
    'x rows',
    ['linearWeightGrad', (on) => ({ g: on(T.g1), x: on(T.x8), out: on(T.gw) })],
    /g1 .* rank 2/,
  ],
  [
    'out shape',
    ['linearWeightGrad', (on) => ({ g: on(T.g8), x: on(T.x8), out: on(T.gw2) })],
    /gw2 .* \[3, 6\]/,
  ],
  [
    'sgd w size',
    ['linearWeightGrad', (on) => ({ g: on(T.g8), x: on(T.x8), sgd: sgd(on, { w: T.z }) })],
    /z .* must have 18 elements/,
  ],
  [
    'sgd amp 0',
    ['linearWeightGrad', (on) => ({ g: on(T.g8), x: on(T.x8), sgd: sgd(on, { amp: 0 }) })],
    /amp 0 must be a positive int32/,
  ],
  [
    'sgd decay -1',
    ['linearWeightGrad', (on) => ({ g: on(T.g8), x: on(T.x8), sgd: sgd(on, { decayInv: -1 }) })],
    /decayInv -1 must be 0 \(off\) or a positive int32/,
  ],
  [
    'sgd lrInv [2]',
    ['linearWeightGrad', (on) => ({ g: on(T.g8), x: on(T.x8), sgd: sgd(on, { lrInv: T.lrInv2 }) })],
    /lrInv2 .* must have 1 elements/,
  ],
  [
    'no target',
    ['conv2dWeightGrad', (on) => ({ delta: on(T.cz), x: on(T.img), padding: 1 })],
    /needs out .* or sgd/,
  ],
  [
    'delta shape',
    ['conv2dWeightGrad', (on) => ({ delta: on(T.cz3), x: on(T.img), padding: 1, out: on(T.cw) })],
    /cz3 .* \[2, 4, 5, 5\]/,
  ],
  [
    'padding 1.5',
    ['conv2dWeightGrad', (on) => ({ delta: on(T.cz), x: on(T.img), padding: 1.5, out: on(T.cw) })],
    /padding 1.5 must be a non-negative integer/,
  ],
  [
    'sgd amp 0',
    [
      'conv2dWeightGrad',
      (on) => ({ delta: on(T.cz), x: on(T.img), padding: 1, sgd: sgd(on, { w: T.cw, amp: 0 }) }),
    ],
    /amp 0/,
  ],
  ['no target', ['conv2dBiasGrad', (on) => ({ delta: on(T.cz) })], /needs out .* or sgd/],
  [
    'delta rank 2',
    ['conv2dBiasGrad', (on) => ({ delta: on(T.z), out: on(T.cb) })],
    /z .* must have rank 4/,
  ],
  ['out size', ['conv2dBiasGrad', (on) => ({ delta: on(T.cz), out: on(T.cb3) })], /cb3 .* \[4\]/],
  [
    'sgd w size',
    ['conv2dBiasGrad', (on) => ({ delta: on(T.cz), sgd: sgd(on, { w: T.cb3 }) })],
    /cb3 .* \[4\]/,
  ],
  [
    'grad size',
    [
      'integerSgd',
      (on) => ({ w: on(T.w), grad: on(T.z), lrInv: on(T.lrInv), amp: 1, decayInv: 0 }),
    ],
    /z .* must have 18 elements/,
  ],
  [
    'in place',
    [
      'integerSgd',
      (on) => ({ w: on(T.w), grad: on(T.w), lrInv: on(T.lrInv), amp: 1, decayInv: 0 }),
    ],
    /share storage/,
  ],
  [
    'amp 0',
    [
      'integerSgd',
      (on) => ({ w: on(T.w), grad: on(T.gw), lrInv: on(T.lrInv), amp: 0, decayInv: 0 }),
    ],
    /amp 0/,
  ],
  [
    'decayInv 0.5',
    [
      'integerSgd',
      (on) => ({ w: on(T.w), grad: on(T.gw), lrInv: on(T.lrInv), amp: 1, decayInv: 0.5 }),
    ],
    /decayInv 0.5/,
  ],
  [
    'w i8',
    [
      'integerSgd',
      (on) => ({ w: on(T.x8), grad: on(T.gw), lrInv: on(T.lrInv), amp: 1, decayInv: 0 }),
    ],
    /x8 .* must be i32/,
  ],
  [
    'out shape',
    ['confusion', (on) => ({ yhat: on(T.yhat), labels: on(T.labels), out: on(T.conf2) })],
    /conf2 .* \[3, 3\]/,
  ],
  [
    'labels i8',
    ['confusion', (on) => ({ yhat: on(T.yhat), labels: on(T.labels8), out: on(T.conf) })],
    /labels8 .* must be i32/,
  ],
  [
    'labels size',
    [
      'gather',
      (on) => ({
        data: on(T.data),
        labels: on(T.dlabels3),
        indices: on(T.indices),
        cursor: on(T.cursor),
        out: on(T.batch),
        outLabels: on(T.blabels),
      }),
    ],
    /dlabels3 .* \[4\]/,
  ],
  [
    'out rows',
    [
      'gather',
      (on) => ({
        data: on(T.data),
        labels: on(T.dlabels),
        indices: on(T.indices),
        cursor: on(T.cursor),
        out: on(T.batch3),
        outLabels: on(T.blabels),
      }),
    ],
    /batch3 .* rows/,
  ],
  [
    'cursor [2]',
    [
      'gather',
      (on) => ({
        data: on(T.data),
        labels: on(T.dlabels),
        indices: on(T.indices),
        cursor: on(T.cursor2),
        out: on(T.batch),
        outLabels: on(T.blabels),
      }),
    ],
    /cursor2 .* must have 1 elements/,
  ],
  [
    'augment [S, 4]',
    [
      'gather',
      (on) => ({
        data: on(T.data),
        labels: on(T.dlabels),
        indices: on(T.indices),
        cursor: on(T.cursor),
        out: on(T.batch),
        outLabels: on(T.blabels),
        augment: { params: on(T.aug4), pad: 1 },
      }),
    ],
    /aug4 must be \[steps, 5\]/,
  ],
  [
    'augment pad -1',
    [
      'gather',
      (on) => ({
        data: on(T.data),
        labels: on(T.dlabels),
        indices: on(T.indices),
        cursor: on(T.cursor),
        out: on(T.batch),
        outLabels: on(T.blabels),
        augment: { params: on(T.aug), pad: -1 },
      }),
    ],
    /augment pad -1/,
  ],
  [
    'stats rows',
    ['normalize', (on) => ({ x: on(T.nx), stats: on(T.statsRows), out: on(T.nout) })],
    /statsRows must be \[2, C\]/,
  ],
  [
    'channels',
    ['normalize', (on) => ({ x: on(T.nx), stats: on(T.stats3), out: on(T.nout) })],
    /nx must have 3 channels/,
  ],
  [
    'out i32',
    ['normalize', (on) => ({ x: on(T.nx), stats: on(T.stats), out: on(T.nout32) })],
    /nout32 .* must be i8/,
  ],
  [
    'rate 300',
    [
      'dropout',
      (on) => ({ x: on(T.s), out: on(T.a), ratePermille: 300, seed: 7, cursor: on(T.cursor) }),
    ],
    /rate 300 per mille is not one of 50, 100, 150, 200, 250/,
  ],
  [
    'rate 30',
    [
      'dropout',
      (on) => ({ x: on(T.s), out: on(T.a), ratePermille: 30, seed: 7, cursor: on(T.cursor) }),
    ],
    /rate 30 per mille/,
  ],
  [
    'seed 1.5',
    [
      'dropout',
      (on) => ({ x: on(T.s), out: on(T.a), ratePermille: 100, seed: 1.5, cursor: on(T.cursor) }),
    ],
    /seed 1.5 must be an integer/,
  ],
  [
    'out rows',
    [
      'dropout',
      (on) => ({ x: on(T.s), out: on(T.a4), ratePermille: 100, seed: 7, cursor: on(T.cursor) }),
    ],
    /a4 .* rows/,
  ],
  [
    'cursor [2]',
    ['advance', (on) => ({ cursor: on(T.cursor2) })],
    /cursor2 .* must have 1 elements/,
  ],
  ['cursor i8', ['advance', (on) => ({ cursor: on(T.cursor8) })], /cursor8 .* must be i32/],
  [
    'padded rows',
    ['fill', (on) => ({ out: on(T.padded), value: 3 })],
    /padded \[2, 3\] has padded rows; only 0 can be filled/,
  ],
  ['value 1.5', ['fill', (on) => ({ out: on(T.words), value: 1.5 })], /value 1.5 must be an int32/],
  [
    'i8 value 300',
    ['fill', (on) => ({ out: on(T.whole), value: 300 })],
    /value 300 must be an int8/,
  ],
];

function attempt(ops: Ops, [op, params]: Call, on: On): string | undefined {
  try {
    (ops[op] as (p: unknown) => void)(params(on));
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

describe('op contracts', () => {
  it('cover every op, each with a good call and at least two bad ones', () => {
    const ops = Object.keys(CHECKS).sort();
    expect(GOOD.map(([op]) => op).sort()).toEqual(ops);
    for (const op of ops)
      expect(BAD.filter(([, [name]]) => name === op).length, op).toBeGreaterThanOrEqual(2);
  });

  it.each(GOOD)('a good %s call runs on both backends', (_, params) => {
    const call = GOOD.find(([, p]) => p === params)!;
    expect(attempt(twins.gpu.ops, call, (t) => t.gpu)).toBeUndefined();
    expect(attempt(twins.cpu.ops, call, (t) => t.cpu)).toBeUndefined();
  });

  const bad = BAD.map(([what, call, pattern]) => [`${call[0]} ${what}`, call, pattern] as const);
  it.each(bad)('%s: the same one-line error on both backends', (_, call, pattern) => {
    const gpu = attempt(twins.gpu.ops, call, (t) => t.gpu);
    const cpu = attempt(twins.cpu.ops, call, (t) => t.cpu);
    expect(gpu, 'WebGPU throws').toBeDefined();
    expect(cpu).toBe(gpu);
    expect(gpu!.startsWith(`${call[0]}: `), gpu).toBe(true);
    expect(gpu).not.toContain('\n');
    expect(gpu).toMatch(pattern);
  });
});
