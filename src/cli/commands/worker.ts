/**
 * `nitro-d worker`: joins a data-parallel run over NATS and trains the rows of each step it is
 * given on its own backend, until the coordinator says stop. The coordinator
 * (`nitro-d train --nats URL --workers N`) owns the data, the schedule, logs and checkpoints.
 */
import { hostname } from 'node:os';
import process from 'node:process';
import { joinNatsRunAt } from '../../parallel/nats-connect.ts';
import { serveWorker } from '../../parallel/worker.ts';
import { BACKEND_FLAG, BACKEND_HELP, intFlag, parseFlags, UsageError } from '../args.ts';
import { openBackend } from '../open-backend.ts';

export const WORKER_FLAGS = {
  nats: { type: 'string' },
  group: { type: 'string' },
  name: { type: 'string' },
  wait: { type: 'string' },
  quiet: { type: 'boolean' },
  ...BACKEND_FLAG,
} as const;

export const WORKER_HELP = `join a data-parallel training run over NATS as a worker (one run, then exit)
  --nats URL             the run's NATS server: nats://HOST:PORT (or tls://, ws://, wss://)
  --group NAME           the run's group on that server (default "default"; train --nats-group)
  --name NAME            this worker's name in the coordinator's log (default: the host name)
  --wait S               seconds to wait for a run to take this worker (default 600)
${BACKEND_HELP}
  --quiet                print only errors
  e.g. the coordinator: nitro-d train --preset cnn-small --nats nats://nats-host:4222 --workers 2
       and on two machines: nitro-d worker --nats nats://nats-host:4222 --backend webgpu`;

export async function workerCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('worker', argv, WORKER_FLAGS);
  const url = flags.nats;
  if (typeof url !== 'string') throw new UsageError('worker: --nats URL is required');
  const waitS = intFlag('worker', flags, 'wait', 600, 1);
  const group = (flags.group as string | undefined) ?? 'default';
  const say = (line: string) => {
    if (!flags.quiet) console.log(line);
  };
  const { backend, line } = await openBackend('worker', flags);
  try {
    say(`backend: ${line}`);
    say(`waiting up to ${waitS} s for a run on ${url} (group ${group})`);
    const link = await joinNatsRunAt(url, {
      group,
      backend: backend.kind,
      name: (flags.name as string | undefined) ?? hostname(),
      waitMs: waitS * 1000,
    });
    say(`joined run ${link.runId} as worker ${link.workerId}`);
    let steps = 0;
    let stopping = false;
    const stop = () => {
      if (stopping) process.exit(130);
      stopping = true;
      console.error('nitro-d worker: leaving the run (the coordinator re-splits the rows)');
      link.channel.close();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await serveWorker(link.channel, backend, { onStep: () => void steps++ });
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await link.close();
    }
    say(`run ${link.runId} ended: ${steps} steps served`);
    return stopping ? 130 : 0;
  } finally {
    backend.destroy();
  }
}
