/**
 * Data-parallel channels over NATS. Core NATS delivers each message at most once (a server
 * restart or a dropped connection loses what was in flight), so a channel numbers its frames,
 * the receiver acknowledges the next number it expects, and the sender retransmits what stays
 * unacknowledged; duplicates and frames after a gap are dropped and acknowledged again
 * (go-back-N). The client library reconnects the socket and restores the subscriptions. A
 * message larger than the server's max_payload goes out in chunks.
 *
 * Subjects, under `nitro-d.<group>`: workers announce themselves on `join`; the coordinator
 * offers its run on `worker.<worker id>`; a link then uses `run.<run id>.<worker id>` (to the
 * coordinator) and `worker.<worker id>.<run id>` (to the worker). Ids are random, so runs and
 * workers on one server never share a subject.
 */
import type { NatsClient, NatsMessage, NatsSubscription } from './nats-client.ts';
import { type Channel, ChannelError, type Envelope, type WorkerSource } from './channel.ts';
import {
  ackFrame,
  controlFrame,
  DATA_HEADER_BYTES,
  dataFrame,
  decodeEnvelope,
  encodeEnvelope,
  type Frame,
  parseFrame,
} from './nats-wire.ts';

/** Tuning shared by both ends; the defaults suit a LAN or one machine. */
export interface NatsLinkOptions {
  /** Largest message accepted from the other end, in bytes; a larger one closes the channel. */
  maxMessageBytes?: number;
  /** The other end silent this long while this end is connected: the channel closes. */
  peerTimeoutMs?: number;
  /** Unacknowledged bytes in flight at most (a whole frame always fits). */
  windowBytes?: number;
  /** First retransmission delay; doubles while nothing is acknowledged, up to 8x. */
  retransmitMs?: number;
  /** Chunks at most this many bytes even when the server allows more (tests). */
  maxChunkBytes?: number;
}

const DEFAULTS = {
  maxMessageBytes: 1 << 30,
  // Long: the coordinator's own step timeout drops a stalled worker much sooner, and a
  // coordinator evaluating a large test set may not send heartbeats for minutes; this only
  // ends a link whose other end is gone for good.
  peerTimeoutMs: 30 * 60_000,
  windowBytes: 8 << 20,
  retransmitMs: 500,
  maxChunkBytes: Number.MAX_SAFE_INTEGER,
};
const TICK_MS = 100;
const HEARTBEAT_MS = 1000;
const LINGER_MS = 2000;
const OFFER_EVERY_MS = 300;
const OFFER_GIVE_UP_MS = 15_000;
const MAX_PENDING_OFFERS = 256;

/** Counters of one channel, for the bytes-per-step figures. */
export interface NatsChannelStats {
  messagesSent: number;
  /** Encoded envelope bytes sent (not counting frame headers or retransmissions). */
  bytesSent: number;
  messagesReceived: number;
  bytesReceived: number;
  /** Frames sent again after a loss or a slow acknowledgement. */
  framesRetransmitted: number;
}

/** Follows one connection's disconnects and reconnects for the channels on it. */
class ConnectionWatch {
  connected = true;
  private readonly listeners = new Set<() => void>();

  constructor(nc: NatsClient) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.connected = false;
        else if (s.type === 'reconnect') {
          this.connected = true;
          for (const f of this.listeners) f();
        }
      }
    })().catch(() => {});
  }

  onReconnect(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }
}

interface Waiter {
  resolve: (m: Envelope) => void;
  reject: (e: ChannelError) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Outgoing {
  seq: number;
  bytes: Uint8Array;
  sentAt: number;
  fin: boolean;
}

/** One end of a reliable, ordered link between two NATS subjects. */
export class NatsChannel implements Channel {
  readonly stats: NatsChannelStats = {
    messagesSent: 0,
    bytesSent: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    framesRetransmitted: 0,
  };
  private readonly opts: typeof DEFAULTS;
  private nextSeq = 0;
  private readonly inflight: Outgoing[] = [];
  private inflightBytes = 0;
  private readonly queued: Outgoing[] = [];
  private rto: number;
  private expected = 0;
  private partial: { buf: Uint8Array; filled: number } | null = null;
  private readonly inbox: Envelope[] = [];
  private readonly waiters: Waiter[] = [];
  private state: 'open' | 'closing' | 'closed' = 'open';
  private failure: ChannelError | null = null;
  private peerFinished = false;
  private lastHeard = Date.now();
  private lastSent = 0;
  private ackScheduled = false;
  private maxPayload: number;
  private readonly sub: NatsSubscription;
  private readonly tick: ReturnType<typeof setInterval>;
  private readonly stopWatching: () => void;
  private lingerTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly done: Promise<void>;
  private finish!: () => void;

