/** The WebGPU implementation of every op: one wrapper per shader family. */
import type { Ops } from '../backend.ts';
import type { KernelContext } from './context.ts';
import { nitroRelu, nitroReluBackward, scale } from './activation.ts';
import { dropout, gather, normalize } from './data.ts';
import { confusion, lossGradient } from './loss.ts';
import { advance, fill } from './misc.ts';
import { maxPool, maxPoolBackward } from './pool.ts';
import { integerSgd } from './sgd.ts';

function notYet(name: string): never {
  throw new Error(`op ${name} is not implemented on the WebGPU backend`);
}

export function createGpuOps(ctx: KernelContext): Ops {
  return {
    linear: () => notYet('linear'),
    conv2d: () => notYet('conv2d'),
    scale: (p) => scale(ctx, p),
    nitroRelu: (p) => nitroRelu(ctx, p),
    nitroReluBackward: (p) => nitroReluBackward(ctx, p),
    maxPool: (p) => maxPool(ctx, p),
    maxPoolBackward: (p) => maxPoolBackward(ctx, p),
    lossGradient: (p) => lossGradient(ctx, p),
    linearInputGrad: () => notYet('linearInputGrad'),
    linearWeightGrad: () => notYet('linearWeightGrad'),
    conv2dWeightGrad: () => notYet('conv2dWeightGrad'),
    integerSgd: (p) => integerSgd(ctx, p),
    confusion: (p) => confusion(ctx, p),
    gather: (p) => gather(ctx, p),
    normalize: (p) => normalize(ctx, p),
    dropout: (p) => dropout(ctx, p),
    advance: (p) => advance(ctx, p),
    fill: (p) => fill(ctx, p),
  };
}
