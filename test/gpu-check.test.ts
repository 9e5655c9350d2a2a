/**
 * The real-GPU check's pieces (docs/gpu-check.md): scripts/pack-gpu-check.sh makes a tarball
 * under the size limit that holds what the check needs and runs the CLI on its own Node; the
 * helpers in scripts/gpu-check.mjs compare safetensors element by element, measure the integer
 * peak on this adapter and build the summary table. (gpu-check.sh itself takes minutes on a
 * software adapter; results/gpu-check-lavapipe.md is its run.)
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { GOLDEN, ROOT, requireBuild } from './cli-helpers.ts';

const exec = promisify(execFile);
const HELPER = join(ROOT, 'scripts/gpu-check.mjs');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd = ROOT,
): Promise<Run> {
  try {
    const r = await exec(cmd, args, {
      cwd,
      env: { ...process.env, ...env },
      timeout: 170_000,
      maxBuffer: 16 << 20,
    });
    return { code: 0, ...r };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    };
  }
}

/** The software driver the WebGPU backend falls back to, when no driver is named. */
function lavapipeEnv(): NodeJS.ProcessEnv {
  const lavapipe = join(ROOT, '.cache/lavapipe/lvp_icd.json');
  return process.env.VK_ICD_FILENAMES || !existsSync(lavapipe)
    ? {}
    : { VK_ICD_FILENAMES: lavapipe };
}

describe('scripts/pack-gpu-check.sh', () => {
  let dir: string;
  let tarball: string;
  let bundle: string;
  let pack: Run;

  beforeAll(async () => {
    requireBuild();
    dir = mkdtempSync(join(tmpdir(), 'nitro-gpu-check-'));
    tarball = join(dir, 'check.tar.xz');
    // The fastest xz level: the same files and checks, a larger tarball, seconds not minutes.
    pack = await run('bash', ['scripts/pack-gpu-check.sh', '--no-build', tarball], {
      XZ_OPT: '-0',
    });
    if (pack.code === 0) {
      await run('tar', ['-xJf', tarball, '-C', dir]);
      bundle = join(dir, 'nitro-d-gpu-check');
    }
  }, 180_000);
  // The unpacked bundle is large (results/gpu-check-lavapipe.md has its size).
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes one xz tarball under 50 MiB and reports its size', () => {
    expect(pack.code, pack.stderr).toBe(0);
    const size = statSync(tarball).size;
    expect(size).toBeLessThanOrEqual(50 * 1048576);
    expect(pack.stdout).toContain(`${size} bytes`);
    expect([...readFileSync(tarball).subarray(0, 6)]).toEqual([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]);
  });

  it('holds the Node binary, linux-x64 dawn.node only, the CLI, golden cases and loader; MANIFEST lists each with its size', () => {
    expect(pack.code, pack.stderr).toBe(0);
    const manifest = readFileSync(join(bundle, 'MANIFEST'), 'utf8').split('\n');
    const start = manifest.indexOf('bytes path');
    expect(start).toBeGreaterThan(0);
    const files = new Map(
      manifest
        .slice(start + 1)
        .filter((l) => l)
        .map((l) => {
          const i = l.indexOf(' ');
          return [l.slice(i + 1), Number(l.slice(0, i))] as const;
        }),
    );
    for (const f of [
      'runtime/node',
      'runtime/lib/libvulkan.so.1',
      'runtime/compat/libstdc++.so.6',
      'node_modules/webgpu/dist/linux-x64/dawn.node',
      'node_modules/webgpu/index.js',
      'bin/nitro-d.js',
      'dist/cli.js',
      'package.json',
      'scripts/gpu-check.sh',
      'scripts/gpu-check.mjs',
      'test/golden/mlp1_784_100_50_10/expected.safetensors',
    ])
      expect(files.has(f), f).toBe(true);
    for (const [f, size] of files) expect(statSync(join(bundle, f)).size, f).toBe(size);
    const dawn = [...files.keys()].filter((f) => f.endsWith('.node'));
    expect(dawn).toEqual(['node_modules/webgpu/dist/linux-x64/dawn.node']);
    expect(files.get('runtime/node')).toBe(statSync(process.execPath).size);
    // Every golden case travels, byte for byte.
    const golden = [...files.keys()].filter((f) => f.startsWith('test/golden/'));
    for (const f of golden)
      expect(
        Buffer.compare(
          readFileSync(join(bundle, f)),
          readFileSync(join(GOLDEN, f.slice('test/golden/'.length))),
        ),
        f,
      ).toBe(0);
    expect(golden.filter((f) => f.endsWith('/model.json')).length).toBeGreaterThanOrEqual(3);
  });

  it('runs `nitro-d --help` from the unpacked bundle on the bundled Node', async () => {
    expect(pack.code, pack.stderr).toBe(0);
    // No node on PATH: only the bundle's own binary can run it.
    const r = await run(
      join(bundle, 'runtime/node'),
      ['bin/nitro-d.js', '--help'],
      {
        PATH: '/nonexistent',
      },
      bundle,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('usage: nitro-d <command>');
    for (const c of ['step', 'predict', 'bench', 'bench-kernels', 'tune', 'info'])
      expect(r.stdout).toContain(`  ${c} `);
  });
});

