/** A JSON-lines log: one object per line, appended and flushed as each event happens. */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class JsonLog {
  constructor(
    readonly file: string,
    fresh: boolean,
  ) {
    mkdirSync(dirname(file), { recursive: true });
    if (fresh) writeFileSync(file, '');
  }

  write(record: Record<string, unknown>): void {
    appendFileSync(this.file, `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  }
}
