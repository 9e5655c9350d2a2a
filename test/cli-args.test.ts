/**
 * The command line's common ground: flags parsed the same way in every command (negative
 * numbers are values, unknown flags and presets give one line and exit 2), every --help lists
 * every flag with an example, `auto` picks the backend and the header says why, --quiet keeps
 * the summary line, and `nitro-d doctor` reports the machine.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBackend, resolveBackend } from '../src/backends.ts';
import { parseFlags, UsageError } from '../src/cli/args.ts';
import { planFetch } from '../src/cli/fetch-fallback.ts';
import { COMMANDS } from '../src/cli/main.ts';
import { ProgressBar, type ProgressState, RunProgress } from '../src/cli/progress.ts';
import { isSoftwareAdapter, probeAdapter } from '../src/gpu/device.ts';
import { noAdapterMessage, probeNodeAdapters } from '../src/gpu/node-gpu.ts';
import type { EpochResult } from '../src/train/trainer.ts';
import {
  CLI,
  type CliResult,
  nitro,
  ROOT,
  requireBuild,
  stderrLines,
  writeIdxDataset,
} from './cli-helpers.ts';

const run = promisify(execFile);

/** `nitro` with extra environment variables. */
async function nitroEnv(args: string[], env: Record<string, string>): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run('node', [CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

let dir: string;
beforeAll(() => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'nitro-args-'));
  writeIdxDataset(join(dir, 'data'), 96, 32);
});

describe('auto never makes a GPU device for CPU work', () => {
  // First in this file, before anything else here asks dawn.node for an instance.
  it('createBackend() resolves auto from requestAdapter alone', async () => {
    const decision = await resolveBackend();
    const backend = await createBackend();
    try {
      expect(backend.kind).toBe(decision.kind);
      const instances = (globalThis as Record<symbol, Map<string, unknown> | undefined>)[
        Symbol.for('nitro-d.dawn-instances')
      ];
      if (decision.kind === 'cpu') expect(instances?.size ?? 0).toBe(0);
    } finally {
      backend.destroy();
    }
  });
});

describe('resolveBackend and the software-adapter test', () => {
  const base = {
    vendor: '',
    architecture: '',
    device: '',
    description: '',
    isFallbackAdapter: false,
  };
  it.each([
    [
      { ...base, vendor: 'mesa', architecture: 'software', description: 'llvmpipe: Mesa 25.0.7' },
      true,
    ],
    [
      {
        ...base,
        vendor: 'google',
        architecture: 'swiftshader',
        description: 'SwiftShader driver 5.0.0',
      },
      true,
    ],
    [{ ...base, description: 'lavapipe' }, true],
    [{ ...base, vendor: 'x', isFallbackAdapter: true }, true],
    [
      { ...base, vendor: 'nvidia', architecture: 'ada-lovelace', description: 'NVIDIA H200' },
      false,
    ],
    [
      {
        ...base,
        vendor: 'intel',
        architecture: 'gen-12lp',
        description: 'Mesa Intel(R) Xe Graphics',
      },
      false,
    ],
  ])('%j -> software %s', (adapter, software) => {
    expect(isSoftwareAdapter(adapter)).toBe(software);
  });

  it('cpu and webgpu are taken as asked; auto follows the adapter requestAdapter gives', async () => {
    expect(await resolveBackend('cpu')).toEqual({ kind: 'cpu', reason: 'requested' });
    expect(await resolveBackend('webgpu')).toEqual({ kind: 'webgpu', reason: 'requested' });
    const { adapter } = await probeAdapter();
    const auto = await resolveBackend('auto');
    expect(auto.kind).toBe(adapter && !isSoftwareAdapter(adapter) ? 'webgpu' : 'cpu');
    expect(auto.reason).toMatch(/^auto: /);
    if (auto.kind === 'cpu') expect(auto.reason).toContain('--backend webgpu');
  });

  it('the no-adapter message names commands an installed user has', () => {
    const missing = noAdapterMessage({
      binding: '/x/webgpu/index.js',
      entries: [{ label: 'system drivers' }],
      log: '',
    });
    expect(missing).toContain('nitro-d doctor --fetch-fallback');
    expect(missing).toContain('--backend cpu');
    expect(missing).not.toMatch(/scripts\/|\.sh\b/);
    expect(noAdapterMessage({ entries: [], log: '' })).toMatch(/npm install webgpu.*--backend cpu/);
  });
});

