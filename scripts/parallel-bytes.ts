/**
 * Bytes a data-parallel worker exchanges per training step, per preset: the phases of the
 * step the worker really records (the reduce points of Network.trainStepOps), each phase's
 * int32 gradients up and their sums down, the metric words, and the worker's rows of the
 * batch (int8 samples packed four to a word, int32 labels). Prints a Markdown table.
 *
 *   node_modules/.bin/vite-node scripts/parallel-bytes.ts -- [--batch B] [--workers N]
 *
 * With --measure URL (a nats-server) it also trains a few steps of each preset given with
 * --measure-presets over NATS (N in-process workers, each on its own connection) and prints the
 * envelope bytes the coordinator's channels sent and received per step per worker, and the
 * frame bytes with acks and retransmissions, from the channels' counters.
 */
import process from 'node:process';
import { CpuBackend } from '../src/cpu-backend.ts';
import type { Dataset } from '../src/data/dataset.ts';
import { Model } from '../src/model/model.ts';
import { Network } from '../src/model/network.ts';
import { getPreset, presetNames } from '../src/model/presets.ts';
import { captureCalls, splitPhases } from '../src/parallel/calls.ts';
import { DataParallelBackend } from '../src/parallel/coordinator.ts';
import { joinNatsRunAt, openNatsWorkerSource } from '../src/parallel/nats-connect.ts';
import { serveWorker } from '../src/parallel/worker.ts';
import { Rng } from '../src/rng.ts';
import { Trainer } from '../src/train/trainer.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const batchFlag = arg('batch');
const workers = Number(arg('workers') ?? 2);
const measureUrl = arg('measure');
const measurePresets = (arg('measure-presets') ?? 'mlp1,mlp2,cnn-small').split(',');

const mb = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`);

interface Figures {
  preset: string;
  batch: number;
  parameters: number;
  phases: number[];
  metricsBytes: number;
  up: number;
  down: number;
}

async function figures(name: string): Promise<Figures> {
  const preset = getPreset(name);
  const batch = batchFlag ? Number(batchFlag) : preset.protocol.batch;
  const cpu = await CpuBackend.create();
  try {
    const model = Model.create(cpu, preset.spec, { seed: 1 });
    const net = new Network(cpu, model.plan, model.params, 1);
    const { reduces } = splitPhases(captureCalls((ops) => net.trainStepOps(ops)));
    const phases = reduces.map((r) => 4 * r.tensors.reduce((n, t) => n + t.size, 0));
    const metricsBytes = 4 * reduces.reduce((n, r) => n + (r.metrics?.words.size ?? 0), 0);
    const parameters = model.plan.parameters.reduce(
      (n, p) => n + p.shape.reduce((a, b) => a * b, 1),
      0,
    );
    const sample = preset.spec.input.reduce((a: number, b: number) => a * b, 1);
    const rows = Math.ceil(batch / workers);
    const gradients = phases.reduce((a, b) => a + b, 0);
    net.dispose();
    model.dispose();
    return {
      preset: name,
      batch,
      parameters,
      phases,
      metricsBytes,
      up: gradients + metricsBytes,
      down: gradients + Math.ceil((rows * sample) / 4) * 4 + 4 * rows,
    };
  } finally {
    cpu.destroy();
  }
}

function randomSplit(shape: readonly number[], classes: number, n: number): Dataset {
  const rng = new Rng(5);
  const size = shape.reduce((a, b) => a * b, 1);
  const images = new Int8Array(n * size);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(-128, 127);
  const labels = Int32Array.from({ length: n }, () => rng.int(0, classes - 1));
  return { name: 'random', images, labels, shape: [shape[0], shape[1], shape[2]], classes };
}

/** Trains `steps` steps of a preset over NATS; bytes per step per worker from the channels. */
async function measure(url: string, name: string, steps: number) {
  const preset = getPreset(name);
  const batch = batchFlag ? Number(batchFlag) : preset.protocol.batch;
  const group = `bytes${process.pid}`;
  const source = await openNatsWorkerSource(url, { group });
  const serving = Array.from({ length: workers }, async (_, i) => {
    const backend = await CpuBackend.create();
    const link = await joinNatsRunAt(url, { group, backend: 'cpu', name: `w${i}`, waitMs: 30_000 });
    try {
      await serveWorker(link.channel, backend);
    } finally {
      await link.close();
      backend.destroy();
    }
  });
  const dp = await DataParallelBackend.start(await CpuBackend.create(), {
    source,
    workers,
    spec: preset.spec,
  });
  const data = randomSplit(preset.spec.input, preset.spec.classes, batch * steps);
  try {
    const totals = () => {
      let sent = 0;
      let received = 0;
      for (const c of source.workers) {
        sent += c.stats.bytesSent;
        received += c.stats.bytesReceived;
      }
      return { sent, received };
    };
    // The first step also carries the weights (init): count from the end of the first step.
    let first: { sent: number; received: number } | undefined;
    let done = 0;
    const model = Model.create(dp, preset.spec, { seed: 1 });
    const test = randomSplit(preset.spec.input, preset.spec.classes, 8);
    const trainer = new Trainer(model, data, test, {
      batch,
      epochs: 1,
      seed: 1,
      stepsPerSubmit: 1,
      onStep: () => {
        if (++done === 1) first = totals();
      },
    });
    await trainer.fit();
    trainer.dispose();
    const end = totals();
    const counted = steps - 1;
    return {
      preset: name,
      batch,
      steps: counted,
      sent: (end.sent - first!.sent) / counted / workers,
      received: (end.received - first!.received) / counted / workers,
    };
  } finally {
    dp.destroy();
    await Promise.all(serving);
    await source.close();
  }
}

async function main() {
  const rows: Figures[] = [];
  for (const name of presetNames) rows.push(await figures(name));
  console.log(
    `Per training step, per worker, with ${workers} workers (the batch split evenly; a worker's rows rounded up):\n`,
  );
  console.log(
    '| preset | batch | parameters | gradient bytes per phase | worker → coordinator | coordinator → worker | total |',
  );
  console.log('|---|---:|---:|---|---:|---:|---:|');
  for (const r of rows)
    console.log(
      `| ${r.preset} | ${r.batch} | ${r.parameters.toLocaleString('en')} | ${r.phases.map(mb).join(' + ')} | ${mb(r.up)} | ${mb(r.down)} | ${mb(r.up + r.down)} |`,
    );
  if (!measureUrl) return;
  console.log(
    `\nMeasured over NATS, ${workers} in-process CPU workers: envelope bytes per step per worker, from the coordinator's channel counters, steps after the first (which also carries the weights):\n`,
  );
  console.log(
    '| preset | batch | steps counted | coordinator → worker | worker → coordinator | total |',
  );
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const name of measurePresets) {
    const m = await measure(measureUrl, name, 4);
    console.log(
      `| ${m.preset} | ${m.batch} | ${m.steps} | ${mb(m.sent)} | ${mb(m.received)} | ${mb(m.sent + m.received)} |`,
    );
  }
}

await main();
