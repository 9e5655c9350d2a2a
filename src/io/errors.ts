/**
 * The error every input check throws: one line that names the file (and, where one is at
 * fault, the tensor or field). Runtime-neutral, so the byte parsers can use it in browsers.
 */
export class InputError extends Error {
  constructor(
    message: string,
    /** The file (or "<bytes>", or the name the caller gave the bytes). */
    readonly file: string,
  ) {
    super(message.replace(/\s+/g, ' ').trim());
    this.name = 'InputError';
  }
}

/** Largest file the readers accept, per kind (bytes). */
export const MAX_FILE_BYTES = {
  /** A model spec or other JSON document. */
  json: 16 * 1024 * 1024,
  /** Checkpoints, batches and prediction inputs: one JS typed array holds the data. */
  safetensors: 2 * 1024 * 1024 * 1024 - 1,
  /** An uncompressed IDX file (Fashion-MNIST's largest is 47 MB). */
  idx: 1024 * 1024 * 1024,
  /** A gzip-compressed IDX file, before inflating. */
  idxGz: 256 * 1024 * 1024,
  /** One CIFAR-10 binary batch file (30 MB each). */
  cifar: 512 * 1024 * 1024,
} as const;

export type FileKind = keyof typeof MAX_FILE_BYTES;
