/**
 * Exact data-parallel training in one process: the Trainer on a DataParallelBackend with
 * in-process workers (each on its own backend) ends with every weight and metric of the
 * single-device run, for an MLP with dropout and augmentation and a CNN whose linear block
 * updates twice per step (with biases), for 1, 2 and 3 workers, uneven splits, shuffled
 * arrival order, a CPU and a WebGPU worker together, and workers that die or stall mid-run.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import { CpuBackend } from '../src/cpu-backend.ts';
import { createBackend } from '../src/backends.ts';
import { planFromSpec } from '../src/model/plan.ts';
import { parseModelSpec, type ModelSpec } from '../src/model/spec.ts';
import type { Channel } from '../src/parallel/channel.ts';
import { DataParallelBackend, splitRows, type WorkerEvent } from '../src/parallel/coordinator.ts';
import { memoryChannelPair, memoryWorkerSource } from '../src/parallel/memory.ts';
import { addInt32, addMetricWords, sumInt32 } from '../src/parallel/reduce.ts';
import { serveWorker } from '../src/parallel/worker.ts';
import type { TrainerOptions } from '../src/train/trainer.ts';
import { expectSameElements, Rng } from './helpers.ts';
import { bandDataset, type Run, trainerOptions, trainRun } from './parallel-fixtures.ts';
import { SRC } from './structure.ts';

const MLP = parseModelSpec({
  input: [1, 8, 8],
  classes: 4,
  hidden: [24, 12],
  dropout: { features: 0, hidden: 100 },
  training: { lrInv: 64 },
});

// conv, pool, conv, then a linear block: the linear block updates twice per step.
const CNN = parseModelSpec({
  input: [1, 8, 8],
  classes: 4,
  features: [{ conv: 4, kernel: 3, padding: 1 }, { pool: 2 }, { conv: 6, kernel: 3, padding: 1 }],
  hidden: [16],
  bias: true,
  compat: 'reference',
  training: { lrInv: 64 },
});

const DATA = {
  train: bandDataset('train', 120, 7),
  test: bandDataset('test', 40, 8),
};

function options(batch: number, augment: boolean): TrainerOptions {
  return trainerOptions(batch, augment, 5, 3);
}

function train(backend: Backend, spec: ModelSpec, opts: TrainerOptions): Promise<Run> {
  return trainRun(backend, spec, DATA, opts, 3);
}

const single = new Map<string, Promise<Run>>();
function singleDevice(spec: ModelSpec, opts: TrainerOptions): Promise<Run> {
  const key = JSON.stringify([spec, opts.batch, opts.augment]);
  let run = single.get(key);
  if (!run) {
    run = (async () => {
      const backend = await CpuBackend.create();
      try {
        return await train(backend, spec, opts);
      } finally {
        backend.destroy();
      }
    })();
    single.set(key, run);
  }
  return run;
}

interface WorkerPlan {
  backend?: () => Promise<Backend>;
  /** Wraps the worker's end of its channel (to inject a fault). */
  wrap?: (c: Channel) => Channel;
}

async function dataParallel(
  spec: ModelSpec,
  opts: TrainerOptions,
  plans: WorkerPlan[],
  extra: {
    delays?: boolean;
    timeoutMs?: number;
    events?: WorkerEvent[];
    hostLagBytes?: number;
    stats?: (dp: DataParallelBackend) => void;
  } = {},
): Promise<Run> {
  const rng = new Rng(77);
  const coordinatorEnds: Channel[] = [];
  const serving: Promise<void>[] = [];
  const backends: Backend[] = [];
  for (const [i, plan] of plans.entries()) {
    const [c, w] = memoryChannelPair([`coordinator`, `worker ${i}`], {
      delayMs: extra.delays ? () => rng.int(0, 3) : undefined,
    });
    coordinatorEnds.push(c);
    const backend = await (plan.backend ?? (() => CpuBackend.create()))();
    backends.push(backend);
    serving.push(serveWorker(plan.wrap ? plan.wrap(w) : w, backend).catch(() => {}));
  }
  const dp = await DataParallelBackend.start(await CpuBackend.create(), {
    source: memoryWorkerSource(coordinatorEnds),
    workers: plans.length,
    spec,
    timeoutMs: extra.timeoutMs,
    onEvent: (e) => extra.events?.push(e),
    hostLagBytes: extra.hostLagBytes,
  });
  try {
    const run = await train(dp, spec, opts);
    extra.stats?.(dp);
    return run;
  } finally {
    dp.destroy();
    await Promise.all(serving);
    for (const b of backends) b.destroy();
  }
}

function expectSameRun(got: Run, want: Run): void {
  for (const [name, w] of want.weights) expectSameElements(got.weights.get(name)!, w, name);
  expect(got.results.map((r) => [r.train, r.test])).toEqual(
    want.results.map((r) => [r.train, r.test]),
  );
}

const cpu = (): WorkerPlan => ({});

