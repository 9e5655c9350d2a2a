/**
 * The link between a data-parallel coordinator and one worker. Every transport (a worker
 * thread's port, a child process's IPC, a pair of NATS subjects) offers the same thing: ordered,
 * reliable messages made of a JSON header and int32 arrays, so the protocol above it
 * (coordinator and worker) is written once and does not know which transport carries it.
 */

/** One message: JSON-serialisable header fields (`kind` names the message) and int32 payloads. */
export interface Envelope {
  readonly header: { readonly kind: string } & Readonly<Record<string, unknown>>;
  /** Gradients, weights, metric sums: in the order the header's fields say. */
  readonly arrays: readonly Int32Array[];
}

/** Why a channel failed: the other end went away, or nothing arrived in time. */
export type ChannelFailure = 'closed' | 'timeout';

/** A channel's error: `reason` lets the coordinator tell a dead worker from a slow one. */
export class ChannelError extends Error {
  constructor(
    readonly reason: ChannelFailure,
    message: string,
  ) {
    super(message);
    this.name = 'ChannelError';
  }
}

/** One end of a link. Messages arrive in the order they were sent, each exactly once. */
export interface Channel {
  /** The other end, for logs and errors (e.g. "worker 2 (cpu)"). */
  readonly label: string;
  /** Queues a message. Throws a ChannelError ('closed') once the link is gone. */
  send(message: Envelope): void;
  /** The next message; rejects with a ChannelError when the link closes or `timeoutMs` passes. */
  receive(timeoutMs: number): Promise<Envelope>;
  /** Releases the link; pending receives reject with 'closed'. */
  close(): void;
}

/** Where a coordinator's workers come from: local threads and processes, or a NATS server. */
export interface WorkerSource {
  /** For the run's header line, e.g. "nats://127.0.0.1:4222" or "local". */
  readonly description: string;
  /**
   * The next worker to join (a worker may join mid-run). Rejects with a ChannelError
   * ('timeout') when none joins within `timeoutMs`.
   */
  next(timeoutMs: number): Promise<Channel>;
  /** Stops accepting workers and releases the transport. */
  close(): Promise<void>;
}
