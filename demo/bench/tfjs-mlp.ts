/**
 * The float32 point of comparison: the same MLP layer sizes trained with TensorFlow.js on its
 * WebGPU backend in the same browser (ordinary backpropagation through dense + ReLU layers,
 * softmax cross-entropy, plain SGD), on random batches resident on the GPU, timed like the
 * integer engine: a cold first step (variables, shader compiles) and warm steps after warm-up.
 * TensorFlow.js is loaded only when this runs (the type imports are erased).
 */
import type { Scalar, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import type { ModelSpec } from '../../src/index.ts';

export interface TfjsMlpResult {
  preset: string;
  engine: 'tfjs-webgpu-float32';
  layers: number[];
  batch: number;
  steps: number;
  warmup: number;
  /** Variables created, first step finished (kernel compiles included). */
  coldMs: number;
  imagesPerSecond: number;
  msPerStep: number;
  /** Floating-point operations (2 per multiply-add) of one step's dense layers: forward, input and weight gradients. */
  flopsPerStep: number;
  gflopsPerSecond: number;
  tfjsVersion: string;
  backend: string;
}

function sig(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(4)) : 0;
}

/** Dense layer widths of an MLP spec: flattened input, hidden widths, classes. */
export function mlpLayers(spec: ModelSpec): number[] {
  if (spec.features.length > 0)
    throw new Error('tfjs twin: only MLP presets (no conv features) have a float32 twin');
  return [spec.input.reduce((a, b) => a * b, 1), ...spec.hidden, spec.classes];
}

export async function benchTfjsMlp(
  preset: string,
  spec: ModelSpec,
  options: {
    batch: number;
    steps: number;
    warmup: number;
    seed?: number;
    /** Aborting it stops the run before its next steps (with an error). */
    signal?: AbortSignal;
    onPhase?: (phase: string) => void;
  },
): Promise<TfjsMlpResult> {
  const phase = options.onPhase ?? (() => {});
  phase('loading TensorFlow.js');
  const tf = await import('@tensorflow/tfjs-core');
  // The core package leaves gradient registration to the full tfjs bundle.
  await import('@tensorflow/tfjs-core/dist/register_all_gradients');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (tf.getBackend() !== 'webgpu') {
    const ok = await tf.setBackend('webgpu');
    if (!ok)
      throw new Error('TensorFlow.js: its webgpu backend did not initialise in this browser');
  }
  await tf.ready();

  const layers = mlpLayers(spec);
  const { batch: B, steps, warmup } = options;
  const seed = options.seed ?? 1;
  const pool = 4;
  phase(`${preset}: cold start`);
  const t0 = performance.now();
  const weights = layers.slice(1).map((o, i) => {
    const k = layers[i];
    return {
      w: tf.variable(tf.randomNormal([k, o], 0, Math.sqrt(2 / k), 'float32', seed + i)),
      b: tf.variable(tf.zeros([o])),
    };
  });
  const xs = Array.from({ length: pool }, (_, i) =>
    tf.randomUniform([B, layers[0]], -1, 1, 'float32', seed + 100 + i),
  );
  const ys = Array.from({ length: pool }, (_, i) =>
    tf.oneHot(
      tf.randomUniform([B], 0, layers[layers.length - 1], 'int32', seed + 200 + i) as Tensor1D,
      layers[layers.length - 1],
    ),
  );
  const optimizer = tf.train.sgd(0.01);
  const loss = (step: number) => () =>
    tf.tidy(() => {
      let h: Tensor2D = xs[step % pool] as Tensor2D;
      weights.forEach(({ w, b }, i) => {
        const z = tf.add(tf.matMul(h, w as Tensor2D), b) as Tensor2D;
        h = i < weights.length - 1 ? tf.relu(z) : z;
      });
      return tf.losses.softmaxCrossEntropy(ys[step % pool], h) as Scalar;
    });
  /** Runs steps and waits for the GPU (reading the last loss back). */
  const run = async (from: number, count: number) => {
    let last: Scalar | null = null;
    for (let s = 0; s < count; s++) {
      if (options.signal?.aborted) {
        last?.dispose();
        throw new Error(`TensorFlow.js ${preset} twin: stopped`);
      }
      last?.dispose();
      last = optimizer.minimize(loss(from + s), s === count - 1);
    }
    if (last) {
      const v = (await last.data())[0];
      last.dispose();
      if (!Number.isFinite(v)) throw new Error(`TensorFlow.js ${preset} twin: the loss is ${v}`);
    }
  };
  try {
    await run(0, 1);
    const coldMs = performance.now() - t0;
    if (warmup > 0) {
      phase(`${preset}: ${warmup} warm-up steps`);
      await run(1, warmup);
    }
    phase(`${preset}: ${steps} timed steps`);
    const s0 = performance.now();
    await run(1 + warmup, steps);
    const elapsed = performance.now() - s0;
    let macs = 0;
    for (let i = 1; i < layers.length; i++) macs += layers[i - 1] * layers[i];
    // Forward, gradient of the input (not for the first layer) and of the weights.
    const flopsPerStep = 2 * B * (3 * macs - layers[0] * layers[1]);
    const msPerStep = elapsed / steps;
    return {
      preset,
      engine: 'tfjs-webgpu-float32',
      layers,
      batch: B,
      steps,
      warmup,
      coldMs: sig(coldMs),
      imagesPerSecond: sig((steps * B * 1000) / elapsed),
      msPerStep: sig(msPerStep),
      flopsPerStep,
      gflopsPerSecond: sig(flopsPerStep / msPerStep / 1e6),
      tfjsVersion: tf.version_core,
      backend: tf.getBackend(),
    };
  } finally {
    for (const { w, b } of weights) {
      w.dispose();
      b.dispose();
    }
    for (const t of [...xs, ...ys]) t.dispose();
    optimizer.dispose();
  }
}