describe('parseFlags', () => {
  const spec = {
    epochs: { type: 'string' },
    quiet: { type: 'boolean' },
    out: { type: 'string' },
  } as const;
  it('reads a negative number as the value, in both spellings', () => {
    expect(parseFlags('t', ['--epochs', '-1'], spec).epochs).toBe('-1');
    expect(parseFlags('t', ['--epochs=-1'], spec).epochs).toBe('-1');
  });
  it.each([
    [
      ['--epoch', '3'],
      "t: unknown flag '--epoch' (did you mean --epochs? nitro-d t --help lists the flags)",
    ],
    [['--zzz'], "t: unknown flag '--zzz' (nitro-d t --help lists the flags)"],
    [['-x'], "t: unknown flag '-x' (nitro-d t --help lists the flags)"],
    [['--out'], 't: --out needs a value'],
    [['--out', '--quiet'], 't: --out needs a value'],
    [['--quiet=yes'], "t: --quiet takes no value, got '--quiet=yes'"],
    [['stray'], "t: unexpected argument 'stray'"],
  ])('%j: %s', (argv, message) => {
    let caught: unknown;
    try {
      parseFlags('t', argv, spec);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as Error).message).toBe(message);
  });
});

describe('the same errors and exit code in every command', () => {
  const names = Object.keys(COMMANDS);

  it.each(names)('%s: an unknown flag is one line and exit 2', async (name) => {
    const r = await nitro([name, '--no-such-flag']);
    expect(r.code, r.stderr).toBe(2);
    expect(stderrLines(r.stderr)).toEqual([
      `nitro-d ${name}: unknown flag '--no-such-flag' (nitro-d ${name} --help lists the flags)`,
    ]);
    expect(r.stdout).toBe('');
  });

  const withPreset = names.filter((n) => 'preset' in COMMANDS[n].flags);
  it('every command with --preset takes it', () => {
    expect(withPreset.sort()).toEqual(['bench', 'eval', 'info', 'init', 'train', 'tune']);
  });
  it.each(withPreset)('%s: an unknown preset is one line and exit 2', async (name) => {
    const r = await nitro([name, '--preset', 'mlp9']);
    expect(r.code, r.stderr).toBe(2);
    const lines = stderrLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^nitro-d ${name}: unknown preset "mlp9"; valid presets: mlp1, mlp2, `),
    );
  });

  it.each([
    ['train', ['--epochs', '-1'], '--epochs must be in [1, 2147483647], got -1'],
    ['train', ['--batch', '-5'], '--batch must be in [1, 2147483647], got -5'],
    ['bench', ['--steps', '-2'], '--steps must be in [1, 2147483647], got -2'],
    ['info', ['--preset', 'mlp1', '--batch', '-3'], '--batch must be in [1, 2147483647], got -3'],
    [
      'init',
      ['--preset', 'mlp1', '--seed', '-1', '--out', 'x'],
      '--seed must be in [0, 2147483647], got -1',
    ],
  ])('%s %j: the range error', async (name, args, message) => {
    const r = await nitro([name, ...args]);
    expect(r.code, r.stderr).toBe(2);
    expect(stderrLines(r.stderr)).toEqual([`nitro-d ${name}: ${message}`]);
  });
});

describe('--help', () => {
  it.each(Object.keys(COMMANDS))(
    '%s --help lists every flag it takes, with an example',
    async (name) => {
      const r = await nitro([name, '--help']);
      expect(r.code, r.stderr).toBe(0);
      for (const flag of Object.keys(COMMANDS[name].flags)) expect(r.stdout).toContain(`--${flag}`);
      expect(r.stdout).toMatch(new RegExp(`\\nexample:\\n  nitro-d ${name} --`));
      expect(r.stdout.split('\n').length).toBeGreaterThan(4);
    },
  );
});

describe('nitro-d train: header, --quiet', () => {
  it('the header names the backend auto picked and why; --quiet keeps only the summary', async () => {
    const tiny = join(dir, 'tiny.json');
    writeFileSync(tiny, JSON.stringify({ input: [1, 28, 28], classes: 10, hidden: [16] }));
    const base = [
      'train',
      '--model',
      tiny,
      '--data',
      join(dir, 'data'),
      '--batch',
      '32',
      '--epochs',
      '1',
    ];
    const decision = await resolveBackend('auto');
    const loud = await nitro([...base, '--out', join(dir, 'loud')]);
    expect(loud.code, loud.stderr).toBe(0);
    const header = stderrLines(loud.stderr).find((l) => l.startsWith('backend: '));
    expect(header).toMatch(new RegExp(`^backend: ${decision.kind} on .+; auto: `));
    expect(loud.stderr).not.toContain('Warning: ');
    const quiet = await nitro([...base, '--out', join(dir, 'quiet'), '--quiet']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(stderrLines(quiet.stderr)).toEqual([
      `done: 1 epochs this run; best test accuracy ${/best test accuracy (\S+)/.exec(loud.stderr)?.[1]} at epoch 1; checkpoints in ${join(dir, 'quiet')}`,
    ]);
  });
});

describe('auto without any adapter', () => {
  it('trains on the CPU and says why, on any machine', async () => {
    const tiny = join(dir, 'tiny-none.json');
    writeFileSync(tiny, JSON.stringify({ input: [1, 28, 28], classes: 10, hidden: [8] }));
    const icd = join(dir, 'absent_icd.json');
    const r = await nitroEnv(
      [
        'train',
        '--model',
        tiny,
        '--data',
        join(dir, 'data'),
        '--batch',
        '32',
        '--epochs',
        '1',
        '--out',
        join(dir, 'none'),
      ],
      { VK_ICD_FILENAMES: icd },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(stderrLines(r.stderr)).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^backend: cpu on CPU \\(.+\\); auto: no WebGPU adapter with VK_ICD_FILENAMES=${icd.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`,
        ),
      ),
    );
  });
});

