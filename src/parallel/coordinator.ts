/**
 * The coordinator's side of exact data-parallel training, as a Backend the Trainer drives
 * unchanged. Tensors, eager ops and programs without a reduce (evaluation) live on a host
 * backend, which also holds the run's replica of the weights. A training step recorded on it
 * (Network.trainStepOps with reducing ops) runs across the workers: the host gathers the global
 * batch, each worker gets a contiguous range of its rows, the workers' int32 gradient sums of
 * each phase are added (wrapping adds: exact and independent of order) and sent back, and
 * every worker applies the same IntegerSGD. The weights after every step are the single-device
 * run's, bit for bit.
 *
 * The weights live on the workers, as a GPU's live on its device: the host does not apply each
 * step itself (on one machine it would take CPU time from the workers) but keeps the summed
 * gradients of the steps it has not applied, and brings its copy up to date only when it is
 * needed (a read, a checkpoint, an evaluation, a worker joining) or when those kept sums pass
 * `hostLagBytes`: it fetches the weights from a worker that holds them or, with none left,
 * applies the kept steps itself, in order.
 *
 * A worker that fails or stays silent past the timeout is dropped: the step starts again among
 * the others (every worker has the weights before it unless sums of the step went out: then
 * all of them get the host's, brought up to date), so its rows are re-split and the bits do not
 * change. Workers may join between steps.
 */
import type {
  Backend,
  DType,
  Ops,
  Program,
  ReduceParams,
  ReducingOps,
  Tensor,
} from '../backend.ts';
import { captureCalls, type OpCall, replay } from './calls.ts';
import { type Channel, ChannelError, type Envelope, type WorkerSource } from './channel.ts';
import {
  type FetchHeader,
  type InitHeader,
  PROTOCOL_VERSION,
  packInt8,
  payloadBytes,
  sharedInt32,
  type StepHeader,
  type SumsHeader,
} from './protocol.ts';
import { addMetricWords, sumInt32 } from './reduce.ts';

/** Options of {@link DataParallelBackend.start}. */
export interface DataParallelOptions {
  /** Where the workers come from (local threads and processes, a NATS server). */
  source: WorkerSource;
  /** How many workers to wait for before training starts. */
  workers: number;
  /** The model spec every worker builds its replica from. */
  spec: unknown;
  /** A worker that does not answer within this many ms is dropped (default 60 000). */
  timeoutMs?: number;
  /**
   * The same for a worker's first step on a shard size it has not trained before, which
   * records its programs (compiling GPU pipelines) first (default: 10 minutes, at least timeoutMs).
   */
  firstStepTimeoutMs?: number;
  /** How long to wait for the workers to join at the start (default 120 000 ms). */
  joinTimeoutMs?: number;
  /** Told when a worker joins or is dropped. */
  onEvent?: (e: WorkerEvent) => void;
  /**
   * How many bytes of summed gradients the host may keep for steps it has not applied before
   * it fetches the weights from a worker (default 16 MiB, and at least 4 steps' worth, so that
   * a large model's fetches add at most a quarter of its weights to a step's traffic; 0: after
   * every step).
   */
  hostLagBytes?: number;
}

/** A worker joining or being dropped, for the run's log. */
export type WorkerEvent =
  | { kind: 'joined'; worker: string; backend: string; device: string }
  | { kind: 'dropped'; worker: string; reason: string; cursor: number };

/** Messages and payload bytes exchanged, per worker and in all. */
export interface ExchangeStats {
  /** Completed steps. */
  steps: number;
  /** Payload bytes sent to workers and received from them, every worker together. */
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  messagesReceived: number;
}

/** One joined worker. */
export interface WorkerInfo {
  label: string;
  backend: string;
  device: string;
}

interface Member extends WorkerInfo {
  channel: Channel;
  /** Holds the host's weights (false after joining, a fault or sitting a step out). */
  synced: boolean;
  /** The shards (rows@offset) it has trained: a new one records its programs first. */
  shards: Set<string>;
}

/** A recorded program: on the host, or a training step across the workers. */
class LocalProgram implements Program {
  constructor(
    readonly label: string,
    readonly program: Program,
  ) {}
}