  /**
   * @param inSubject where this end listens; `outSubject` is where the other end listens.
   * @param onFrame sees every valid frame first (the coordinator learns from it that a worker
   *   took its offer).
   */
  constructor(
    private readonly nc: NatsClient,
    private readonly watch: ConnectionWatch,
    readonly label: string,
    private readonly url: string,
    readonly inSubject: string,
    readonly outSubject: string,
    options: NatsLinkOptions = {},
    private readonly onFrame?: (frame: Frame) => void,
  ) {
    this.opts = { ...DEFAULTS, ...stripUndefined(options) };
    this.rto = this.opts.retransmitMs;
    this.maxPayload = nc.info?.max_payload ?? 1 << 20;
    this.done = new Promise((resolve) => {
      this.finish = resolve;
    });
    this.sub = nc.subscribe(inSubject, { callback: (err, msg) => this.onMessage(err, msg) });
    this.tick = setInterval(() => this.onTick(), TICK_MS);
    this.stopWatching = watch.onReconnect(() => this.onReconnect());
  }

  send(message: Envelope): void {
    if (this.state !== 'open')
      throw this.failure ?? new ChannelError('closed', `${this.label}: the channel is closed`);
    const bytes = encodeEnvelope(message);
    const limit = this.chunkLimit();
    for (let offset = 0; offset < bytes.length; offset += limit) {
      const chunk = bytes.subarray(offset, Math.min(bytes.length, offset + limit));
      this.enqueue(dataFrame(this.nextSeq, bytes.length, offset, chunk), false);
    }
    this.stats.messagesSent++;
    this.stats.bytesSent += bytes.length;
  }

