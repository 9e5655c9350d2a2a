/**
 * The NATS transport on a real nats-server of its own: envelopes arrive in order, exactly
 * once, whole, across chunking, a server restart and a cut client connection; malformed and
 * oversized input closes the channel with a one-line error naming the subject.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Channel, ChannelError, type Envelope } from '../src/parallel/channel.ts';
import {
  type NatsChannel,
  type NatsLinkOptions,
  NatsWorkerSource,
  joinNatsRun,
} from '../src/parallel/nats.ts';
import { connectNats, joinNatsRunAt, openNatsWorkerSource } from '../src/parallel/nats-connect.ts';
import {
  controlFrame,
  dataFrame,
  decodeEnvelope,
  encodeEnvelope,
} from '../src/parallel/nats-wire.ts';
import { type TestNatsServer, startNatsServer, startRelay } from './nats-server.ts';

/** Deterministic int32 contents for message `i`, covering the whole range with wrapping. */
function payload(i: number, n: number): Int32Array {
  const a = new Int32Array(n);
  for (let k = 0; k < n; k++) a[k] = Math.imul(i * 7919 + k, 0x9e3779b1) ^ (k << 13);
  return a;
}

function message(i: number, n: number): Envelope {
  return {
    header: { kind: 'grad', step: i, note: 'ü' },
    arrays: [payload(i, n), new Int32Array([-i, i])],
  };
}

function expectMessage(got: Envelope, i: number, n: number): void {
  expect(got.header).toEqual({ kind: 'grad', step: i, note: 'ü' });
  expect(got.arrays.length).toBe(2);
  const want = payload(i, n);
  expect(got.arrays[0].length).toBe(n);
  let diff = -1;
  for (let k = 0; k < n; k++)
    if (got.arrays[0][k] !== want[k]) {
      diff = k;
      break;
    }
  expect(diff, `first differing element of message ${i}`).toBe(-1);
  expect(Array.from(got.arrays[1])).toEqual([-i | 0, i]);
}

interface Pair {
  coordinator: Channel;
  worker: NatsChannel;
  source: NatsWorkerSource;
  close(): Promise<void>;
}

/** A coordinator's source and one joined worker, each on its own connection. */
async function pair(
  coordinatorUrl: string,
  workerUrl: string,
  link: NatsLinkOptions = {},
  workerLink: NatsLinkOptions = link,
): Promise<Pair> {
  const source = await openNatsWorkerSource(coordinatorUrl, { group: 'test', ...link });
  const joining = joinNatsRunAt(workerUrl, {
    group: 'test',
    backend: 'cpu',
    waitMs: 10_000,
    ...workerLink,
  });
  const coordinator = await source.next(10_000);
  const w = await joining;
  return {
    coordinator,
    worker: w.channel,
    source,
    async close() {
      await w.close();
      await source.close();
    },
  };
}

describe('envelope encoding', () => {
  it('round-trips headers and int32 arrays bit for bit', () => {
    const m: Envelope = {
      header: { kind: 'x', a: [1, 2], s: 'π' },
      arrays: [
        new Int32Array([0, -1, 2147483647, -2147483648]),
        new Int32Array(0),
        payload(3, 1001),
      ],
    };
    const bytes = encodeEnvelope(m);
    // little-endian on the wire whatever the host: -1 is ff ff ff ff, 2^31-1 is ff ff ff 7f
    const back = decodeEnvelope(bytes);
    expect(back.header).toEqual(m.header);
    expect(back.arrays.map((a) => Array.from(a))).toEqual(m.arrays.map((a) => Array.from(a)));
    const view = new DataView(bytes.buffer);
    expect(view.getUint32(0, true)).toBe(new TextEncoder().encode(JSON.stringify(m.header)).length);
    expect(view.getUint32(4, true)).toBe(3);
  });

  it('rejects truncated and inconsistent messages with one line, allocating nothing large', () => {
    const bytes = encodeEnvelope(message(1, 10));
    expect(() => decodeEnvelope(bytes.subarray(0, bytes.length - 4))).toThrow(/fields add up to/);
    const huge = bytes.slice();
    new DataView(huge.buffer).setUint32(4, 0xffffffff, true); // 4 billion arrays declared
    expect(() => decodeEnvelope(huge)).toThrow(/declares 4294967295 arrays/);
    const noKind = encodeEnvelope({ header: { kind: 'x' }, arrays: [] });
    noKind[8] = '['.charCodeAt(0); // header now starts '[', not an object
    expect(() => decodeEnvelope(noKind)).toThrow(/not UTF-8 JSON|not a JSON object/);
  });
});

