/**
 * Data sets from folders of images: DIR/train/CLASS/*.png|jpg and DIR/test/CLASS/*, one subfolder
 * per class (class indices in code-unit order of the training folder names). PNG is decoded with
 * pngjs, JPEG with jpeg-js (both pure JavaScript, imported only when called, Node and Deno). Every
 * image must have the size of the first one (or of `shape`); sizes are read from the file header
 * before decoding, so a huge or mislabelled image is refused without decoding it. Pixels become
 * 8-bit channel values and go through datasetFromArrays like any other data.
 */
import { datasetFromArrays } from './arrays.ts';
import type { DataSplit, Dataset } from './dataset.ts';

/** One decoded image: width × height RGBA pixels. */
export interface DecodedImage {
  width: number;
  height: number;
  /** width · height · 4 bytes, row-major RGBA. */
  rgba: Uint8Array;
}

/** Options of {@link loadImageFolder}. */
export interface ImageFolderOptions {
  /** [C, H, W] every image must have (C 1 or 3); default: the first image's size, C 1 when every image is grey. */
  shape?: readonly [number, number, number];
  /** Images larger than this many pixels are refused before decoding (default 16 777 216). */
  maxPixels?: number;
}

/** A training and test set from an image folder, with the class folder names by index. */
export interface ImageFolderSplit extends DataSplit {
  classNames: string[];
}

const PNGJS = 'pngjs';
const IMAGE_FILE = /\.(png|jpe?g)$/i;
const DEFAULT_MAX_PIXELS = 1 << 24;

/** Width and height from a PNG's IHDR or a JPEG's SOF marker, without decoding. */
export function imageSize(bytes: Uint8Array, file: string): { width: number; height: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 24 && png.every((b, i) => bytes[i] === b)) {
    return { width: view.getUint32(16, false), height: view.getUint32(20, false) };
  }
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    for (let p = 2; p + 9 < bytes.length; ) {
      if (bytes[p] !== 0xff) break;
      const marker = bytes[p + 1];
      if (marker === 0xff) {
        p++;
        continue;
      }
      const length = view.getUint16(p + 2, false);
      // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
        return { height: view.getUint16(p + 5, false), width: view.getUint16(p + 7, false) };
      p += 2 + length;
    }
    throw new Error(`image ${file}: JPEG without a frame header (SOF marker)`);
  }
  throw new Error(`image ${file}: not a PNG or JPEG file`);
}

/** Decodes a PNG or JPEG file to RGBA (Node and Deno). Errors name the file. */
export async function decodeImage(
  bytes: Uint8Array,
  file = '<bytes>',
  maxPixels = DEFAULT_MAX_PIXELS,
): Promise<DecodedImage> {
  const { width, height } = imageSize(bytes, file);
  if (width < 1 || height < 1 || width * height > maxPixels)
    throw new Error(`image ${file}: ${width}x${height} pixels is empty or more than ${maxPixels}`);
  try {
    if (bytes[0] === 0x89) {
      // pngjs needs Node's zlib and streams: a name bundlers leave alone keeps it out of browser
      // bundles of the library, where image folders cannot be read anyway.
      const { PNG } = (await import(/* @vite-ignore */ PNGJS)) as typeof import('pngjs');
      const { Buffer } = await import('node:buffer');
      const img = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: img.width, height: img.height, rgba: new Uint8Array(img.data) };
    }
    const jpeg = await import('jpeg-js');
    const img = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      maxResolutionInMP: Math.ceil(maxPixels / 1e6),
      maxMemoryUsageInMB: 1024,
    });
    return { width: img.width, height: img.height, rgba: img.data };
  } catch (e) {
    throw new Error(
      `image ${file}: cannot decode: ${String((e as Error).message ?? e).replace(/\s+/g, ' ')}`,
    );
  }
}

function isGrey(img: DecodedImage): boolean {
  const d = img.rgba;
  for (let i = 0; i < d.length; i += 4) if (d[i] !== d[i + 1] || d[i] !== d[i + 2]) return false;
  return true;
}

/**
 * [C, H, W] channel values of an image: RGB, or for C = 1 the integer luma
 * (299 R + 587 G + 114 B + 500) / 1000, which is exact for grey pixels. Alpha is dropped.
 */
function channelsOf(img: DecodedImage, c: number, out: Uint8Array, at: number): void {
  const plane = img.width * img.height;
  const d = img.rgba;
  for (let p = 0; p < plane; p++) {
    const r = d[4 * p];
    const g = d[4 * p + 1];
    const b = d[4 * p + 2];
    if (c === 1) out[at + p] = Math.floor((299 * r + 587 * g + 114 * b + 500) / 1000);
    else {
      out[at + p] = r;
      out[at + plane + p] = g;
      out[at + 2 * plane + p] = b;
    }
  }
}