describe('data-parallel training (in-process workers)', () => {
  it('1, 2 and 3 workers give the single-device weights and metrics: MLP with dropout', async () => {
    const opts = options(10, true);
    const want = await singleDevice(MLP, opts);
    for (const n of [1, 2, 3]) {
      const got = await dataParallel(MLP, opts, Array.from({ length: n }, cpu));
      expectSameRun(got, want);
    }
  });

  it('1, 2 and 3 workers give the single-device weights: CNN with a twice-updated linear block', async () => {
    expect(planFromSpec(CNN).blocks.map((b) => b.updatesPerStep)).toEqual([1, 1, 2]);
    const opts = options(8, false);
    const want = await singleDevice(CNN, opts);
    for (const n of [1, 2, 3]) {
      const got = await dataParallel(CNN, opts, Array.from({ length: n }, cpu), { delays: true });
      expectSameRun(got, want);
    }
  });

  it('more workers than rows: the extra ones sit the step out', async () => {
    const opts = { ...options(2, false), epochs: 1 };
    const want = await singleDevice(MLP, opts);
    expectSameRun(await dataParallel(MLP, opts, [cpu(), cpu(), cpu()]), want);
  });

  it('a worker that dies mid-run is dropped and its rows re-split: same bits', async () => {
    const opts = options(8, false);
    const want = await singleDevice(CNN, opts);
    const events: WorkerEvent[] = [];
    // Worker 1 goes away after its 20th message (inside a step: between the two phases).
    const dies = (c: Channel): Channel => {
      let sent = 0;
      return {
        label: c.label,
        send: (m) => {
          if (++sent === 20) {
            c.close();
            return;
          }
          c.send(m);
        },
        receive: (t) => c.receive(t),
        close: () => c.close(),
      };
    };
    const got = await dataParallel(CNN, opts, [cpu(), { wrap: dies }, cpu()], { events });
    expectSameRun(got, want);
    expect(events.filter((e) => e.kind === 'dropped').map((e) => e.worker)).toEqual(['worker 1']);
  });

  it('a worker gone between steps (its next rows cannot be sent) is dropped: same bits', async () => {
    const opts = options(8, false);
    const want = await singleDevice(CNN, opts);
    const events: WorkerEvent[] = [];
    // Worker 0 leaves right after the second phase's sums of its 5th step.
    const leaves = (c: Channel): Channel => {
      let last = 0;
      return {
        label: c.label,
        send: (m) => c.send(m),
        receive: async (t) => {
          const m = await c.receive(t);
          if (m.header.kind === 'sums' && m.header.phase === 1 && ++last === 5) c.close();
          return m;
        },
        close: () => c.close(),
      };
    };
    const got = await dataParallel(CNN, opts, [{ wrap: leaves }, cpu(), cpu()], { events });
    expectSameRun(got, want);
    expect(events.filter((e) => e.kind === 'dropped').map((e) => e.worker)).toEqual(['worker 0']);
  });

  it('the host fetching the weights from a worker after every step: same bits', async () => {
    const opts = options(8, false);
    const want = await singleDevice(CNN, opts);
    let fetches = 0;
    const counts = (c: Channel): Channel => ({
      label: c.label,
      send: (m) => {
        if (m.header.kind === 'weights') fetches++;
        c.send(m);
      },
      receive: (t) => c.receive(t),
      close: () => c.close(),
    });
    const got = await dataParallel(CNN, opts, [{ wrap: counts }, { wrap: counts }], {
      delays: true,
      hostLagBytes: 0,
    });
    expectSameRun(got, want);
    // 15 steps an epoch, 2 epochs: a fetch before each step but an epoch's first.
    expect(fetches).toBeGreaterThanOrEqual(2 * 14);
  });

  it('a worker gone after the first phase of a step: the others get the host weights, caught up on the kept steps, same bits', async () => {
    const opts = options(8, false);
    const want = await singleDevice(CNN, opts);
    const events: WorkerEvent[] = [];
    let fetches = 0;
    // Worker 2 leaves once it got the first phase's sums of its 9th step: the others applied
    // them too, so nobody holds the weights before that step but the host's kept sums.
    const leaves = (c: Channel): Channel => {
      let got = 0;
      return {
        label: c.label,
        send: (m) => c.send(m),
        receive: async (t) => {
          const m = await c.receive(t);
          if (m.header.kind === 'sums' && m.header.phase === 0 && ++got === 9) c.close();
          return m;
        },
        close: () => c.close(),
      };
    };
    const counts = (c: Channel): Channel => ({
      label: c.label,
      send: (m) => {
        if (m.header.kind === 'weights') fetches++;
        c.send(m);
      },
      receive: (t) => c.receive(t),
      close: () => c.close(),
    });
    const got = await dataParallel(
      CNN,
      opts,
      [{ wrap: counts }, { wrap: counts }, { wrap: leaves }],
      {
        events,
      },
    );
    expectSameRun(got, want);
    expect(events.filter((e) => e.kind === 'dropped').map((e) => e.worker)).toEqual(['worker 2']);
    // The weights come from a worker only where the trainer reads (at each epoch's end): the
    // host caught up at the fault by applying the kept steps itself.
    expect(fetches).toBe(2);
  });

  it('a worker that stalls past the timeout is dropped: same bits', async () => {
    const opts = options(10, true);
    const want = await singleDevice(MLP, opts);
    const events: WorkerEvent[] = [];
    const stalls = (c: Channel): Channel => {
      let sent = 0;
      return {
        label: c.label,
        send: (m) => {
          if (++sent < 7) c.send(m);
        },
        receive: (t) => c.receive(t),
        close: () => c.close(),
      };
    };
    const got = await dataParallel(MLP, opts, [{ wrap: stalls }, cpu()], {
      timeoutMs: 300,
      events,
    });
    expectSameRun(got, want);
    const dropped = events.filter((e) => e.kind === 'dropped');
    expect(dropped).toEqual([expect.objectContaining({ worker: 'worker 0', reason: 'timed out' })]);
  });

  it('a CPU worker and a WebGPU worker together give the single-device bits', async () => {
    const opts = options(10, true);
    const want = await singleDevice(CNN, opts);
    const got = await dataParallel(CNN, opts, [cpu(), { backend: () => createBackend('webgpu') }]);
    expectSameRun(got, want);
  });
});

