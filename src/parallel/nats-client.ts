/**
 * What the NATS transport uses of a connection: a structural subset of the official client's
 * `NatsConnection` (@nats-io/nats-core), which satisfies it. The package's declarations name
 * this instead of the client's own types, so an app's TypeScript compiles them with any `lib`
 * (the client's declarations need esnext's `Symbol.asyncDispose`).
 */

/** A received message: its payload. */
export interface NatsMessage {
  readonly data: Uint8Array;
}

/** A subscription the transport can end. */
export interface NatsSubscription {
  /** Stops the messages. */
  unsubscribe(): void;
}

/** A connection event (`disconnect`, `reconnect`, ...). */
export interface NatsStatus {
  readonly type: string;
}

/** A NATS connection, as the transport uses it. */
export interface NatsClient {
  /** The server's INFO, once connected: the transport chunks messages to `max_payload`. */
  readonly info?: { readonly max_payload: number };
  /** Sends `payload` on `subject` (at most once: the transport acknowledges and resends). */
  publish(subject: string, payload: Uint8Array): void;
  /** Calls `options.callback` with each message on `subject` until unsubscribed. */
  subscribe(
    subject: string,
    options: { callback: (err: Error | null, msg: NatsMessage) => void },
  ): NatsSubscription;
  /** Resolves once the server has processed everything published so far. */
  flush(): Promise<void>;
  /** The connection's events, as they happen. */
  status(): AsyncIterable<NatsStatus>;
  /** Drops the connection. */
  close(): Promise<void>;
}
