/**
 * A page built by the consumer's own Vite: trains MLP1 (learning rate 1/32, batch 16) for two
 * epochs on 640 images of the Fashion-MNIST sample on the browser's WebGPU and on the CPU
 * backend, and publishes each backend's test accuracy and checkpoint hash as
 * `window.consumerResult`.
 */
import {
  createBackend,
  datasetFromIdx,
  type DataSplit,
  type EpochResult,
  firstSamples,
  getPreset,
  Model,
  normalizeSplit,
  parseModelSpec,
  protocolOptions,
  Trainer,
} from 'nitro-d';

interface BackendResult {
  kind: string;
  description: string;
  epochs: number;
  testAccuracyBp: number;
  checkpointSha256: string;
  ms: number;
}

declare global {
  interface Window {
    consumerResult?: { results: BackendResult[] } | { error: string };
  }
}

async function fetchBytes(file: string): Promise<Uint8Array> {
  const res = await fetch(`data/${file}`);
  if (!res.ok) throw new Error(`data/${file}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function loadSample(): Promise<DataSplit> {
  const load = async (stem: string) =>
    datasetFromIdx(
      `fashion-mnist/${stem}`,
      await fetchBytes(`${stem}-images-idx3-ubyte.gz`),
      await fetchBytes(`${stem}-labels-idx1-ubyte.gz`),
    );
  return {
    train: firstSamples(await load('train'), 640),
    test: firstSamples(await load('t10k'), 500),
  };
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(bytes)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function train(kind: 'webgpu' | 'cpu', split: DataSplit): Promise<BackendResult> {
  const preset = getPreset('mlp1');
  const spec = parseModelSpec(
    { ...preset.spec, training: { ...preset.spec.training, lrInv: 32 } },
    'consumer mlp1',
  );
  const backend = await createBackend(kind);
  const t0 = performance.now();
  const model = Model.create(backend, spec, { seed: 42 });
  let last: EpochResult | undefined;
  const trainer = new Trainer(model, split.train, split.test, {
    ...protocolOptions(preset),
    batch: 16,
    epochs: 2,
    onEpoch: (r) => {
      last = r;
    },
  });
  await trainer.fit();
  const checkpoint = await model.toCheckpoint();
  const result: BackendResult = {
    kind: backend.kind,
    description: backend.description,
    epochs: last?.epoch ?? 0,
    testAccuracyBp: last?.test?.output.accuracyBp ?? -1,
    checkpointSha256: await sha256(checkpoint),
    ms: Math.round(performance.now() - t0),
  };
  trainer.dispose();
  backend.destroy();
  return result;
}

async function main(): Promise<void> {
  const { split } = normalizeSplit(await loadSample(), getPreset('mlp1').protocol);
  const results = [await train('webgpu', split), await train('cpu', split)];
  window.consumerResult = { results };
}

const out = document.getElementById('out')!;
main().then(
  () => {
    out.textContent = JSON.stringify(window.consumerResult);
  },
  (err: unknown) => {
    window.consumerResult = { error: err instanceof Error ? err.message : String(err) };
    out.textContent = `error: ${JSON.stringify(window.consumerResult)}`;
  },
);