  receive(timeoutMs: number): Promise<Envelope> {
    const ready = this.inbox.shift();
    if (ready) return Promise.resolve(ready);
    const gone = this.goneError();
    if (gone) return Promise.reject(gone);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: timer(timeoutMs, () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(
            new ChannelError('timeout', `${this.label}: nothing arrived within ${timeoutMs} ms`),
          );
        }),
      };
      this.waiters.push(waiter);
    });
  }

  close(): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.rejectWaiters(new ChannelError('closed', `${this.label}: the channel was closed`));
    this.enqueue(dataFrame(this.nextSeq, 0, 0, new Uint8Array(0), true), true);
    // The other end closed first and no longer listens: nothing will acknowledge the closing frame.
    if (this.peerFinished) {
      this.release();
      return;
    }
    this.lingerTimer = setTimeout(() => this.release(), LINGER_MS);
  }

  /** Resolves once the channel is released: its closing frame acknowledged, or it failed. */
  closed(): Promise<void> {
    return this.done;
  }

  private chunkLimit(): number {
    // While reconnecting the client has no server info: the last server's limit holds.
    this.maxPayload = this.nc.info?.max_payload ?? this.maxPayload;
    return Math.max(1, Math.min(this.opts.maxChunkBytes, this.maxPayload - DATA_HEADER_BYTES));
  }

  private enqueue(bytes: Uint8Array, fin: boolean): void {
    this.queued.push({ seq: this.nextSeq++, bytes, sentAt: 0, fin });
    this.pump();
  }

  private pump(): void {
    while (this.queued.length > 0) {
      const next = this.queued[0];
      if (
        this.inflight.length > 0 &&
        this.inflightBytes + next.bytes.length > this.opts.windowBytes
      )
        return;
      this.queued.shift();
      this.inflight.push(next);
      this.inflightBytes += next.bytes.length;
      this.publish(next.bytes);
      next.sentAt = Date.now();
      if (this.state === 'closed') return;
    }
  }

  private publish(bytes: Uint8Array): void {
    try {
      this.nc.publish(this.outSubject, bytes);
      this.lastSent = Date.now();
    } catch (e) {
      // While the client reconnects it buffers; an error means the connection is gone for good
      // or the frame can never be sent.
      this.fail(`cannot publish to ${this.outSubject} on ${this.url}: ${(e as Error).message}`);
    }
  }

  private onMessage(err: Error | null, msg: NatsMessage): void {
    if (this.state === 'closed') return;
    if (err) {
      this.fail(`subscription ${this.inSubject} on ${this.url} failed: ${err.message}`);
      return;
    }
    let frame: Frame;
    try {
      frame = parseFrame(msg.data);
    } catch (e) {
      this.fail(`bad frame on ${this.inSubject} (${this.url}): ${(e as Error).message}`);
      return;
    }
    this.lastHeard = Date.now();
    this.onFrame?.(frame);
    if (frame.type === 'ack') this.onAck(frame.next);
    else if (frame.type === 'data') this.onData(frame);
  }

  private onAck(next: number): void {
    if (next > this.nextSeq) {
      this.fail(
        `acknowledgement of frame ${next} on ${this.inSubject}, beyond the ${this.nextSeq} sent`,
      );
      return;
    }
    let progressed = false;
    let finAcked = false;
    while (this.inflight.length > 0 && this.inflight[0].seq < next) {
      const done = this.inflight.shift()!;
      this.inflightBytes -= done.bytes.length;
      finAcked ||= done.fin;
      progressed = true;
    }
    if (progressed) this.rto = this.opts.retransmitMs;
    if (finAcked) {
      this.release();
      return;
    }
    this.pump();
  }

  private onData(frame: Extract<Frame, { type: 'data' }>): void {
    if (frame.seq !== this.expected || this.peerFinished) {
      this.scheduleAck(); // a duplicate, or a frame after a lost one: say again what is expected
      return;
    }
    this.expected++;
    this.scheduleAck();
    if (frame.fin) {
      this.peerFinished = true;
      if (this.inbox.length === 0) this.rejectWaiters(this.goneError()!);
      return;
    }
    if (frame.offset === 0) {
      if (this.partial) {
        this.fail(`a new message began inside another on ${this.inSubject}`);
        return;
      }
      if (frame.total > this.opts.maxMessageBytes) {
        this.fail(
          `a ${frame.total}-byte message on ${this.inSubject} is over the ${this.opts.maxMessageBytes}-byte limit`,
        );
        return;
      }
      this.partial = { buf: new Uint8Array(frame.total), filled: 0 };
    } else if (
      !this.partial ||
      frame.offset !== this.partial.filled ||
      frame.total !== this.partial.buf.length
    ) {
      this.fail(`a chunk at byte ${frame.offset} on ${this.inSubject} is out of place`);
      return;
    }
    const p = this.partial!;
    p.buf.set(frame.chunk, frame.offset);
    p.filled += frame.chunk.length;
    if (p.filled < p.buf.length) return;
    this.partial = null;
    let message: Envelope;
    try {
      message = decodeEnvelope(p.buf);
    } catch (e) {
      this.fail(`bad message on ${this.inSubject} (${this.url}): ${(e as Error).message}`);
      return;
    }
    this.stats.messagesReceived++;
    this.stats.bytesReceived += p.buf.length;
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(message);
    } else this.inbox.push(message);
  }

  private scheduleAck(): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    queueMicrotask(() => {
      this.ackScheduled = false;
      if (this.state !== 'closed') this.publish(ackFrame(this.expected));
    });
  }

  private onTick(): void {
    if (this.state === 'closed') return;
    const now = Date.now();
    if (!this.watch.connected) {
      this.lastHeard = now; // the other end cannot be heard while this end is cut off
      return;
    }
    if (now - this.lastHeard > this.opts.peerTimeoutMs) {
      this.fail(
        `no word from the other end on ${this.inSubject} (${this.url}) for ${Math.round(this.opts.peerTimeoutMs / 1000)} s`,
      );
      return;
    }
    const oldest = this.inflight[0];
    if (oldest && now - oldest.sentAt > this.rto) {
      this.retransmit();
      this.rto = Math.min(this.rto * 2, this.opts.retransmitMs * 8);
    } else if (now - this.lastSent > HEARTBEAT_MS) this.publish(ackFrame(this.expected));
  }

  private onReconnect(): void {
    if (this.state === 'closed') return;
    this.lastHeard = Date.now();
    this.retransmit();
    this.publish(ackFrame(this.expected));
  }

  private retransmit(): void {
    const now = Date.now();
    for (const f of this.inflight) {
      if (this.state === 'closed') return;
      this.publish(f.bytes);
      f.sentAt = now;
      this.stats.framesRetransmitted++;
    }
  }

  private goneError(): ChannelError | null {
    if (this.failure) return this.failure;
    if (this.peerFinished) return new ChannelError('closed', `${this.label} closed the channel`);
    if (this.state !== 'open')
      return new ChannelError('closed', `${this.label}: the channel is closed`);
    return null;
  }

  private rejectWaiters(error: ChannelError): void {
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(error);
    }
  }

  private fail(message: string): void {
    if (this.state === 'closed') return;
    this.failure = new ChannelError('closed', `${this.label}: ${message}`);
    this.rejectWaiters(this.failure);
    this.release();
  }

  private release(): void {
    if (this.state === 'closed' && this.lingerTimer === undefined) return;
    this.state = 'closed';
    clearInterval(this.tick);
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.stopWatching();
    this.queued.length = 0;
    this.inflight.length = 0;
    this.inflightBytes = 0;
    this.partial = null;
    try {
      this.sub.unsubscribe();
    } catch {
      // the connection is already closed
    }
    this.finish();
  }
}

