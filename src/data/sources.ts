/**
 * Loading a training and test set from a path in any of the formats nitro-d reads, named or
 * detected: IDX folders (MNIST, Fashion-MNIST), CIFAR-10 binary folders, NumPy .npz files or
 * folders of .npy files (x_train, y_train, x_test, y_test), and image folders (train/CLASS/*,
 * test/CLASS/*). Node and Deno (file access through node:fs, imported when called).
 */
import { splitFromNpz, NPZ_NAMES, type NpyDatasetOptions } from './arrays.ts';
import {
  type DataSplit,
  type DatasetName,
  loadCifar10,
  loadDataset,
  loadMnist,
} from './dataset.ts';
import { isImageFolder, loadImageFolder } from './images.ts';
import { type NpyArray, parseNpy, parseNpz } from './npy.ts';

/** The data formats `loadData` reads. */
export const DATA_FORMATS = ['idx', 'cifar10', 'npz', 'npy', 'images'] as const;
/** One of {@link DATA_FORMATS}. */
export type DataFormat = (typeof DATA_FORMATS)[number];

/** Options of {@link loadData}. */
export interface LoadDataOptions extends NpyDatasetOptions {
  /** The format; detected from the path when omitted. */
  format?: DataFormat;
  /** Name of the data set in errors and results (default: the format). */
  name?: string;
}

function join(dir: string, file: string): string {
  return dir.endsWith('/') ? dir + file : `${dir}/${file}`;
}

/**
 * The format of the data at `path`: a .npz file, a folder with x_train.npy, a folder with train/
 * and test/ subfolders (images), CIFAR-10 binary files, or IDX files. Errors name the path.
 */
export async function detectDataFormat(path: string): Promise<DataFormat> {
  const { isDirectory, isFile } = await import('../io/files.ts');
  if (isFile(path)) {
    if (/\.npz$/i.test(path)) return 'npz';
    if (/\.npy$/i.test(path))
      throw new Error(
        `data ${path}: a .npy file holds one array; pass the folder holding ${NPZ_NAMES.map((n) => `${n}.npy`).join(', ')}`,
      );
    throw new Error(`data ${path}: a file that is not .npz; pass a .npz file or a data folder`);
  }
  if (!isDirectory(path)) throw new Error(`data ${path}: no such file or folder`);
  if (isFile(join(path, 'x_train.npy'))) return 'npy';
  if (await isImageFolder(path)) return 'images';
  const cifar = ['data_batch_1.bin', 'cifar-10-batches-bin', 'test_batch.bin'];
  const fs = await import('node:fs');
  const names = fs.readdirSync(path);
  if (names.some((n) => cifar.includes(n))) return 'cifar10';
  if (names.some((n) => /^(train|t10k)-(images|labels)[-.]idx[13]-ubyte(\.gz)?$/.test(n)))
    return 'idx';
  throw new Error(
    `data ${path}: cannot tell its format (no .npz, x_train.npy, train/ and test/ image folders, CIFAR-10 or IDX files); name it with --data-format ${DATA_FORMATS.join('|')}`,
  );
}

/** x_train, y_train, x_test, y_test from DIR/NAME.npy. */
async function loadNpyFolder(dir: string): Promise<Map<string, NpyArray>> {
  const { isFile, readFileBytes } = await import('../io/files.ts');
  const missing = NPZ_NAMES.filter((n) => !isFile(join(dir, `${n}.npy`)));
  if (missing.length > 0)
    throw new Error(`data ${dir}: lacks ${missing.map((n) => `${n}.npy`).join(', ')}`);
  const arrays = new Map<string, NpyArray>();
  for (const n of NPZ_NAMES) {
    const file = join(dir, `${n}.npy`);
    arrays.set(n, parseNpy(await readFileBytes(file), file));
  }
  return arrays;
}

/**
 * Loads a training and test set from `path` in `options.format` (detected when omitted).
 * `idx` reads the four MNIST-style files of a folder, `cifar10` the CIFAR-10 binary folder,
 * `npz` a .npz file and `npy` a folder of .npy files (arrays x_train, y_train, x_test, y_test),
 * `images` DIR/train/CLASS/* and DIR/test/CLASS/* (PNG or JPEG).
 */
export async function loadData(path: string, options: LoadDataOptions = {}): Promise<DataSplit> {
  const format = options.format ?? (await detectDataFormat(path));
  const name = options.name ?? format;
  switch (format) {
    case 'idx':
      return name === 'fashion-mnist' ? loadDataset('fashion-mnist', path) : loadMnist(path);
    case 'cifar10':
      return loadCifar10(path);
    case 'npz': {
      const { readFileBytes } = await import('../io/files.ts');
      const arrays = await parseNpz(await readFileBytes(path), path, { only: NPZ_NAMES });
      return splitFromNpz(name, arrays, `npz ${path}`, options);
    }
    case 'npy':
      return splitFromNpz(name, await loadNpyFolder(path), `npy ${path}`, options);
    case 'images': {
      const { classNames: _, ...split } = await loadImageFolder(path, {
        shape: options.shape,
      });
      return split;
    }
    default:
      throw new Error(
        `data ${path}: unknown format '${format as string}' (expected ${DATA_FORMATS.join(', ')})`,
      );
  }
}

/**
 * The data of a command: the named data set from its default folder or `dir` when no format is
 * named and `dir` holds that data set's files; otherwise `loadData` on `dir`. `shape` is the
 * model's input, which flat NumPy vectors and image folders take.
 */
export async function loadCommandData(
  dataset: DatasetName,
  dir: string | undefined,
  format: string | undefined,
  shape?: readonly [number, number, number],
): Promise<DataSplit> {
  if (format !== undefined && !(DATA_FORMATS as readonly string[]).includes(format))
    throw new Error(`--data-format must be ${DATA_FORMATS.join(', ')}, got '${format}'`);
  if (dir === undefined) {
    if (format !== undefined) throw new Error(`--data-format ${format} needs --data PATH`);
    return loadDataset(dataset);
  }
  const { isFile } = await import('../io/files.ts');
  // A folder of no known format goes to the data set's own loader below, which says what it lacks.
  const kind =
    (format as DataFormat | undefined) ??
    (isFile(dir)
      ? await detectDataFormat(dir)
      : await detectDataFormat(dir).catch(() => undefined));
  // The data set's own loader keeps its errors (which files are missing) when nothing else fits.
  if (
    kind === undefined ||
    (kind === 'idx' && dataset !== 'cifar10') ||
    (kind === 'cifar10' && dataset === 'cifar10')
  )
    return loadDataset(dataset, dir);
  return loadData(dir, { format: kind, name: dataset, shape });
}
