/** Picking a backend by name: the WebGPU engine (default) or the CPU reference. */
import type { Backend } from './backend.ts';
import { CpuBackend } from './cpu-backend.ts';
import type { DeviceOptions } from './gpu/device.ts';
import { WebGPUBackend } from './gpu/webgpu-backend.ts';

export type BackendKind = 'webgpu' | 'cpu';

export async function createBackend(
  kind: BackendKind = 'webgpu',
  options: DeviceOptions = {},
): Promise<Backend> {
  if (kind === 'cpu') return CpuBackend.create();
  if (kind === 'webgpu') return WebGPUBackend.create(options);
  throw new Error(`unknown backend '${kind as string}' (expected webgpu or cpu)`);
}
