/**
 * `nitro-d train --workers N` end to end (the built CLI, local worker threads and processes):
 * last.safetensors is byte-identical to the single-device run's for an MLP and for a CNN whose
 * linear block updates twice per step, with 1, 2 and 3 workers and an uneven split (batch 10
 * over 3); a worker killed mid-epoch, or one that stalls past --worker-timeout, is dropped and
 * the bytes stay the same; a CPU and a WebGPU worker together; a checkpoint of a parallel run
 * resumes to the same bytes.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, requireBuild } from './cli-helpers.ts';

const run = promisify(execFile);
const SAMPLE = join(ROOT, 'demo/public/data/fashion-mnist-sample');

async function train(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run('node', [CLI, 'train', ...args], {
      cwd: ROOT,
      timeout: 120_000,
      env: { ...process.env, NODEVICE_SELECT: '1', ...env },
    });
    return { code: 0, stderr };
  } catch (e) {
    const err = e as { code?: number; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stderr: err.stderr ?? '' };
  }
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

let dir: string;
let cnnSpec: string;

function mlp(out: string, extra: string[] = []): string[] {
  return [
    ...['--preset', 'mlp1', '--data', SAMPLE, '--train-limit', '120', '--test-limit', '40'],
    ...['--batch', '10', '--lr-inv', '64', '--epochs', '2', '--out', out, '--quiet'],
    ...extra,
  ];
}

function cnn(out: string, extra: string[] = []): string[] {
  return [
    ...['--model', cnnSpec, '--data', SAMPLE, '--train-limit', '48', '--test-limit', '16'],
    ...['--batch', '8', '--epochs', '2', '--out', out, '--quiet'],
    ...extra,
  ];
}

/** Trains and returns the sha256 of last.safetensors (the run must succeed). */
async function lastSha(args: string[], env?: Record<string, string>): Promise<string> {
  const r = await train(args, env);
  expect(r.stderr).toMatch(/^done: /m);
  expect(r.code).toBe(0);
  const out = args[args.indexOf('--out') + 1];
  return sha(join(out, 'last.safetensors'));
}

const want: Record<'mlp' | 'cnn', string> = { mlp: '', cnn: '' };

beforeAll(async () => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'nitro-d-parallel-'));
  cnnSpec = join(dir, 'cnn.json');
  writeFileSync(
    cnnSpec,
    JSON.stringify({
      input: [1, 28, 28],
      classes: 10,
      features: [
        { conv: 4, kernel: 3, padding: 1 },
        { pool: 2 },
        { conv: 6, kernel: 3, padding: 1 },
        { pool: 2 },
      ],
      hidden: [24],
      bias: true,
      compat: 'reference',
      training: { lrInv: 256 },
    }),
  );
  want.mlp = await lastSha(mlp(join(dir, 'mlp-1dev'), ['--backend', 'cpu']));
  want.cnn = await lastSha(cnn(join(dir, 'cnn-1dev'), ['--backend', 'cpu']));
}, 120_000);

describe('train --workers', () => {
  it('1, 2 and 3 CPU workers write the single-device bytes: MLP, batch 10', async () => {
    for (const n of [1, 2, 3]) {
      const out = join(dir, `mlp-${n}`);
      expect(await lastSha(mlp(out, ['--workers', String(n), '--backend', 'cpu']))).toBe(want.mlp);
    }
  }, 60_000);

  it('1, 2 and 3 CPU workers write the single-device bytes: CNN with a twice-updated linear block', async () => {
    for (const n of [1, 2, 3]) {
      const out = join(dir, `cnn-${n}`);
      expect(await lastSha(cnn(out, ['--workers', String(n), '--backend', 'cpu']))).toBe(want.cnn);
    }
  }, 60_000);

  it('a worker killed mid-epoch is dropped; the bytes stay the same and the log says so', async () => {
    const out = join(dir, 'cnn-kill');
    const env = { NITRO_D_TEST_WORKER_FAULT: 'die@1:3' };
    const r = await train(cnn(out, ['--workers', '3', '--backend', 'cpu']), env);
    expect(r.code).toBe(0);
    expect(sha(join(out, 'last.safetensors'))).toBe(want.cnn);
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8');
    expect(log).toMatch(
      /"event":"worker-dropped","worker":"worker 1 \(cpu\)","reason":"went away","step":2/,
    );
  }, 60_000);

  it('a worker that stalls past --worker-timeout is dropped; same bytes', async () => {
    const out = join(dir, 'mlp-stall');
    const env = { NITRO_D_TEST_WORKER_FAULT: 'stall@0:5' };
    const args = mlp(out, ['--workers', '2', '--backend', 'cpu', '--worker-timeout', '1500']);
    const r = await train(args, env);
    expect(r.code).toBe(0);
    expect(sha(join(out, 'last.safetensors'))).toBe(want.mlp);
    expect(readFileSync(join(out, 'log.jsonl'), 'utf8')).toMatch(/"reason":"timed out"/);
  }, 60_000);

  it('a CPU worker and a WebGPU worker (lavapipe) together write the same bytes', async () => {
    const out = join(dir, 'cnn-mixed');
    const r = await train(
      cnn(out, ['--worker-backends', 'cpu,webgpu']).filter((f) => f !== '--quiet'),
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /backend: data-parallel on 2 local workers: worker 0 \(cpu\) on CPU.*; worker 1 \(webgpu\) on /,
    );
    expect(sha(join(out, 'last.safetensors'))).toBe(want.cnn);
  }, 60_000);

  it('a parallel run resumes from its checkpoint to the same bytes', async () => {
    const out = join(dir, 'mlp-resume');
    const first = mlp(out, ['--workers', '2', '--backend', 'cpu']);
    first[first.indexOf('--epochs') + 1] = '1';
    expect((await train(first)).code).toBe(0);
    const resumed = mlp(out, ['--workers', '2', '--backend', 'cpu']);
    resumed.push('--resume', join(out, 'last.safetensors'));
    expect(await lastSha(resumed)).toBe(want.mlp);
  }, 60_000);

  it('refuses a bad worker list with a one-line error naming the flag', async () => {
    const r = await train(mlp(join(dir, 'bad'), ['--worker-backends', 'cpu,tpu']));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--worker-backends must list auto, webgpu or cpu.*'tpu'/);
    const r2 = await train(mlp(join(dir, 'bad2'), ['--workers', '3', '--worker-backends', 'cpu']));
    expect(r2.stderr).toMatch(/--workers 3 but --worker-backends names 1 workers/);
  }, 60_000);
});
