/**
 * Data sets from arrays in memory: 8-bit pixels (0..255) and integer class labels, stored as
 * training expects them (pixel - 128, [N, C, H, W], docs/algorithm.md §2.1); normalisation then
 * happens as for every data set (normalizeSplit / normalizeDataset). NumPy arrays (src/data/npy.ts)
 * come through here too, with their layout read from their shape. Runtime-neutral.
 */
import type { DataSplit, Dataset } from './dataset.ts';
import type { NpyArray } from './npy.ts';

/** Where the channels are in 4-d images: [N, C, H, W] or [N, H, W, C]. */
export type ImageLayout = 'nchw' | 'nhwc';

/** Options of {@link datasetFromArrays}. */
export interface ArrayDatasetOptions {
  /** [C, H, W] of one sample. */
  shape: readonly [number, number, number];
  /** Order of the values of `images` (default "nchw"). */
  layout?: ImageLayout;
  /** Number of classes (default: the largest label + 1, at least 2). */
  classes?: number;
  /** Names the source in error messages (default the data set's name). */
  source?: string;
}

/**
 * A data set from N images of 8-bit pixel values (integers in [0, 255], C order in `layout`) and
 * N integer labels in [0, classes). Errors name the source, the array and the first bad index.
 */
export function datasetFromArrays(
  name: string,
  images: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: ArrayDatasetOptions,
): Dataset {
  const source = options.source ?? name;
  const [c, h, w] = options.shape;
  for (const [i, d] of [c, h, w].entries()) {
    if (!Number.isSafeInteger(d) || d < 1)
      throw new Error(
        `${source}: shape [${options.shape.join(', ')}] dimension ${i} is not positive`,
      );
  }
  const sample = c * h * w;
  const n = labels.length;
  if (images.length !== n * sample) {
    throw new Error(
      `${source}: ${images.length} pixel values are not ${n} images (one per label) of [${c}, ${h}, ${w}]`,
    );
  }
  let classes = options.classes;
  let top = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || (classes !== undefined && y >= classes)) {
      throw new Error(
        `${source}: label ${y} at ${i} is not a class index${classes === undefined ? '' : ` below ${classes} classes`}`,
      );
    }
    if (y > top) top = y;
  }
  classes ??= Math.max(2, top + 1);
  const out = new Int8Array(n * sample);
  const nhwc = options.layout === 'nhwc';
  const plane = h * w;
  for (let i = 0; i < images.length; i++) {
    const v = images[i];
    if (!Number.isInteger(v) || v < 0 || v > 255)
      throw new Error(`${source}: pixel value ${v} at ${i} is not an integer in [0, 255]`);
    // NHWC index i = ((s·H + y)·W + x)·C + ch  ->  NCHW ((s·C + ch)·H + y)·W + x.
    let at = i;
    if (nhwc && c > 1) {
      const s = Math.floor(i / sample);
      const r = i - s * sample;
      const ch = r % c;
      const p = (r - ch) / c;
      at = s * sample + ch * plane + p;
    }
    out[at] = v - 128;
  }
  return {
    name,
    images: out,
    labels: Int32Array.from(labels),
    shape: [c, h, w],
    classes,
  };
}

/** How the shape of an image array reads: [N, C, H, W] of a layout, from 2, 3 or 4 dimensions. */
export function imageArrayShape(
  dims: readonly number[],
  source: string,
  options: { layout?: ImageLayout; sample?: readonly [number, number, number] } = {},
): { count: number; shape: [number, number, number]; layout: ImageLayout } {
  const count = dims[0];
  if (dims.length === 2) {
    // Flat vectors [N, D]: the model's input shape when given and it holds D values.
    const s = options.sample;
    if (s && s[0] * s[1] * s[2] === dims[1]) return { count, shape: [...s], layout: 'nchw' };
    return { count, shape: [1, 1, dims[1]], layout: 'nchw' };
  }
  if (dims.length === 3) return { count, shape: [1, dims[1], dims[2]], layout: 'nchw' };
  if (dims.length === 4) {
    const few = (d: number) => d === 1 || d === 3 || d === 4;
    const layout = options.layout ?? (few(dims[3]) && !few(dims[1]) ? 'nhwc' : 'nchw');
    const shape: [number, number, number] =
      layout === 'nhwc' ? [dims[3], dims[1], dims[2]] : [dims[1], dims[2], dims[3]];
    return { count, shape, layout };
  }
  throw new Error(
    `${source}: images of shape (${dims.join(', ')}) are not [N, H, W], [N, C, H, W], [N, H, W, C] or [N, D]`,
  );
}