describe('NATS channel', () => {
  let server: TestNatsServer;
  let small: TestNatsServer;
  beforeAll(async () => {
    [server, small] = await Promise.all([startNatsServer(), startNatsServer({ maxPayload: 4096 })]);
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), small?.stop()]);
  });

  it('delivers messages both ways in order, exactly once', async () => {
    const p = await pair(server.url, server.url);
    try {
      for (let i = 0; i < 100; i++) p.coordinator.send(message(i, 50 + i));
      for (let i = 0; i < 100; i++) p.worker.send(message(1000 + i, 10));
      for (let i = 0; i < 100; i++) expectMessage(await p.worker.receive(5000), i, 50 + i);
      for (let i = 0; i < 100; i++) expectMessage(await p.coordinator.receive(5000), 1000 + i, 10);
      await expect(p.worker.receive(200)).rejects.toMatchObject({ reason: 'timeout' });
      expect(p.worker.stats.messagesReceived).toBe(100);
    } finally {
      await p.close();
    }
  });

  it('chunks messages to the server max_payload (4 KiB and the default 1 MiB)', async () => {
    const p = await pair(small.url, small.url);
    try {
      const nc = await connectNats(small.url);
      expect(nc.info?.max_payload).toBe(4096);
      await nc.close();
      p.coordinator.send(message(7, 100_000)); // 400 KB: about 100 chunks
      p.coordinator.send(message(8, 3));
      expectMessage(await p.worker.receive(10_000), 7, 100_000);
      expectMessage(await p.worker.receive(10_000), 8, 3);
    } finally {
      await p.close();
    }
    const q = await pair(server.url, server.url);
    try {
      q.worker.send(message(9, 800_000)); // 3.2 MB, over 1 MiB
      expectMessage(await q.coordinator.receive(10_000), 9, 800_000);
    } finally {
      await q.close();
    }
  });

  it('loses nothing when nats-server is killed and restarted mid-stream', async () => {
    const own = await startNatsServer({ maxPayload: 16 * 1024 });
    const p = await pair(own.url, own.url, { retransmitMs: 200 });
    try {
      const n = 4096; // 16 KB per message, one chunk and a bit
      const got: Envelope[] = [];
      const reading = (async () => {
        for (let i = 0; i < 120; i++) got.push(await p.worker.receive(20_000));
      })();
      for (let i = 0; i < 60; i++) p.coordinator.send(message(i, n));
      while (got.length < 20) await new Promise((r) => setTimeout(r, 5));
      await own.kill();
      // sent while the server is down: the client buffers them until it reconnects
      for (let i = 60; i < 120; i++) p.coordinator.send(message(i, n));
      await new Promise((r) => setTimeout(r, 500));
      await own.start();
      await reading;
      for (const [i, m] of got.entries()) expectMessage(m, i, n);
      // at least the frames sent while it was down went out again after the reconnect
      expect((p.coordinator as NatsChannel).stats.framesRetransmitted).toBeGreaterThan(0);
      // and the other direction after the restart
      p.worker.send(message(500, 5));
      expectMessage(await p.coordinator.receive(10_000), 500, 5);
    } finally {
      await p.close();
      await own.stop();
    }
  });

  it('a coordinator whose connection is cut resumes when it is back, nothing lost', async () => {
    const relay = await startRelay(server.port);
    const p = await pair(relay.url, server.url, { retransmitMs: 200 });
    try {
      for (let i = 0; i < 30; i++) p.worker.send(message(i, 2000));
      for (let i = 0; i < 10; i++) expectMessage(await p.coordinator.receive(10_000), i, 2000);
      await relay.cut(1500);
      for (let i = 30; i < 60; i++) p.worker.send(message(i, 2000));
      for (let i = 10; i < 60; i++) expectMessage(await p.coordinator.receive(20_000), i, 2000);
      p.coordinator.send(message(99, 1));
      expectMessage(await p.worker.receive(10_000), 99, 1);
    } finally {
      await p.close();
      await relay.stop();
    }
  });

  it('closes on a message over the size limit, naming the subject, without allocating it', async () => {
    const p = await pair(server.url, server.url, {}, { maxMessageBytes: 4096 });
    try {
      p.coordinator.send(message(1, 100)); // 400 bytes: fine
      expectMessage(await p.worker.receive(5000), 1, 100);
      p.coordinator.send(message(2, 10_000));
      const err = await p.worker.receive(5000).catch((e) => e);
      expect(err).toBeInstanceOf(ChannelError);
      expect(err.reason).toBe('closed');
      expect(err.message).toMatch(
        /40\d\d\d-byte message on nitro-d\.test\.worker\.[\w.]+ is over the 4096-byte limit/,
      );
      expect(err.message).not.toMatch(/\n/);
      expect(() => p.worker.send(message(3, 1))).toThrow(ChannelError);
    } finally {
      await p.close();
    }
  });

  it('closes on a malformed frame, naming the subject and server', async () => {
    const p = await pair(server.url, server.url);
    const nc = await connectNats(server.url);
    try {
      // a frame claiming a chunk past its message's end
      const bad = dataFrame(0, 10, 8, new Uint8Array(8));
      nc.publish(p.worker.inSubject, bad);
      await nc.flush();
      const err = await p.worker.receive(5000).catch((e) => e);
      expect(err.reason).toBe('closed');
      expect(err.message).toContain(`bad frame on ${p.worker.inSubject} (${server.url})`);
      expect(err.message).toMatch(/overruns its 10-byte message/);
    } finally {
      await nc.close();
      await p.close();
    }
  });

  it('a closed end is reported after its last messages', async () => {
    const p = await pair(server.url, server.url);
    try {
      p.worker.send(message(1, 3));
      p.worker.send(message(2, 3));
      p.worker.close();
      await p.worker.closed();
      expectMessage(await p.coordinator.receive(5000), 1, 3);
      expectMessage(await p.coordinator.receive(5000), 2, 3);
      await expect(p.coordinator.receive(5000)).rejects.toThrow(/closed the channel/);
    } finally {
      await p.close();
    }
  });

  it('a worker joins one run; with no run it gives up naming the subject', async () => {
    const a = await connectNats(server.url);
    const b = await connectNats(server.url);
    const w = await connectNats(server.url);
    const one = new NatsWorkerSource(a, { url: server.url, group: 'two' });
    const two = new NatsWorkerSource(b, { url: server.url, group: 'two' });
    try {
      const m = await joinNatsRun(w, {
        url: server.url,
        group: 'two',
        backend: 'cpu',
        waitMs: 5000,
      });
      const taken = await Promise.race([
        one.next(3000).then(() => one.runId),
        two.next(3000).then(() => two.runId),
      ]);
      expect(taken).toBe(m.runId);
      // the other run gets no worker: it was turned down
      const other = taken === one.runId ? two : one;
      await expect(other.next(1500)).rejects.toMatchObject({ reason: 'timeout' });
      m.leave();
      m.channel.close();
      await expect(
        joinNatsRun(w, { url: server.url, group: 'nobody', backend: 'cpu', waitMs: 600 }),
      ).rejects.toThrow(
        /no run took this worker on nats:\/\/127\.0\.0\.1:\d+ \(subject nitro-d\.nobody\.join\)/,
      );
      await expect(connectNats('http://example')).rejects.toThrow(
        /--nats "http:\/\/example": expected nats:\/\//,
      );
      await expect(connectNats(`nats://127.0.0.1:1`, { timeoutMs: 1000 })).rejects.toThrow(
        /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/,
      );
    } finally {
      await one.close();
      await two.close();
      for (const nc of [a, b, w] as NatsConnection[]) await nc.close();
    }
  });

  it("a worker's announced name reaches the log as one printable line", async () => {
    const a = await connectNats(server.url);
    const w = await connectNats(server.url);
    const source = new NatsWorkerSource(a, { url: server.url, group: 'names' });
    try {
      const joining = joinNatsRun(w, {
        url: server.url,
        group: 'names',
        backend: 'cpu\u001b[2J',
        name: 'evil\nname',
        waitMs: 5000,
      });
      const c = await source.next(5000);
      expect(c.label).toBe('worker evil?name (cpu?[2J, NATS)');
      const m = await joining;
      m.leave();
      m.channel.close();
    } finally {
      await source.close();
      await a.close();
      await w.close();
    }
  });

  it('ignores stray messages on the join subject', async () => {
    const nc = await connectNats(server.url);
    const source = new NatsWorkerSource(nc, { url: server.url, group: 'stray' });
    try {
      nc.publish('nitro-d.stray.join', new Uint8Array([1, 2, 3]));
      nc.publish('nitro-d.stray.join', controlFrame({ t: 'announce', worker: 'bad id!' }));
      await expect(source.next(800)).rejects.toMatchObject({ reason: 'timeout' });
    } finally {
      await source.close();
      await nc.close();
    }
  });
});
