/**
 * File access for Node and Deno (node:fs). Browser code passes bytes to the parsers instead.
 * The default import keeps every call going through one mutable object, so tests can inject
 * failures.
 */
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { type FileKind, InputError, MAX_FILE_BYTES } from './errors.ts';
import { parseJson } from './json.ts';
import { type ParseOptions, parseSafetensorsHeader, safetensorsHeaderEnd } from './safetensors.ts';

export { InputError } from './errors.ts';

/** Bytes written per write call; a failure between two chunks must not leave a partial file. */
const CHUNK = 1 << 20;

function reason(e: unknown): string {
  const code = (e as { code?: string }).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a parent is not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOSPC':
      return 'no space left on device';
    default:
      return String((e as Error).message ?? e).replace(/\s+/g, ' ');
  }
}

/** How messages name each kind of input file. */
export const KIND_NAMES: Readonly<Record<FileKind, string>> = {
  json: 'a JSON file',
  safetensors: 'a safetensors file',
  idx: 'an IDX file',
  idxGz: 'a gzip-compressed IDX file',
  cifar: 'a CIFAR-10 batch file',
};

function statKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'is a directory';
  if (st.isFIFO()) return 'is a FIFO (named pipe), not a regular file';
  if (st.isCharacterDevice()) return 'is a character device, not a regular file';
  if (st.isBlockDevice()) return 'is a block device, not a regular file';
  if (st.isSocket()) return 'is a socket, not a regular file';
  return 'is not a regular file';
}

/**
 * A regular file opened for reading, its size checked against the limit of its kind. Anything
 * else (a directory, a FIFO, /dev/zero) is refused before it is opened, so nothing blocks or
 * reads without end.
 */
export class InputFile {
  private constructor(
    readonly file: string,
    private fd: number,
    readonly size: number,
  ) {}

  static open(file: string, kind: FileKind): InputFile {
    let fd: number | undefined;
    try {
      const st = fs.statSync(file);
      if (!st.isFile()) throw new InputError(`cannot read ${file}: ${statKind(st)}`, file);
      // O_NONBLOCK: should the path turn into a FIFO after the stat, opening it does not wait.
      fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
      const size = fs.fstatSync(fd).size;
      if (!fs.fstatSync(fd).isFile())
        throw new InputError(`cannot read ${file}: is not a regular file`, file);
      const limit = MAX_FILE_BYTES[kind];
      if (size > limit)
        throw new InputError(
          `cannot read ${file}: ${size} bytes, more than the ${limit}-byte limit for ${KIND_NAMES[kind]}`,
          file,
        );
      const opened = new InputFile(file, fd, size);
      fd = undefined;
      return opened;
    } catch (e) {
      if (fd !== undefined) fs.closeSync(fd);
      if (e instanceof InputError) throw e;
      throw new InputError(`cannot read ${file}: ${reason(e)}`, file);
    }
  }

  /** `length` bytes from `offset` (fewer only if the file shrank meanwhile: then an error). */
  read(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(length, this.size - offset)));
    let done = 0;
    try {
      while (done < out.length) {
        const n = fs.readSync(this.fd, out, done, out.length - done, offset + done);
        if (n === 0) break;
        done += n;
      }
    } catch (e) {
      throw new InputError(`cannot read ${this.file}: ${reason(e)}`, this.file);
    }
    if (done < out.length)
      throw new InputError(
        `cannot read ${this.file}: it shrank to ${offset + done} bytes while being read`,
        this.file,
      );
    return out;
  }

  readAll(): Uint8Array {
    return this.read(0, this.size);
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {}
  }
}

/**
 * Opens `file` as an input of `kind` (size limit, regular file), runs `use` on it and closes
 * it; errors name the file.
 */
export function withInput<T>(file: string, kind: FileKind, use: (f: InputFile) => T): T {
  const f = InputFile.open(file, kind);
  try {
    return use(f);
  } finally {
    f.close();
  }
}

/** Whole regular file as bytes, at most the limit of its kind; errors read "cannot read FILE: ...". */
export function readFileBytesSync(file: string, kind: FileKind = 'safetensors'): Uint8Array {
  return withInput(file, kind, (f) => f.readAll());
}

/** Whole file as bytes; a missing file gives "cannot read FILE: no such file". */
export async function readFileBytes(
  file: string,
  kind: FileKind = 'safetensors',
): Promise<Uint8Array> {
  return readFileBytesSync(file, kind);
}