/** One phase's summed gradients (and, in phase 0, metric words). */
interface PhaseSums {
  grads: Int32Array[];
  metrics?: Int32Array;
}

/** A completed step: its program and the sums every worker applied. */
interface DoneStep {
  p: ParallelProgram;
  sums: PhaseSums[];
}

interface Phase {
  reduce: ReduceParams;
  /** The IntegerSGD calls that apply this phase's sums. */
  updates: OpCall[];
}

class ParallelProgram implements Program {
  readonly gather: Extract<OpCall, { op: 'gather' }>;
  readonly phases: Phase[] = [];
  /** The cursor's advance, after the step. */
  readonly after: OpCall[] = [];
  readonly lrInv: Tensor;
  /** Every parameter a step updates, once each, in first-update order. */
  readonly parameters: Tensor[] = [];

  constructor(
    readonly label: string,
    calls: readonly OpCall[],
  ) {
    let gather: Extract<OpCall, { op: 'gather' }> | undefined;
    let lrInv: Tensor | undefined;
    for (const c of calls) {
      if (c.op === 'gather' && this.phases.length === 0) gather = c;
      else if (c.op === 'reduce') this.phases.push({ reduce: c.params, updates: [] });
      else if (c.op === 'integerSgd' && this.phases.length > 0) {
        this.phases[this.phases.length - 1].updates.push(c);
        lrInv ??= c.params.lrInv;
        if (!this.parameters.includes(c.params.w)) this.parameters.push(c.params.w);
      } else if (c.op === 'advance') this.after.push(c);
    }
    if (!gather)
      throw new Error(`data-parallel: '${label}' must gather its batch (Network.recordTrainStep)`);
    if (!lrInv) throw new Error(`data-parallel: '${label}' updates no parameter`);
    this.gather = gather;
    this.lrInv = lrInv;
  }

  private inFlight: Int32Array[][] = [];

  /** The step's totals of a phase: buffers from `take`, kept until the step is done. */
  totals(phase: number, take: (size: number) => Int32Array): Int32Array[] {
    this.inFlight[phase] ??= this.phases[phase].reduce.tensors.map((t) => take(t.size));
    return this.inFlight[phase];
  }

  /** The step is done: its totals are the caller's now, the next step takes new ones. */
  release(): void {
    this.inFlight = [];
  }
}

/** Contiguous row ranges of `rows` over `n` workers: [offset, count] each, in worker order. */
export function splitRows(rows: number, n: number): [number, number][] {
  return Array.from({ length: n }, (_, j) => {
    const a = Math.floor((j * rows) / n);
    const b = Math.floor(((j + 1) * rows) / n);
    return [a, b - a] as [number, number];
  });
}

const DAY_MS = 24 * 3600 * 1000;

/** Why a channel call failed, in a few words. */
function reasonOf(e: unknown): string {
  if (e instanceof ChannelError) return e.reason === 'timeout' ? 'timed out' : 'went away';
  return (e as Error).message ?? String(e);
}

export class DataParallelBackend implements Backend {
  readonly kind: Backend['kind'];
  readonly ops: Ops;
  readonly stats: ExchangeStats = {
    steps: 0,
    bytesSent: 0,
    bytesReceived: 0,
    messagesSent: 0,
    messagesReceived: 0,
  };
  private members: Member[] = [];
  private joining: Member[] = [];
  private queue: Promise<void> = Promise.resolve();
  /**
   * The last completed step, its metrics not yet added to the host's: added once the next
   * step's rows are on their way (so the workers never wait for it), and before anything
   * reads the host.
   */
  private pending?: DoneStep;
  /** Completed steps whose updates the host's weights lack (the workers' have them), in order. */
  private behind: DoneStep[] = [];
  private behindBytes = 0;
  /** Totals buffers of steps the host has caught up with, by length, for the next steps. */
  private readonly spare = new Map<number, Int32Array[]>();
  /** The last step's cursor, for the log of a worker dropped between steps. */
  private lastCursor = 0;
  /** Bytes of one step's summed gradients (the last step's). */
  private stepBytes = 0;
  private stepId = 0;
  private closed = false;
  private readonly timeoutMs: number;
  private readonly firstStepMs: number;

