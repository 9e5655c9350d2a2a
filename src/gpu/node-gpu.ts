/**
 * WebGPU in Node through the `webgpu` package (dawn.node). On a machine without a GPU, Dawn
 * needs a software Vulkan driver it accepts: Mesa 25 lavapipe (fetched into the user cache by
 * `nitro-d doctor --fetch-fallback`, the fastest) or SwiftShader from Debian's chromium.
 *
 * Which driver works is found in a short child process: Dawn writes its notices about drivers
 * it rejects (Debian 12's own lavapipe, for one) straight to file descriptor 2, which a Node
 * process cannot redirect for itself. The child's output is kept for `--verbose` and doctor.
 * The chosen driver is then put in VK_ICD_FILENAMES (read by the Vulkan loader on every
 * `create()`), so later adapters of this process and its children skip the probe. An explicit
 * VK_ICD_FILENAMES always wins.
 */
// Default imports: a browser app's bundler links them to its empty stand-ins for Node builtins
// (named imports fail to link), so apps that bundle nitro-d build without extra configuration;
// this module only ever loads under Node.
import childProcess from 'node:child_process';
import fs from 'node:fs';
import nodeModule from 'node:module';
import path from 'node:path';
import url from 'node:url';
import { cacheDir } from '../cache-dir.ts';
import type { AdapterSummary } from './adapter.ts';

const { execFile } = childProcess;
const { existsSync } = fs;
const { createRequire } = nodeModule;
const { dirname, join } = path;
const { fileURLToPath, pathToFileURL } = url;

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

/** Where `nitro-d doctor --fetch-fallback` puts Mesa lavapipe (lvp_icd.json, VERSION). */
export function lavapipeDir(): string {
  return join(cacheDir(), 'lavapipe');
}

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface SoftwareIcd {
  /** What it is and where it comes from, e.g. "lavapipe (user cache)". */
  label: string;
  manifest: string;
}

/** The software Vulkan drivers nitro-d knows of, fastest first: the ones that exist. */
export function softwareIcds(): SoftwareIcd[] {
  return [
    { label: 'lavapipe (user cache)', manifest: join(lavapipeDir(), 'lvp_icd.json') },
    // A development checkout keeps its own copy (scripts/setup.sh).
    { label: 'lavapipe (checkout)', manifest: join(projectRoot(), '.cache/lavapipe/lvp_icd.json') },
    { label: 'SwiftShader (chromium)', manifest: SWIFTSHADER_ICD },
  ].filter((c) => existsSync(c.manifest));
}

/** The `webgpu` package's entry file, or undefined when it is not installed. */
export function webgpuBindingPath(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('webgpu');
  } catch {
    return undefined;
  }
}

