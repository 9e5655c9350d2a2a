/** Getting IDX data into the page: the bundled sample over HTTP, or four files the user picks or drops. */
import { type DataSplit, type DatasetName, datasetFromIdx } from '../../src/index.ts';

/** Where the bundled sample lives, relative to the page (and to the project root for the CLI). */
export const SAMPLE_PATH = 'data/fashion-mnist-sample';
export const SAMPLE_CLI_DIR = 'demo/public/data/fashion-mnist-sample';

export type IdxRole = 'trainImages' | 'trainLabels' | 'testImages' | 'testLabels';
export const IDX_ROLES: readonly IdxRole[] = [
  'trainImages',
  'trainLabels',
  'testImages',
  'testLabels',
];

export const IDX_FILE_NAMES: Record<IdxRole, string> = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
};

const ROLE_PATTERNS: [IdxRole, RegExp][] = [
  ['trainImages', /train-images/i],
  ['trainLabels', /train-labels/i],
  ['testImages', /t10k-images|test-images/i],
  ['testLabels', /t10k-labels|test-labels/i],
];

/** Sorts files into the four IDX roles by name ("train-images-idx3-ubyte[.gz]" and the like). */
export function assignIdxFiles(
  files: Iterable<File>,
  into: Partial<Record<IdxRole, File>> = {},
): { assigned: Partial<Record<IdxRole, File>>; ignored: string[] } {
  const assigned = { ...into };
  const ignored: string[] = [];
  for (const f of files) {
    const hit = ROLE_PATTERNS.find(([, re]) => re.test(f.name));
    if (hit) assigned[hit[0]] = f;
    else ignored.push(f.name);
  }
  return { assigned, ignored };
}

export function hasAllRoles(files: Partial<Record<IdxRole, File>>): files is Record<IdxRole, File> {
  return IDX_ROLES.every((r) => files[r] !== undefined);
}

async function split(
  name: string,
  bytes: Record<IdxRole, Uint8Array>,
  names: Record<IdxRole, string>,
): Promise<DataSplit> {
  const train = await datasetFromIdx(`${name}/train`, bytes.trainImages, bytes.trainLabels, {
    images: names.trainImages,
    labels: names.trainLabels,
  });
  const test = await datasetFromIdx(`${name}/test`, bytes.testImages, bytes.testLabels, {
    images: names.testImages,
    labels: names.testLabels,
  });
  return { train, test };
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** The bundled Fashion-MNIST sample (gzip IDX files next to the page). */
export async function loadSample(): Promise<DataSplit> {
  const bytes = {} as Record<IdxRole, Uint8Array>;
  const names = {} as Record<IdxRole, string>;
  await Promise.all(
    IDX_ROLES.map(async (role) => {
      const url = new URL(`${SAMPLE_PATH}/${IDX_FILE_NAMES[role]}`, document.baseURI).href;
      names[role] = IDX_FILE_NAMES[role];
      bytes[role] = await fetchBytes(url);
    }),
  );
  return split('fashion-mnist', bytes, names);
}

/** Four user files (raw or gzip IDX). */
export async function loadFiles(
  dataset: DatasetName,
  files: Record<IdxRole, File>,
): Promise<DataSplit> {
  const bytes = {} as Record<IdxRole, Uint8Array>;
  const names = {} as Record<IdxRole, string>;
  for (const role of IDX_ROLES) {
    names[role] = files[role].name;
    bytes[role] = new Uint8Array(await files[role].arrayBuffer());
  }
  return split(dataset, bytes, names);
}

const FASHION_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** Display names of the classes. */
export function classNames(dataset: DatasetName, classes: number): string[] {
  if (dataset === 'fashion-mnist' && classes === 10) return FASHION_CLASSES;
  return Array.from({ length: classes }, (_, i) => String(i));
}
