/**
 * `nitro-d train --resume`: a run split in two writes the same checkpoint bytes as the same
 * run in one go, on both backends, with augmentation (crop, crop+flip), dropout and a CNN;
 * the checkpoints of both backends are equal too. Split two ways: `--epochs 1` then
 * `--resume` to the end, and a run killed after a checkpoint and resumed with the same command
 * (every byte equal, best checkpoint included, either way).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '../src/io/safetensors.ts';
import { CLI, nitro, ROOT, requireBuild, stderrLines } from './cli-helpers.ts';

const SAMPLE = join(ROOT, 'demo/public/data/fashion-mnist-sample');

interface Run {
  name: string;
  /** Flags common to every invocation of the run (data, model, limits, batch). */
  flags: (dir: string) => string[];
  epochs: number;
}

const RUNS: Run[] = [
  // MNIST protocol: random crop with padding 2.
  {
    name: 'mlp1',
    flags: () => [
      '--preset',
      'mlp1',
      '--data',
      SAMPLE,
      '--train-limit',
      '256',
      '--test-limit',
      '128',
      '--batch',
      '32',
    ],
    epochs: 2,
  },
  // Fashion-MNIST protocol (crop and flip) with dropout after each hidden block.
  {
    name: 'mlp-dropout',
    flags: (dir) => [
      '--model',
      join(dir, 'dropout.json'),
      '--data',
      SAMPLE,
      '--train-limit',
      '192',
      '--test-limit',
      '64',
      '--batch',
      '16',
    ],
    epochs: 3,
  },
  {
    name: 'cnn-small',
    flags: () => [
      '--preset',
      'cnn-small',
      '--data',
      SAMPLE,
      '--train-limit',
      '96',
      '--test-limit',
      '64',
      '--batch',
      '16',
    ],
    epochs: 2,
  },
];

let dir: string;

beforeAll(() => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'nitro-resume-'));
  writeFileSync(
    join(dir, 'dropout.json'),
    JSON.stringify({
      input: [1, 28, 28],
      classes: 10,
      hidden: [64, 32],
      dropout: { features: 0, hidden: 100 },
    }),
  );
});

async function train(args: string[]): Promise<void> {
  const r = await nitro(['train', ...args, '--quiet']);
  expect(r.code, r.stderr).toBe(0);
  // --quiet keeps only the summary line.
  expect(stderrLines(r.stderr), r.stderr).toEqual([expect.stringMatching(/^done: \d+ epochs/)]);
}

function events(log: string): Record<string, unknown>[] {
  return readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

/** An epoch record without the fields that measure time. */
function epochFacts(e: Record<string, unknown>): Record<string, unknown> {
  const { time: _t, seconds: _s, imagesPerSecond: _i, ...rest } = e;
  return rest;
}

describe('train --resume continues bit for bit', () => {
  const oneGo = new Map<string, Buffer>();

  it.each(
    RUNS.flatMap((run) =>
      (['cpu', 'webgpu'] as const).map((backend) => [run.name, backend, run] as const),
    ),
  )(
    '%s on %s: one run == first epoch + --resume',
    async (name, backend, run) => {
      const flags = [...run.flags(dir), '--backend', backend];
      const whole = join(dir, `${name}-${backend}-whole`);
      const split = join(dir, `${name}-${backend}-split`);
      await train([...flags, '--epochs', String(run.epochs), '--out', whole]);
      await train([...flags, '--epochs', '1', '--out', split]);
      const first = readFileSync(join(split, 'last.safetensors'));
      expect(parseSafetensors(new Uint8Array(first)).metadata.epoch).toBe('1');
      await train([
        ...flags,
        '--epochs',
        String(run.epochs),
        '--resume',
        join(split, 'last.safetensors'),
        '--out',
        split,
      ]);

      const a = readFileSync(join(whole, 'last.safetensors'));
      const b = readFileSync(join(split, 'last.safetensors'));
      expect(parseSafetensors(new Uint8Array(a)).metadata.epoch).toBe(String(run.epochs));
      expect(Buffer.compare(a, b), 'last.safetensors differs').toBe(0);
      expect(Buffer.compare(a, first), 'training changed nothing after epoch 1').not.toBe(0);
      // best.safetensors: the same bytes, metadata included (the protocol it records leaves
      // out the epoch count each invocation was asked for).
      expect(
        Buffer.compare(
          readFileSync(join(whole, 'best.safetensors')),
          readFileSync(join(split, 'best.safetensors')),
        ),
        'best.safetensors differs',
      ).toBe(0);

      // The split run's log: both starts, then the same epochs with the same metrics.
      const whole_ = events(join(whole, 'log.jsonl'));
      const split_ = events(join(split, 'log.jsonl'));
      expect(split_.filter((e) => e.event === 'start').map((e) => e.resumedAtEpoch)).toEqual([
        0, 1,
      ]);
      const epochs = (l: Record<string, unknown>[]) =>
        l.filter((e) => e.event === 'epoch').map(epochFacts);
      expect(epochs(split_)).toEqual(epochs(whole_));
      expect(epochs(whole_)).toHaveLength(run.epochs);

      // Both backends write the same bytes.
      const other = oneGo.get(name);
      if (other) expect(Buffer.compare(a, other), 'cpu and webgpu checkpoints differ').toBe(0);
      else oneGo.set(name, a);
    },
    600_000,
  );
});

/** Starts `train`, kills it (SIGKILL) as soon as a checkpoint exists, returns that checkpoint's epoch. */
async function killAfterFirstCheckpoint(args: string[], out: string): Promise<number> {
  const child = spawn('node', [CLI, 'train', ...args, '--quiet'], { cwd: ROOT, stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const last = join(out, 'last.safetensors');
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (!done && !existsSync(last)) await new Promise((r) => setTimeout(r, 10));
  child.kill('SIGKILL');
  await exited;
  expect(existsSync(last), 'the run ended before writing a checkpoint').toBe(true);
  return Number(parseSafetensors(new Uint8Array(readFileSync(last))).metadata.epoch);
}

describe('train killed after a checkpoint and resumed with the same command', () => {
  it.each(['cpu', 'webgpu'] as const)(
    'mlp1 on %s: every checkpoint byte equals the unbroken run',
    async (backend) => {
      const epochs = 4;
      const flags = [
        '--preset',
        'mlp1',
        '--data',
        SAMPLE,
        '--train-limit',
        '1024',
        '--test-limit',
        '256',
        '--batch',
        '32',
        '--epochs',
        String(epochs),
        '--backend',
        backend,
      ];
      const whole = join(dir, `killed-${backend}-whole`);
      const broken = join(dir, `killed-${backend}-broken`);
      await train([...flags, '--out', whole]);
      const at = await killAfterFirstCheckpoint([...flags, '--out', broken], broken);
      expect(at).toBeGreaterThanOrEqual(1);
      expect(at, 'killed too late: the run had finished').toBeLessThan(epochs);
      await train([...flags, '--resume', join(broken, 'last.safetensors'), '--out', broken]);
      for (const f of ['last.safetensors', 'best.safetensors']) {
        expect(Buffer.compare(readFileSync(join(whole, f)), readFileSync(join(broken, f))), f).toBe(
          0,
        );
      }
      const starts = events(join(broken, 'log.jsonl')).filter((e) => e.event === 'start');
      expect(starts.map((e) => e.resumedAtEpoch)).toEqual([0, at]);
    },
    600_000,
  );
});
