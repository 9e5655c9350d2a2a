/**
 * The GEMM kernel variants of a backend, reached from the generic `Backend` type: a WebGPU
 * backend owns its forced and tuned choices (src/kernels/gemm-tiles.ts `GemmVariants`); other
 * backends have one kernel per op, so forcing runs `f` unchanged and tuning installs nothing.
 */
import type { Backend } from '../backend.ts';
import type { GemmOp, GemmVariants, VariantChoice } from '../kernels/gemm-tiles.ts';
import { WebGPUBackend } from './webgpu-backend.ts';

/** The backend's variant policy, or undefined when it has no kernel variants. */
export function gemmVariants(backend: Backend): GemmVariants | undefined {
  return backend instanceof WebGPUBackend ? backend.variants : undefined;
}

/**
 * Runs `f` with `choice` forced for `op` on `backend` (undefined: no forcing). Ops issued inside
 * `f` use it; a recorded program keeps the pipelines it was recorded with.
 */
export function withForcedVariant<T>(
  backend: Backend,
  op: GemmOp,
  choice: VariantChoice | undefined,
  f: () => T,
): T {
  const v = gemmVariants(backend);
  return v ? v.withForced(op, choice, f) : f();
}

/** Installs tuned choices (shape key -> variant label) on `backend`; unknown labels are ignored. */
export function setTunedVariants(
  backend: Backend,
  choices: Readonly<Record<string, string>>,
): void {
  gemmVariants(backend)?.setTuned(choices);
}

/** The tuned choices installed on `backend` (empty when none or no variants). */
export function tunedVariants(backend: Backend): Record<string, string> {
  return gemmVariants(backend)?.tuned() ?? {};
}