/** A timeout; one past the timer range (2^31 - 1 ms) is no limit at all. */
function timer(ms: number, f: () => void): ReturnType<typeof setTimeout> | undefined {
  return ms <= 0x7fffffff ? setTimeout(f, ms) : undefined;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Group names and ids become subject tokens. */
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

function checkGroup(group: string): string {
  if (!TOKEN.test(group))
    throw new Error(`--group "${group}": use 1 to 64 letters, digits, "-" or "_"`);
  return group;
}

/** 24 random hex digits: a subject token no other run or worker picks. */
function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function subjects(group: string) {
  const base = `nitro-d.${checkGroup(group)}`;
  return {
    join: `${base}.join`,
    offers: (worker: string) => `${base}.worker.${worker}`,
    toWorker: (worker: string, run: string) => `${base}.worker.${worker}.${run}`,
    toCoordinator: (run: string, worker: string) => `${base}.run.${run}.${worker}`,
  };
}

/** What a worker says about itself when it joins. */
export interface WorkerAnnouncement {
  /** The backend it trains on, e.g. "cpu" or "webgpu". */
  backend: string;
  /** A name for logs (host name, "browser"); the worker id stands in when absent. */
  name?: string;
}

/** Options of {@link NatsWorkerSource}: where the run's workers join, and the links' tuning. */
export interface NatsSourceOptions extends NatsLinkOptions {
  /** Subjects live under `nitro-d.<group>`; a worker joins the runs of its group. */
  group?: string;
  /** The server's URL, for the header line and errors. */
  url: string;
  /** Close the connection with the source (it was opened for it). */
  ownsConnection?: boolean;
}

interface Pending {
  channel: NatsChannel;
  firstOffer: number;
  lastOffer: number;
}

/**
 * The coordinator's side: takes every worker that announces itself on the group's join
 * subject, before the run and during it, and yields it once it accepted this run's offer.
 */
export class NatsWorkerSource implements WorkerSource {
  readonly description: string;
  /** This run's id: the subject token that keeps its links apart from other runs'. */
  readonly runId = randomId();
  private readonly subjects: ReturnType<typeof subjects>;
  private readonly watch: ConnectionWatch;
  private readonly joinSub: NatsSubscription;
  private readonly pending = new Map<string, Pending>();
  private readonly known = new Set<string>();
  private readonly ready: NatsChannel[] = [];
  private readonly channels: NatsChannel[] = [];
  private readonly waiters: Waiter2[] = [];
  private readonly tick: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(
    private readonly nc: NatsClient,
    private readonly options: NatsSourceOptions,
  ) {
    this.subjects = subjects(options.group ?? 'default');
    this.description = `${options.url} (group ${options.group ?? 'default'})`;
    this.watch = new ConnectionWatch(nc);
    this.joinSub = nc.subscribe(this.subjects.join, {
      callback: (err, msg) => {
        if (!err) this.onJoin(msg);
      },
    });
    this.tick = setInterval(() => this.onTick(), OFFER_EVERY_MS);
  }

  /** Every channel handed out so far (their stats give the bytes exchanged). */
  get workers(): readonly NatsChannel[] {
    return this.channels;
  }

  next(timeoutMs: number): Promise<Channel> {
    const ready = this.ready.shift();
    if (ready) return Promise.resolve(ready);
    if (this.closed)
      return Promise.reject(new ChannelError('closed', `${this.description}: closed`));
    return new Promise((resolve, reject) => {
      const w: Waiter2 = {
        resolve,
        reject,
        timer: timer(timeoutMs, () => {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          reject(
            new ChannelError(
              'timeout',
              `no worker joined on ${this.options.url} (subject ${this.subjects.join}) within ${Math.round(timeoutMs / 1000)} s`,
            ),
          );
        }),
      };
      this.waiters.push(w);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.tick);
    try {
      this.joinSub.unsubscribe();
    } catch {
      // the connection is already closed
    }
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new ChannelError('closed', `${this.description}: closed`));
    }
    for (const p of this.pending.values()) p.channel.close();
    this.pending.clear();
    for (const c of this.channels) c.close();
    await Promise.all([...this.channels, ...this.ready].map((c) => c.closed()));
    if (this.options.ownsConnection) await this.nc.close().catch(() => {});
  }

  private onJoin(msg: NatsMessage): void {
    if (this.closed) return;
    let frame: Frame;
    try {
      frame = parseFrame(msg.data);
    } catch {
      return; // not an announcement: nothing to answer
    }
    if (frame.type !== 'control' || frame.body.t !== 'announce') return;
    const worker = frame.body.worker;
    if (typeof worker !== 'string' || !TOKEN.test(worker)) return;
    const pending = this.pending.get(worker);
    if (pending) {
      this.offer(worker, pending);
      return;
    }
    if (this.known.has(worker) || this.pending.size >= MAX_PENDING_OFFERS) return;
    // Printable ASCII only: these end up in the run's log lines.
    const text = (v: unknown, max: number) =>
      typeof v === 'string' ? v.slice(0, max).replace(/[^\x20-\x7e]/g, '?') : '';
    const backend = text(frame.body.backend, 32) || '?';
    const name = text(frame.body.name, 64);
    const label = `worker ${name || worker.slice(0, 8)} (${backend}, NATS)`;
    const channel = new NatsChannel(
      this.nc,
      this.watch,
      label,
      this.options.url,
      this.subjects.toCoordinator(this.runId, worker),
      this.subjects.toWorker(worker, this.runId),
      this.options,
      (f) => this.onWorkerFrame(worker, f),
    );
    const now = Date.now();
    const p = { channel, firstOffer: now, lastOffer: 0 };
    this.pending.set(worker, p);
    this.offer(worker, p);
  }

  private offer(worker: string, p: Pending): void {
    p.lastOffer = Date.now();
    try {
      this.nc.publish(this.subjects.offers(worker), controlFrame({ t: 'offer', run: this.runId }));
    } catch {
      // retried on the next tick
    }
  }

  private onWorkerFrame(worker: string, frame: Frame): void {
    const p = this.pending.get(worker);
    if (!p) return;
    if (frame.type === 'control' && frame.body.t === 'reject') {
      this.pending.delete(worker);
      this.known.add(worker);
      p.channel.close();
      return;
    }
    // An accept, or any link frame (the accept itself may have been lost).
    this.pending.delete(worker);
    this.known.add(worker);
    this.channels.push(p.channel);
    const w = this.waiters.shift();
    if (w) {
      clearTimeout(w.timer);
      w.resolve(p.channel);
    } else this.ready.push(p.channel);
  }

  private onTick(): void {
    const now = Date.now();
    for (const [worker, p] of this.pending) {
      if (now - p.firstOffer > OFFER_GIVE_UP_MS) {
        this.pending.delete(worker);
        p.channel.close();
      } else if (now - p.lastOffer >= OFFER_EVERY_MS) this.offer(worker, p);
    }
  }
}

