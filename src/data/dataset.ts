/**
 * The in-memory data set training works on, and loaders for MNIST, Fashion-MNIST (IDX) and
 * CIFAR-10 (binary). Images are stored as pixel - 128 (docs/algorithm.md §2.1), the integer form every
 * later step (normalisation, augmentation, upload) starts from.
 *
 * The byte-level constructors are runtime-neutral; the directory loaders read files through
 * node:fs (Node, Deno), imported only when called so browsers can use the rest of this module.
 */
import {
  CIFAR_SHAPE,
  CIFAR_TEST_FILE,
  CIFAR_TRAIN_FILES,
  concatCifar,
  parseCifar,
} from './cifar.ts';
import { decodeIdxImages, decodeIdxLabels, IDX_IMAGES, IDX_LABELS } from './idx.ts';
import { InputError } from '../io/errors.ts';

/** Images (pixel - 128, [N, C, H, W]) and labels in memory: what training and evaluation read. */
export interface Dataset {
  name: string;
  /** pixel - 128, [N, C, H, W] in C order. */
  images: Int8Array;
  /** [N] class indices in [0, classes). */
  labels: Int32Array;
  /** [C, H, W] of one sample. */
  shape: [number, number, number];
  classes: number;
}

/** A training set and a test set of the same sample shape. */
export interface DataSplit {
  train: Dataset;
  test: Dataset;
}

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export function datasetSize(ds: Dataset): number {
  return ds.labels.length;
}

export function sampleSize(ds: Pick<Dataset, 'shape'>): number {
  return ds.shape[0] * ds.shape[1] * ds.shape[2];
}

function checkLabels(labels: ArrayLike<number>, classes: number, file: string): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= classes)
      throw new InputError(
        `${file}: label ${labels[i]} at ${i} is not below ${classes} classes`,
        file,
      );
  }
}

/** Builds a single-channel data set from IDX images and labels bytes (raw or gzip). */
export async function datasetFromIdx(
  name: string,
  imageBytes: Uint8Array,
  labelBytes: Uint8Array,
  files: { images?: string; labels?: string } = {},
  classes = 10,
): Promise<Dataset> {
  const imagesFile = files.images ?? `${name} images`;
  const labelsFile = files.labels ?? `${name} labels`;
  const img = await decodeIdxImages(imageBytes, imagesFile);
  const lab = await decodeIdxLabels(labelBytes, labelsFile);
  if (lab.length !== img.count) {
    throw new InputError(
      `${name}: ${imagesFile} has ${img.count} images but ${labelsFile} has ${lab.length} labels`,
      labelsFile,
    );
  }
  checkLabels(lab, classes, labelsFile);
  const images = new Int8Array(img.data.length);
  for (let i = 0; i < images.length; i++) images[i] = img.data[i] - 128;
  return { name, images, labels: Int32Array.from(lab), shape: [1, img.height, img.width], classes };
}

/** Builds CIFAR-10 from the bytes of its binary files, concatenated in the order given. */
export function datasetFromCifar(
  name: string,
  parts: readonly { bytes: Uint8Array; file: string }[],
): Dataset {
  const all = concatCifar(parts.map((p) => parseCifar(p.bytes, p.file)));
  return { name, images: all.images, labels: all.labels, shape: [...CIFAR_SHAPE], classes: 10 };
}

function join(dir: string, file: string): string {
  return dir.endsWith('/') ? dir + file : `${dir}/${file}`;
}

const IDX_STEMS = {
  trainImages: ['train-images', 'idx3-ubyte'],
  trainLabels: ['train-labels', 'idx1-ubyte'],
  testImages: ['t10k-images', 'idx3-ubyte'],
  testLabels: ['t10k-labels', 'idx1-ubyte'],
} as const;

