/**
 * Times the linear and conv kernels at the paper's shapes on this machine's WebGPU adapter.
 *
 *   npx vite-node scripts/kernel-timing.ts [-- options]
 *     --only REGEX     cases whose name matches
 *     --reps N         dispatches per timed submission (default: enough for ~0.3 s)
 *     --rounds N       timed submissions per variant, alternating variants (default 5)
 *     --baseline REV   also time the kernels of git revision REV (its shaders and dispatch
 *                      geometry), interleaved with the current ones in the same process, so
 *                      both see the same machine load
 *     --variants       also time every kernel variant of the current code (forced one by one)
 *
 * Prints per case the minimum and median milliseconds per op over the rounds. The machine may
 * be shared with other work: compare numbers from one run only.
 */
import { execFileSync } from 'node:child_process';
import type { Ops, Tensor } from '../src/backend.ts';
import { bufferOf, type GpuTensor, WebGPUBackend } from '../src/gpu/webgpu-backend.ts';
import { type Kernel, PipelineCache } from '../src/kernels/pipelines.ts';
import { Rng } from '../src/rng.ts';
import { runMs } from '../src/bench/timing.ts';
import { withForcedVariant } from '../src/gpu/variants.ts';
import { type VariantChoice, variantsOf } from '../src/kernels/gemm-tiles.ts';

interface Args {
  only?: RegExp;
  reps?: number;
  rounds: number;
  baseline?: string;
  variants: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { rounds: 5, variants: false };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    if (v === '--only') a.only = new RegExp(argv[++i]);
    else if (v === '--reps') a.reps = Number(argv[++i]);
    else if (v === '--rounds') a.rounds = Number(argv[++i]);
    else if (v === '--baseline') a.baseline = argv[++i];
    else if (v === '--variants') a.variants = true;
    else if (v !== '--') throw new Error(`kernel-timing: unknown option ${v}`);
  }
  return a;
}

type Op = 'linear' | 'linearInputGrad' | 'linearWeightGrad' | 'conv2d' | 'conv2dWeightGrad';

interface Case {
  name: string;
  op: Op;
  /** Multiply-adds of one op (for the GMAC/s column). */
  macs: number;
  /** Allocates and fills the tensors; returns the op issue function and the tensors by binding role. */
  make(b: WebGPUBackend, rng: Rng): Made;
}

interface Made {
  issue(ops: Ops): void;
  t: Record<string, Tensor>;
  dims: Record<string, number>;
}

function fill(
  b: WebGPUBackend,
  rng: Rng,
  shape: number[],
  dtype: 'i8' | 'i32',
  lo: number,
  hi: number,
  label: string,
): Tensor {
  const t = b.tensor(shape, dtype, label);
  const n = shape.reduce((p, q) => p * q, 1);
  const v = new Int32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.int(lo, hi);
  b.write(t, v);
  return t;
}

// Weights as in training: Kaiming-style init keeps |w| small (docs/algorithm.md: bound <= 64).
const W_LO = -64;
const W_HI = 64;

function linearCase(name: string, B: number, K: number, O: number, relu: boolean): Case {
  return {
    name,
    op: 'linear',
    macs: B * K * O,
    make(b, rng) {
      const x = fill(b, rng, [B, K], 'i8', -127, 127, 'x');
      const w = fill(b, rng, [O, K], 'i32', W_LO, W_HI, 'w');
      const bias = fill(b, rng, [O], 'i32', -1000, 1000, 'bias');
      const s = b.tensor([B, O], 'i8', 's');
      const a = b.tensor([B, O], 'i8', 'a');
      const scale = 64 * K;
      return {
        issue: (ops) =>
          ops.linear({
            x,
            w,
            bias,
            out: s,
            epilogue: relu ? { scale, relu: { out: a, slopeInv: 10 } } : { scale },
          }),
        t: { x, w, bias, s, a },
        dims: { B, K, O, relu: relu ? 1 : 0, SF: scale },
      };
    },
  };
}