interface Waiter2 {
  resolve: (c: Channel) => void;
  reject: (e: ChannelError) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Options of {@link joinNatsRun}: the worker's group, what it announces, how long it waits. */
export interface NatsJoinOptions extends NatsLinkOptions, WorkerAnnouncement {
  group?: string;
  url: string;
  /** How long to wait for a coordinator to take this worker. */
  waitMs: number;
  /** Stops waiting (the promise rejects with a 'closed' ChannelError). */
  signal?: AbortSignal;
}

/** A worker's link to the run that took it. */
export interface NatsMembership {
  readonly channel: NatsChannel;
  readonly runId: string;
  readonly workerId: string;
  /** Stops listening for offers (the channel closes separately). */
  leave(): void;
}

/**
 * The worker's side: announces itself on the group's join subject until a coordinator offers
 * it a run, takes the first offer and turns later ones down.
 */
export function joinNatsRun(nc: NatsClient, options: NatsJoinOptions): Promise<NatsMembership> {
  const s = subjects(options.group ?? 'default');
  const workerId = randomId();
  const watch = new ConnectionWatch(nc);
  const announcement = controlFrame({
    t: 'announce',
    worker: workerId,
    backend: options.backend,
    ...(options.name ? { name: options.name } : {}),
  });
  return new Promise((resolve, reject) => {
    let membership: NatsMembership | undefined;
    const announce = () => {
      try {
        nc.publish(s.join, announcement);
      } catch {
        // retried on the next round
      }
    };
    const rounds = setInterval(announce, OFFER_EVERY_MS);
    const giveUp = setTimeout(() => {
      leave();
      reject(
        new ChannelError(
          'timeout',
          `no run took this worker on ${options.url} (subject ${s.join}) within ${Math.round(options.waitMs / 1000)} s`,
        ),
      );
    }, options.waitMs);
    const offers = nc.subscribe(s.offers(workerId), {
      callback: (err, msg) => {
        if (err) return;
        let frame: Frame;
        try {
          frame = parseFrame(msg.data);
        } catch {
          return;
        }
        if (frame.type !== 'control' || frame.body.t !== 'offer') return;
        const run = frame.body.run;
        if (typeof run !== 'string' || !TOKEN.test(run)) return;
        if (!membership) {
          clearInterval(rounds);
          clearTimeout(giveUp);
          const channel = new NatsChannel(
            nc,
            watch,
            `coordinator of run ${run}`,
            options.url,
            s.toWorker(workerId, run),
            s.toCoordinator(run, workerId),
            options,
          );
          membership = { channel, runId: run, workerId, leave };
          reply(s.toCoordinator(run, workerId), 'accept');
          resolve(membership);
        } else if (membership.runId === run) reply(s.toCoordinator(run, workerId), 'accept');
        else reply(s.toCoordinator(run, workerId), 'reject');
      },
    });
    function reply(subject: string, t: string) {
      try {
        nc.publish(subject, controlFrame({ t }));
      } catch {
        // the coordinator offers again
      }
    }
    function leave() {
      clearInterval(rounds);
      clearTimeout(giveUp);
      try {
        offers.unsubscribe();
      } catch {
        // the connection is already closed
      }
    }
    const abandon = () => {
      if (membership) return;
      leave();
      reject(new ChannelError('closed', `left ${options.url} before a run took this worker`));
    };
    if (options.signal?.aborted) abandon();
    else {
      options.signal?.addEventListener('abort', abandon, { once: true });
      announce();
    }
  });
}