async function listDir(dir: string): Promise<{ name: string; dir: boolean }[]> {
  const fs = await import('node:fs');
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .map((e) => ({ name: e.name, dir: e.isDirectory() }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new Error(
      `images: cannot list ${dir}: ${code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : String((e as Error).message)}`,
    );
  }
}

/** True when `dir` has train/ and test/ subfolders (the image folder layout). */
export async function isImageFolder(dir: string): Promise<boolean> {
  try {
    const names = new Set((await listDir(dir)).filter((e) => e.dir).map((e) => e.name));
    return names.has('train') && names.has('test');
  } catch {
    return false;
  }
}

interface Listed {
  file: string;
  label: number;
}

async function listSplit(
  root: string,
  classNames: string[] | undefined,
): Promise<{ classes: string[]; files: Listed[] }> {
  const entries = await listDir(root);
  const loose = entries.find((e) => !e.dir && IMAGE_FILE.test(e.name));
  if (loose)
    throw new Error(
      `images: ${root}/${loose.name} is not in a class subfolder (${root}/CLASS/${loose.name})`,
    );
  const folders = entries.filter((e) => e.dir).map((e) => e.name);
  if (folders.length === 0) throw new Error(`images: ${root} has no class subfolders`);
  const classes = classNames ?? folders;
  const files: Listed[] = [];
  for (const name of folders) {
    const label = classes.indexOf(name);
    if (label < 0)
      throw new Error(
        `images: ${root}/${name} is a class the training folder does not have (${classes.join(', ')})`,
      );
    for (const e of await listDir(`${root}/${name}`)) {
      if (!e.dir && IMAGE_FILE.test(e.name))
        files.push({ file: `${root}/${name}/${e.name}`, label });
    }
  }
  if (files.length === 0) throw new Error(`images: ${root} holds no .png or .jpg files`);
  return { classes, files };
}

/**
 * Loads DIR/train/CLASS/* and DIR/test/CLASS/* (PNG or JPEG). Errors name the folder or file
 * at fault. The class count is the number of training class folders (at least 2).
 */
export async function loadImageFolder(
  dir: string,
  options: ImageFolderOptions = {},
): Promise<ImageFolderSplit> {
  const { readFileBytes } = await import('../io/files.ts');
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const base = dir.endsWith('/') ? dir.slice(0, -1) : dir;
  const trainList = await listSplit(`${base}/train`, undefined);
  const classNames = trainList.classes;
  if (classNames.length < 2)
    throw new Error(
      `images: ${base}/train has ${classNames.length} class folder; training needs at least 2`,
    );
  const testList = await listSplit(`${base}/test`, classNames);
  let shape = options.shape ? ([...options.shape] as [number, number, number]) : undefined;
  if (shape && shape[0] !== 1 && shape[0] !== 3)
    throw new Error(`images: ${shape[0]} channels requested; images give 1 (grey) or 3 (RGB)`);

  // Pass 1: sizes from headers (cheap), so every image is checked before any is decoded.
  const sizes = new Map<string, { width: number; height: number }>();
  for (const { file } of [...trainList.files, ...testList.files]) {
    const head = (await readFileBytes(file)).subarray(0, 1 << 16);
    const s = imageSize(head, file);
    const want = shape ? { width: shape[2], height: shape[1] } : sizes.values().next().value;
    if (want && (s.width !== want.width || s.height !== want.height)) {
      throw new Error(
        `image ${file}: ${s.width}x${s.height} pixels, the data set's images are ${want.width}x${want.height}`,
      );
    }
    if (s.width * s.height > maxPixels)
      throw new Error(`image ${file}: ${s.width}x${s.height} pixels is more than ${maxPixels}`);
    sizes.set(file, s);
  }
  const first = sizes.values().next().value!;

  // Pass 2: decode, keeping RGB until the channel count is known.
  const decode = async (list: Listed[]) => {
    const out: DecodedImage[] = [];
    for (const { file } of list)
      out.push(await decodeImage(await readFileBytes(file), file, maxPixels));
    return out;
  };
  const trainImages = await decode(trainList.files);
  const testImages = await decode(testList.files);
  shape ??= [[...trainImages, ...testImages].every(isGrey) ? 1 : 3, first.height, first.width];
  const build = (name: string, list: Listed[], images: DecodedImage[]): Dataset => {
    const sample = shape[0] * shape[1] * shape[2];
    const pixels = new Uint8Array(list.length * sample);
    for (const [i, img] of images.entries()) channelsOf(img, shape[0], pixels, i * sample);
    return datasetFromArrays(
      name,
      pixels,
      list.map((f) => f.label),
      { shape, classes: classNames.length, source: `images ${base}` },
    );
  };
  return {
    train: build('images/train', trainList.files, trainImages),
    test: build('images/test', testList.files, testImages),
    classNames,
  };
}
