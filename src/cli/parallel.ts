/**
 * `train --workers N`: data-parallel training on local workers (CPU workers as threads, WebGPU
 * workers as processes, each with its own backend), with the same logs, checkpoints and bits
 * as one device. The coordinator keeps the weights and evaluates on a CPU backend of its own.
 */
import { CpuBackend } from '../cpu-backend.ts';
import { type BackendChoice, type BackendKind, resolveBackend } from '../backends.ts';
import { DataParallelBackend, type WorkerEvent } from '../parallel/coordinator.ts';
import { localWorkerSource } from '../parallel/local.ts';
import { intFlag, UsageError } from './args.ts';

export const PARALLEL_FLAGS = {
  workers: { type: 'string' },
  'worker-backends': { type: 'string' },
  'worker-timeout': { type: 'string' },
} as const;

export const PARALLEL_HELP = `  --workers N            train data-parallel on N local workers, each with its own backend (CPU
                         workers as threads, WebGPU workers as processes): the weights after every
                         step, the logs and the checkpoints are those of one device
  --worker-backends L    the workers' backends, comma-separated, e.g. cpu,webgpu (sets N; default:
                         --backend for every worker); the coordinator keeps the weights on the CPU
  --worker-timeout MS    a worker silent for MS is dropped and its rows re-split (default 60000)`;

/** What the parallel flags ask for (undefined: one device). */
export interface ParallelPlan {
  /** Backend choice per worker (`auto` resolved when the workers start). */
  backends: BackendChoice[];
  timeoutMs: number;
}

export function parallelPlan(
  command: string,
  flags: Record<string, unknown>,
  backendChoice: BackendChoice,
): ParallelPlan | undefined {
  const list = flags['worker-backends'];
  if (flags.workers === undefined && list === undefined) {
    if (flags['worker-timeout'] !== undefined)
      throw new UsageError(`${command}: --worker-timeout needs --workers or --worker-backends`);
    return undefined;
  }
  let backends: BackendChoice[];
  if (typeof list === 'string') {
    backends = list.split(',').map((s) => s.trim()) as BackendChoice[];
    for (const b of backends)
      if (b !== 'cpu' && b !== 'webgpu' && b !== 'auto')
        throw new UsageError(
          `${command}: --worker-backends must list auto, webgpu or cpu, comma-separated; got '${b}' in '${list}'`,
        );
    if (flags.workers !== undefined) {
      const n = intFlag(command, flags, 'workers', 1, 1, 256);
      if (n !== backends.length)
        throw new UsageError(
          `${command}: --workers ${n} but --worker-backends names ${backends.length} workers`,
        );
    }
  } else {
    const n = intFlag(command, flags, 'workers', 1, 1, 256);
    backends = Array.from({ length: n }, () => backendChoice);
  }
  return { backends, timeoutMs: intFlag(command, flags, 'worker-timeout', 60_000, 1) };
}

/** The coordinator backend over started local workers, and the header line naming them. */
export async function openParallelBackend(
  plan: ParallelPlan,
  spec: unknown,
  onEvent: (e: WorkerEvent) => void,
  verbose = false,
): Promise<{ backend: DataParallelBackend; line: string; kinds: BackendKind[] }> {
  const kinds: BackendKind[] = [];
  for (const b of plan.backends) kinds.push((await resolveBackend(b, { verbose })).kind);
  const host = await CpuBackend.create();
  const backend = await DataParallelBackend.start(host, {
    source: localWorkerSource({ backends: kinds }),
    workers: kinds.length,
    spec,
    timeoutMs: plan.timeoutMs,
    onEvent,
  });
  const workers = backend.workers.map((w) => `${w.label} on ${w.device}`).join('; ');
  const line = `data-parallel on ${kinds.length} local workers: ${workers}; the coordinator keeps the weights on ${host.description}`;
  return { backend, line, kinds };
}

/** A worker event as the run's log line says it. */
export function workerEventLine(e: WorkerEvent): string {
  if (e.kind === 'joined') return `${e.worker} joined (${e.backend} on ${e.device})`;
  return `${e.worker} ${e.reason} at step ${e.cursor + 1}: dropped, its rows re-split among the others`;
}
