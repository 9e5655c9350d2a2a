/** The WebGPU implementation of every op: one wrapper per shader family. */
import type { Ops } from '../backend.ts';
import type { KernelContext } from './context.ts';
import { advance, fill } from './misc.ts';

function notYet(name: string): never {
  throw new Error(`op ${name} is not implemented on the WebGPU backend`);
}

export function createGpuOps(ctx: KernelContext): Ops {
  return {
    linear: () => notYet('linear'),
    conv2d: () => notYet('conv2d'),
    scale: () => notYet('scale'),
    nitroRelu: () => notYet('nitroRelu'),
    nitroReluBackward: () => notYet('nitroReluBackward'),
    maxPool: () => notYet('maxPool'),
    maxPoolBackward: () => notYet('maxPoolBackward'),
    lossGradient: () => notYet('lossGradient'),
    linearInputGrad: () => notYet('linearInputGrad'),
    linearWeightGrad: () => notYet('linearWeightGrad'),
    conv2dWeightGrad: () => notYet('conv2dWeightGrad'),
    integerSgd: () => notYet('integerSgd'),
    confusion: () => notYet('confusion'),
    gather: () => notYet('gather'),
    normalize: () => notYet('normalize'),
    dropout: () => notYet('dropout'),
    advance: (p) => advance(ctx, p),
    fill: (p) => fill(ctx, p),
  };
}