describe('scripts/gpu-check.sh', () => {
  it('cut short by its time budget, it still leaves the sections it ran and the table', async () => {
    const out = mkdtempSync(join(tmpdir(), 'nitro-gpu-run-'));
    onTestFinished(() => rmSync(out, { recursive: true, force: true }));
    const r = await run('bash', ['scripts/gpu-check.sh', out], {
      ...lavapipeEnv(),
      GPU_CHECK_QUICK: '1',
      GPU_CHECK_BUDGET_S: '15',
    });
    const env = readFileSync(join(out, '00-env.txt'), 'utf8');
    expect(env).toMatch(/vulkan loader: (system|bundled) /);
    expect(env).toMatch(/adapter: \S/);
    const info = JSON.parse(readFileSync(join(out, '01-info.json'), 'utf8'));
    expect(info.adapter.length).toBeGreaterThan(0);
    // The golden cases that ran out of time fail, and so does the run.
    const golden = readFileSync(join(out, '02-golden.txt'), 'utf8').trim().split('\n');
    const cases = readdirSync(GOLDEN).filter((d) => existsSync(join(GOLDEN, d, 'model.json')));
    expect(golden).toHaveLength(2 * cases.length);
    // Every element equal; a step's checkpoint also carries this release's format version in
    // its metadata, so its bytes may differ from the reference's file.
    for (const l of golden)
      expect(l).toMatch(
        /^(ok .*-step\.safetensors: .* \((byte-identical|bytes differ)\)|ok .*-predict\.safetensors: .* \(byte-identical\)|FAIL .*exited 124)$/,
      );
    expect(r.code !== 0).toBe(golden.some((l) => l.startsWith('FAIL')));
    const table = readFileSync(join(out, 'table.md'), 'utf8');
    expect(table.startsWith(`adapter: ${info.adapter}\n`)).toBe(true);
    expect(r.stdout).toBe(table);
    expect(readFileSync(join(out, '07-vgg8b-largest.txt'), 'utf8')).toMatch(
      /out of time budget|largest batch that plans and runs/,
    );
  });
});

