/**
 * The files of a training run in its folder (last.safetensors, best.safetensors, log.jsonl):
 * which exist, moving an earlier run aside instead of replacing it, and removing the
 * temporary files of writes a killed process left behind.
 */
import { existsSync, mkdirSync, realpathSync, renameSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { removeInterruptedWrites } from '../io/files.ts';

export const CHECKPOINTS = ['last.safetensors', 'best.safetensors'] as const;

/** The run files that exist: the checkpoints in `out`, and the log wherever it is. */
export function runFilesIn(out: string, logFile: string): string[] {
  const files = CHECKPOINTS.map((f) => join(out, f)).filter((f) => existsSync(f));
  if (existsSync(logFile)) {
    if (statSync(logFile).isDirectory())
      throw new Error(`cannot open log ${logFile}: it is a folder`);
    files.push(logFile);
  }
  return files;
}

/** True when both paths name the same existing file (through links and relative paths). */
export function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

function firstFree(base: string): string {
  for (let n = 1; ; n++) if (!existsSync(`${base}.${n}`)) return `${base}.${n}`;
}

/**
 * Moves the run files out of the way, deleting nothing: the files in `out` into the first free
 * `<out>.N` folder, a log kept elsewhere to the first free `<log>.N`. Returns where they went.
 */
export function moveRunAside(out: string, files: readonly string[]): string[] {
  const inOut = files.filter((f) => resolve(dirname(f)) === resolve(out));
  const moved: string[] = [];
  if (inOut.length > 0) {
    const aside = firstFree(resolve(out));
    mkdirSync(aside);
    for (const f of inOut) renameSync(f, join(aside, basename(f)));
    moved.push(aside);
  }
  for (const f of files.filter((x) => !inOut.includes(x))) {
    const to = firstFree(resolve(f));
    renameSync(f, to);
    moved.push(to);
  }
  return moved;
}

/** Removes what killed checkpoint writes left in `out` (see removeInterruptedWrites). */
export function removeInterruptedCheckpoints(out: string): string[] {
  return removeInterruptedWrites(out, CHECKPOINTS);
}

/** An argument as a POSIX shell reads it back (quoted when it needs to be). */
export function shellWord(s: string): string {
  return /^[\w./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command that continues a run: the same arguments without --resume and --force, then
 * `--resume CHECKPOINT`.
 */
export function resumeCommand(argv: readonly string[], checkpoint: string): string {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--force' || a.startsWith('--resume=')) continue;
    if (a === '--resume') {
      i++;
      continue;
    }
    kept.push(a);
  }
  return ['nitro-d', 'train', ...kept, '--resume', checkpoint].map(shellWord).join(' ');
}
