/**
 * The entry of a local data-parallel worker (dist/parallel-worker.js): a worker thread (CPU) or
 * a child process (WebGPU) that makes its own backend and serves the coordinator over its
 * port or IPC channel.
 *
 * Test hook: NITRO_D_TEST_WORKER_FAULT=KIND@WORKER:STEP makes local worker WORKER (0-based) at
 * the STEP-th step it is given (1-based) die (KIND `die`: the process or thread exits at once)
 * or stall (`stall`: it stops answering and keeps running).
 */
import process from 'node:process';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createBackend } from '../backends.ts';
import type { Channel, Envelope } from './channel.ts';
import { ChannelError } from './channel.ts';
import type { LocalWorkerConfig } from './local.ts';
import { transferable, unshared } from './local.ts';
import { MessageQueue } from './queue.ts';
import { serveWorker } from './worker.ts';

export const FAULT_ENV = 'NITRO_D_TEST_WORKER_FAULT';

function parentChannel(): Channel {
  const inbox = new MessageQueue('coordinator');
  if (parentPort) {
    const port = parentPort;
    port.on('message', (m: Envelope) => inbox.push(m));
    port.on('close', () => inbox.close('the coordinator went away'));
    return {
      label: 'coordinator',
      send(m) {
        if (inbox.closed) throw new ChannelError('closed', 'coordinator: gone');
        const { message, buffers } = transferable(m);
        port.postMessage(message, buffers);
      },
      receive: (t) => inbox.receive(t),
      close() {
        inbox.close('closed');
        port.close();
      },
    };
  }
  process.on('message', (m: Envelope) => inbox.push(m));
  process.on('disconnect', () => inbox.close('the coordinator went away'));
  return {
    label: 'coordinator',
    send(m) {
      if (inbox.closed || !process.send) throw new ChannelError('closed', 'coordinator: gone');
      process.send(unshared(m));
    },
    receive: (t) => inbox.receive(t),
    close() {
      inbox.close('closed');
      if (process.connected) process.disconnect();
    },
  };
}

/** The onStep hook the fault variable asks for (or none). */
function faultHook(index: number, spec = process.env[FAULT_ENV]) {
  if (!spec) return undefined;
  const m = /^(die|stall)@(\d+):(\d+)$/.exec(spec);
  if (!m)
    throw new Error(`${FAULT_ENV} must be die@WORKER:STEP or stall@WORKER:STEP, got '${spec}'`);
  if (Number(m[2]) !== index) return undefined;
  const at = Number(m[3]);
  let steps = 0;
  return async () => {
    if (++steps !== at) return;
    if (m[1] === 'die') process.exit(3);
    // Stalled: alive, silent, never done.
    setInterval(() => {}, 1 << 30);
    await new Promise<never>(() => {});
  };
}

async function main(): Promise<void> {
  // A terminal's Ctrl-C reaches the whole process group: the coordinator decides when to stop
  // (at a step, with a checkpoint) and its going away ends this process.
  if (isMainThread)
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => {});
  const config = (
    isMainThread ? JSON.parse(process.argv[2] ?? '{}') : workerData
  ) as LocalWorkerConfig;
  const channel = parentChannel();
  // One thread each: N local workers already take N cores.
  const backend = await createBackend(config.backend, { threads: 1 });
  try {
    await serveWorker(channel, backend, { onStep: faultHook(config.index) });
  } finally {
    backend.destroy();
  }
  if (isMainThread) process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`nitro-d worker: ${(e as Error).message}\n`);
  process.exit(1);
});
