/**
 * Channels inside one JavaScript realm: a coordinator and workers on one page or in one test,
 * each worker with its own backend. Messages pass by reference (a sender gives its arrays up).
 */
import type { Channel, Envelope, WorkerSource } from './channel.ts';
import { ChannelError } from './channel.ts';
import { MessageQueue } from './queue.ts';

/** Options of {@link memoryChannelPair}. */
export interface MemoryChannelOptions {
  /** Delays each message (ms) before it arrives, e.g. to shuffle arrival order in a test. */
  delayMs?: (m: Envelope) => number;
}

/** Two connected ends: what one sends the other receives, in order. */
export function memoryChannelPair(
  labels: [string, string],
  options: MemoryChannelOptions = {},
): [Channel, Channel] {
  const queues = [new MessageQueue(labels[1]), new MessageQueue(labels[0])];
  // Per direction, arrivals stay in send order even when delays differ.
  const tails = [Promise.resolve(), Promise.resolve()];
  const end = (me: 0 | 1): Channel => {
    const inbox = queues[me];
    const outbox = queues[1 - me];
    return {
      label: labels[1 - me],
      send(m: Envelope): void {
        if (inbox.closed || outbox.closed)
          throw new ChannelError('closed', `${labels[1 - me]}: the channel was closed`);
        const delay = options.delayMs?.(m) ?? 0;
        tails[me] = tails[me].then(() =>
          delay <= 0
            ? outbox.push(m)
            : new Promise<void>((r) =>
                setTimeout(() => {
                  outbox.push(m);
                  r();
                }, delay),
              ),
        );
      },
      receive: (timeoutMs: number) => inbox.receive(timeoutMs),
      close(): void {
        inbox.close('the channel was closed');
        outbox.close('the other end closed the channel');
      },
    };
  };
  return [end(0), end(1)];
}

/** A worker source handing out given channels (in-process workers), then waiting for none. */
export function memoryWorkerSource(channels: readonly Channel[]): WorkerSource {
  const pending = [...channels];
  const waiting = new MessageQueue('in-process workers');
  return {
    description: 'in-process',
    async next(timeoutMs: number): Promise<Channel> {
      const c = pending.shift();
      if (c) return c;
      await waiting.receive(timeoutMs);
      throw new ChannelError('closed', 'in-process workers: no more workers');
    },
    async close(): Promise<void> {
      waiting.close('the source was closed');
    },
  };
}
