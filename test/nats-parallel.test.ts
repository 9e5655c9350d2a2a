/**
 * Exact data-parallel training over a real nats-server: the Trainer on a DataParallelBackend
 * whose workers joined through NATS ends with every weight and metric of the single-device run
 * (an MLP with dropout and augmentation, a CNN whose linear block updates twice per step), for
 * 1, 2 and 3 workers, a worker joining mid-run, the server killed and restarted mid-run, the
 * coordinator's connection cut mid-run, and a CPU and a WebGPU worker together.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import { createBackend } from '../src/backends.ts';
import { CpuBackend } from '../src/cpu-backend.ts';
import { type ModelSpec, parseModelSpec } from '../src/model/spec.ts';
import { DataParallelBackend, type WorkerEvent } from '../src/parallel/coordinator.ts';
import type { Channel } from '../src/parallel/channel.ts';
import type { NatsChannel } from '../src/parallel/nats.ts';
import { joinNatsRunAt, openNatsWorkerSource } from '../src/parallel/nats-connect.ts';
import { serveWorker } from '../src/parallel/worker.ts';
import type { TrainerOptions } from '../src/train/trainer.ts';
import { expectSameElements } from './helpers.ts';
import { bandDataset, type Run, trainerOptions, trainRun } from './parallel-fixtures.ts';
import { type TestNatsServer, startNatsServer, startRelay } from './nats-server.ts';

const MLP = parseModelSpec({
  input: [1, 8, 8],
  classes: 4,
  hidden: [24, 12],
  dropout: { features: 0, hidden: 100 },
  training: { lrInv: 64 },
});

// conv, pool, conv, then a linear block that updates twice per step.
const CNN = parseModelSpec({
  input: [1, 8, 8],
  classes: 4,
  features: [{ conv: 4, kernel: 3, padding: 1 }, { pool: 2 }, { conv: 6, kernel: 3, padding: 1 }],
  hidden: [16],
  bias: true,
  training: { lrInv: 64 },
});

const DATA = {
  train: bandDataset('train', 96, 11),
  test: bandDataset('test', 32, 12),
};

function options(batch: number, augment: boolean): TrainerOptions {
  return trainerOptions(batch, augment, 9, 2);
}

function train(backend: Backend, spec: ModelSpec, opts: TrainerOptions): Promise<Run> {
  return trainRun(backend, spec, DATA, opts, 4);
}

async function singleDevice(spec: ModelSpec, opts: TrainerOptions): Promise<Run> {
  const backend = await CpuBackend.create();
  try {
    return await train(backend, spec, opts);
  } finally {
    backend.destroy();
  }
}

/** sha256 over every parameter's name and bytes: the equality table's fingerprint. */
function fingerprint(run: Run): string {
  const h = createHash('sha256');
  for (const [name, w] of [...run.weights].sort(([a], [b]) => a.localeCompare(b))) {
    h.update(name);
    h.update(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
  }
  return h.digest('hex');
}

function expectSameRun(got: Run, want: Run): void {
  expect([...got.weights.keys()].sort()).toEqual([...want.weights.keys()].sort());
  for (const [name, w] of want.weights) expectSameElements(got.weights.get(name)!, w, name);
  expect(got.results.map((r) => [r.train, r.test])).toEqual(
    want.results.map((r) => [r.train, r.test]),
  );
  expect(fingerprint(got)).toBe(fingerprint(want));
}

interface NatsWorkerPlan {
  backend?: () => Promise<Backend>;
  /** Joins only when this resolves (a mid-run join). */
  joinAfter?: Promise<unknown>;
  /** From its `after`-th step on, holds what it sends until `until` resolves. */
  hold?: { after: number; until: Promise<unknown> };
}

interface Fault {
  /** Called with the count of steps the workers have started, all together. */
  onStep?: (steps: number) => void;
}

/** The Trainer on a DataParallelBackend whose workers join over NATS, each on its own connection. */
async function overNats(
  server: { url: string },
  coordinatorUrl: string,
  spec: ModelSpec,
  opts: TrainerOptions,
  plans: NatsWorkerPlan[],
  fault: Fault = {},
  events: WorkerEvent[] = [],
  onEvent: () => void = () => {},
): Promise<{ run: Run; stepsPerWorker: number[]; channels: NatsChannel[] }> {
  const group = `g${Math.random().toString(36).slice(2, 10)}`;
  const source = await openNatsWorkerSource(coordinatorUrl, { group, retransmitMs: 200 });
  const backends: Backend[] = [];
  const stepsPerWorker = plans.map(() => 0);
  let steps = 0;
  const serving = plans.map(async (plan, i) => {
    await plan.joinAfter;
    const backend = await (plan.backend ?? (() => CpuBackend.create()))();
    backends.push(backend);
    const link = await joinNatsRunAt(server.url, {
      group,
      backend: backend.kind,
      name: `w${i}`,
      waitMs: 30_000,
      retransmitMs: 200,
    });
    // A held worker keeps the step waiting for it (the coordinator meanwhile takes a newcomer).
    let held: Promise<unknown> = Promise.resolve();
    const channel: Channel = plan.hold
      ? {
          label: link.channel.label,
          send: (m) => {
            if (stepsPerWorker[i] >= plan.hold!.after) held = held.then(() => plan.hold!.until);
            held = held.then(() => link.channel.send(m));
          },
          receive: (t) => link.channel.receive(t),
          close: () => void held.then(() => link.channel.close()),
        }
      : link.channel;
    try {
      await serveWorker(channel, backend, {
        onStep: () => {
          stepsPerWorker[i]++;
          fault.onStep?.(++steps);
        },
      });
      await held;
    } finally {
      await link.close();
    }
  });
  const initial = plans.filter((p) => !p.joinAfter).length;
  const dp = await DataParallelBackend.start(await CpuBackend.create(), {
    source,
    workers: initial,
    spec,
    timeoutMs: 30_000,
    joinTimeoutMs: 30_000,
    onEvent: (e) => {
      events.push(e);
      onEvent();
    },
  });
  try {
    const run = await train(dp, spec, opts);
    return { run, stepsPerWorker, channels: [...source.workers] };
  } finally {
    dp.destroy();
    await Promise.all(serving);
    await source.close();
    for (const b of backends) b.destroy();
  }
}

describe('data-parallel training over NATS', () => {
  let server: TestNatsServer;
  const want = new Map<string, Promise<Run>>();
  const reference = (name: 'mlp' | 'cnn') => {
    let run = want.get(name);
    if (!run) {
      run =
        name === 'mlp'
          ? singleDevice(MLP, options(12, true))
          : singleDevice(CNN, options(8, false));
      want.set(name, run);
    }
    return run;
  };
  beforeAll(async () => {
    server = await startNatsServer({ maxPayload: 64 * 1024 });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('1, 2 and 3 workers give the single-device bits: MLP with dropout and augmentation', async () => {
    const ref = await reference('mlp');
    for (const n of [1, 2, 3]) {
      const plans = Array.from({ length: n }, () => ({}));
      const { run, stepsPerWorker, channels } = await overNats(
        server,
        server.url,
        MLP,
        options(12, true),
        plans,
      );
      expectSameRun(run, ref);
      expect(stepsPerWorker.every((s) => s > 0)).toBe(true);
      expect(channels.length).toBe(n);
    }
  });

  it('1, 2 and 3 workers give the single-device bits: CNN with a twice-updated linear block', async () => {
    const ref = await reference('cnn');
    for (const n of [1, 2, 3]) {
      const plans = Array.from({ length: n }, () => ({}));
      const { run } = await overNats(server, server.url, CNN, options(8, false), plans);
      expectSameRun(run, ref);
    }
  });

  it('a worker joining mid-run: same bits, and it trains', async () => {
    const ref = await reference('cnn');
    let third!: () => void;
    const late = new Promise<void>((r) => (third = r));
    // Worker 0's answers from its 3rd step on wait until the newcomer has joined, so the join
    // lands mid-run however fast the steps go.
    let joined!: () => void;
    const both = new Promise<void>((r) => (joined = r));
    const events: WorkerEvent[] = [];
    const { run, stepsPerWorker } = await overNats(
      server,
      server.url,
      CNN,
      options(8, false),
      [{ hold: { after: 3, until: both } }, { joinAfter: late }],
      { onStep: (s) => s === 3 && third() },
      events,
      () => events.filter((e) => e.kind === 'joined').length === 2 && joined(),
    );
    expectSameRun(run, ref);
    expect(stepsPerWorker[1]).toBeGreaterThan(0);
    expect(events.filter((e) => e.kind === 'joined').length).toBe(2);
    expect(events.filter((e) => e.kind === 'dropped')).toEqual([]);
  });

  it('nats-server killed and restarted mid-run: same bits, no worker dropped', async () => {
    const ref = await reference('mlp');
    const own = await startNatsServer({ maxPayload: 64 * 1024 });
    try {
      let restarting: Promise<void> | undefined;
      const events: WorkerEvent[] = [];
      const { run, channels } = await overNats(
        own,
        own.url,
        MLP,
        options(12, true),
        [{}, {}],
        { onStep: (s) => s === 5 && (restarting = own.restart(400)) },
        events,
      );
      await restarting;
      expect(restarting).toBeDefined();
      expectSameRun(run, ref);
      expect(events.filter((e) => e.kind === 'dropped')).toEqual([]);
      expect(channels.reduce((n, c) => n + c.stats.framesRetransmitted, 0)).toBeGreaterThan(0);
    } finally {
      await own.stop();
    }
  });

  it("the coordinator's connection cut mid-run: it resumes when back, same bits", async () => {
    const ref = await reference('cnn');
    const relay = await startRelay(server.port);
    try {
      let cut: Promise<void> | undefined;
      const events: WorkerEvent[] = [];
      const { run } = await overNats(
        server,
        relay.url,
        CNN,
        options(8, false),
        [{}, {}],
        { onStep: (s) => s === 6 && (cut = relay.cut(800)) },
        events,
      );
      await cut;
      expect(cut).toBeDefined();
      expectSameRun(run, ref);
      expect(events.filter((e) => e.kind === 'dropped')).toEqual([]);
    } finally {
      await relay.stop();
    }
  });

  it('a CPU worker and a WebGPU worker together: same bits', async () => {
    const ref = await reference('cnn');
    const { run } = await overNats(server, server.url, CNN, options(8, false), [
      {},
      { backend: () => createBackend('webgpu') },
    ]);
    expectSameRun(run, ref);
  });
});
