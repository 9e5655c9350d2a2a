/** Making the backend a command asked for, and the line that says which it is and why. */
import type { Backend } from '../backend.ts';
import {
  type BackendChoice,
  type BackendDecision,
  type BackendKind,
  createBackend,
  resolveBackend,
} from '../backends.ts';
import { adapterName, type DeviceOptions } from '../gpu/device.ts';
import { WebGPUBackend } from '../gpu/webgpu-backend.ts';
import { backendFlag, threadsFlag } from './args.ts';

export interface OpenedBackend {
  backend: Backend;
  decision: BackendDecision;
  /** e.g. "cpu on CPU (WebAssembly SIMD kernels); auto: no hardware GPU adapter, ..." */
  line: string;
}

export function backendLine(backend: Backend, decision: BackendDecision): string {
  const device = backend instanceof WebGPUBackend ? adapterName(backend.info) : backend.description;
  const why = decision.reason === 'requested' ? 'requested with --backend' : decision.reason;
  return `${decision.kind} on ${device}; ${why}`;
}

/**
 * Resolves --backend (default `fallback`), --threads and --verbose, then makes the backend. `check` runs
 * once the kind is known and before anything is allocated (the memory plan against the
 * backend's capacity).
 */
export async function openBackend(
  command: string,
  flags: Record<string, unknown>,
  options: DeviceOptions = {},
  fallback: BackendChoice = 'auto',
  check?: (kind: BackendKind) => void,
): Promise<OpenedBackend> {
  const verbose = Boolean(flags.verbose);
  const decision = await resolveBackend(backendFlag(command, flags, fallback), { verbose });
  check?.(decision.kind);
  const threads = threadsFlag(command, flags);
  const backend = await createBackend(decision.kind, { ...options, verbose, threads });
  return { backend, decision, line: backendLine(backend, decision) };
}
