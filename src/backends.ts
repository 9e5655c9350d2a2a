/**
 * Picking a backend by name: the WebGPU engine, the CPU reference, or `auto` (the default):
 * WebGPU on a hardware adapter, the CPU backend when the only adapter is a software fallback
 * (the CPU backend is several times faster than WebGPU on a CPU, and gives the same bits).
 */
import type { Backend } from './backend.ts';
import { CpuBackend } from './cpu-backend.ts';
import { type DeviceOptions, isSoftwareAdapter, probeAdapter } from './gpu/device.ts';
import { WebGPUBackend } from './gpu/webgpu-backend.ts';

/** A backend by name: the WebGPU engine or the CPU reference. */
export type BackendKind = 'webgpu' | 'cpu';
/** What a caller may ask for: a backend by name, or `auto` (WebGPU on a hardware adapter, else the CPU backend). */
export type BackendChoice = BackendKind | 'auto';
/** Every {@link BackendChoice}, in the order help texts list them. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'cpu'];

/** The backend a {@link BackendChoice} resolved to on this machine, and why. */
export interface BackendDecision {
  kind: BackendKind;
  /** Why, in a few words: "requested", or what `auto` saw. */
  reason: string;
}

/**
 * What `choice` means on this machine. For `auto` the decision comes from `requestAdapter`
 * alone: no GPU device is made, so CPU training never holds one.
 */
export async function resolveBackend(
  choice: BackendChoice = 'auto',
  options: DeviceOptions = {},
): Promise<BackendDecision> {
  if (choice === 'webgpu' || choice === 'cpu') return { kind: choice, reason: 'requested' };
  if (choice !== 'auto')
    throw new Error(`unknown backend '${choice as string}' (expected auto, webgpu or cpu)`);
  const { adapter, missing } = await probeAdapter(options);
  if (!adapter) return { kind: 'cpu', reason: `auto: ${missing}` };
  const name =
    [adapter.vendor, adapter.architecture, adapter.description || adapter.device]
      .filter((s) => s)
      .join(' / ') || 'unknown adapter';
  if (isSoftwareAdapter(adapter))
    return {
      kind: 'cpu',
      reason: `auto: the only WebGPU adapter, ${name}, is a software fallback; --backend webgpu uses it`,
    };
  return { kind: 'webgpu', reason: `auto: hardware adapter ${name}` };
}

/** Options of {@link createBackend}: the WebGPU adapter's, and the CPU backend's threads. */
export interface BackendOptions extends DeviceOptions {
  /** CPU backend: threads its products split over (default defaultCpuThreads()). */
  threads?: number;
}

/**
 * Creates a backend by name (default `auto`); `options` choose the WebGPU adapter or the CPU
 * backend's threads.
 */
export async function createBackend(
  kind: BackendChoice = 'auto',
  options: BackendOptions = {},
): Promise<Backend> {
  const resolved = kind === 'auto' ? (await resolveBackend(kind, options)).kind : kind;
  if (resolved === 'cpu') return CpuBackend.create({ threads: options.threads });
  if (resolved === 'webgpu') return WebGPUBackend.create(options);
  throw new Error(`unknown backend '${kind as string}' (expected auto, webgpu or cpu)`);
}
