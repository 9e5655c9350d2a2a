/**
 * The per-user cache folder of nitro-d (Node and Deno): $NITRO_D_CACHE_DIR, else
 * $XDG_CACHE_HOME/nitro-d, else ~/.cache/nitro-d. It holds the tuned kernel variants and the
 * fetched software Vulkan driver, so nothing is written inside an installed package.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function cacheDir(): string {
  const env = globalThis.process?.env ?? {};
  if (env.NITRO_D_CACHE_DIR) return env.NITRO_D_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'nitro-d');
  return join(homedir(), '.cache', 'nitro-d');
}