function inputGradCase(name: string, B: number, O: number, K: number, g8: boolean): Case {
  return {
    name,
    op: 'linearInputGrad',
    macs: B * K * O,
    make(b, rng) {
      const g = g8
        ? fill(b, rng, [B, O], 'i8', -127, 127, 'g')
        : fill(b, rng, [B, O], 'i32', -3000, 3000, 'g');
      const w = fill(b, rng, [O, K], 'i32', W_LO, W_HI, 'w');
      const out = b.tensor([B, K], 'i32', 'dx');
      return {
        issue: (ops) => ops.linearInputGrad({ g, w, out }),
        t: { g, w, z: out },
        dims: { B, K, O, g8: g8 ? 1 : 0 },
      };
    },
  };
}

/** With `sgd`, the weight gradient updates weights in place by IntegerSGD, as training runs it. */
function weightGradCase(
  name: string,
  B: number,
  O: number,
  K: number,
  g8: boolean,
  sgd = false,
): Case {
  return {
    name,
    op: 'linearWeightGrad',
    macs: B * K * O,
    make(b, rng) {
      const g = g8
        ? fill(b, rng, [B, O], 'i8', -127, 127, 'g')
        : fill(b, rng, [B, O], 'i32', -3000, 3000, 'g');
      const x = fill(b, rng, [B, K], 'i8', -127, 127, 'x');
      const out = b.tensor([O, K], 'i32', 'dw');
      const dims = { B, K, O, g8: g8 ? 1 : 0 };
      if (sgd) {
        const lrInv = fill(b, rng, [1], 'i32', 512, 512, 'lrInv');
        const update = { w: out, lrInv, amp: g8 ? 1 : 640, decayInv: 12000 };
        return {
          issue: (ops) => ops.linearWeightGrad({ g, x, sgd: update }),
          t: { g, x, z: out },
          dims,
        };
      }
      return { issue: (ops) => ops.linearWeightGrad({ g, x, out }), t: { g, x, z: out }, dims };
    },
  };
}

function convCase(name: string, B: number, C: number, H: number, F: number, grad: boolean): Case {
  const k = 3;
  const pad = 1;
  return {
    name,
    op: grad ? 'conv2dWeightGrad' : 'conv2d',
    macs: B * F * H * H * C * k * k,
    make(b, rng): Made {
      const x = fill(b, rng, [B, C, H, H], 'i8', -127, 127, 'x');
      if (grad) {
        const delta = fill(b, rng, [B, F, H, H], 'i32', -3000, 3000, 'delta');
        const out = b.tensor([F, C, k, k], 'i32', 'dw');
        return {
          issue: (ops) => ops.conv2dWeightGrad({ delta, x, padding: pad, out }),
          t: { x, delta, z: out },
          dims: { B, C, H, W: H, F, KS: k, PAD: pad },
        };
      }
      const w = fill(b, rng, [F, C, k, k], 'i32', W_LO, W_HI, 'w');
      const bias = fill(b, rng, [F], 'i32', -1000, 1000, 'bias');
      const s = b.tensor([B, F, H, H], 'i8', 's');
      const a = b.tensor([B, F, H, H], 'i8', 'a');
      const scale = 64 * C * k * k;
      return {
        issue: (ops) =>
          ops.conv2d({
            x,
            w,
            bias,
            padding: pad,
            out: s,
            epilogue: { scale, relu: { out: a, slopeInv: 10 } },
          }),
        t: { x, w, bias, s, a },
        dims: { B, C, H, W: H, F, KS: k, PAD: pad, relu: 1, SF: scale },
      };
    },
  };
}

