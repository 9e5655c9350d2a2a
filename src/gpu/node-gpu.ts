/**
 * WebGPU in Node through the `webgpu` package (dawn.node). On a machine without a GPU, Dawn
 * needs a software Vulkan driver it accepts: Mesa 25 lavapipe (fetched by
 * scripts/fetch-lavapipe.sh, the fastest) or SwiftShader from Debian's chromium. The Vulkan
 * loader re-reads VK_ICD_FILENAMES on every `create()`, so each candidate is tried in turn.
 * An explicit VK_ICD_FILENAMES always wins.
 */
// Default imports: a browser app's bundler links them to its empty stand-ins for Node builtins
// (named imports fail to link), so apps that bundle nitro-d build without extra configuration;
// this module only ever loads under Node.
import fs from 'node:fs';
import path from 'node:path';
import url from 'node:url';

const { existsSync } = fs;
const { dirname, join } = path;
const { fileURLToPath } = url;

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

function projectRoot(): string {
  // src/gpu/node-gpu.ts in the sources, dist/*.js in the build: walk up to package.json.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

export function softwareIcds(): string[] {
  return [
    join(projectRoot(), '.cache/lavapipe/lvp_icd.json'),
    '/usr/lib/chromium/vk_swiftshader_icd.json',
  ].filter((p) => existsSync(p));
}

let dawn: DawnModule | undefined;
// dawn.node tears an instance down when its GPU object is collected, taking every device with
// it. The instances live on globalThis: a module-level array that is only pushed to would be
// removed by the bundler's tree shaking.
const KEEP_ALIVE = Symbol.for('nitro-d.dawn-instances');
function keepAlive(gpu: GPU): void {
  const g = globalThis as unknown as Record<symbol, GPU[]>;
  g[KEEP_ALIVE] ??= [];
  g[KEEP_ALIVE].push(gpu);
}

/** `webgpu` (dawn.node, 132 MB of binaries for every platform) is an optional dependency. */
async function importDawn(): Promise<DawnModule> {
  const name = 'webgpu';
  try {
    return (await import(/* @vite-ignore */ name)) as DawnModule;
  } catch (err) {
    const { code, message } = err as { code?: unknown; message?: unknown };
    if (code === 'ERR_MODULE_NOT_FOUND' && String(message).includes(`'${name}'`)) {
      throw new Error(
        'install webgpu to use WebGPU in Node (npm install webgpu); --backend cpu works without it',
        { cause: err },
      );
    }
    throw err;
  }
}

/** `extraFlags` are dawn.node flags added to NITRO_D_DAWN_FLAGS for this adapter. */
export async function nodeAdapter(
  powerPreference?: GPUPowerPreference,
  extraFlags: string[] = [],
): Promise<GPUAdapter> {
  dawn ??= await importDawn();
  Object.assign(globalThis, dawn.globals);
  process.env.NODEVICE_SELECT ??= '1';
  const flags = [
    ...(process.env.NITRO_D_DAWN_FLAGS ?? '').split(',').filter((s) => s),
    ...extraFlags,
  ];
  const tryCreate = async () => {
    const gpu = dawn!.create(flags);
    keepAlive(gpu);
    return gpu.requestAdapter({ powerPreference });
  };
  let adapter = await tryCreate();
  if (adapter) return adapter;
  if (process.env.VK_ICD_FILENAMES) {
    throw new Error(`no WebGPU adapter with VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES}`);
  }
  for (const icd of softwareIcds()) {
    process.env.VK_ICD_FILENAMES = icd;
    adapter = await tryCreate();
    if (adapter) return adapter;
  }
  delete process.env.VK_ICD_FILENAMES;
  throw new Error(
    'no WebGPU adapter: install a Vulkan driver (apt-get install libvulkan1 chromium for SwiftShader) or run scripts/fetch-lavapipe.sh',
  );
}
