/**
 * CIFAR-10 binary version: each record is 1 label byte (0..9) followed by 3072 pixel bytes,
 * 1024 red, 1024 green, 1024 blue, each a 32x32 row-major plane, i.e. already [C, H, W].
 * The training set is data_batch_1.bin .. data_batch_5.bin, the test set test_batch.bin.
 */
import { InputError } from '../io/errors.ts';

export const CIFAR_SHAPE: [number, number, number] = [3, 32, 32];
export const CIFAR_RECORD = 1 + 3 * 32 * 32;
export const CIFAR_TRAIN_FILES = [
  'data_batch_1.bin',
  'data_batch_2.bin',
  'data_batch_3.bin',
  'data_batch_4.bin',
  'data_batch_5.bin',
];
export const CIFAR_TEST_FILE = 'test_batch.bin';

export interface CifarRecords {
  count: number;
  /** pixel - 128, [N, 3, 32, 32]. */
  images: Int8Array;
  labels: Int32Array;
}

/** A CIFAR-10 file holds a whole, positive number of records; checked before it is read. */
export function checkCifarSize(size: number, file = '<bytes>'): void {
  if (size === 0 || size % CIFAR_RECORD !== 0) {
    throw new InputError(
      `cifar ${file}: size ${size} is not a positive multiple of the ${CIFAR_RECORD}-byte record`,
      file,
    );
  }
}

/** Parses one CIFAR-10 binary file; errors name the file (and the record for a bad label). */
export function parseCifar(bytes: Uint8Array, file = '<bytes>'): CifarRecords {
  checkCifarSize(bytes.length, file);
  const count = bytes.length / CIFAR_RECORD;
  const pixels = CIFAR_RECORD - 1;
  const images = new Int8Array(count * pixels);
  const labels = new Int32Array(count);
  for (let r = 0; r < count; r++) {
    const base = r * CIFAR_RECORD;
    const label = bytes[base];
    if (label > 9)
      throw new InputError(`cifar ${file}: record ${r} has label ${label}, expected 0..9`, file);
    labels[r] = label;
    const out = r * pixels;
    for (let i = 0; i < pixels; i++) images[out + i] = bytes[base + 1 + i] - 128;
  }
  return { count, images, labels };
}

/** Concatenates parsed files in order. */
export function concatCifar(parts: readonly CifarRecords[]): CifarRecords {
  const count = parts.reduce((a, p) => a + p.count, 0);
  const pixels = CIFAR_RECORD - 1;
  const images = new Int8Array(count * pixels);
  const labels = new Int32Array(count);
  let n = 0;
  for (const p of parts) {
    images.set(p.images, n * pixels);
    labels.set(p.labels, n);
    n += p.count;
  }
  return { count, images, labels };
}
