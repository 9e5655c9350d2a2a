/**
 * File access for Node and Deno (node:fs). Browser code passes bytes to the parsers instead.
 * The default import keeps every call going through one mutable object, so tests can inject
 * failures.
 */
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';

/** Bytes written per write call; a failure between two chunks must not leave a partial file. */
const CHUNK = 1 << 20;
let tempCounter = 0;

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

export function readFileBytesSync(file: string): Uint8Array {
  try {
    const buf = fs.readFileSync(file);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    throw new Error(`cannot read ${file}: ${reason(e)}`);
  }
}

/** Whole file as bytes; a missing file gives "cannot read FILE: no such file". */
export async function readFileBytes(file: string): Promise<Uint8Array> {
  try {
    const buf = await fs.promises.readFile(file);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    throw new Error(`cannot read ${file}: ${reason(e)}`);
  }
}

export function readTextFile(file: string): string {
  return new TextDecoder().decode(readFileBytesSync(file));
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
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${tempCounter++}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(temp, 'wx', 0o644);
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
