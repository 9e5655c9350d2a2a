/** A JSON-lines log: one object per line, appended and flushed as each event happens. */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class JsonLog {
  constructor(
    readonly file: string,
    fresh: boolean,
  ) {
    try {
      mkdirSync(dirname(file), { recursive: true });
      if (fresh) writeFileSync(file, '');
    } catch (e) {
      const code = (e as { code?: string }).code;
      const why =
        code === 'EISDIR'
          ? 'it is a folder'
          : code === 'EEXIST' || code === 'ENOTDIR'
            ? 'a file is in the way of its folder'
            : ((e as Error).message ?? String(e)).replace(/\s+/g, ' ');
      throw new Error(`cannot open log ${file}: ${why}`);
    }
  }

  write(record: Record<string, unknown>): void {
    appendFileSync(this.file, `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  }
}
