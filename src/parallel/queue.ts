/**
 * The receiving half every transport shares: messages queue until read, a read waits at most
 * its timeout, and once the link is gone every read (pending or later) fails with 'closed'.
 */
import { ChannelError, type Envelope } from './channel.ts';

interface Waiter {
  resolve: (m: Envelope) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Incoming messages of one channel end (a transport pushes, the channel's receive reads). */
export class MessageQueue {
  private readonly queue: Envelope[] = [];
  private readonly waiters: Waiter[] = [];
  private closedWith: string | undefined;

  constructor(readonly label: string) {}

  /** Whether the link is gone. */
  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** A message arrived. */
  push(m: Envelope): void {
    if (this.closedWith !== undefined) return;
    const w = this.waiters.shift();
    if (w) {
      if (w.timer !== undefined) clearTimeout(w.timer);
      w.resolve(m);
    } else this.queue.push(m);
  }

  /** The link is gone (`why`): pending and later reads fail with 'closed'. */
  close(why = 'the channel was closed'): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = why;
    this.queue.length = 0;
    for (const w of this.waiters.splice(0)) {
      if (w.timer !== undefined) clearTimeout(w.timer);
      w.reject(new ChannelError('closed', `${this.label}: ${why}`));
    }
  }

  /** The next message; rejects with a ChannelError once closed or after `timeoutMs`. */
  receive(timeoutMs: number): Promise<Envelope> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closedWith !== undefined)
      return Promise.reject(new ChannelError('closed', `${this.label}: ${this.closedWith}`));
    return new Promise<Envelope>((resolve, reject) => {
      const w: Waiter = { resolve, reject, timer: undefined };
      // Timers past 2^31 - 1 ms fire at once; a longer wait is no wait limit at all.
      if (timeoutMs <= 0x7fffffff) {
        w.timer = setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(
            new ChannelError('timeout', `${this.label}: nothing arrived within ${timeoutMs} ms`),
          );
        }, timeoutMs);
      }
      this.waiters.push(w);
    });
  }
}