/** MLP2 (784-200-100-50-10, batch 64) and the 3x3 convolutions of VGG8B on 28x28 (batch 8). */
const CASES: Case[] = [
  linearCase('mlp2 fwd 784->200', 64, 784, 200, true),
  linearCase('mlp2 fwd 200->100', 64, 200, 100, true),
  linearCase('mlp2 fwd 100->50', 64, 100, 50, true),
  linearCase('mlp2 out/head 200->10', 64, 200, 10, false),
  inputGradCase('mlp2 head dx 10->200 (g i8)', 64, 10, 200, true),
  weightGradCase('mlp2 dW 200x784 (g i32)', 64, 200, 784, false),
  weightGradCase('mlp2 dW 100x200 (g i32)', 64, 100, 200, false),
  weightGradCase('mlp2 dW+sgd 200x784 (g i32)', 64, 200, 784, false, true),
  weightGradCase('mlp2 dW+sgd 100x200 (g i32)', 64, 100, 200, false, true),
  weightGradCase('mlp2 head dP 10x200 (g i8)', 64, 10, 200, true),
  convCase('vgg8b conv 1->128 @28', 8, 1, 28, 128, false),
  convCase('vgg8b conv 128->256 @28', 8, 128, 28, 256, false),
  convCase('vgg8b conv 256->256 @14', 8, 256, 14, 256, false),
  convCase('vgg8b conv 256->512 @14', 8, 256, 14, 512, false),
  convCase('vgg8b conv 512->512 @7', 8, 512, 7, 512, false),
  convCase('vgg8b dW 1->128 @28', 8, 1, 28, 128, true),
  convCase('vgg8b dW 128->256 @28', 8, 128, 28, 256, true),
  convCase('vgg8b dW 256->256 @14', 8, 256, 14, 256, true),
  convCase('vgg8b dW 256->512 @14', 8, 256, 14, 512, true),
  convCase('vgg8b dW 512->512 @7', 8, 512, 7, 512, true),
];

// ---------------------------------------------------------------------------------------------
// Baseline: the kernels of an older revision, dispatched with that revision's geometry (the
// committed 4x4-block linear kernels and direct conv kernels).

interface Encoded {
  kernel: Kernel;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
}

function grid1d(n: number, perGroup: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / perGroup));
  if (groups <= 65535) return [groups, 1, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y, 1];
}

function bindGroupFor(device: GPUDevice, k: Kernel, res: Record<string, Tensor>): GPUBindGroup {
  const entries: GPUBindGroupEntry[] = [];
  for (const [name, slot] of k.slots) {
    const t = res[name];
    if (!t) throw new Error(`baseline ${k.name}: nothing bound to ${name}`);
    entries.push({
      binding: slot.binding,
      resource: { buffer: bufferOf(t), size: Math.max(4, (t as GpuTensor).byteLength) },
    });
  }
  return device.createBindGroup({ layout: k.layout, entries });
}

function baselineDispatch(
  b: WebGPUBackend,
  cache: PipelineCache,
  rev: string,
  c: Case,
  made: Made,
): Encoded {
  const src = (file: string) =>
    execFileSync('git', ['show', `${rev}:shaders/${file}`], { encoding: 'utf8' });
  const d = made.dims;
  const t = made.t;
  const words = (n: number) => Math.ceil(n / 4);
  const epi = (relu: number, SF: number) => ({ SF, ...(relu ? { SLOPE_INV: 10, CORR: 0 } : {}) });
  let kernel: Kernel;
  let res: Record<string, Tensor>;
  let wg: [number, number, number];
  if (c.op === 'linear') {
    const o = {
      WG: 64,
      B: d.B,
      K: d.K,
      O: d.O,
      KW: words(d.K),
      OW: words(d.O),
      HAS_BIAS: 1,
      ...epi(d.relu, d.SF),
    };
    kernel = cache.get('linear', src('linear.wgsl'), d.relu ? 'forward_relu' : 'forward_scaled', o);
    res = { x: t.x, w: t.w, bias: t.bias, s: t.s, a: t.a };
    wg = grid1d(words(d.O) * words(d.B), 64);
  } else if (c.op === 'linearInputGrad' || c.op === 'linearWeightGrad') {
    const o = { WG: 64, B: d.B, K: d.K, O: d.O, KW: words(d.K), OW: words(d.O), G_PACKED: d.g8 };
    const input = c.op === 'linearInputGrad';
    kernel = cache.get('linear', src('linear.wgsl'), input ? 'input_grad' : 'weight_grad', o);
    res = input ? { g: t.g, w: t.w, z: t.z } : { g: t.g, x: t.x, z: t.z };
    wg = grid1d(input ? words(d.K) * words(d.B) : words(d.K) * words(d.O), 64);
  } else {
    const HO = d.H + 2 * d.PAD - d.KS + 1;
    const g = { ...d, HO, WO: HO, XW: words(d.C * d.H * d.W), OUTW: words(d.F * HO * HO) };
    delete (g as Record<string, number>).relu;
    delete (g as Record<string, number>).SF;
    if (c.op === 'conv2d') {
      kernel = cache.get('conv', src('conv.wgsl'), 'forward_relu', {
        WG: 64,
        ...g,
        HAS_BIAS: 1,
        ...epi(1, d.SF),
      });
      res = { x: t.x, w: t.w, bias: t.bias, s: t.s, a: t.a };
      wg = grid1d(d.B * g.OUTW, 64);
    } else {
      kernel = cache.get('conv', src('conv.wgsl'), 'weight_grad', { WG: 64, ...g });
      res = { delta: t.delta, x: t.x, z: t.z };
      wg = grid1d(d.F * d.C * d.KS * d.KS, 64);
    }
  }
  return { kernel, bindGroup: bindGroupFor(b.device, kernel, res), workgroups: wg };
}

