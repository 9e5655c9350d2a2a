/**
 * Local workers, each with its own backend: CPU workers as Node worker threads (MessagePort,
 * with the payloads' buffers transferred), WebGPU workers as child processes (IPC with the
 * structured-clone serialisation), since Dawn's Node binding is not known to be safe in worker
 * threads. Both run the built worker entry (dist/parallel-worker.js).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BackendKind } from '../backends.ts';
import { type Channel, ChannelError, type Envelope, type WorkerSource } from './channel.ts';
import { isShared } from './protocol.ts';
import { MessageQueue } from './queue.ts';

/** Options of {@link localWorkerSource}. */
export interface LocalWorkersOptions {
  /** One backend per worker, in row order. */
  backends: readonly BackendKind[];
  /** The worker entry (default: parallel-worker.js next to this bundle). */
  entry?: string | URL;
  /** Extra environment of the workers (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

/** What the worker entry is told: its backend and its index among the local workers. */
export interface LocalWorkerConfig {
  backend: BackendKind;
  index: number;
}

/**
 * The buffers of a message's arrays, once each (views of part of a buffer are copied first).
 * Arrays in shared memory are posted as they are: the thread at the other end sees the same
 * memory, and the protocol says who writes it when (see protocol.ts).
 */
export function transferable(m: Envelope): { message: Envelope; buffers: ArrayBuffer[] } {
  const seen = new Set<ArrayBufferLike>();
  const buffers: ArrayBuffer[] = [];
  const arrays = m.arrays.map((a) => {
    if (isShared(a)) return a;
    const whole = a.byteOffset === 0 && a.byteLength === a.buffer.byteLength;
    const own = whole && !seen.has(a.buffer) ? a : a.slice();
    seen.add(own.buffer);
    buffers.push(own.buffer as ArrayBuffer);
    return own;
  });
  return { message: { header: m.header, arrays }, buffers };
}

/** The message with its shared-memory arrays copied (a process boundary cannot share them). */
export function unshared(m: Envelope): Envelope {
  if (!m.arrays.some(isShared)) return m;
  return { header: m.header, arrays: m.arrays.map((a) => (isShared(a) ? a.slice() : a)) };
}

function threadChannel(worker: Worker, label: string): Channel {
  const inbox = new MessageQueue(label);
  worker.on('message', (m: Envelope) => inbox.push(m));
  worker.on('error', (e) => inbox.close(`failed: ${e.message}`));
  worker.on('exit', (code) => inbox.close(`exited (code ${code})`));
  return {
    label,
    send(m: Envelope): void {
      if (inbox.closed) throw new ChannelError('closed', `${label}: the worker is gone`);
      const { message, buffers } = transferable(m);
      worker.postMessage(message, buffers);
    },
    receive: (timeoutMs) => inbox.receive(timeoutMs),
    close(): void {
      inbox.close('the channel was closed');
      void worker.terminate();
    },
  };
}

function processChannel(child: ChildProcess, label: string): Channel {
  const inbox = new MessageQueue(label);
  child.on('message', (m: Envelope) => inbox.push(m));
  child.on('error', (e) => inbox.close(`failed: ${e.message}`));
  child.on('exit', (code, signal) => inbox.close(`exited (${signal ?? `code ${code}`})`));
  child.on('disconnect', () => inbox.close('disconnected'));
  return {
    label,
    send(m: Envelope): void {
      if (inbox.closed || !child.connected)
        throw new ChannelError('closed', `${label}: the worker is gone`);
      child.send(unshared(m));
    },
    receive: (timeoutMs) => inbox.receive(timeoutMs),
    close(): void {
      inbox.close('the channel was closed');
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Starts one local worker per entry of `backends`; the source hands them out in that order. */
export function localWorkerSource(options: LocalWorkersOptions): WorkerSource {
  const entry =
    options.entry === undefined
      ? fileURLToPath(new URL('./parallel-worker.js', import.meta.url))
      : options.entry instanceof URL
        ? fileURLToPath(options.entry)
        : options.entry;
  const env = options.env ?? process.env;
  const started: Channel[] = options.backends.map((backend, index) => {
    const config: LocalWorkerConfig = { backend, index };
    const label = `worker ${index} (${backend})`;
    if (backend === 'cpu')
      return threadChannel(new Worker(entry, { workerData: config, env }), label);
    const child = fork(entry, [JSON.stringify(config)], {
      serialization: 'advanced',
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return processChannel(child, label);
  });
  const pending = [...started];
  const closed = new MessageQueue('local workers');
  return {
    description: 'local threads and processes',
    async next(timeoutMs: number): Promise<Channel> {
      const c = pending.shift();
      if (c) return c;
      await closed.receive(timeoutMs);
      throw new ChannelError('closed', 'local workers: every worker has joined');
    },
    async close(): Promise<void> {
      closed.close('the source was closed');
      for (const c of started) c.close();
    },
  };
}
