/** Command-line parsing shared by the commands: strict flags, typed integers, one-line errors. */
import { parseArgs } from 'node:util';
import type { BackendKind } from '../backends.ts';

export class UsageError extends Error {
  override name = 'UsageError';
}

export type FlagSpec = Record<
  string,
  { type: 'string' | 'boolean'; short?: string; default?: string | boolean }
>;

export function parseFlags(
  command: string,
  argv: string[],
  flags: FlagSpec,
): Record<string, string | boolean | undefined> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
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

export function backendFlag(command: string, values: Record<string, unknown>): BackendKind {
  const v = (values.backend as string | undefined) ?? 'webgpu';
  if (v !== 'webgpu' && v !== 'cpu')
    throw new UsageError(`${command}: --backend must be webgpu or cpu, got '${v}'`);
  return v;
}

export const BACKEND_FLAG = { backend: { type: 'string' } } as const satisfies FlagSpec;