export function readTextFile(file: string): string {
  const bytes = readFileBytesSync(file, 'json');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError(`${file}: not a text file (invalid UTF-8)`, file);
  }
}

/** A JSON file (at most MAX_FILE_BYTES.json, nesting and duplicate keys checked). */
export function readJsonFile(file: string, what = file): unknown {
  return parseJson(readTextFile(file), file, { what });
}

/**
 * A safetensors file whose header is read and checked first: the file's size must be what the
 * header accounts for before its data is read. The bytes are returned for the full parser.
 */
export function readSafetensorsFile(file: string, options: ParseOptions = {}): Uint8Array {
  const opts = { ...options, file };
  return withInput(file, 'safetensors', (f) => {
    const dataStart = safetensorsHeaderEnd(f.read(0, 8), f.size, opts);
    parseSafetensorsHeader(f.read(0, dataStart), f.size, opts);
    return f.readAll();
  });
}

/** True when `file` exists and is a regular file. */
export function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** The stages of an atomic write, reported to `onStage` (a test stops a process there). */
export type WriteStage = 'written' | 'renamed';

/** `.NAME.PID.N.tmp`: the temporary file of an atomic write of NAME by process PID. */
const TEMP = /^\.(.+)\.(\d+)\.(\d+)\.tmp$/;

/**
 * Creates the temporary file of a write of `name` in `dir`: `.NAME.PID.N.tmp` with N the clock
 * in nanoseconds followed by random digits, so names are unique without a counter kept between
 * calls; `wx` refuses a name that exists anyway, and then another is drawn.
 */
function openTemp(dir: string, name: string): [string, number] {
  for (let attempt = 1; ; attempt++) {
    const n = `${process.hrtime.bigint()}${randomInt(1_000_000).toString().padStart(6, '0')}`;
    const temp = path.join(dir, `.${name}.${process.pid}.${n}.tmp`);
    try {
      return [temp, fs.openSync(temp, 'wx', 0o644)];
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST' || attempt >= 8) throw e;
    }
  }
}

/**
 * Replaces `file` with `bytes` all at once: writes a temporary file in the same directory,
 * flushes it to disk, then renames it over the target. On any failure the temporary file is
 * removed and the previous contents of `file` (if any) are untouched; a process killed in
 * between leaves the temporary file, which removeInterruptedWrites deletes later.
 */
export function writeFileAtomicSync(
  file: string,
  bytes: Uint8Array,
  onStage?: (stage: WriteStage) => void,
): void {
  const dir = path.dirname(file);
  let fd: number | undefined;
  let temp: string;
  try {
    [temp, fd] = openTemp(dir, path.basename(file));
  } catch (e) {
    throw new Error(`cannot write ${file}: ${reason(e)}`);
  }
  try {
    for (let off = 0; off < bytes.length; ) {
      off += fs.writeSync(fd, bytes, off, Math.min(CHUNK, bytes.length - off));
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    onStage?.('written');
    fs.renameSync(temp, file);
  } catch (e) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {}
    }
    try {
      fs.unlinkSync(temp);
    } catch {}
    throw new Error(`cannot write ${file}: ${reason(e)}`);
  }
  // Persist the rename itself; not every platform lets a directory be opened for this.
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {}
  onStage?.('renamed');
}

export async function writeFileAtomic(
  file: string,
  bytes: Uint8Array,
  onStage?: (stage: WriteStage) => void,
): Promise<void> {
  writeFileAtomicSync(file, bytes, onStage);
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

/**
 * Deletes the temporary files that atomic writes of `names` in `dir` left when their process
 * was killed (`.NAME.PID.N.tmp` of a process that no longer runs); returns their paths. Files
 * of a live process (a write in progress) and every other file stay.
 */
export function removeInterruptedWrites(dir: string, names: readonly string[]): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const m = TEMP.exec(entry);
    if (!m || !names.includes(m[1]) || alive(Number(m[2]))) continue;
    const p = path.join(dir, entry);
    try {
      if (!fs.lstatSync(p).isFile()) continue;
      fs.unlinkSync(p);
      removed.push(p);
    } catch (e) {
      throw new Error(`cannot remove ${p} (left by an interrupted write): ${reason(e)}`);
    }
  }
  return removed;
}
