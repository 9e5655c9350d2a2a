/** The WebGPU implementation of every op: one wrapper per shader family. */
import type { Ops } from '../backend.ts';
import type { KernelContext } from '../kernels/context.ts';
import { type ChunkOptions, chunkedOps } from './chunked.ts';
import { conv2d, conv2dBiasGrad, conv2dWeightGrad } from './conv/gpu.ts';
import { linear, linearInputGrad, linearWeightGrad } from './linear/gpu.ts';
import { nitroRelu, nitroReluBackward, scale } from './activation/gpu.ts';
import { dropout, gather, normalize } from './data/gpu.ts';
import { confusion, lossGradient } from './loss/gpu.ts';
import { advance, fill } from './misc/gpu.ts';
import { maxPool, maxPoolBackward } from './pool/gpu.ts';
import { integerSgd } from './sgd/gpu.ts';

/**
 * The WebGPU ops on `ctx`: each op's kernels, run in chunks of the batch where a binding would
 * exceed the context's maxStorageBufferBindingSize (src/ops/chunked.ts).
 */
export function createGpuOps(ctx: KernelContext, options: ChunkOptions = {}): Ops {
  return chunkedOps(ctx, kernelOps, options);
}

/** Each op's kernels, binding every tensor whole. */
function kernelOps(ctx: KernelContext): Ops {
  return {
    linear: (p) => linear(ctx, p),
    conv2d: (p) => conv2d(ctx, p),
    scale: (p) => scale(ctx, p),
    nitroRelu: (p) => nitroRelu(ctx, p),
    nitroReluBackward: (p) => nitroReluBackward(ctx, p),
    maxPool: (p) => maxPool(ctx, p),
    maxPoolBackward: (p) => maxPoolBackward(ctx, p),
    lossGradient: (p) => lossGradient(ctx, p),
    linearInputGrad: (p) => linearInputGrad(ctx, p),
    linearWeightGrad: (p) => linearWeightGrad(ctx, p),
    conv2dWeightGrad: (p) => conv2dWeightGrad(ctx, p),
    conv2dBiasGrad: (p) => conv2dBiasGrad(ctx, p),
    integerSgd: (p) => integerSgd(ctx, p),
    confusion: (p) => confusion(ctx, p),
    gather: (p) => gather(ctx, p),
    normalize: (p) => normalize(ctx, p),
    dropout: (p) => dropout(ctx, p),
    advance: (p) => advance(ctx, p),
    fill: (p) => fill(ctx, p),
  };
}
