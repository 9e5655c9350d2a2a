/**
 * Checks a training run makes before it allocates anything on the device: the data has the
 * model's input shape, the batch fits the training set, and on WebGPU the model at the
 * training and evaluation batches and both data sets fit the adapter's buffers.
 */
import { type Backend, deviceBytes } from '../backend.ts';
import type { Dataset } from '../data/dataset.ts';
import type { WebGPUBackend } from '../gpu/webgpu-backend.ts';
import type { ModelSpec } from '../model/spec.ts';
import { checkFits } from './memory.ts';
import { planFromSpec } from '../model/plan.ts';
import { evalBatchFor } from './trainer.ts';

/** A data set larger than one device buffer, with the most samples that fit. */
export class DatasetTooLargeError extends Error {
  override name = 'DatasetTooLargeError';
  constructor(
    readonly split: 'training' | 'test',
    readonly samples: number,
    readonly bytes: number,
    readonly limit: number,
    readonly most: number,
  ) {
    super(
      `the ${split} set (${samples} samples, ${bytes} bytes) is larger than the adapter's ${limit}-byte buffer limit; use ${most} samples or fewer`,
    );
  }
}

/**
 * Throws when samples of `shape` are not the model's input; `source` names the model in the
 * message ("preset mlp2", "the model m.json").
 */
export function checkDataMatchesModel(
  dataset: string,
  shape: readonly number[],
  spec: ModelSpec,
  source: string,
  where: { split?: 'training' | 'test'; path?: string } = {},
): void {
  const expected = planFromSpec(spec).input;
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
    const split = where.split ? ` ${where.split}` : '';
    const path = where.path ? ` in ${where.path}` : '';
    throw new Error(
      `${dataset}${split} samples${path} are [${shape.join(', ')}], ${source} expects input [${expected.join(', ')}] (pick the data with --dataset and --data)`,
    );
  }
}

/**
 * Throws MemoryFitError when the model does not fit the adapter at the training batch or the
 * evaluation batch, and DatasetTooLargeError when a data set exceeds one buffer (WebGPU; the
 * CPU backend has no per-buffer limit).
 */
export function checkTrainingFits(
  backend: Backend,
  spec: ModelSpec,
  batch: number,
  train: Dataset,
  test: Dataset,
): void {
  if (backend.kind !== 'webgpu') return;
  const limits = (backend as WebGPUBackend).limits;
  checkFits(spec, batch, limits);
  checkFits(spec, evalBatchFor(test.labels.length), limits);
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  for (const [split, ds] of [
    ['training', train],
    ['test', test],
  ] as const) {
    const bytes = deviceBytes([ds.labels.length, ...ds.shape], 'i8');
    if (bytes > limit) {
      const most = Math.floor(limit / Math.ceil(bytes / ds.labels.length));
      throw new DatasetTooLargeError(split, ds.labels.length, bytes, limit, most);
    }
  }
}
