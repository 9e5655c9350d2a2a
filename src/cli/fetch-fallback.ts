/**
 * `nitro-d doctor --fetch-fallback`: puts Mesa's lavapipe (software Vulkan) into the user cache
 * without root and without touching the system's apt sources or packages: `apt-get download`
 * with private lists and cache, then `dpkg -x` of the one library. On Debian 12 the package
 * comes from bookworm-backports (Mesa 25; Debian 12's own Mesa 22 lavapipe is refused by
 * Dawn); elsewhere from the system's own sources.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface FetchPlan {
  /** deb822 sources to use instead of the system's, or undefined: the system's own. */
  sources?: string;
  /** What to download, e.g. mesa-vulkan-drivers/bookworm-backports. */
  package: string;
}

function osField(osRelease: string, key: string): string {
  const m = new RegExp(`^${key}=(.*)$`, 'm').exec(osRelease);
  return (m?.[1] ?? '').replace(/^["']|["']$/g, '');
}

/** The first stanza of a deb822 file that names a Debian archive, with its suite replaced. */
function backportsStanza(debianSources: string | undefined, suite: string): string {
  const stanza = (debianSources ?? '')
    .split(/\n\s*\n/)
    .map((s) =>
      s
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .join('\n')
        .trim(),
    )
    .find((s) => /^URIs:.*\/debian\/?\s*$/m.test(s));
  const base =
    stanza ??
    'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: x\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg';
  return `${base.replace(/^Suites:.*$/m, `Suites: ${suite}`)}\n`;
}

/** Where to get lavapipe on this system, or why it cannot be fetched here (one line). */
export function planFetch(
  osRelease: string | undefined,
  debianSources: string | undefined,
  platform: string = process.platform,
): FetchPlan | { refuse: string } {
  const elsewhere =
    "install your system's Mesa Vulkan drivers (lavapipe, Mesa 24 or newer) instead, or use --backend cpu";
  if (platform !== 'linux')
    return {
      refuse: `the software fallback is fetched on Linux only; on ${platform} WebGPU uses the system's GPU driver (--backend cpu needs none)`,
    };
  const id = osField(osRelease ?? '', 'ID');
  const like = osField(osRelease ?? '', 'ID_LIKE').split(/\s+/);
  if (![id, ...like].some((x) => x === 'debian' || x === 'ubuntu'))
    return {
      refuse: `fetching needs apt-get (Debian or Ubuntu), this is ${id || 'unknown'}: ${elsewhere}`,
    };
  const codename = osField(osRelease ?? '', 'VERSION_CODENAME');
  if (id === 'debian' && codename === 'bookworm')
    return {
      sources: backportsStanza(debianSources, 'bookworm-backports'),
      package: 'mesa-vulkan-drivers/bookworm-backports',
    };
  return { package: 'mesa-vulkan-drivers' };
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function findFile(dir: string, name: string): string | undefined {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = findFile(p, name);
      if (found) return found;
    } else if (entry.name === name) return p;
  }
  return undefined;
}

/**
 * Fetches lavapipe into `dest` (lvp_icd.json, libvulkan_lvp.so, VERSION), atomically: a failed
 * fetch leaves nothing behind. Returns the version; throws a one-line error.
 */
export function fetchLavapipe(dest: string, say: (line: string) => void): string {
  const manifest = join(dest, 'lvp_icd.json');
  if (existsSync(manifest)) return readOptional(join(dest, 'VERSION'))?.trim() ?? 'unknown';
  const plan = planFetch(
    readOptional('/etc/os-release'),
    readOptional('/etc/apt/sources.list.d/debian.sources'),
  );
  if ('refuse' in plan) throw new Error(plan.refuse);
  const work = mkdtempSync(join(tmpdir(), 'nitro-d-lavapipe-'));
  const staging = `${dest}.tmp-${process.pid}`;
  try {
    mkdirSync(join(work, 'lists/partial'), { recursive: true });
    mkdirSync(join(work, 'cache/archives/partial'), { recursive: true });
    const options = ['-o', `Dir::State::Lists=${join(work, 'lists')}`];
    options.push('-o', `Dir::Cache=${join(work, 'cache')}`, '-o', 'APT::Sandbox::User=root');
    if (plan.sources) {
      mkdirSync(join(work, 'parts'));
      writeFileSync(join(work, 'parts/fallback.sources'), plan.sources);
      options.push('-o', 'Dir::Etc::SourceList=/dev/null');
      options.push('-o', `Dir::Etc::SourceParts=${join(work, 'parts')}`);
    }
    const apt = (args: string[]) => {
      try {
        execFileSync('apt-get', [...options, '-qq', ...args], {
          cwd: work,
          stdio: ['ignore', 'ignore', 'pipe'],
          timeout: 300_000,
        });
      } catch (e) {
        const err = `${(e as { stderr?: Buffer }).stderr ?? ''}`.trim().split('\n').pop();
        throw new Error(`apt-get ${args[0]} failed: ${err || (e as Error).message.split('\n')[0]}`);
      }
    };
    say(`fetching ${plan.package} with apt-get download (no root needed, nothing installed)`);
    apt(['update']);
    apt(['download', plan.package]);
    const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download wrote no .deb');
    execFileSync('dpkg', ['-x', join(work, deb), join(work, 'x')], { stdio: 'ignore' });
    const version = execFileSync('dpkg-deb', ['-f', join(work, deb), 'Version'], {
      encoding: 'utf8',
    }).trim();
    const lib = findFile(join(work, 'x'), 'libvulkan_lvp.so');
    if (!lib) throw new Error(`${deb} holds no libvulkan_lvp.so`);
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    writeFileSync(join(staging, 'libvulkan_lvp.so'), readFileSync(lib));
    writeFileSync(
      join(staging, 'lvp_icd.json'),
      `${JSON.stringify({
        file_format_version: '1.0.0',
        ICD: { library_path: join(dest, 'libvulkan_lvp.so'), api_version: '1.3.0' },
      })}\n`,
    );
    writeFileSync(join(staging, 'VERSION'), `${version}\n`);
    mkdirSync(dirname(dest), { recursive: true });
    // No manifest (checked above): whatever is there is an unfinished copy.
    rmSync(dest, { recursive: true, force: true });
    renameSync(staging, dest);
    return version;
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(staging, { recursive: true, force: true });
  }
}
