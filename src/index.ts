/** nitro-d: integer-only training of NITRO-D networks on WebGPU (and a CPU reference backend). */
export * from './backend.ts';
export { WebGPUBackend } from './gpu/webgpu-backend.ts';
export { createGpuContext, adapterName, type DeviceInfo, WebGPUUnavailableError } from './gpu/device.ts';
export { Rng } from './rng.ts';
