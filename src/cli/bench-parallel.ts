/**
 * `nitro-d bench --workers N`: training throughput of one device against 1..N local CPU
 * workers (one thread each), side by side in one run, with the payload bytes each worker
 * exchanges per step next to the model's gradient size. Every configuration trains the same
 * seeded model on the same random batches through the Trainer, as `train` does. With several
 * rounds the configurations take turns (1 device, 1 worker, ... N workers, again), so a load
 * that comes and goes falls on all of them, and each row gives the median round.
 */
import { CpuBackend } from '../cpu-backend.ts';
import type { Backend } from '../backend.ts';
import type { Dataset } from '../data/dataset.ts';
import { Model } from '../model/model.ts';
import { getPreset } from '../model/presets.ts';
import { planFromSpec } from '../model/plan.ts';
import { DataParallelBackend, type ExchangeStats } from '../parallel/coordinator.ts';
import { localWorkerSource } from '../parallel/local.ts';
import { Rng } from '../rng.ts';
import { Trainer } from '../train/trainer.ts';

export interface ParallelBenchOptions {
  preset: string;
  batch?: number;
  /** Timed steps, after `warmup` untimed ones. */
  steps: number;
  warmup: number;
  /** Up to this many workers (1, 2, ... N). */
  workers: number;
  seed: number;
  /** Times every configuration is measured, in turns (default 1). */
  rounds?: number;
  onPhase?: (phase: string) => void;
}

export interface ParallelBenchRow {
  /** "1 device" or "N workers". */
  config: string;
  workers: number;
  imagesPerSecond: number;
  msPerStep: number;
  /** CPU time of the whole process (coordinator and worker threads) per timed step, in ms. */
  cpuMsPerStep: number;
  /** Payload bytes per timed step per worker, sent and received (workers only). */
  bytesPerStepPerWorker?: number;
  messagesPerStepPerWorker?: number;
  /** Images/s of every round, in order (the row gives the median round's figures). */
  roundsImagesPerSecond: number[];
}

export interface ParallelBenchResult {
  preset: string;
  batch: number;
  steps: number;
  rounds: number;
  /** Bytes of every parameter's int32 gradient (one phase's upload of the whole model). */
  gradientBytes: number;
  rows: ParallelBenchRow[];
}

function randomDataset(
  shape: readonly number[],
  classes: number,
  n: number,
  seed: number,
): Dataset {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const images = new Int8Array(n * size);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(-128, 127);
  const labels = Int32Array.from({ length: n }, () => rng.int(0, classes - 1));
  return { name: 'random', images, labels, shape: [...shape] as Dataset['shape'], classes };
}