describe('RunProgress', () => {
  function fake() {
    const updates: ProgressState[] = [];
    const bar = {
      update: (s: ProgressState) => updates.push(s),
      done: () => {},
    } as unknown as ProgressBar;
    let now = 0;
    const clock = { set: (ms: number) => (now = ms) };
    return { updates, bar, clock, time: () => now };
  }
  const epoch = (imagesPerSecond: number, total: number) =>
    ({ imagesPerSecond, train: { output: { total } } }) as unknown as EpochResult;

  it('shows nothing until a steady rate is measured, then an ETA for the whole run', () => {
    const f = fake();
    const p = new RunProgress(f.bar, 3, 10, f.time);
    // The first submission (2 steps) took 5 s of warm-up: not a rate.
    f.clock.set(5000);
    p.step({ epoch: 1, step: 2, steps: 100, imagesPerSecond: 4 });
    expect(f.updates).toEqual([]);
    // 20 more steps (200 images) in 1 s: 200 img/s.
    f.clock.set(6000);
    p.step({ epoch: 1, step: 22, steps: 100, imagesPerSecond: 1 });
    expect(f.updates).toHaveLength(1);
    expect(f.updates[0]).toMatchObject({ label: 'epoch 1/3', done: 220, total: 1000, rate: 200 });
    // Left: 78 steps of this epoch and 2 epochs of 100 steps, 2780 images at 200/s.
    expect(f.updates[0].eta).toBeCloseTo(13.9, 6);
    // The epoch ends at 10 s: 1000 images at 200/s is 5 s of training, 5 s of the rest.
    f.clock.set(10_000);
    p.epochDone(epoch(100, 1000));
    f.clock.set(10_500);
    p.step({ epoch: 2, step: 50, steps: 100, imagesPerSecond: 1 });
    // Until epoch 2 measures its own rate, epoch 1's stands: 1500 images and 2 epochs' 5 s.
    expect(f.updates.at(-1)?.eta).toBeCloseTo(1500 / 200 + 2 * 5, 6);
  });

  it('the bar uses the ETA it is given', () => {
    const out: string[] = [];
    const stream = {
      isTTY: false,
      write: (s: string) => out.push(s),
    } as unknown as NodeJS.WriteStream;
    new ProgressBar(stream).update({ label: 'epoch 1/2', done: 1, total: 2, rate: 10, eta: 125 });
    expect(out[0]).toMatch(/ETA 02:05/);
  });
});

