/**
 * A data-parallel worker: it holds a replica of the model on its own backend and trains the
 * rows of each step the coordinator gives it, sending that phase's gradient sums and applying
 * the summed gradients it gets back (docs/algorithm.md §4). It imports nothing from Node, so a
 * browser page runs it as it is over a WebSocket channel.
 */
import type { Backend, Program, ReduceParams } from '../backend.ts';
import { Model } from '../model/model.ts';
import { Network } from '../model/network.ts';
import { captureCalls, replay, splitPhases } from './calls.ts';
import { type Channel, ChannelError, type Envelope } from './channel.ts';
import {
  type GradsHeader,
  type HelloHeader,
  intField,
  PROTOCOL_VERSION,
  sharedInt32,
  unpackInt8,
} from './protocol.ts';

/** Options of {@link serveWorker}. */
export interface ServeWorkerOptions {
  /** Longest wait for the coordinator's next message, in ms (default: a day). */
  idleTimeoutMs?: number;
  /** Called with each step's header before it runs (a test's or a page's progress hook). */
  onStep?: (step: { cursor: number; offset: number; rows: number }) => void | Promise<void>;
}

/** The network of one shard (rows at an offset) and its step split into recorded phases. */
interface Shard {
  net: Network;
  programs: (Program | undefined)[];
  reduces: ReduceParams[];
  /** Each phase's gradient sums as sent, kept from step to step (see sharedInt32). */
  out: Int32Array[][];
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * Serves one coordinator over `channel` until it says stop or goes away. The backend stays the
 * caller's. Rejects on a failure of this worker (after telling the coordinator why).
 */
export async function serveWorker(
  channel: Channel,
  backend: Backend,
  options: ServeWorkerOptions = {},
): Promise<void> {
  const idle = options.idleTimeoutMs ?? DAY_MS;
  const hello: HelloHeader = {
    kind: 'hello',
    protocol: PROTOCOL_VERSION,
    backend: backend.kind,
    device: backend.description,
  };
  let model: Model | undefined;
  let specKey = '';
  const shards = new Map<string, Shard>();
  const dropShards = () => {
    for (const s of shards.values()) s.net.dispose();
    shards.clear();
  };

  const shardFor = (rows: number, offset: number): Shard => {
    const key = `${rows}@${offset}`;
    let s = shards.get(key);
    if (!s) {
      if (!model) throw new Error('worker: a step arrived before the model (init)');
      const net = new Network(backend, model.plan, model.params, rows, { rowOffset: offset });
      const { segments, reduces } = splitPhases(captureCalls((ops) => net.trainStepOps(ops)));
      const programs = segments.map((calls, i) =>
        calls.length > 0
          ? backend.record(`shard phase ${i}`, (ops) => replay(ops, calls))
          : undefined,
      );
      const out = reduces.map((r) => r.tensors.map((t) => sharedInt32(t.size)));
      s = { net, programs, reduces, out };
      shards.set(key, s);
    }
    return s;
  };

  const init = (m: Envelope) => {
    const names = m.header.names;
    if (!Array.isArray(names) || names.length !== m.arrays.length)
      throw new Error('worker: init names do not match its arrays');
    const weights = new Map<string, Int32Array>();
    for (const [i, n] of names.entries()) weights.set(String(n), m.arrays[i]);
    const key = JSON.stringify(m.header.spec);
    if (model && key === specKey) {
      model.setWeights(weights);
      return;
    }
    dropShards();
    model?.dispose();
    model = undefined;
    model = Model.create(backend, m.header.spec, { weights });
    specKey = key;
  };

  /** Answers a fetch: the named parameters of this replica, in that order. */
  const sendWeights = async (m: Envelope) => {
    const names = m.header.names;
    if (!model) throw new Error('worker: weights were asked for before the model (init)');
    if (!Array.isArray(names)) throw new Error('worker: a fetch must name its parameters');
    const weights = await model.getWeights();
    const arrays = names.map((n) => {
      const w = weights.get(String(n));
      if (!w) throw new Error(`worker: no parameter ${String(n)} to send`);
      return w;
    });
    channel.send({ header: { kind: 'weights', names }, arrays });
  };

  /** Runs a step; returns a message that cut it short (init or stop), if one did. */
  const step = async (m: Envelope): Promise<Envelope | undefined> => {
    const id = intField(m, 'id');
    const cursor = intField(m, 'cursor');
    const offset = intField(m, 'offset');
    const rows = intField(m, 'rows');
    const lrInv = intField(m, 'lrInv');
    await options.onStep?.({ cursor, offset, rows });
    const s = shardFor(rows, offset);
    const [x, y] = m.arrays;
    if (!x || !y || y.length !== rows)
      throw new Error(`worker: step ${id} must carry ${rows} samples and labels`);
    backend.write(s.net.x, unpackInt8(x, s.net.x.size));
    backend.write(s.net.y, y);
    backend.write(s.net.cursor, [cursor]);
    backend.write(s.net.lrInv, [lrInv]);
    for (let phase = 0; phase < s.reduces.length; phase++) {
      const program = s.programs[phase];
      if (program) backend.run(program);
      const r = s.reduces[phase];
      const out = s.out[phase];
      const arrays = await Promise.all(
        r.tensors.map(async (t, k) => {
          if (backend.readInto) await backend.readInto(t, out[k]);
          else out[k].set(await backend.read(t));
          return out[k];
        }),
      );
      if (r.metrics) arrays.push(await backend.read(r.metrics.words));
      const header: GradsHeader = { kind: 'grads', id, phase };
      channel.send({ header, arrays });
      const reply = await channel.receive(idle);
      if (reply.header.kind !== 'sums') return reply;
      if (reply.header.id !== id || reply.header.phase !== phase)
        throw new Error(
          `worker: sums of step ${String(reply.header.id)} phase ${String(reply.header.phase)} arrived in step ${id} phase ${phase}`,
        );
      if (reply.arrays.length !== r.tensors.length)
        throw new Error(`worker: ${reply.arrays.length} sums for ${r.tensors.length} gradients`);
      for (const [i, t] of r.tensors.entries()) backend.write(t, reply.arrays[i]);
    }
    const last = s.programs[s.reduces.length];
    if (last) backend.run(last);
    await backend.sync();
    return undefined;
  };

  try {
    channel.send({ header: hello, arrays: [] });
    let next: Envelope | undefined;
    for (;;) {
      const m = next ?? (await channel.receive(idle));
      next = undefined;
      const kind = m.header.kind;
      if (kind === 'stop') return;
      if (kind === 'init') init(m);
      else if (kind === 'fetch') await sendWeights(m);
      else if (kind === 'step') next = await step(m);
      else throw new Error(`worker: unexpected '${kind}' message`);
    }
  } catch (e) {
    if (e instanceof ChannelError && e.reason === 'closed') return;
    try {
      channel.send({ header: { kind: 'failed', message: (e as Error).message }, arrays: [] });
    } catch {}
    throw e;
  } finally {
    dropShards();
    model?.dispose();
    channel.close();
  }
}
