/**
 * A JSON-lines log: one object per line, appended and flushed as each event happens. A log is
 * only ever appended to; the one exception is a last line cut short by a killed process (no
 * newline), which is the residue of a write that never finished and is dropped on reopening.
 */
import {
  appendFileSync,
  closeSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
} from 'node:fs';
import { dirname } from 'node:path';

function reason(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === 'EEXIST') return 'it exists already';
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOSPC') return 'no space left on device';
  return String((e as Error).message ?? e).replace(/\s+/g, ' ');
}

export interface LogContents {
  /** The complete records, in order (lines that are not JSON objects are skipped). */
  records: Record<string, unknown>[];
  /** Bytes of complete lines; anything after is a torn last line. */
  complete: number;
  size: number;
}

/** Reads a log's records; undefined when the file does not exist. */
export function readLog(file: string): LogContents | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${reason(e)}`);
  }
  const complete = bytes.lastIndexOf(0x0a) + 1;
  const records: Record<string, unknown>[] = [];
  for (const line of bytes.subarray(0, complete).toString('utf8').split('\n')) {
    if (line === '') continue;
    try {
      const v = JSON.parse(line);
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) records.push(v);
    } catch {}
  }
  return { records, complete, size: bytes.length };
}

/**
 * The epoch a log has reached: its last epoch record's, else the epoch its last start
 * resumed at (0 for a fresh start); undefined for a log without either.
 */
export function loggedEpoch(records: readonly Record<string, unknown>[]): number | undefined {
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i];
    if (r.event === 'epoch' && typeof r.epoch === 'number') return r.epoch;
    if (r.event === 'start') return typeof r.resumedAtEpoch === 'number' ? r.resumedAtEpoch : 0;
  }
  return undefined;
}

export class JsonLog {
  private constructor(
    readonly file: string,
    private readonly onWrite?: (record: Record<string, unknown>) => void,
  ) {}

  /** A new log file; fails when one exists already (a log is never replaced). */
  static create(file: string, onWrite?: (record: Record<string, unknown>) => void): JsonLog {
    try {
      mkdirSync(dirname(file), { recursive: true });
      closeSync(openSync(file, 'wx'));
    } catch (e) {
      throw new Error(`cannot create the log ${file}: ${reason(e)}`);
    }
    return new JsonLog(file, onWrite);
  }

  /** Appends to `file` (created when absent), first dropping a torn last line. */
  static append(file: string, onWrite?: (record: Record<string, unknown>) => void): JsonLog {
    const contents = readLog(file);
    try {
      mkdirSync(dirname(file), { recursive: true });
      if (contents && contents.complete < contents.size) {
        const fd = openSync(file, 'r+');
        try {
          ftruncateSync(fd, contents.complete);
        } finally {
          closeSync(fd);
        }
      }
    } catch (e) {
      throw new Error(`cannot write the log ${file}: ${reason(e)}`);
    }
    return new JsonLog(file, onWrite);
  }

  write(record: Record<string, unknown>): void {
    try {
      appendFileSync(
        this.file,
        `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`,
      );
    } catch (e) {
      throw new Error(`cannot write the log ${this.file}: ${reason(e)}`);
    }
    this.onWrite?.(record);
  }
}