describe('nitro-d doctor', () => {
  it('--json: Node, the binding, the adapters of each driver, and what auto picks', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'nitro-cache-'));
    const r = await nitroEnv(['doctor', '--json'], { NITRO_D_CACHE_DIR: cache });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout);
    expect(report.node.version).toBe(process.versions.node);
    expect(report.binding.package).toBe('webgpu');
    expect(report.softwareFallback).toEqual({ dir: join(cache, 'lavapipe'), fetched: false });
    expect(report.adapters[0].driver).toMatch(/system drivers|VK_ICD_FILENAMES/);
    for (const a of report.adapters)
      if (a.adapter) expect(a.adapter.softwareFallback).toBe(isSoftwareAdapter(a.adapter));
    const system = report.adapters[0].adapter;
    expect(report.auto.kind).toBe(system && !system.softwareFallback ? 'webgpu' : 'cpu');
  });

  it("the drivers' notices show with --verbose only", async () => {
    const { log } = await probeNodeAdapters({ fallbacks: true, all: true });
    const quiet = await nitro(['doctor']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    const loud = await nitro(['doctor', '--verbose']);
    expect(loud.code, loud.stderr).toBe(0);
    // What the drivers say depends on the machine; here Debian's Mesa 22 lavapipe is refused.
    const first = log.split('\n').find((l) => l.startsWith('Warning: '));
    if (first) expect(loud.stderr).toContain(first);
  });

  it('text: names the fallback command when nothing is fetched', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'nitro-cache-'));
    const r = await nitroEnv(['doctor'], { NITRO_D_CACHE_DIR: cache });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^node: /);
    expect(r.stdout).toContain(
      `software fallback: not fetched (\`nitro-d doctor --fetch-fallback\` puts lavapipe in ${join(cache, 'lavapipe')})`,
    );
    expect(r.stdout).toMatch(/\nauto picks: (webgpu|cpu) \(/);
  });
});

describe('planFetch (where --fetch-fallback gets lavapipe)', () => {
  const bookworm = 'ID=debian\nVERSION_CODENAME=bookworm\n';
  const sources =
    'Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n';
  it('Debian 12: bookworm-backports from the system mirror', () => {
    expect(planFetch(bookworm, sources, 'linux')).toEqual({
      package: 'mesa-vulkan-drivers/bookworm-backports',
      sources:
        'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
    });
    expect(planFetch(bookworm, undefined, 'linux')).toMatchObject({
      sources: expect.stringContaining(
        'URIs: http://deb.debian.org/debian\nSuites: bookworm-backports',
      ),
    });
  });
  it('other Debian and Ubuntu releases: the system sources', () => {
    expect(planFetch('ID=debian\nVERSION_CODENAME=trixie', sources, 'linux')).toEqual({
      package: 'mesa-vulkan-drivers',
    });
    expect(
      planFetch('ID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble', undefined, 'linux'),
    ).toEqual({
      package: 'mesa-vulkan-drivers',
    });
    expect(planFetch('ID=linuxmint\nID_LIKE="ubuntu debian"', undefined, 'linux')).toEqual({
      package: 'mesa-vulkan-drivers',
    });
  });
  it('elsewhere: one line saying what to do instead', () => {
    const fedora = planFetch('ID=fedora\n', undefined, 'linux');
    expect(fedora).toEqual({
      refuse: expect.stringMatching(
        /^fetching needs apt-get \(Debian or Ubuntu\), this is fedora: .*--backend cpu/,
      ),
    });
    expect(planFetch(undefined, undefined, 'darwin')).toEqual({
      refuse: expect.stringMatching(/Linux only; on darwin .*--backend cpu/),
    });
  });
});
