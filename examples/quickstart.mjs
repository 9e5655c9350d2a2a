// Train the paper's MLP2 (784-200-100-50-10) on Fashion-MNIST with the nitro-d library, predict, save a checkpoint.
//
//   node examples/quickstart.mjs [--data DIR] [--limit N] [--epochs N] [--out FILE] [--backend webgpu|cpu]
//
// DIR holds the four IDX files (default: Debian's /usr/share/datasets/fashion-mnist; the demo's
// sample in demo/public/data/fashion-mnist-sample works too).
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createBackend, firstSamples, formatBp, getPreset, loadFashionMnist, Model, normalizeSplit, protocolOptions, Trainer } from 'nitro-d';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string' },
    limit: { type: 'string' },
    epochs: { type: 'string', default: '3' },
    out: { type: 'string', default: 'mlp2.safetensors' },
    backend: { type: 'string', default: 'auto' },
  },
});
const limit = args.limit === undefined ? undefined : Number(args.limit);

// A preset is a model spec (docs/contract.md §1) plus the paper's protocol: batch 64, lrInv 512, ...
const preset = getPreset('mlp2');

// Images are stored as pixel - 128 (int8); normalisation statistics come from the training split.
const raw = await loadFashionMnist(args.data);
const { split } = normalizeSplit({ train: firstSamples(raw.train, limit), test: firstSamples(raw.test, limit) }, preset.protocol);

const backend = await createBackend(args.backend); // auto: WebGPU on a GPU, else the CPU backend
const model = Model.create(backend, preset.spec, { seed: 42 }); // seeded integer Kaiming init

const trainer = new Trainer(model, split.train, split.test, {
  ...protocolOptions(preset),
  epochs: Number(args.epochs),
  onEpoch: (r) => {
    const heads = r.test.heads.map((h) => formatBp(h.accuracyBp)).join(' ');
    console.log(`epoch ${r.epoch}: train ${formatBp(r.train.output.accuracyBp)}, test ${formatBp(r.test.output.accuracyBp)} (heads ${heads}), ${Math.round(r.imagesPerSecond)} images/s`);
  },
});
await trainer.fit();

// Predict the first 8 test images: int32 logits per class, argmax is the class.
const sample = preset.spec.input.reduce((a, b) => a * b, 1);
const { logits } = await model.predict(split.test.images.subarray(0, 8 * sample), 8);
const classes = preset.spec.classes;
const predicted = Array.from({ length: 8 }, (_, i) => {
  const row = logits.subarray(i * classes, (i + 1) * classes);
  return row.indexOf(Math.max(...row));
});
console.log(`predicted ${predicted.join(' ')}`);
console.log(`true      ${Array.from(split.test.labels.subarray(0, 8)).join(' ')}`);

// Weights, spec and training state in one safetensors file (docs/contract.md §2).
await writeFile(args.out, await model.toCheckpoint());
console.log(`saved ${args.out}`);
trainer.dispose();
backend.destroy();