describe('scripts/gpu-check.mjs', () => {
  const g = (c: string, f: string) => join(GOLDEN, c, f);

  it('compare: equal files pass; files that differ fail naming the tensor and first element', async () => {
    const same = await run('node', [
      HELPER,
      'compare',
      g('cnn_small_8x8', 'expected.safetensors'),
      g('cnn_small_8x8', 'expected.safetensors'),
    ]);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/^ok .*: 7 tensors, 2116 elements equal/);
    const differ = await run('node', [
      HELPER,
      'compare',
      g('micro_mlp_step', 'expected.safetensors'),
      g('micro_mlp_step', 'init.safetensors'),
    ]);
    expect(differ.code).toBe(1);
    expect(differ.stdout).toContain(
      'blocks.0.weight: 12 of 12 elements differ, first at 0 (expected 38787, got 100)',
    );
    const other = await run('node', [
      HELPER,
      'compare',
      g('micro_mlp_step', 'expected.safetensors'),
      g('cnn_small_8x8', 'expected.safetensors'),
    ]);
    expect(other.code).toBe(1);
    expect(other.stdout).toMatch(/FAIL .*: output\.weight: I\d+\[/);
  });

  it('peak: i32 and dot4 loops on this adapter give positive GOP/s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nitro-gpu-peak-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'peak.json');
    const r = await run('node', [HELPER, 'peak', out, '--quick'], lavapipeEnv());
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.adapter.vendor.length).toBeGreaterThan(0);
    expect(report.results.map((x: { kind: string }) => x.kind)).toEqual(['i32', 'dot4']);
    for (const x of report.results) {
      expect(x.skipped, x.kind).toBeUndefined();
      expect(x.gops, x.kind).toBeGreaterThan(0);
      expect(x.ops).toBe(x.invocations * x.iterations * (x.kind === 'i32' ? 64 : 256));
    }
  });

  it('table: GOP/s against the matching peak, sparse variants unranked, presets with images/s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nitro-gpu-table-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(dir, { recursive: true });
    const w = (f: string, v: unknown) => writeFileSync(join(dir, f), JSON.stringify(v));
    w('01-info.json', { adapter: 'acme / gpu9 / Acme GPU (node)' });
    w('03-peak.json', {
      adapter: { vendor: 'acme', architecture: 'gpu9', device: 'd', description: 'Acme GPU' },
      results: [
        { kind: 'i32', gops: 1000, ms: 100, invocations: 2, iterations: 3 },
        { kind: 'dot4', gops: 4000, ms: 100, invocations: 2, iterations: 3 },
      ],
    });
    const row = (op: string, variant: string, gops: number, isDefault: boolean) => ({
      layer: 'mlp2 fc1',
      op,
      variant,
      gops,
      isDefault,
    });
    w('04-bench-kernels-mlp.json', {
      batch: 64,
      results: [
        {
          backend: 'webgpu',
          rows: [
            row('linear', 'tm2-tn8-i32', 250, false),
            row('linear', 'tm4-tn4-dot4', 200, true),
            row('conv2dWeightGrad', 'tf8-sparse', 5000, true),
          ],
        },
      ],
    });
    writeFileSync(
      join(dir, '06-bench-mlp2-b64.json'),
      `bench: a progress line\n${JSON.stringify({ preset: 'mlp2', batch: 64, imagesPerSecond: 12345, gopsPerSecond: 40, msPerStep: 5.2, kernelMsPerStep: 4.1 })}`,
    );
    const r = await run('node', [HELPER, 'table', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(dir, 'table.md'), 'utf8'));
    expect(r.stdout).toContain('adapter: acme / gpu9 / Acme GPU (node)');
    // default dot4 200 of 4000 = 5.0%; best i32 250 of 1000 = 25.0%
    expect(r.stdout).toContain(
      '| mlp2 fc1 | linear | tm4-tn4-dot4 | 200 | 5.0% | tm2-tn8-i32 | 250 | 25.0% |',
    );
    expect(r.stdout).toContain('| tf8-sparse | 5000 | sparse |');
    // 40 GOP/s of the best peak 4000 = 1.0%
    expect(r.stdout).toContain('| mlp2 | 64 | 12345 | 40 | 1.0% | 5.2 | 4.1 |');
    expect(r.stdout).toContain('golden cases on WebGPU: not run');
  });
});