// dawn.node tears an instance down when its GPU object is collected, taking every device with
// it, so instances live on globalThis (a module-level map that is only written to would be
// removed by the bundler's tree shaking). One instance per set of flags and drivers: Dawn
// enumerates the drivers, and prints its notices about them, once per instance.
const INSTANCES = Symbol.for('nitro-d.dawn-instances');
function dawnInstance(dawn: DawnModule, flags: string[]): GPU {
  const g = globalThis as unknown as Record<symbol, Map<string, GPU> | undefined>;
  const instances = (g[INSTANCES] ??= new Map());
  const key = JSON.stringify([flags, process.env.VK_ICD_FILENAMES ?? null]);
  let gpu = instances.get(key);
  if (!gpu) {
    gpu = dawn.create(flags);
    instances.set(key, gpu);
  }
  return gpu;
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

function dawnFlags(extra: string[] = []): string[] {
  return [...(process.env.NITRO_D_DAWN_FLAGS ?? '').split(',').filter((s) => s), ...extra];
}

export interface ProbeEntry {
  /** "system drivers" (what the Vulkan loader finds by itself, or VK_ICD_FILENAMES) or a fallback. */
  label: string;
  /** The manifest put in VK_ICD_FILENAMES for this entry; undefined: the environment's own. */
  icd?: string;
  adapter?: AdapterSummary;
}

export interface NodeProbe {
  /** The `webgpu` package's entry file; undefined when it is not installed. */
  binding?: string;
  entries: ProbeEntry[];
  /** What Dawn and the Vulkan loader printed on stderr meanwhile. */
  log: string;
}

// Runs in the child: one dawn instance and requestAdapter per candidate, JSON on stdout.
const PROBE_SCRIPT = `
const [url, list, flags, all] = process.argv.slice(1);
const { create, globals } = await import(url);
Object.assign(globalThis, globals);
const out = [];
for (const icd of JSON.parse(list)) {
  if (icd) process.env.VK_ICD_FILENAMES = icd;
  let a = null;
  try { a = await create(JSON.parse(flags)).requestAdapter(); } catch {}
  if (!a) { out.push(null); continue; }
  const i = a.info ?? {};
  out.push({ vendor: i.vendor ?? '', architecture: i.architecture ?? '', device: i.device ?? '',
    description: i.description ?? '', isFallbackAdapter: Boolean(i.isFallbackAdapter ?? a.isFallbackAdapter),
    features: [...a.features].map(String).sort() });
  if (all !== '1') break;
}
process.stdout.write(JSON.stringify(out));
process.exit(0);
`;

/**
 * Asks for an adapter of each driver set in a child process. `fallbacks`: also each software
 * driver after the system's; `all`: every one of them, not only up to the first that works.
 */
export async function probeNodeAdapters(
  options: { fallbacks?: boolean; all?: boolean } = {},
): Promise<NodeProbe> {
  const binding = webgpuBindingPath();
  const explicit = process.env.VK_ICD_FILENAMES;
  const entries: ProbeEntry[] = [
    { label: explicit ? `VK_ICD_FILENAMES=${explicit}` : 'system drivers' },
  ];
  if (!explicit && options.fallbacks)
    for (const c of softwareIcds()) entries.push({ label: c.label, icd: c.manifest });
  if (!binding) return { entries, log: '' };
  const args = [
    '--input-type=module',
    '-e',
    PROBE_SCRIPT,
    pathToFileURL(binding).href,
    JSON.stringify(entries.map((e) => e.icd ?? null)),
    JSON.stringify(dawnFlags()),
    options.all ? '1' : '0',
  ];
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((done) => {
    execFile(
      process.execPath,
      args,
      { env: { NODEVICE_SELECT: '1', ...process.env }, timeout: 60_000, maxBuffer: 1 << 20 },
      (error, out, err) => done({ stdout: error ? '' : out, stderr: `${err}` }),
    );
  });
  let found: (AdapterSummary | null)[] = [];
  try {
    found = JSON.parse(stdout) as (AdapterSummary | null)[];
  } catch {
    // The child died (a driver crashed it): no adapter, and its stderr says why.
  }
  for (const [i, a] of found.entries()) if (a) entries[i].adapter = a;
  return { binding, entries, log: stderr };
}

/** The one-line answer when no driver gives an adapter, naming what the user can run. */
export function noAdapterMessage(probe: NodeProbe): string {
  if (!probe.binding)
    return 'install webgpu to use WebGPU in Node (npm install webgpu); --backend cpu works without it';
  const tried = probe.entries.map((e) => e.label).join(', ');
  return `no WebGPU adapter (tried ${tried}): \`nitro-d doctor\` says what this machine has and \`nitro-d doctor --fetch-fallback\` fetches a software driver; --backend cpu needs none`;
}

/**
 * An adapter from dawn.node. `extraFlags` are dawn.node flags added to NITRO_D_DAWN_FLAGS for
 * this adapter; `verbose` echoes the drivers' notices from the probe.
 */
export async function nodeAdapter(
  powerPreference?: GPUPowerPreference,
  extraFlags: string[] = [],
  verbose = false,
): Promise<GPUAdapter> {
  process.env.NODEVICE_SELECT ??= '1';
  if (!process.env.VK_ICD_FILENAMES) {
    const probe = await probeNodeAdapters({ fallbacks: true });
    if (verbose && probe.log) process.stderr.write(probe.log);
    const found = probe.entries.find((e) => e.adapter);
    if (!found) throw new Error(noAdapterMessage(probe));
    if (found.icd) process.env.VK_ICD_FILENAMES = found.icd;
  }
  const dawn = await importDawn();
  Object.assign(globalThis, dawn.globals);
  const adapter = await dawnInstance(dawn, dawnFlags(extraFlags)).requestAdapter({
    powerPreference,
  });
  if (adapter) return adapter;
  throw new Error(
    `no WebGPU adapter with VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? '(unset)'}: \`nitro-d doctor\` says what this machine has`,
  );
}
