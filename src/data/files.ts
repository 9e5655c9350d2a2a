/**
 * Reading the dataset files from disk (Node and Deno): an IDX or CIFAR-10 file is checked
 * against its format (header, record size) before its data is read. Browser code passes bytes
 * to the parsers instead.
 */
import { InputError, MAX_FILE_BYTES } from '../io/errors.ts';
import { KIND_NAMES, withInput } from '../io/files.ts';
import { checkCifarSize } from './cifar.ts';
import { idxDeclaredBytes, isGzip } from './idx.ts';

/**
 * An IDX file, raw or gzip: a raw file's size must match the dimensions of its header before
 * the data is read; a compressed one is read whole (at most MAX_FILE_BYTES.idxGz) and inflated
 * later up to its declared size only.
 */
export function readIdxFile(file: string, expect?: number): Uint8Array {
  return withInput(file, 'idx', (f) => {
    const first = f.read(0, Math.min(4, f.size));
    if (isGzip(first)) {
      const limit = MAX_FILE_BYTES.idxGz;
      if (f.size > limit)
        throw new InputError(
          `cannot read ${file}: ${f.size} bytes, more than the ${limit}-byte limit for ${KIND_NAMES.idxGz}`,
          file,
        );
      return f.readAll();
    }
    const headerBytes = first.length === 4 ? 4 + 4 * first[3] : first.length;
    idxDeclaredBytes(f.read(0, Math.min(headerBytes, f.size)), file, expect, f.size);
    return f.readAll();
  });
}

/** A CIFAR-10 binary file, its size checked (a whole number of records) before it is read. */
export function readCifarFile(file: string): Uint8Array {
  return withInput(file, 'cifar', (f) => {
    checkCifarSize(f.size, file);
    return f.readAll();
  });
}
