/**
 * Opens a NATS connection that never stops reconnecting (the channels above it retransmit
 * what a reconnect lost): `nats://` and `tls://` URLs through the Node client, `ws://` and
 * `wss://` through the WebSocket client (browsers, and runtimes with a global WebSocket).
 */
import type { NatsClient } from './nats-client.ts';
import {
  type NatsJoinOptions,
  type NatsMembership,
  NatsWorkerSource,
  type NatsSourceOptions,
  joinNatsRun,
} from './nats.ts';

/** Options of {@link connectNats}. */
export interface NatsConnectOptions {
  /** Shown in the server's monitoring pages. */
  name?: string;
  /** How long the first connection attempt may take. */
  timeoutMs?: number;
}

const URL_PATTERN = /^(nats|tls|ws|wss):\/\/[^\s]+$/;

/** Connects to `url`; the error names the URL and why it failed, in one line. */
export async function connectNats(
  url: string,
  options: NatsConnectOptions = {},
): Promise<NatsClient> {
  if (!URL_PATTERN.test(url))
    throw new Error(`--nats "${url}": expected nats://HOST:PORT (or ws://, wss://, tls://)`);
  const common = {
    servers: url,
    name: options.name ?? 'nitro-d',
    timeout: options.timeoutMs ?? 5000,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    // Heartbeats find a silently dead server (a cut network, not a restart) in ~20 s.
    pingInterval: 10_000,
    maxPingOut: 2,
  };
  try {
    if (url.startsWith('ws')) {
      if (typeof globalThis.WebSocket !== 'function')
        throw new Error('this runtime has no WebSocket; use a nats:// URL');
      const { wsconnect } = await import('@nats-io/nats-core');
      return await wsconnect(common);
    }
    const { connect } = await import('@nats-io/transport-node');
    return await connect(common);
  } catch (e) {
    throw new Error(`cannot connect to NATS at ${url}: ${(e as Error).message || 'no answer'}`);
  }
}

/** Connects and waits for workers: the coordinator's `WorkerSource`, closing the connection with it. */
export async function openNatsWorkerSource(
  url: string,
  options: Omit<NatsSourceOptions, 'url' | 'ownsConnection'> = {},
): Promise<NatsWorkerSource> {
  const nc = await connectNats(url, { name: 'nitro-d coordinator' });
  return new NatsWorkerSource(nc, { ...options, url, ownsConnection: true });
}

/** A worker that joined a run; `close` ends its channel, then the connection. */
export interface NatsWorkerLink extends NatsMembership {
  /** Closes the channel (its closing frame acknowledged, or given up on), then the connection. */
  close(): Promise<void>;
}

/** Connects, announces this worker and waits until a coordinator takes it. */
export async function joinNatsRunAt(
  url: string,
  options: Omit<NatsJoinOptions, 'url'>,
): Promise<NatsWorkerLink> {
  const nc = await connectNats(url, { name: `nitro-d worker (${options.backend})` });
  let membership: NatsMembership;
  try {
    membership = await joinNatsRun(nc, { ...options, url });
  } catch (e) {
    await nc.close().catch(() => {});
    throw e;
  }
  return {
    ...membership,
    channel: membership.channel,
    async close() {
      membership.leave();
      membership.channel.close();
      await membership.channel.closed();
      await nc.close().catch(() => {});
    },
  };
}