  private constructor(
    readonly host: Backend,
    private readonly options: DataParallelOptions,
  ) {
    this.kind = host.kind;
    this.ops = host.ops;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.firstStepMs = Math.max(this.timeoutMs, options.firstStepTimeoutMs ?? 600_000);
  }

  /**
   * Waits for `options.workers` workers from the source (each says hello), then keeps taking
   * the ones that join later. `host` holds the tensors and the weights (a CPU backend is enough).
   */
  static async start(host: Backend, options: DataParallelOptions): Promise<DataParallelBackend> {
    if (!Number.isInteger(options.workers) || options.workers < 1)
      throw new Error(`data-parallel: workers must be a positive integer, got ${options.workers}`);
    const dp = new DataParallelBackend(host, options);
    const joinMs = options.joinTimeoutMs ?? 120_000;
    try {
      while (dp.members.length < options.workers) {
        const channel = await options.source.next(joinMs).catch((e: unknown) => {
          throw new Error(
            `data-parallel: ${dp.members.length} of ${options.workers} workers joined ${options.source.description} within ${joinMs} ms (${(e as Error).message})`,
          );
        });
        dp.members.push(await dp.greet(channel, joinMs));
      }
    } catch (e) {
      dp.destroy();
      throw e;
    }
    void dp.acceptJoins();
    return dp;
  }

  /** The workers taking part now, in row order. */
  get workers(): readonly WorkerInfo[] {
    return this.members.map(({ label, backend, device }) => ({ label, backend, device }));
  }

  get description(): string {
    const kinds = this.members.map((m) => m.backend).join(', ');
    return `${this.members.length} data-parallel workers (${kinds}) via ${this.options.source.description}`;
  }

  private async greet(channel: Channel, timeoutMs: number): Promise<Member> {
    try {
      const m = await channel.receive(timeoutMs);
      this.countIn(m);
      const h = m.header;
      if (h.kind !== 'hello' || h.protocol !== PROTOCOL_VERSION)
        throw new Error(
          `data-parallel: ${channel.label} did not say hello in protocol ${PROTOCOL_VERSION} (got '${h.kind}' ${String(h.protocol)})`,
        );
      const member: Member = {
        channel,
        label: channel.label,
        backend: String(h.backend),
        device: String(h.device),
        synced: false,
        shards: new Set(),
      };
      this.options.onEvent?.({
        kind: 'joined',
        worker: member.label,
        backend: member.backend,
        device: member.device,
      });
      return member;
    } catch (e) {
      channel.close();
      throw e;
    }
  }

  private async acceptJoins(): Promise<void> {
    while (!this.closed) {
      let channel: Channel;
      try {
        channel = await this.options.source.next(DAY_MS);
      } catch (e) {
        if (e instanceof ChannelError && e.reason === 'timeout') continue;
        return;
      }
      try {
        const member = await this.greet(channel, this.timeoutMs);
        if (this.closed) channel.close();
        else this.joining.push(member);
      } catch {}
    }
  }

  tensor(shape: readonly number[], dtype: DType, label: string): Tensor {
    return this.host.tensor(shape, dtype, label);
  }
  view(t: Tensor, shape: readonly number[], label?: string): Tensor {
    return this.host.view(t, shape, label);
  }
  write(t: Tensor, values: ArrayLike<number>): void {
    if (t.dtype !== 'i32') {
      this.inOrder(() => this.host.write(t, values), false);
      return;
    }
    // The host's weights may change (a model loaded, a recovery): brought up to date first,
    // they are what the workers get again.
    this.inOrder(() => {
      this.host.write(t, values);
      for (const m of this.members) m.synced = false;
    }, true);
  }

  /** Steps still running or not yet applied to the host. */
  private outstanding = 0;

