/**
 * nitro-d/inference: a checkpoint loads and predicts in a few lines, with the same bits as the
 * full Model; and a browser app that imports only this entry, bundled by Vite from the built
 * package (dist/, through package.json "exports"), carries no training code.
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/inference.ts';
import { parseInputs } from '../src/io/batches.ts';
import { parseSafetensors } from '../src/io/safetensors.ts';
import { Model } from '../src/model/model.ts';
import { ROOT, requireBuild } from './cli-helpers.ts';
import { cpu, expectSameElements } from './helpers.ts';

const TMP = mkdtempSync(join(tmpdir(), 'nitro-inference-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const FIXTURE = join('test', 'fixtures', 'formats', 'v1', 'cnn');
const read = (f: string) => new Uint8Array(readFileSync(join(FIXTURE, f)));

/** Identifiers only the trainer has (option and member names survive minification). */
const TRAINER_ONLY = ['earlyStopping', 'takeSnapshot', 'recreateBackend', 'pendingResume'];

describe('loadModel', () => {
  it('reads the spec from the checkpoint and predicts the fixture bits', async () => {
    const backend = await cpu();
    const model = await loadModel(read('checkpoint.safetensors'), undefined, { backend });
    try {
      expect(model.inputShape).toEqual([2, 8, 8]);
      const x = parseInputs(read('predict-input.safetensors'), 'input').x;
      const p = await model.predict(x);
      const want = parseSafetensors(read('expected-predict.safetensors')).tensors;
      expectSameElements(p.logits, want.get('logits')!.data, 'logits');
      for (const [i, h] of p.heads.entries())
        expectSameElements(h, want.get(`heads.${i}`)!.data, `heads.${i}`);
      const C = model.spec.classes;
      for (let i = 0; i < p.classes.length; i++) {
        const row = [...p.logits.subarray(i * C, i * C + C)];
        expect(p.classes[i]).toBe(row.indexOf(Math.max(...row)));
      }
    } finally {
      model.dispose();
      backend.destroy();
    }
  });

  it('normalises pixels with the statistics the checkpoint records', async () => {
    const backend = await cpu();
    const spec = JSON.parse(readFileSync(join(FIXTURE, 'model.json'), 'utf8'));
    const full = Model.fromCheckpoint(backend, spec, read('checkpoint.safetensors'));
    const stats = { mean: Int32Array.from([-3, 5]), mad: Int32Array.from([40, 61]) };
    const bytes = await full.toCheckpoint({ normalization: JSON.stringify(stats) });
    const model = await loadModel(bytes, spec, { backend, file: 'best.safetensors' });
    try {
      expect(model.normalization).toEqual(stats);
      const pixels = Uint8Array.from({ length: 3 * 128 }, (_, i) => (i * 29) % 256);
      const p = await model.predictPixels(pixels);
      // By hand: x = pixel - 128, x' = clip(trunc((x - mean_c) * 51 / mad_c), -128, 127).
      const x = Int32Array.from(pixels, (v, i) => {
        const c = Math.floor(i / 64) % 2;
        return Math.max(
          -128,
          Math.min(127, Math.trunc(((v - 128 - stats.mean[c]) * 51) / stats.mad[c])),
        );
      });
      expectSameElements(p.logits, (await full.predict(x, 3)).logits, 'logits');
      await expect(model.predictPixels([256, ...pixels.subarray(1)])).rejects.toThrow(
        'predictPixels: pixel value 256 at 0 is not an integer in [0, 255]',
      );
    } finally {
      model.dispose();
      full.dispose();
      backend.destroy();
    }
  });

  it('refuses a checkpoint without a spec, or of a newer format, in one line', async () => {
    const plain = parseSafetensors(read('checkpoint.safetensors'));
    const { serializeSafetensors } = await import('../src/io/safetensors.ts');
    const tensors = new Map(
      [...plain.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }]),
    );
    await expect(
      loadModel(serializeSafetensors(tensors, {}), undefined, { file: 'w.safetensors' }),
    ).rejects.toThrow(
      /^checkpoint w\.safetensors: no "model" spec in its metadata; pass the spec$/,
    );
    const newer = serializeSafetensors(tensors, {
      ...plain.metadata,
      format: 'nitro-d/checkpoint@9',
    });
    await expect(loadModel(newer, undefined, { file: 'w.safetensors' })).rejects.toThrow(
      /^checkpoint w\.safetensors: format version 9 is newer than this release of nitro-d reads \(version 1\)/,
    );
  });
});

/** Builds a one-file browser app importing `source` and returns its JavaScript. */
async function bundle(name: string, source: string): Promise<string> {
  const dir = join(TMP, name);
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  // The app depends on the package as an installed one would: resolved through its "exports".
  symlinkSync(ROOT, join(dir, 'node_modules', 'nitro-d'), 'dir');
  writeFileSync(
    join(dir, 'index.html'),
    '<!doctype html><script type="module" src="./main.js"></script>',
  );
  writeFileSync(join(dir, 'main.js'), source);
  await build({
    root: dir,
    configFile: false,
    logLevel: 'silent',
    build: { outDir: join(dir, 'dist'), target: 'es2022', emptyOutDir: true },
  });
  const assets = join(dir, 'dist', 'assets');
  return readdirSync(assets)
    .filter((f) => f.endsWith('.js'))
    .map((f) => readFileSync(join(assets, f), 'utf8'))
    .join('\n');
}

describe('an app bundling nitro-d/inference', () => {
  it('builds with plain Vite, has no trainer code and is smaller than one bundling the library', async () => {
    requireBuild();
    const app = await bundle(
      'inference-app',
      `import { loadModel } from 'nitro-d/inference';
const bytes = new Uint8Array(await (await fetch('model.safetensors')).arrayBuffer());
const model = await loadModel(bytes);
const { classes } = await model.predictPixels(new Uint8Array(model.inputShape.reduce((a, b) => a * b, 1)));
document.body.textContent = 'class ' + classes[0];
`,
    );
    const full = await bundle(
      'library-app',
      `import { loadModel, Trainer } from 'nitro-d';
const model = await loadModel(new Uint8Array(await (await fetch('model.safetensors')).arrayBuffer()));
document.body.textContent = Trainer.name + String(Boolean(model));
`,
    );
    for (const word of TRAINER_ONLY) {
      expect(full, `the library bundle has ${word} (the check can see trainer code)`).toContain(
        word,
      );
      expect(app, `the inference bundle has ${word}`).not.toContain(word);
    }
    const size = Buffer.byteLength(app);
    const gzip = gzipSync(app).length;
    console.log(
      `inference app: ${size} bytes minified, ${gzip} gzip; library app: ${Buffer.byteLength(full)} minified, ${gzipSync(full).length} gzip`,
    );
    expect(size).toBeLessThan(Buffer.byteLength(full));
    // The engine (kernels, WGSL, CPU backend with its worker pool) is most of it; a bound that
    // catches a regression. Inference on a GPU runs the workgroup-tiled linear kernels and picks
    // variants by their traffic models, so both ship with it (results/inference-bundle.md).
    expect(gzip).toBeLessThan(115_000);
  });
});
