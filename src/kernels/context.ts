/**
 * What a kernel wrapper needs from the WebGPU backend: pipelines from the cache, bind groups
 * built by binding name, and a place to record its dispatches. A wrapper turns an op's
 * tensors and shapes into (pipeline, bind group, workgroup count); it never submits.
 */
import type { Tensor } from '../backend.ts';
import type { GemmVariants } from './gemm-tiles.ts';
import type { Kernel } from './pipelines.ts';
import type { OverrideValues, Shader } from './shaders.ts';
import type { DeviceScratch, ScratchRole } from './scratch.ts';

export interface Dispatch {
  kernel: Kernel;
  workgroups: readonly [number, number, number];
  /** The bind group, made at the first call (at the first submit: scratch roles resolve then). */
  bindGroup(): GPUBindGroup;
}

/** What a binding can take: a tensor, a raw buffer, or a kernel scratch role. */
export type Resource = Tensor | GPUBuffer | ScratchRole;

export interface KernelContext {
  readonly device: GPUDevice;
  readonly limits: GPUSupportedLimits;
  /** The backend's kernel scratch and uniform constants. */
  readonly scratch: DeviceScratch;
  /** The backend's GEMM variant policy (forced and tuned choices). */
  readonly variants: GemmVariants;
  /** A cached pipeline for entry point `entry` of `shader`, with these override constants. */
  kernel<E extends string, O extends string>(
    shader: Shader<E, O>,
    entry: NoInfer<E>,
    overrides?: NoInfer<OverrideValues<O>>,
  ): Kernel;
  /** Records one dispatch; `resources` maps WGSL binding names to what they bind. */
  dispatch(
    kernel: Kernel,
    resources: Record<string, Resource>,
    workgroups: readonly [number, number, number],
  ): void;
}

/**
 * Workgroup counts for `n` independent items at `perGroup` items a workgroup, folded into 2D
 * when x would exceed the per-dimension limit. Kernels recover the flat index as
 * `gid.x + gid.y * num_workgroups.x * WG`.
 */
export function grid1d(n: number, perGroup: number, maxPerDim = 65535): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / perGroup));
  if (groups <= maxPerDim) return [groups, 1, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y, 1];
}