/** Trains one epoch of warmup + steps; returns the timed steps' wall and CPU time in ms. */
async function timeSteps(
  backend: Backend,
  spec: unknown,
  data: Dataset,
  batch: number,
  warmup: number,
  seed: number,
  atWarm: () => void,
): Promise<{ ms: number; cpuMs: number }> {
  const model = Model.create(backend, spec, { seed });
  let t0 = performance.now();
  let cpu0 = process.cpuUsage();
  if (warmup === 0) atWarm();
  const trainer = new Trainer(model, data, undefined, {
    batch,
    epochs: 1,
    seed,
    stepsPerSubmit: 1,
    onStep: (p) => {
      if (p.step === warmup) {
        t0 = performance.now();
        cpu0 = process.cpuUsage();
        atWarm();
      }
    },
  });
  try {
    await trainer.fit();
    const cpu = process.cpuUsage(cpu0);
    return { ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

const sumStats = (s: ExchangeStats) => ({
  bytes: s.bytesSent + s.bytesReceived,
  messages: s.messagesSent + s.messagesReceived,
});

export async function benchParallel(o: ParallelBenchOptions): Promise<ParallelBenchResult> {
  const preset = getPreset(o.preset);
  const spec = preset.spec;
  const batch = o.batch ?? preset.protocol.batch;
  const plan = planFromSpec(spec);
  const data = randomDataset(plan.input, plan.classes, (o.warmup + o.steps) * batch, o.seed);
  const gradientBytes =
    4 * plan.parameters.reduce((t, p) => t + p.shape.reduce((a, b) => a * b, 1), 0);
  const rounds = o.rounds ?? 1;
  const row = (
    config: string,
    workers: number,
    t: { ms: number; cpuMs: number },
  ): Omit<ParallelBenchRow, 'roundsImagesPerSecond'> => ({
    config,
    workers,
    imagesPerSecond: (o.steps * batch * 1000) / t.ms,
    msPerStep: t.ms / o.steps,
    cpuMsPerStep: t.cpuMs / o.steps,
  });
  const measured: Omit<ParallelBenchRow, 'roundsImagesPerSecond'>[][] = Array.from(
    { length: o.workers + 1 },
    () => [],
  );
  for (let r = 0; r < rounds; r++) {
    const of = rounds > 1 ? ` (round ${r + 1} of ${rounds})` : '';
    o.onPhase?.(`1 device${of}`);
    const cpu = await CpuBackend.create({ threads: 1 });
    try {
      measured[0].push(
        row('1 device', 0, await timeSteps(cpu, spec, data, batch, o.warmup, o.seed, () => {})),
      );
    } finally {
      cpu.destroy();
    }
    for (let n = 1; n <= o.workers; n++) {
      o.onPhase?.(`${n} worker${n > 1 ? 's' : ''}${of}`);
      const dp = await DataParallelBackend.start(await CpuBackend.create({ threads: 1 }), {
        source: localWorkerSource({ backends: Array.from({ length: n }, () => 'cpu' as const) }),
        workers: n,
        spec,
      });
      try {
        let warm = { bytes: 0, messages: 0 };
        const t = await timeSteps(dp, spec, data, batch, o.warmup, o.seed, () => {
          warm = sumStats(dp.stats);
        });
        const end = sumStats(dp.stats);
        measured[n].push({
          ...row(`${n} worker${n > 1 ? 's' : ''}`, n, t),
          bytesPerStepPerWorker: Math.round((end.bytes - warm.bytes) / o.steps / n),
          messagesPerStepPerWorker: (end.messages - warm.messages) / o.steps / n,
        });
      } finally {
        dp.destroy();
      }
    }
  }
  const rows = measured.map((m): ParallelBenchRow => {
    const sorted = [...m].sort((a, b) => a.imagesPerSecond - b.imagesPerSecond);
    return {
      ...sorted[Math.floor((sorted.length - 1) / 2)],
      roundsImagesPerSecond: m.map((x) => x.imagesPerSecond),
    };
  });
  return { preset: o.preset, batch, steps: o.steps, rounds, gradientBytes, rows };
}

export function formatParallelBench(r: ParallelBenchResult): string {
  const base = r.rows.find((x) => x.workers === 1)?.imagesPerSecond ?? r.rows[0].imagesPerSecond;
  const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
  const lines = [
    `${r.preset} batch ${r.batch}, ${r.steps} timed steps${r.rounds > 1 ? `, median of ${r.rounds} rounds` : ''}, CPU backend (one thread per worker); gradient of the whole model ${mb(r.gradientBytes)}`,
    'config      images/s   ms/step   CPU ms/step   vs 1 worker   bytes/step/worker   messages/step/worker',
  ];
  for (const x of r.rows) {
    lines.push(
      [
        x.config.padEnd(10),
        x.imagesPerSecond.toFixed(1).padStart(9),
        x.msPerStep.toFixed(1).padStart(9),
        x.cpuMsPerStep.toFixed(1).padStart(13),
        `${(x.imagesPerSecond / base).toFixed(2)}x`.padStart(13),
        (x.bytesPerStepPerWorker === undefined ? '-' : mb(x.bytesPerStepPerWorker)).padStart(19),
        (x.messagesPerStepPerWorker === undefined
          ? '-'
          : x.messagesPerStepPerWorker.toFixed(1)
        ).padStart(22),
      ].join(' '),
    );
  }
  if (r.rounds > 1)
    for (const x of r.rows)
      lines.push(
        `${x.config.padEnd(10)} images/s by round: ${x.roundsImagesPerSecond.map((v) => v.toFixed(1)).join(', ')}`,
      );
  return lines.join('\n');
}