describe('the worker side', () => {
  it('reaches no Node builtin through static imports (a browser page runs it)', () => {
    const STATIC = /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]/g;
    const seen = new Set<string>();
    const builtins: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of readFileSync(file, 'utf8').matchAll(STATIC)) {
        const spec = m[1];
        if (spec.startsWith('node:')) builtins.push(`${relative(SRC, file)}: ${spec}`);
        else if (spec.startsWith('.') && spec.endsWith('.ts')) visit(resolve(dirname(file), spec));
      }
    };
    for (const entry of ['parallel/worker.ts', 'parallel/coordinator.ts', 'parallel/memory.ts'])
      visit(join(SRC, entry));
    expect(seen.size).toBeGreaterThan(20);
    expect(builtins).toEqual([]);
  });
});

describe('reducer', () => {
  it('int32 sums wrap like the device', () => {
    const a = Int32Array.from([0x7fffffff, -0x80000000, 5, -1]);
    addInt32(a, Int32Array.from([1, -1, -7, 1]));
    expect([...a]).toEqual([-0x80000000, 0x7fffffff, -2, 0]);
    expect(() => addInt32(a, new Int32Array(3))).toThrow(/3 values added to 4/);
  });

  it('sums any number of parts in one pass, wrapping', () => {
    const parts = [
      Int32Array.from([0x7fffffff, -0x80000000, 5, -1]),
      Int32Array.from([1, -1, -7, 1]),
      Int32Array.from([2, 3, 4, 5]),
    ];
    const into = new Int32Array(4);
    sumInt32(into, parts.slice(0, 2));
    expect([...into]).toEqual([-0x80000000, 0x7fffffff, -2, 0]);
    sumInt32(into, parts);
    expect([...into]).toEqual([-0x7ffffffe, -0x7ffffffe, 2, 5]);
    sumInt32(into, parts.slice(2));
    expect([...into]).toEqual([2, 3, 4, 5]);
    expect(() => sumInt32(into, [new Int32Array(3)])).toThrow(/3 values summed into 4/);
  });

  it('64-bit loss words carry from the low word into the high word, in any order', () => {
    // [correct, lo, hi] x 2 slots; the low words overflow when added.
    const parts = [
      Int32Array.from([3, -1, 0, 1, 0x7fffffff, 2]),
      Int32Array.from([4, 1, 5, 2, -0x7fffffff, 0]),
      Int32Array.from([1, -2, 1, 0, -1, 0x7fffffff]),
    ];
    const value = (w: Int32Array, slot: number) =>
      BigInt(w[slot * 3 + 2] >>> 0) * 2n ** 32n + BigInt(w[slot * 3 + 1] >>> 0);
    const sums = [
      [0, 1, 2],
      [2, 0, 1],
      [1, 2, 0],
    ].map((order) => {
      const into = new Int32Array(6);
      for (const i of order) addMetricWords(into, parts[i]);
      return into;
    });
    for (const s of sums) expect([...s]).toEqual([...sums[0]]);
    for (const slot of [0, 1]) {
      const want = parts.reduce((t, p) => t + value(p, slot), 0n) % 2n ** 64n;
      expect(value(sums[0], slot)).toBe(want);
    }
    expect(sums[0][0]).toBe(8);
  });

  it('splits rows contiguously, as evenly as whole rows allow', () => {
    expect(splitRows(10, 3)).toEqual([
      [0, 3],
      [3, 3],
      [6, 4],
    ]);
    expect(splitRows(2, 3)).toEqual([
      [0, 0],
      [0, 1],
      [1, 1],
    ]);
  });
});
