/**
 * A kernel context that compiles and runs nothing: the WebGPU kernel wrappers run against it to
 * size their device scratch for a model (the memory plan) without a device. Its device stand-in
 * only remembers buffer sizes; the limits are unbounded so a plan reports sizes instead of
 * refusing them (checkFits compares them with the adapter's).
 */
import type { KernelContext } from './context.ts';
import { GemmVariants } from './gemm-tiles.ts';
import type { Kernel } from './pipelines.ts';
import { DeviceScratch } from './scratch.ts';
import { checkKernel } from './shaders.ts';

const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/** The limits a plan splits bindings for (the adapter's, or forced ones). */
export interface BindingLimits {
  maxStorageBufferBindingSize: number;
  minStorageBufferOffsetAlignment?: number;
}

/**
 * `variants`: the policy whose choices the plan sizes for (a backend's; default: the defaults).
 * `bindings`: the binding limits the kernels split their tensors for (see src/ops/chunked.ts);
 * default unbounded, so nothing is split. Scratch roles are never refused here.
 */
export function planningContext(
  variants: GemmVariants = new GemmVariants(),
  bindings?: BindingLimits,
): KernelContext {
  const unbounded = {
    maxStorageBufferBindingSize: UNBOUNDED,
    maxBufferSize: UNBOUNDED,
    maxComputeWorkgroupsPerDimension: UNBOUNDED,
    minStorageBufferOffsetAlignment: 256,
  };
  const limits = {
    ...unbounded,
    maxStorageBufferBindingSize: bindings?.maxStorageBufferBindingSize ?? UNBOUNDED,
    minStorageBufferOffsetAlignment: bindings?.minStorageBufferOffsetAlignment ?? 256,
  };
  const device = {
    limits: unbounded,
    createBuffer: (d: GPUBufferDescriptor) => ({
      size: d.size,
      label: d.label ?? '',
      destroy() {},
    }),
    queue: { writeBuffer() {} },
  } as unknown as GPUDevice;
  return {
    device,
    limits: limits as unknown as GPUSupportedLimits,
    scratch: new DeviceScratch(device),
    variants,
    kernel: (shader, entry, overrides = {}) => {
      checkKernel(shader, entry, overrides);
      return { name: `${shader.family}/${entry}` } as Kernel;
    },
    dispatch() {},
  };
}