  /**
   * Runs `fn` on the host now, or after the steps in flight (in submission order); with
   * `weights`, once the host's weights are up to date.
   */
  private inOrder(fn: () => void, weights: boolean): void {
    if (this.outstanding === 0 && !this.pending && (!weights || this.behind.length === 0)) {
      fn();
      return;
    }
    this.queue = this.queue.then(async () => {
      if (weights) await this.current();
      else await this.commit();
      fn();
    });
  }
  async read(t: Tensor): Promise<Int32Array> {
    await this.queue.catch(() => {});
    await this.current();
    return this.host.read(t);
  }
  dispose(t: Tensor): void {
    // While steps are not applied to the host, a parameter waits for its model's update.
    const kept = this.outstanding > 0 || this.pending || this.behind.length > 0;
    if (!kept || !this.parameters.has(t)) {
      this.host.dispose(t);
      return;
    }
    this.parameters.delete(t);
    // After a failed step the queue stays failed (sync reports it) and the host goes with it.
    this.queue = this.queue.then(async () => {
      await this.current().catch(() => {});
      if (!this.closed) this.host.dispose(t);
    });
  }
  bytesInUse(): number {
    return this.host.bytesInUse();
  }

  record(label: string, build: (ops: Ops) => void): Program {
    const calls = captureCalls(build as (ops: ReducingOps) => void);
    if (!calls.some((c) => c.op === 'reduce'))
      return new LocalProgram(
        label,
        this.host.record(label, (ops) => replay(ops, calls)),
      );
    const p = new ParallelProgram(label, calls);
    for (const t of p.parameters) this.parameters.add(t);
    return p;
  }

  /** Every parameter a recorded step updates. */
  private readonly parameters = new Set<Tensor>();

  run(program: Program, times = 1): void {
    if (program instanceof LocalProgram) {
      this.inOrder(() => this.host.run(program.program, times), true);
      return;
    }
    if (!(program instanceof ParallelProgram))
      throw new Error(`data-parallel: '${program.label}' was not recorded on this backend`);
    this.outstanding++;
    this.queue = this.queue
      .then(async () => {
        for (let t = 0; t < times; t++) await this.step(program);
      })
      .finally(() => this.outstanding--);
  }

  async sync(): Promise<void> {
    const pending = this.queue;
    this.queue = Promise.resolve();
    await pending;
    await this.commit();
    await this.host.sync();
  }

  /** Adds the last completed step's metrics to the host's and keeps its sums for the weights. */
  private async commit(): Promise<void> {
    const done = this.pending;
    if (!done) return;
    this.pending = undefined;
    const host = this.host;
    let bytes = 0;
    for (const [i, { reduce }] of done.p.phases.entries()) {
      const sums = done.sums[i];
      if (reduce.metrics && sums.metrics) {
        const into = await host.read(reduce.metrics.into);
        addMetricWords(into, sums.metrics);
        host.write(reduce.metrics.into, into);
      }
      for (const g of sums.grads) bytes += g.byteLength;
    }
    this.behind.push(done);
    this.behindBytes += bytes;
    this.stepBytes = bytes;
  }

  /**
   * Brings the host's weights up to the workers': fetched from a worker that holds them, or,
   * with none (left), the kept steps' updates applied on the host in order.
   */
  private async current(): Promise<void> {
    await this.commit();
    if (this.behind.length === 0 || this.closed) return;
    const p = this.behind[this.behind.length - 1].p;
    let fetched = false;
    for (const m of this.members.filter((q) => q.synced)) {
      try {
        await this.fetchWeights(m, p);
        fetched = true;
        break;
      } catch (e) {
        if (this.closed) return;
        this.drop(m, reasonOf(e), this.lastCursor);
      }
    }
    if (this.closed) return;
    const host = this.host;
    for (const done of this.behind) {
      if (!fetched)
        for (const [i, { reduce, updates }] of done.p.phases.entries()) {
          for (const [k, t] of reduce.tensors.entries()) host.write(t, done.sums[i].grads[k]);
          replay(host.ops, updates);
        }
      for (const s of done.sums)
        for (const g of s.grads) {
          const list = this.spare.get(g.length) ?? [];
          list.push(g);
          this.spare.set(g.length, list);
        }
    }
    this.behind = [];
    this.behindBytes = 0;
  }

  /** A totals buffer: a spare one, or a new one (in shared memory where there is some). */
  private readonly takeBuffer = (size: number): Int32Array =>
    this.spare.get(size)?.pop() ?? sharedInt32(size);

