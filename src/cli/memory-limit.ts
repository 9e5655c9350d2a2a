/** `--memory-limit SIZE`: what a command lets the backend hold, checked against the memory plan. */
import { freemem } from 'node:os';
import type { BackendKind } from '../backends.ts';
import { type Capacity, cpuCapacity, webgpuCapacity } from '../train/capacity.ts';
import { UsageError } from './args.ts';

export const MEMORY_FLAG = { 'memory-limit': { type: 'string' } } as const;

export const MEMORY_HELP =
  '  --memory-limit SIZE    most memory the model, its batches and data may take, e.g. 2G, 512M\n' +
  '                         (CPU default: 3/4 of the free RAM, within the 4 GiB WebAssembly memory)';

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** Bytes of `--memory-limit` (absent: undefined). Accepts 123, 64K, 512M, 2G, 1.5G, 2GiB. */
export function memoryLimitFlag(
  command: string,
  flags: Record<string, unknown>,
): number | undefined {
  const v = flags['memory-limit'];
  if (v === undefined) return undefined;
  const s = String(v);
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(s);
  const bytes = m ? Math.floor(Number(m[1]) * UNITS[m[2].toUpperCase()]) : Number.NaN;
  if (!m || !Number.isSafeInteger(bytes) || bytes < 1)
    throw new UsageError(
      `${command}: --memory-limit must be a size such as 512M or 2G, got '${s}'`,
    );
  return bytes;
}

/** What `kind` can hold under the flags, on this machine. */
export function capacityFor(
  command: string,
  flags: Record<string, unknown>,
  kind: BackendKind,
): Capacity {
  const limitBytes = memoryLimitFlag(command, flags);
  return kind === 'cpu'
    ? cpuCapacity({ limitBytes, freeBytes: freemem() })
    : webgpuCapacity({ limitBytes });
}
