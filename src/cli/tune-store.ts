/**
 * The tuned-variant cache as a file (Node and Deno): tuned-variants.json in the user cache
 * folder (see ../cache-dir.ts). Written atomically.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../backend.ts';
import { installTuned, type TuneStore } from '../bench/tune-cache.ts';
import { cacheDir } from '../cache-dir.ts';
import { readTextFile, writeFileAtomicSync } from '../io/files.ts';

export { cacheDir };

export function fileTuneStore(file = join(cacheDir(), 'tuned-variants.json')): TuneStore {
  return {
    where: file,
    load: () => {
      if (!existsSync(file)) return undefined;
      try {
        // A regular file of at most the JSON limit: never a FIFO or a device read without end.
        return readTextFile(file);
      } catch (e) {
        throw new Error(`tuned variants ${file}: ${(e as Error).message.split('\n')[0]}`);
      }
    },
    save: (text) => {
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileAtomicSync(file, new TextEncoder().encode(text));
    },
  };
}

/**
 * For `train` and `bench`: installs the cached choices of this adapter unless `--no-tuned`;
 * returns a line saying what happened (undefined when there is nothing to say).
 */
export function loadTunedForCommand(backend: Backend, noTuned: boolean): string | undefined {
  if (noTuned || backend.kind !== 'webgpu') return undefined;
  const store = fileTuneStore();
  try {
    const n = installTuned(store, backend);
    return n ? `tuned kernel variants: ${n} op shapes from ${store.where}` : undefined;
  } catch (e) {
    return `tuned kernel variants: ignored, ${(e as Error).message.split('\n')[0]}`;
  }
}