function submitEncoded(b: WebGPUBackend, e: Encoded, reps: number): void {
  const encoder = b.device.createCommandEncoder();
  for (let r = 0; r < reps; r++) {
    const pass = encoder.beginComputePass();
    pass.setPipeline(e.kernel.pipeline);
    pass.setBindGroup(0, e.bindGroup);
    pass.dispatchWorkgroups(...e.workgroups);
    pass.end();
  }
  b.device.queue.submit([encoder.finish()]);
}

// ---------------------------------------------------------------------------------------------

interface Timed {
  label: string;
  /** Submits `reps` runs of the op. */
  submit(reps: number): void;
  ms: number[];
}

function timeOnce(b: WebGPUBackend, v: Timed, reps: number): Promise<number> {
  return runMs(b, (times) => v.submit(times), reps);
}

const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const b = await WebGPUBackend.create();
  const cache = new PipelineCache(b.device, b.errors);
  console.log(`adapter: ${b.description}`);
  console.log(`| case | variant | min ms | median ms | GMAC/s (min) |`);
  console.log(`|---|---|---:|---:|---:|`);
  for (const c of CASES) {
    if (args.only && !args.only.test(c.name)) continue;
    const rng = new Rng(7);
    const made = c.make(b, rng);
    const variants: Timed[] = [];
    if (args.baseline) {
      const e = baselineDispatch(b, cache, args.baseline, c, made);
      variants.push({
        label: `baseline ${args.baseline}`,
        submit: (reps) => submitEncoded(b, e, reps),
        ms: [],
      });
    }
    const choices: (VariantChoice | undefined)[] = [undefined];
    if (args.variants) choices.push(...variantsOf(c.op));
    for (const choice of choices) {
      const program = withForcedVariant(b, c.op, choice, () =>
        b.record(c.name, (ops) => made.issue(ops)),
      );
      variants.push({
        label: choice ? choice.label : 'current (default)',
        submit: (reps) => b.run(program, reps),
        ms: [],
      });
    }
    // Warm up (pipeline compilation) and pick the repetition count.
    // Repetitions: about 0.3 s for the slowest variant.
    let reps = args.reps ?? 50;
    for (const v of variants) {
      const one = await timeOnce(b, v, 1);
      if (!args.reps) reps = Math.min(reps, Math.max(1, Math.round(300 / Math.max(one, 0.01))));
    }
    for (let r = 0; r < args.rounds; r++) {
      for (const v of variants) v.ms.push(await timeOnce(b, v, reps));
    }
    for (const v of variants) {
      const best = Math.min(...v.ms);
      console.log(
        `| ${c.name} | ${v.label} | ${fmt(best)} | ${fmt(median(v.ms))} | ${(c.macs / best / 1e6).toFixed(2)} |`,
      );
    }
    for (const t of Object.values(made.t)) b.dispose(t);
  }
  b.destroy();
}

await main();
