/**
 * Soak: thousands of training steps (with evaluation every epoch and a snapshot every few
 * steps) hold memory flat on both backends. Device bytes in use (every live tensor, counted
 * by the backend) must not change after the first epoch; the JavaScript heap after a full
 * collection and the WebAssembly/external memory must stay within a small bound; the
 * process's resident memory (which on a software adapter includes the GPU's buffers) may move
 * by allocator noise only.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import type { Dataset } from '../src/data/dataset.ts';
import { Model } from '../src/model/model.ts';
import { parseModelSpec } from '../src/model/spec.ts';
import { Trainer } from '../src/train/trainer.ts';
import { cpu, Rng, webgpu } from './helpers.ts';

const SPEC = parseModelSpec({
  input: [1, 8, 8],
  classes: 4,
  hidden: [24, 12],
  dropout: { features: 0, hidden: 100 },
  training: { lrInv: 64 },
});

function dataset(name: string, n: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const images = new Int8Array(n * 64);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = rng.int(0, 3);
    for (let p = 0; p < 64; p++)
      images[i * 64 + p] = (Math.floor(p / 16) === labels[i] ? 40 : -20) + rng.int(-30, 30);
  }
  return { name, images, labels, shape: [1, 8, 8], classes: 4 };
}

const MiB = 1 << 20;

// A full garbage collection before each sample, so the heap reads live objects only.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Sample {
  bytes: number;
  rss: number;
  heap: number;
  external: number;
}

/** Trains `epochs` epochs of 16 steps; returns device bytes and RSS after each epoch. */
async function soak(backend: Backend, epochs: number, stepsPerSubmit?: number) {
  const model = Model.create(backend, SPEC, { seed: 1 });
  const samples: Sample[] = [];
  const trainer = new Trainer(model, dataset('train', 256, 2), dataset('test', 64, 3), {
    batch: 16,
    epochs,
    seed: 4,
    augment: { pad: 1, flip: true },
    snapshotEvery: 5,
    stepsPerSubmit,
    onEpoch: (_r, t) => {
      gc();
      const m = process.memoryUsage();
      samples.push({
        bytes: t.model.backend.bytesInUse(),
        rss: m.rss,
        heap: m.heapUsed,
        external: m.external,
      });
    },
  });
  await trainer.fit();
  trainer.dispose();
  return samples;
}

/** Growth in MiB of a measure from a quarter of the run (warmed up) to its end, and to its peak. */
function growth(samples: Sample[], key: keyof Sample): { end: number; peak: number } {
  const tail = samples.slice(Math.floor(samples.length / 4));
  const from = tail[0][key];
  return {
    end: (tail.at(-1)![key] - from) / MiB,
    peak: (Math.max(...tail.map((s) => s[key])) - from) / MiB,
  };
}

function expectFlat(samples: Sample[], rssSlack: number): void {
  const bytes = new Set(samples.slice(1).map((s) => s.bytes));
  expect([...bytes], 'device bytes in use changed between epochs').toHaveLength(1);
  const heap = growth(samples, 'heap');
  expect(heap.end, 'JS heap growth (MiB)').toBeLessThan(2);
  expect(growth(samples, 'external').end, 'external memory growth (MiB)').toBeLessThan(2);
  // Resident memory moves by tens of MiB with the allocators (a software adapter's most): a
  // leak shows as a later half whose peak is above the earlier half's.
  const half = Math.floor(samples.length / 2);
  const peak = (part: Sample[]) => Math.max(...part.map((s) => s.rss)) / MiB;
  const rise = peak(samples.slice(half)) - peak(samples.slice(Math.floor(half / 5), half));
  expect(rise, 'RSS peak rise from the first half to the second (MiB)').toBeLessThan(rssSlack);
}

describe('soak: memory stays flat over thousands of steps', () => {
  it('CPU backend: 4,000 steps', async () => {
    const backend = await cpu();
    try {
      expectFlat(await soak(backend, 250), 24);
    } finally {
      backend.destroy();
    }
  }, 300_000);

  it('WebGPU backend: 1,600 steps, one submission per step', async () => {
    const backend = await webgpu();
    expectFlat(await soak(backend, 100, 1), 64);
  }, 300_000);
});
