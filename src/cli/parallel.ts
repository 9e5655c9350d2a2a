/**
 * `train --workers N`: data-parallel training on local workers (CPU workers as threads, WebGPU
 * workers as processes, each with its own backend), with the same logs, checkpoints and bits
 * as one device. The coordinator keeps the weights and evaluates on a CPU backend of its own.
 */
import { CpuBackend } from '../cpu-backend.ts';
import { type BackendChoice, type BackendKind, resolveBackend } from '../backends.ts';
import { DataParallelBackend, type WorkerEvent } from '../parallel/coordinator.ts';
import { localWorkerSource } from '../parallel/local.ts';
import { openNatsWorkerSource } from '../parallel/nats-connect.ts';
import { intFlag, UsageError } from './args.ts';

export const PARALLEL_FLAGS = {
  workers: { type: 'string' },
  'worker-backends': { type: 'string' },
  'worker-timeout': { type: 'string' },
  nats: { type: 'string' },
  'nats-group': { type: 'string' },
  'join-timeout': { type: 'string' },
} as const;

export const PARALLEL_HELP = `  --workers N            train data-parallel on N local workers, each with its own backend (CPU
                         workers as threads, WebGPU workers as processes): the weights after every
                         step, the logs and the checkpoints are those of one device
  --worker-backends L    the workers' backends, comma-separated, e.g. cpu,webgpu (sets N; default:
                         --backend for every worker); the coordinator keeps the weights on the CPU
  --worker-timeout MS    a worker silent for MS is dropped and its rows re-split (default 60000; the
                         first step of a shard size, which compiles the worker's programs, gets 10 min)
  --nats URL             with --workers N: wait for N workers to join over NATS instead of starting
                         local ones (nats://HOST:PORT; each runs \`nitro-d worker --nats URL\`, a
                         browser joins from the demo page over ws://); more may join mid-run
  --nats-group NAME      the workers' group on that server (default "default")
  --join-timeout S       seconds to wait for the N workers to join (default 600)
  e.g. nitro-d train --preset cnn-small --nats nats://nats-host:4222 --workers 4 --out runs/cnn
       and on each of 4 machines: nitro-d worker --nats nats://nats-host:4222 --backend webgpu`;

/** What the parallel flags ask for (undefined: one device). */
export interface ParallelPlan {
  /** Backend choice per worker (`auto` resolved when the workers start). */
  backends: BackendChoice[];
  timeoutMs: number;
  /** --nats: the workers join over this server (they pick their own backends). */
  nats?: { url: string; group: string; joinTimeoutMs: number };
}

export function parallelPlan(
  command: string,
  flags: Record<string, unknown>,
  backendChoice: BackendChoice,
): ParallelPlan | undefined {
  const list = flags['worker-backends'];
  const nats = flags.nats;
  if (flags.workers === undefined && list === undefined) {
    for (const f of ['worker-timeout', 'nats', 'nats-group', 'join-timeout'])
      if (flags[f] !== undefined)
        throw new UsageError(
          `${command}: --${f} needs --workers${f === 'worker-timeout' ? ' or --worker-backends' : ''}`,
        );
    return undefined;
  }
  if (typeof nats === 'string') {
    if (list !== undefined)
      throw new UsageError(
        `${command}: --worker-backends names local workers; NATS workers pick theirs (nitro-d worker --backend)`,
      );
    if (!/^(nats|tls|ws|wss):\/\/\S+$/.test(nats))
      throw new UsageError(
        `${command}: --nats must be a nats:// (or tls://, ws://, wss://) URL, got '${nats}'`,
      );
    const group = (flags['nats-group'] as string | undefined) ?? 'default';
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(group))
      throw new UsageError(
        `${command}: --nats-group must be 1 to 64 letters, digits, '-' or '_', got '${group}'`,
      );
    const n = intFlag(command, flags, 'workers', 1, 1, 256);
    return {
      backends: Array.from({ length: n }, () => 'auto' as BackendChoice),
      timeoutMs: intFlag(command, flags, 'worker-timeout', 60_000, 1),
      nats: {
        url: nats,
        group,
        joinTimeoutMs: intFlag(command, flags, 'join-timeout', 600, 1, 86_400) * 1000,
      },
    };
  }
  for (const f of ['nats-group', 'join-timeout'])
    if (flags[f] !== undefined) throw new UsageError(`${command}: --${f} needs --nats`);
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
  say: (line: string) => void = () => {},
): Promise<{ backend: DataParallelBackend; line: string; kinds: BackendKind[] }> {
  if (plan.nats) return openNatsBackend(plan, plan.nats, spec, onEvent, say);
  const kinds: BackendKind[] = [];
  for (const b of plan.backends) kinds.push((await resolveBackend(b, { verbose })).kind);
  const host = await CpuBackend.create({ threads: 1 });
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

/** The coordinator backend once N workers joined over NATS; a line per worker as it joins. */
async function openNatsBackend(
  plan: ParallelPlan,
  nats: NonNullable<ParallelPlan['nats']>,
  spec: unknown,
  onEvent: (e: WorkerEvent) => void,
  say: (line: string) => void,
): Promise<{ backend: DataParallelBackend; line: string; kinds: BackendKind[] }> {
  const n = plan.backends.length;
  const source = await openNatsWorkerSource(nats.url, { group: nats.group });
  say(
    `waiting up to ${nats.joinTimeoutMs / 1000} s for ${n} worker${n === 1 ? '' : 's'} on ${source.description}: run \`nitro-d worker --nats ${nats.url}${nats.group === 'default' ? '' : ` --group ${nats.group}`}\``,
  );
  let joined = 0;
  let started = false;
  const host = await CpuBackend.create({ threads: 1 });
  let backend: DataParallelBackend;
  try {
    backend = await DataParallelBackend.start(host, {
      source,
      workers: n,
      spec,
      timeoutMs: plan.timeoutMs,
      joinTimeoutMs: nats.joinTimeoutMs,
      // Joins while waiting get a progress line here; later ones go to the run's log.
      onEvent: (e) => {
        if (e.kind === 'joined' && !started) say(`${workerEventLine(e)}: ${++joined} of ${n}`);
        else onEvent(e);
      },
    });
    started = true;
  } catch (e) {
    await source.close().catch(() => {});
    throw e;
  }
  const kinds = backend.workers.map((w) => w.backend as BackendKind);
  const workers = backend.workers.map((w) => `${w.label} on ${w.device}`).join('; ');
  const line = `data-parallel on ${n} NATS worker${n === 1 ? '' : 's'} via ${source.description}: ${workers}; the coordinator keeps the weights on ${host.description}`;
  return { backend, line, kinds };
}
