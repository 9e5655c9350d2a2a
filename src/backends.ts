/** Picking a backend by name: the WebGPU engine (default) or the CPU reference. */
import type { Backend } from './backend.ts';
import { CpuBackend } from './cpu/cpu-backend.ts';
import type { DeviceOptions } from './gpu/device.ts';
import { WebGPUBackend } from './gpu/webgpu-backend.ts';

/** A backend by name: the WebGPU engine or the CPU reference. */
export type BackendKind = 'webgpu' | 'cpu';

/** Creates a backend by name (default WebGPU); `options` choose the WebGPU adapter. */
export async function createBackend(
  kind: BackendKind = 'webgpu',
  options: DeviceOptions = {},
): Promise<Backend> {
  if (kind === 'cpu') return CpuBackend.create();
  if (kind === 'webgpu') return WebGPUBackend.create(options);
  throw new Error(`unknown backend '${kind as string}' (expected webgpu or cpu)`);
}
