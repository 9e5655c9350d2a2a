/**
 * `nitro-d doctor`: what this machine offers nitro-d (Node, the WebGPU binding, the Vulkan
 * loader and drivers, the adapters each driver gives) and which backend `auto` picks and why;
 * with --fetch-fallback, fetches the software Vulkan driver into the user cache first.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { resolveBackend } from '../../backends.ts';
import { cacheDir } from '../../cache-dir.ts';
import { isSoftwareAdapter } from '../../gpu/device.ts';
import { lavapipeDir, noAdapterMessage, probeNodeAdapters } from '../../gpu/node-gpu.ts';
import { parseFlags } from '../args.ts';
import { fetchLavapipe } from '../fetch-fallback.ts';

export const DOCTOR_FLAGS = {
  'fetch-fallback': { type: 'boolean' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
} as const;

export const DOCTOR_HELP = `what this machine offers nitro-d: Node, the WebGPU binding, Vulkan drivers, adapters, and the backend auto picks
  --fetch-fallback       first fetch Mesa lavapipe (software Vulkan, the fastest WebGPU without a
                         GPU) into the user cache; Debian/Ubuntu (apt-get download), no root needed
  --json                 print one JSON object
  --verbose              also print what the drivers said while they were probed
  The user cache is $NITRO_D_CACHE_DIR, else $XDG_CACHE_HOME/nitro-d, else ~/.cache/nitro-d.`;

const MIN_NODE = [20, 19];

interface IcdManifest {
  manifest: string;
  library?: string;
}

/** The Vulkan loader's own driver manifest folders on Linux, in its search order. */
function manifestDirs(): string[] {
  const env = process.env;
  const home = homedir();
  const config = [env.XDG_CONFIG_HOME ?? join(home, '.config')];
  config.push(...(env.XDG_CONFIG_DIRS ?? '/etc/xdg').split(':'), '/etc');
  const data = [env.XDG_DATA_HOME ?? join(home, '.local/share')];
  data.push(...(env.XDG_DATA_DIRS ?? '/usr/local/share:/usr/share').split(':'));
  return [...config, ...data].filter((d) => d).map((d) => join(d, 'vulkan/icd.d'));
}

function readManifest(file: string): IcdManifest {
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as { ICD?: { library_path?: string } };
    return { manifest: file, library: json.ICD?.library_path };
  } catch {
    return { manifest: file };
  }
}

function systemManifests(): IcdManifest[] {
  const explicit = process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES;
  if (explicit)
    return explicit
      .split(':')
      .filter((f) => f)
      .map(readManifest);
  const out: IcdManifest[] = [];
  for (const dir of manifestDirs()) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort())
      if (f.endsWith('.json')) out.push(readManifest(join(dir, f)));
  }
  return out;
}

function vulkanLoader(): string | undefined {
  for (const ldconfig of ['ldconfig', '/sbin/ldconfig']) {
    try {
      const text = execFileSync(ldconfig, ['-p'], { encoding: 'utf8', stdio: 'pipe' });
      const m = /libvulkan\.so\.1 \(.*?\) => (\S+)/.exec(text);
      if (m) return m[1];
      break;
    } catch {}
  }
  const dirs = [
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
  ];
  return dirs.map((d) => join(d, 'libvulkan.so.1')).find((p) => existsSync(p));
}

function bindingVersion(entry: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(dirname(entry), 'package.json'), 'utf8'));
    return String(pkg.version);
  } catch {
    return 'unknown version';
  }
}

export async function doctorCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('doctor', argv, DOCTOR_FLAGS);
  const json = Boolean(flags.json);
  const say = (s: string) => console.error(`doctor: ${s}`);
  const lavapipe = lavapipeDir();
  if (flags['fetch-fallback']) {
    const version = fetchLavapipe(lavapipe, say);
    say(`lavapipe ${version} in ${lavapipe}`);
  }

  const [major, minor] = process.versions.node.split('.').map(Number);
  const nodeOk = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  const linux = process.platform === 'linux';
  const probe = await probeNodeAdapters({ fallbacks: true, all: true });
  if (flags.verbose && probe.log) process.stderr.write(probe.log);
  const auto = await resolveBackend('auto');
  const fetched = existsSync(join(lavapipe, 'lvp_icd.json'));
  const report = {
    node: { version: process.versions.node, ok: nodeOk, needs: `>=${MIN_NODE.join('.')}` },
    binding: probe.binding
      ? { package: 'webgpu', version: bindingVersion(probe.binding), path: probe.binding }
      : null,
    vulkanLoader: linux ? (vulkanLoader() ?? null) : undefined,
    drivers: linux ? systemManifests() : undefined,
    cacheDir: cacheDir(),
    softwareFallback: {
      dir: lavapipe,
      fetched,
      version: fetched
        ? readFileSync(join(lavapipe, 'VERSION'), 'utf8').trim() || 'unknown'
        : undefined,
    },
    adapters: probe.entries.map((e) => ({
      driver: e.label,
      icd: e.icd,
      adapter: e.adapter ? { ...e.adapter, softwareFallback: isSoftwareAdapter(e.adapter) } : null,
    })),
    auto,
  };
  if (json) {
    console.log(JSON.stringify(report, null, 2));
    return 0;
  }
  const lines: string[] = [];
  lines.push(
    `node: ${report.node.version}${nodeOk ? '' : ` (nitro-d needs ${report.node.needs})`}`,
  );
  lines.push(
    report.binding
      ? `webgpu binding: webgpu ${report.binding.version} (${report.binding.path})`
      : 'webgpu binding: not installed (npm install webgpu for WebGPU in Node; --backend cpu works without it)',
  );
  if (linux) {
    lines.push(
      `vulkan loader: ${report.vulkanLoader ?? "not found (apt-get install libvulkan1, or your system's Vulkan loader)"}`,
    );
    lines.push(`vulkan drivers (ICD manifests):${report.drivers?.length ? '' : ' none found'}`);
    for (const d of report.drivers ?? [])
      lines.push(`  ${d.manifest}${d.library ? ` -> ${d.library}` : ' (unreadable)'}`);
  }
  lines.push(
    `software fallback: ${fetched ? `lavapipe ${report.softwareFallback.version} in ${lavapipe}` : `not fetched (\`nitro-d doctor --fetch-fallback\` puts lavapipe in ${lavapipe})`}`,
  );
  lines.push('adapters:');
  if (!probe.binding) lines.push('  (none: the webgpu package is not installed)');
  for (const e of report.adapters) {
    const a = e.adapter;
    if (!a) {
      lines.push(`  ${e.driver}: no adapter`);
      continue;
    }
    const what = [a.vendor, a.architecture, a.description || a.device].filter((s) => s).join(' / ');
    lines.push(
      `  ${e.driver}: ${what || 'unknown adapter'} (${a.softwareFallback ? 'software fallback' : 'hardware'})`,
    );
    lines.push(`    features: ${a.features.join(', ') || '(none)'}`);
  }
  if (probe.binding && !report.adapters.some((e) => e.adapter))
    lines.push(`  ${noAdapterMessage(probe)}`);
  lines.push(`auto picks: ${auto.kind} (${auto.reason.replace(/^auto: /, '')})`);
  console.log(lines.join('\n'));
  return 0;
}