/** Finds the four IDX files in `dir`: "train-images-idx3-ubyte" or "train-images.idx3-ubyte", gzip or not. */
async function findIdxFiles(
  name: string,
  dir: string,
  hint: string,
): Promise<Record<keyof typeof IDX_STEMS, string>> {
  const { isDirectory, isFile } = await import('../io/files.ts');
  if (!isDirectory(dir)) throw new Error(`${name}: data directory ${dir} does not exist; ${hint}`);
  const found: Partial<Record<keyof typeof IDX_STEMS, string>> = {};
  const missing: string[] = [];
  for (const [key, [stem, kind]] of Object.entries(IDX_STEMS) as [
    keyof typeof IDX_STEMS,
    readonly [string, string],
  ][]) {
    const candidates = [
      `${stem}-${kind}.gz`,
      `${stem}-${kind}`,
      `${stem}.${kind}.gz`,
      `${stem}.${kind}`,
    ].map((f) => join(dir, f));
    const hit = candidates.find(isFile);
    if (hit === undefined) missing.push(`${stem}-${kind}[.gz]`);
    else found[key] = hit;
  }
  if (missing.length > 0) throw new Error(`${name}: ${dir} lacks ${missing.join(', ')}; ${hint}`);
  return found as Record<keyof typeof IDX_STEMS, string>;
}

async function loadIdxSplit(name: string, dir: string, hint: string): Promise<DataSplit> {
  const { readIdxFile } = await import('./files.ts');
  const f = await findIdxFiles(name, dir, hint);
  const load = async (images: string, labels: string, split: string) =>
    datasetFromIdx(
      `${name}/${split}`,
      readIdxFile(images, IDX_IMAGES),
      readIdxFile(labels, IDX_LABELS),
      { images, labels },
    );
  const train = await load(f.trainImages, f.trainLabels, 'train');
  const test = await load(f.testImages, f.testLabels, 'test');
  return { train, test };
}

/** Fashion-MNIST from IDX files (Debian's dataset-fashion-mnist by default). */
export function loadFashionMnist(dir = FASHION_MNIST_DIR): Promise<DataSplit> {
  return loadIdxSplit(
    'fashion-mnist',
    dir,
    "install it with 'apt-get install dataset-fashion-mnist' or pass --data DIR",
  );
}

/** MNIST from the four IDX files (train-/t10k-, images/labels, raw or .gz) in `dir`. */
export function loadMnist(dir: string): Promise<DataSplit> {
  return loadIdxSplit('mnist', dir, 'pass --data DIR with the MNIST IDX files');
}

/** CIFAR-10 binary version from `dir` or its cifar-10-batches-bin subfolder. */
export async function loadCifar10(dir: string): Promise<DataSplit> {
  const { isDirectory, isFile } = await import('../io/files.ts');
  const { readCifarFile } = await import('./files.ts');
  const hint =
    'pass --data DIR with data_batch_1.bin .. data_batch_5.bin and test_batch.bin (CIFAR-10 binary version)';
  if (!isDirectory(dir)) throw new Error(`cifar10: data directory ${dir} does not exist; ${hint}`);
  const nested = join(dir, 'cifar-10-batches-bin');
  const base = !isFile(join(dir, CIFAR_TEST_FILE)) && isDirectory(nested) ? nested : dir;
  const names = [...CIFAR_TRAIN_FILES, CIFAR_TEST_FILE];
  const missing = names.filter((n) => !isFile(join(base, n)));
  if (missing.length > 0) throw new Error(`cifar10: ${base} lacks ${missing.join(', ')}; ${hint}`);
  const read = async (n: string) => ({
    bytes: readCifarFile(join(base, n)),
    file: join(base, n),
  });
  const trainParts = [];
  for (const n of CIFAR_TRAIN_FILES) trainParts.push(await read(n));
  const train = datasetFromCifar('cifar10/train', trainParts);
  const test = datasetFromCifar('cifar10/test', [await read(CIFAR_TEST_FILE)]);
  return { train, test };
}

export type DatasetName = 'mnist' | 'fashion-mnist' | 'cifar10';

/** Loads a data set by name; `dir` defaults only for Fashion-MNIST. */
export async function loadDataset(name: DatasetName, dir?: string): Promise<DataSplit> {
  switch (name) {
    case 'fashion-mnist':
      return loadFashionMnist(dir ?? FASHION_MNIST_DIR);
    case 'mnist':
      if (dir === undefined)
        throw new Error('mnist: no data directory; pass --data DIR with the MNIST IDX files');
      return loadMnist(dir);
    case 'cifar10':
      if (dir === undefined)
        throw new Error(
          'cifar10: no data directory; pass --data DIR with the CIFAR-10 binary files',
        );
      return loadCifar10(dir);
  }
}