/** Options of {@link datasetFromNpy} and {@link splitFromNpz}. */
export interface NpyDatasetOptions {
  /** Layout of 4-d images (default: [N, H, W, C] when the last dimension is 1, 3 or 4 and the second is not). */
  layout?: ImageLayout;
  /** Number of classes (default: the largest label of the split + 1). */
  classes?: number;
  /** [C, H, W] that flat [N, D] images take (default [1, 1, D]). */
  shape?: readonly [number, number, number];
}

/** A data set from NumPy image and label arrays (labels [N] or [N, 1]). */
export function datasetFromNpy(
  name: string,
  images: NpyArray,
  labels: NpyArray,
  options: NpyDatasetOptions & { imagesSource?: string; labelsSource?: string } = {},
): Dataset {
  const imagesSource = options.imagesSource ?? `${name} images`;
  const labelsSource = options.labelsSource ?? `${name} labels`;
  const { count, shape, layout } = imageArrayShape(images.shape, imagesSource, {
    layout: options.layout,
    sample: options.shape,
  });
  const l = labels.shape;
  if (!(l.length === 1 || (l.length === 2 && l[1] === 1)))
    throw new Error(`${labelsSource}: labels of shape (${l.join(', ')}) are not [N] or [N, 1]`);
  if (l[0] !== count)
    throw new Error(
      `${name}: ${imagesSource} has ${count} images but ${labelsSource} has ${l[0]} labels`,
    );
  return datasetFromArrays(name, images.data, labels.data, {
    shape,
    layout,
    classes: options.classes,
    source: imagesSource,
  });
}

/** Array names of a split in an .npz file or a folder of .npy files (Keras's layout). */
export const NPZ_NAMES = ['x_train', 'y_train', 'x_test', 'y_test'] as const;

/** Largest label of either split + 1: both splits must agree on the number of classes. */
function classesOf(...labels: NpyArray[]): number {
  let top = 1;
  for (const l of labels) for (let i = 0; i < l.data.length; i++) top = Math.max(top, l.data[i]);
  return top + 1;
}

/**
 * Training and test sets from arrays x_train, y_train, x_test, y_test (as in Keras's .npz files),
 * e.g. the result of parseNpz. `source` names the file in errors.
 */
export function splitFromNpz(
  name: string,
  arrays: Map<string, NpyArray>,
  source: string,
  options: NpyDatasetOptions = {},
): DataSplit {
  const missing = NPZ_NAMES.filter((k) => !arrays.has(k));
  if (missing.length > 0) {
    const have = [...arrays.keys()].join(', ') || 'no arrays';
    throw new Error(
      `${source}: lacks ${missing.join(', ')} (has ${have}); the data needs x_train, y_train, x_test, y_test`,
    );
  }
  const get = (k: string) => arrays.get(k)!;
  const classes = options.classes ?? classesOf(get('y_train'), get('y_test'));
  const part = (split: 'train' | 'test') =>
    datasetFromNpy(`${name}/${split}`, get(`x_${split}`), get(`y_${split}`), {
      ...options,
      classes,
      imagesSource: `${source}:x_${split}`,
      labelsSource: `${source}:y_${split}`,
    });
  const train = part('train');
  const test = part('test');
  if (train.shape.some((d, i) => d !== test.shape[i])) {
    throw new Error(
      `${source}: x_train samples are [${train.shape.join(', ')}] but x_test samples are [${test.shape.join(', ')}]`,
    );
  }
  return { train, test };
}
