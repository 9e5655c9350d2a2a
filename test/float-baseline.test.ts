/**
 * scripts/float-baseline.py: it tells an optimised BLAS from the reference one by the library
 * numpy loaded, stops with one line when numpy is missing or its GEMM is too slow, and its
 * float step has exactly the integer step's operations (checked against `nitro-d bench`).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, requireBuild } from './cli-helpers.ts';

const SCRIPT = join(ROOT, 'scripts/float-baseline.py');
const PYTHON = process.env.PYTHON ?? 'python3';

function python(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(PYTHON, args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

const hasNumpy = python(['-c', 'import numpy']).code === 0;

describe('float baseline script', () => {
  beforeAll(() => requireBuild());

  it('classifies the BLAS by the library numpy loaded', () => {
    const cases: [string[], string, string][] = [
      [['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0'], 'blas', 'reference'],
      [['/usr/lib/x86_64-linux-gnu/libblas.so.3'], 'blas', 'reference'],
      [['/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3'], 'blas', 'openblas'],
      [['/x/numpy.libs/libscipy_openblas64_-32a4b2a6.so'], 'scipy-openblas', 'openblas'],
      [['/opt/intel/lib/libmkl_rt.so.2'], 'mkl-sdl', 'mkl'],
      [[], 'accelerate', 'accelerate'],
      [[], '?', 'unknown'],
    ];
    const code = [
      'import importlib.util, json, sys',
      "spec = importlib.util.spec_from_file_location('fb', sys.argv[1])",
      'm = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)',
      'print(json.dumps([m.classify(libs, name) for libs, name in json.loads(sys.argv[2])]))',
    ].join('\n');
    const r = python(['-c', code, SCRIPT, JSON.stringify(cases.map(([l, n]) => [l, n]))]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(cases.map((c) => c[2]));
  });

  it('stops with one line saying how to get numpy when it is missing', () => {
    // A numpy package that fails to import, first on the path.
    const dir = mkdtempSync(join(tmpdir(), 'nitro-no-numpy-'));
    mkdirSync(join(dir, 'numpy'));
    writeFileSync(join(dir, 'numpy/__init__.py'), "raise ImportError('no numpy here')\n");
    const r = python([SCRIPT], { PYTHONPATH: dir });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^float-baseline: numpy is missing .*pip install numpy/),
    ]);
  });

  it.skipIf(!hasNumpy)('refuses a BLAS whose GEMM is below --min-gflops', () => {
    const r = python([SCRIPT, '--min-gflops', '1000000']);
    expect(r.code).toBe(2);
    const last = r.stderr.trim().split('\n').pop();
    expect(last).toMatch(
      /GFLOP\/s on 1 thread, under --min-gflops 1000000(\.0)?: a reference BLAS/,
    );
    expect(r.stdout).toBe('');
  });

  it.skipIf(!hasNumpy)("times the float step of mlp1 with the integer step's operations", () => {
    const r = python([
      SCRIPT,
      '--preset',
      'mlp1',
      '--batch',
      '16',
      '--rounds',
      '1',
      '--seconds',
      '0.2',
    ]);
    expect(r.code, r.stderr).toBe(0);
    // 2 x multiply-adds per image of MLP1 784-100-50-10 with its heads: forward and weight
    // gradient of each block, forward, input and weight gradient of each head, the output layer.
    const perImage = 2 * (2 * (784 * 100 + 100 * 50) + 3 * (100 + 50) * 10 + 2 * 50 * 10);
    expect(r.stdout).toContain(
      `${(16 * perImage).toLocaleString('en-US')} operations per step in both (${perImage.toLocaleString('en-US')} per image)`,
    );
    expect(r.stdout).toMatch(/\| 1 \| [\d,]+ \| [\d,]+ \| [\d,]+ \|/);
    expect(r.stderr).toMatch(/float-baseline: BLAS (openblas|mkl|blis|accelerate)/);
  });

  it.skipIf(!hasNumpy)("passes --weights to nitro-d bench and stops on bench's error", () => {
    const missing = join(tmpdir(), 'nitro-float-baseline-absent.safetensors');
    const r = python([SCRIPT, '--preset', 'mlp1', '--weights', missing, '--min-gflops', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').pop()).toMatch(
      new RegExp(
        `exited 1: nitro-d bench: cannot read ${missing.replace(/[.]/g, '\\.')}: no such file$`,
      ),
    );
  });

  it.skipIf(!hasNumpy)('refuses a preset with conv blocks', () => {
    const r = python([SCRIPT, '--preset', 'cnn-small', '--min-gflops', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').pop()).toBe(
      'float-baseline: --preset cnn-small has conv blocks; the float baseline covers MLP presets only',
    );
  });
});