  /** Writes a worker's copy of every parameter of `p` to the host's. */
  private async fetchWeights(m: Member, p: ParallelProgram): Promise<void> {
    const header: FetchHeader = { kind: 'fetch', names: p.parameters.map((t) => t.label) };
    this.send(m, { header, arrays: [] });
    const msg = await m.channel.receive(this.timeoutMs);
    this.countIn(msg);
    const h = msg.header;
    if (h.kind === 'failed') throw new Error(`failed: ${String(h.message)}`);
    if (
      h.kind !== 'weights' ||
      msg.arrays.length !== p.parameters.length ||
      msg.arrays.some((a, i) => a.length !== p.parameters[i].size)
    )
      throw new Error(
        `sent '${h.kind}' with ${msg.arrays.length} arrays where the ${p.parameters.length} parameters were due`,
      );
    for (const [i, t] of p.parameters.entries()) this.host.write(t, msg.arrays[i]);
  }

  /** One training step across the workers. */
  private async step(p: ParallelProgram): Promise<void> {
    const host = this.host;
    const g = p.gather.params;
    host.ops.gather(g);
    const cursor = (await host.read(g.cursor))[0];
    const lrInv = (await host.read(p.lrInv))[0];
    const x = await host.read(g.out);
    const y = await host.read(g.outLabels);
    for (;;) {
      if (this.joining.length > 0) this.members.push(...this.joining.splice(0));
      if (this.members.length === 0)
        throw new Error(
          `data-parallel: no worker left at step ${cursor} (of ${this.options.workers} asked for)`,
        );
      // A worker that needs the weights gets the host's: brought up to date before any
      // worker starts the step (a fetch is answered between steps).
      const lag = this.options.hostLagBytes ?? Math.max(16 * 2 ** 20, 4 * this.stepBytes);
      if (this.behindBytes >= lag || this.members.some((m) => !m.synced)) {
        await this.current();
        if (this.members.length === 0) continue;
      }
      const sums = await this.attempt(p, { cursor, lrInv, x, y });
      if (!sums) continue;
      await this.commit();
      this.pending = { p, sums };
      p.release();
      this.lastCursor = cursor;
      replay(host.ops, p.after);
      this.stats.steps++;
      return;
    }
  }

  /**
   * One try at a step with the current workers: each phase's sums, or undefined after
   * dropping the workers that failed (the others then need the host's weights again if sums
   * of this step reached them).
   */
  private async attempt(
    p: ParallelProgram,
    batch: { cursor: number; lrInv: number; x: Int32Array; y: Int32Array },
  ): Promise<PhaseSums[] | undefined> {
    const id = ++this.stepId;
    const { cursor, lrInv, x, y } = batch;
    const B = y.length;
    const sample = x.length / B;
    const shares = splitRows(B, this.members.length);
    const taking = this.members.filter((_, j) => shares[j][1] > 0);
    const failed = new Map<Member, string>();
    const fresh = new Set<Member>();
    let sentSums = false;
    // The host is up to date here whenever a worker is not (see step).
    const weights = taking.some((m) => !m.synced) ? await this.weightsMessage(p) : undefined;
    for (const m of this.members) if (!taking.includes(m)) m.synced = false;
    for (const [j, m] of this.members.entries()) {
      const [offset, rows] = shares[j];
      if (rows === 0) continue;
      try {
        if (!m.synced && weights) {
          this.send(m, { header: weights.header, arrays: weights.arrays.map((a) => a.slice()) });
          m.synced = true;
        }
        const header: StepHeader = { kind: 'step', id, cursor, offset, rows, lrInv };
        const shard = `${rows}@${offset}`;
        if (!m.shards.has(shard)) {
          m.shards.add(shard);
          fresh.add(m);
        }
        const xs = packInt8(x.subarray(offset * sample, (offset + rows) * sample));
        this.send(m, { header, arrays: [xs, y.slice(offset, offset + rows)] });
      } catch (e) {
        failed.set(m, reasonOf(e));
      }
    }
    // The previous step reaches the host's metrics while the workers start on this one.
    await this.commit();
    const sums: PhaseSums[] = [];
    // After a failure the others' replies due so far are still read, so that none is left
    // queued to be taken for a reply of the next attempt.
    for (let phase = 0; phase < p.phases.length; phase++) {
      const reduce = p.phases[phase].reduce;
      const parts: Int32Array[][] = [];
      let metrics: Int32Array | undefined;
      const replying = taking.filter((m) => !failed.has(m));
      const clean = failed.size === 0;
      await Promise.all(
        replying.map(async (m) => {
          try {
            const msg = await m.channel.receive(fresh.has(m) ? this.firstStepMs : this.timeoutMs);
            this.countIn(msg);
            const arrays = this.checkGrads(m, msg, id, phase, reduce);
            parts.push(arrays.slice(0, reduce.tensors.length));
            if (reduce.metrics) {
              const words = arrays[reduce.tensors.length];
              if (!metrics) metrics = words;
              else addMetricWords(metrics, words);
            }
          } catch (e) {
            failed.set(m, reasonOf(e));
          }
        }),
      );
      // Those that replied now wait for sums: nothing more is due from them.
      if (!clean || failed.size > 0 || parts.length === 0) break;
      // Every worker has taken the previous totals in (it replied since): they are free to
      // overwrite. Wrapping int32 adds give the same bits in any order.
      const grads = p.totals(phase, this.takeBuffer);
      for (const [k, into] of grads.entries())
        sumInt32(
          into,
          parts.map((a) => a[k]),
        );
      const header: SumsHeader = { kind: 'sums', id, phase };
      for (const m of replying) {
        // The same totals to every worker: a transport copies them out (or, for a local
        // thread, shares them) and none of them writes there.
        try {
          this.send(m, { header, arrays: grads });
          sentSums = true;
        } catch (e) {
          failed.set(m, reasonOf(e));
        }
      }
      sums.push({ grads, metrics });
    }
    if (failed.size === 0) return sums;
    for (const [m, reason] of failed) this.drop(m, reason, cursor);
    // Before any sums went out every worker still holds the weights before the step.
    if (sentSums) for (const m of this.members) m.synced = false;
    return undefined;
  }

