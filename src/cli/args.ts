/** Command-line parsing shared by the commands: strict flags, typed integers, one-line errors. */
import { parseArgs } from 'node:util';
import { BACKEND_CHOICES, type BackendChoice } from '../backends.ts';
import { presetNames } from '../model/presets.ts';

export class UsageError extends Error {
  override name = 'UsageError';
}

export type FlagSpec = Record<
  string,
  { type: 'string' | 'boolean'; short?: string; default?: string | boolean }
>;

/** Edit distance, for "did you mean" (flags are short). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length];
}

function unknownFlag(command: string, flag: string, flags: FlagSpec): UsageError {
  const name = flag.replace(/^-+/, '');
  const near = Object.keys(flags)
    .map((k) => ({ k, d: distance(name, k) }))
    .filter((c) => c.d <= Math.max(1, Math.floor(name.length / 3)))
    .sort((x, y) => x.d - y.d)[0];
  const hint = near ? `did you mean --${near.k}? ` : '';
  return new UsageError(
    `${command}: unknown flag '${flag}' (${hint}nitro-d ${command} --help lists the flags)`,
  );
}

/**
 * Strict flags: an unknown flag, a missing value or a stray argument is a one-line UsageError.
 * A value may start with '-' (`--epochs -1` reads -1 and gets the range check).
 */
export function parseFlags(
  command: string,
  argv: string[],
  flags: FlagSpec,
): Record<string, string | boolean | undefined> {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      args.push(...argv.slice(i));
      break;
    }
    const long = /^--([^=]+)(=.*)?$/.exec(a);
    const short = /^-([A-Za-z])$/.exec(a);
    if (!long && !short) {
      args.push(a);
      continue;
    }
    const name = long
      ? long[1]
      : Object.keys(flags).find((k) => flags[k].short === (short as RegExpExecArray)[1]);
    const spec = name === undefined ? undefined : flags[name];
    if (!spec || name === undefined) throw unknownFlag(command, a, flags);
    if (spec.type === 'boolean') {
      if (long?.[2] !== undefined)
        throw new UsageError(`${command}: --${name} takes no value, got '${a}'`);
      args.push(`--${name}`);
      continue;
    }
    if (long?.[2] !== undefined) {
      args.push(a);
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined || (value.startsWith('--') && value.length > 2))
      throw new UsageError(`${command}: --${name} needs a value`);
    args.push(`--${name}=${value}`);
    i++;
  }
  try {
    const { values, positionals } = parseArgs({
      args,
      options: flags,
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length)
      throw new UsageError(`${command}: unexpected argument '${positionals[0]}'`);
    return values as Record<string, string | boolean | undefined>;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${command}: ${(e as Error).message.split('\n')[0]}`);
  }
}

export function requireString(
  command: string,
  values: Record<string, unknown>,
  name: string,
): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`${command}: --${name} is required`);
  return v;
}

export function intFlag(
  command: string,
  values: Record<string, unknown>,
  name: string,
  fallback: number,
  min = 1,
  max = 0x7fffffff,
): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const s = String(v);
  if (!/^-?\d+$/.test(s))
    throw new UsageError(`${command}: --${name} must be an integer, got '${s}'`);
  const n = Number(s);
  // The flag's own digits: a number beyond 2^53 would print rounded.
  if (n < min || n > max)
    throw new UsageError(`${command}: --${name} must be in [${min}, ${max}], got ${s}`);
  return n;
}

/** A flag taking one of a fixed set of words (absent: `fallback`). */
export function choiceFlag<T extends string>(
  command: string,
  values: Record<string, unknown>,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const v = (values[name] as string | undefined) ?? fallback;
  if (!(choices as readonly string[]).includes(v))
    throw new UsageError(`${command}: --${name} must be one of ${choices.join(', ')}, got '${v}'`);
  return v as T;
}

/** `--backend auto|webgpu|cpu` (absent: `fallback`). */
export function backendFlag(
  command: string,
  values: Record<string, unknown>,
  fallback: BackendChoice = 'auto',
): BackendChoice {
  const v = (values.backend as string | undefined) ?? fallback;
  if (!(BACKEND_CHOICES as readonly string[]).includes(v))
    throw new UsageError(`${command}: --backend must be auto, webgpu or cpu, got '${v}'`);
  return v as BackendChoice;
}

/** `--preset NAME`: the same message and exit code in every command. */
export function presetFlag(command: string, values: Record<string, unknown>, fallback: string) {
  const v = (values.preset as string | undefined) ?? fallback;
  if (!presetNames.includes(v))
    throw new UsageError(
      `${command}: unknown preset "${v}"; valid presets: ${presetNames.join(', ')}`,
    );
  return v;
}

export const BACKEND_HELP = `  --backend B            auto | webgpu | cpu (default auto: WebGPU on a hardware GPU, the CPU
                         backend when the only adapter is a software fallback; same bits)
  --threads N            CPU backend: threads its products split over (default the number of
                         cores, at most 8; same bits on any number)
  --verbose              also say which backend and why, and print the GPU drivers' notices`;

/** Every command that makes a backend takes these two. */
export const BACKEND_FLAG = {
  backend: { type: 'string' },
  threads: { type: 'string' },
  verbose: { type: 'boolean' },
} as const satisfies FlagSpec;

/** `--threads N` of the CPU backend (absent: undefined, the backend's default). */
export function threadsFlag(command: string, values: Record<string, unknown>): number | undefined {
  return values.threads === undefined ? undefined : intFlag(command, values, 'threads', 1, 1, 256);
}