  private checkGrads(
    m: Member,
    msg: Envelope,
    id: number,
    phase: number,
    reduce: ReduceParams,
  ): readonly Int32Array[] {
    const h = msg.header;
    if (h.kind === 'failed') throw new Error(`failed: ${String(h.message)}`);
    if (h.kind !== 'grads' || h.id !== id || h.phase !== phase)
      throw new Error(
        `sent '${h.kind}' (step ${String(h.id)} phase ${String(h.phase)}) where gradients of step ${id} phase ${phase} were due`,
      );
    const want = reduce.tensors.map((t) => t.size);
    if (reduce.metrics) want.push(reduce.metrics.words.size);
    if (msg.arrays.length !== want.length || msg.arrays.some((a, k) => a.length !== want[k]))
      throw new Error(
        `sent ${msg.arrays.length} gradient arrays of [${msg.arrays.map((a) => a.length)}] values, expected [${want}]`,
      );
    void m;
    return msg.arrays;
  }

  private async weightsMessage(p: ParallelProgram): Promise<Envelope> {
    await this.current();
    const header: InitHeader = {
      kind: 'init',
      spec: this.options.spec,
      names: p.parameters.map((t) => t.label),
    };
    const arrays = await Promise.all(p.parameters.map((t) => this.host.read(t)));
    return { header, arrays };
  }

  private send(m: Member, message: Envelope): void {
    // Counted first: a transport may transfer (detach) the arrays' buffers.
    const bytes = payloadBytes(message);
    m.channel.send(message);
    this.stats.messagesSent++;
    this.stats.bytesSent += bytes;
  }

  private countIn(message: Envelope): void {
    this.stats.messagesReceived++;
    this.stats.bytesReceived += payloadBytes(message);
  }

  private drop(m: Member, reason: string, cursor: number): void {
    this.members = this.members.filter((q) => q !== m);
    m.channel.close();
    this.options.onEvent?.({ kind: 'dropped', worker: m.label, reason, cursor });
  }

  /** Tells the workers to stop, releases them and the host. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    for (const m of [...this.members, ...this.joining]) {
      try {
        m.channel.send({ header: { kind: 'stop' }, arrays: [] });
      } catch {}
      m.channel.close();
    }
    this.members = [];
    this.joining = [];
    void this.options.source.close().catch(() => {});
    this.host.destroy();
  }
}
