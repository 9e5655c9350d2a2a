/**
 * A training run stays consistent and resumable whatever stops it. The test-only hook
 * NITRO_D_TEST_STOP_AT freezes `nitro-d train` at a named stage of its checkpoint writes
 * (temporary file written, renamed, log line appended) so the test kills it exactly there,
 * not when a timer happens to fire; then the run is resumed and must end with the bytes of an
 * unbroken run, no temporary files, and a log whose epoch records match the unbroken run's.
 * Ctrl-C (SIGINT) and SIGTERM stop at a step with a mid-epoch checkpoint that resumes to the
 * same bytes. A folder holding a run is never written over.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '../src/io/safetensors.ts';
import { CLI, nitro, ROOT, requireBuild, stderrLines } from './cli-helpers.ts';

const SAMPLE = join(ROOT, 'demo/public/data/fashion-mnist-sample');
const EPOCHS = 3;
const STEPS = 16;

function flags(backend: 'cpu' | 'webgpu', out: string): string[] {
  return [
    '--preset',
    'mlp1',
    '--data',
    SAMPLE,
    '--train-limit',
    String(STEPS * 32),
    '--test-limit',
    '128',
    '--batch',
    '32',
    '--lr-inv',
    '64',
    '--epochs',
    String(EPOCHS),
    '--backend',
    backend,
    '--out',
    out,
    '--quiet',
  ];
}

let dir: string;
const unbroken: Record<string, { last: Buffer; best: Buffer; log: Record<string, unknown>[] }> = {};

function events(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

/** Epoch records without what measures time (or marks a record written again on resume). */
function epochFacts(log: Record<string, unknown>[]): Record<string, unknown>[] {
  return log
    .filter((e) => e.event === 'epoch')
    .map(({ time: _t, seconds: _s, imagesPerSecond: _i, restored: _r, ...rest }) => rest);
}

function epochOf(file: string): number {
  return Number(parseSafetensors(new Uint8Array(readFileSync(file))).metadata.epoch);
}

function temps(out: string): string[] {
  return readdirSync(out).filter((f) => f.endsWith('.tmp'));
}

/** The process state letter in /proc/PID/stat is T (stopped by a signal). */
function isStopped(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
  } catch {
    return false;
  }
}

interface Started {
  child: ChildProcess;
  /** Resolves when the hook froze the process ('stopped') or when it exited first. */
  stopped: Promise<'stopped' | 'exited'>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function start(args: string[], stopAt?: string): Started {
  const child = spawn('node', [CLI, 'train', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NITRO_D_TEST_STOP_AT: stopAt ?? '' },
  });
  let stderr = '';
  const exited = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stderr: string;
  }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const stopped = new Promise<'stopped' | 'exited'>((resolve) => {
    child.stderr!.on('data', async (d: Buffer) => {
      const before = stderr.includes('NITRO_D_TEST_STOPPED');
      stderr += d.toString();
      if (before || !stderr.includes('NITRO_D_TEST_STOPPED')) return;
      // The marker comes just before the SIGSTOP: wait until the process really is stopped, or a
      // SIGCONT sent now would come first and leave it stopped for good.
      while (!done && !isStopped(child.pid!)) await new Promise((r) => setTimeout(r, 5));
      resolve(done ? 'exited' : 'stopped');
    });
    void exited.then(() => resolve('exited'));
  });
  return { child, stopped, exited };
}

/** Runs train frozen at `stage`, SIGKILLs it there. */
async function killAt(args: string[], stage: string): Promise<void> {
  const run = start(args, stage);
  expect(await run.stopped, `never reached ${stage}`).toBe('stopped');
  run.child.kill('SIGKILL');
  expect((await run.exited).signal).toBe('SIGKILL');
}

async function resume(args: string[], out: string): Promise<void> {
  const r = await nitro(['train', ...args, '--resume', join(out, 'last.safetensors')]);
  expect(r.code, r.stderr).toBe(0);
  // --quiet keeps only the summary line.
  expect(stderrLines(r.stderr), r.stderr).toEqual([expect.stringMatching(/^done: \d+ epochs/)]);
}

function expectUnbroken(backend: string, out: string): void {
  const want = unbroken[backend];
  expect(temps(out), 'temporary files left').toEqual([]);
  expect(Buffer.compare(readFileSync(join(out, 'last.safetensors')), want.last), 'last').toBe(0);
  expect(Buffer.compare(readFileSync(join(out, 'best.safetensors')), want.best), 'best').toBe(0);
  expect(epochFacts(events(join(out, 'log.jsonl')))).toEqual(epochFacts(want.log));
}

beforeAll(async () => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'nitro-kill-'));
  for (const backend of ['cpu', 'webgpu'] as const) {
    const out = join(dir, `unbroken-${backend}`);
    const r = await nitro(['train', ...flags(backend, out)]);
    if (r.code !== 0) throw new Error(`unbroken run failed: ${r.stderr}`);
    unbroken[backend] = {
      last: readFileSync(join(out, 'last.safetensors')),
      best: readFileSync(join(out, 'best.safetensors')),
      log: events(join(out, 'log.jsonl')),
    };
  }
}, 600_000);

describe('train killed at each stage of a checkpoint write resumes to the unbroken bytes', () => {
  /** The occurrence of each stage that belongs to epoch 2 or later (so last.safetensors exists). */
  function stageAt(stage: string): { stop: string; epoch: number } {
    if (!stage.startsWith('best-')) return { stop: `${stage}@2`, epoch: 2 };
    const bests = epochFacts(unbroken.cpu.log).filter((e) => e.best);
    const i = bests.findIndex((e) => (e.epoch as number) >= 2);
    expect(i, 'the unbroken run has no best epoch after the first').toBeGreaterThan(0);
    return { stop: `${stage}@${i + 1}`, epoch: bests[i].epoch as number };
  }

  it.each(['best-written', 'best-renamed', 'last-written', 'last-renamed', 'log-appended'])(
    'killed at %s',
    async (stage) => {
      const out = join(dir, `kill-${stage}`);
      const { stop, epoch } = stageAt(stage);
      await killAt(flags('cpu', out), stop);
      const logged = epochFacts(events(join(out, 'log.jsonl'))).length;
      const last = epochOf(join(out, 'last.safetensors'));
      if (stage.endsWith('-written'))
        expect(temps(out), 'the hook ran before the rename').toHaveLength(1);
      // The kill points: the checkpoint is one epoch ahead of the log only after its rename.
      const ahead = stage === 'last-renamed';
      expect([last, logged]).toEqual(
        stage === 'log-appended' ? [epoch, epoch] : [ahead ? epoch : epoch - 1, epoch - 1],
      );
      await resume(flags('cpu', out), out);
      expectUnbroken('cpu', out);
      const log = events(join(out, 'log.jsonl'));
      expect(log.filter((e) => e.restored).map((e) => e.epoch)).toEqual(ahead ? [epoch] : []);
    },
  );

  it('two kills in a row (the resumed run killed too) still end in the unbroken bytes', async () => {
    const out = join(dir, 'kill-twice');
    await killAt(flags('cpu', out), 'last-renamed@1');
    await killAt(
      [...flags('cpu', out), '--resume', join(out, 'last.safetensors')],
      'last-written@1',
    );
    expect(temps(out)).toHaveLength(1);
    await resume(flags('cpu', out), out);
    expectUnbroken('cpu', out);
  });

  it('a torn last log line (a killed append) is dropped on resume', async () => {
    const out = join(dir, 'torn');
    await killAt(flags('cpu', out), 'last-renamed@2');
    appendFileSync(join(out, 'log.jsonl'), '{"time":"2026-01-01T00:00:00.000Z","event":"ep');
    await resume(flags('cpu', out), out);
    expectUnbroken('cpu', out);
  });

  it('a log that does not belong to the checkpoint is refused in one line, nothing changed', async () => {
    const out = join(dir, 'mismatch');
    await killAt(flags('cpu', out), 'log-appended@1');
    const early = readFileSync(join(out, 'last.safetensors'));
    await resume(flags('cpu', out), out);
    // An epoch-1 checkpoint against a log that has reached epoch 3.
    writeFileSync(join(out, 'last.safetensors'), early);
    const log = readFileSync(join(out, 'log.jsonl'));
    const r = await nitro([
      'train',
      ...flags('cpu', out),
      '--resume',
      join(out, 'last.safetensors'),
    ]);
    expect(r.code).toBe(1);
    expect(stderrLines(r.stderr)).toEqual([
      `nitro-d train: the log ${join(out, 'log.jsonl')} has reached epoch 3, the checkpoint ${join(out, 'last.safetensors')} epoch 1: they are not one run; give this run its own --log, or move the old one aside with --force`,
    ]);
    expect(readFileSync(join(out, 'log.jsonl')).equals(log)).toBe(true);
  });

  it('temporary files of a live process stay, those of a dead one go', async () => {
    const out = join(dir, 'temps');
    await killAt(flags('cpu', out), 'last-written@2');
    const dead = temps(out);
    expect(dead).toHaveLength(1);
    const live = `.last.safetensors.${process.pid}.0.tmp`;
    writeFileSync(join(out, live), 'in progress');
    await resume(flags('cpu', out), out);
    expect(temps(out)).toEqual([live]);
  });
});

describe('SIGINT and SIGTERM stop at a step and leave a checkpoint that resumes', () => {
  it.each([
    ['cpu', 'SIGINT', 130],
    ['cpu', 'SIGTERM', 143],
    ['webgpu', 'SIGINT', 130],
  ] as const)(
    '%s, %s: exit %i, then the printed command resumes to the unbroken bytes',
    async (backend, signal, code) => {
      const out = join(dir, `signal-${backend}-${signal}`);
      // Frozen after step 4 of epoch 2; the signal lands while it is stopped.
      const run = start([...flags(backend, out), '--steps-per-submit', '1'], `step@${STEPS + 4}`);
      expect(await run.stopped).toBe('stopped');
      run.child.kill(signal);
      run.child.kill('SIGCONT');
      const r = await run.exited;
      expect(r.code, r.stderr).toBe(code);
      const lines = stderrLines(r.stderr).filter((l) => !l.startsWith('NITRO_D_TEST_STOPPED'));
      expect(lines).toHaveLength(1);
      const m =
        /^nitro-d train: interrupted by (\w+) at epoch 2 step (\d+) of 16; (\S+) continues it: nitro-d (train .*)$/.exec(
          lines[0],
        );
      expect(m, lines[0]).not.toBeNull();
      const [, sig, step, checkpoint, command] = m!;
      expect(sig).toBe(signal);
      expect(Number(step)).toBeGreaterThanOrEqual(4);
      expect(Number(step)).toBeLessThan(STEPS);
      expect(checkpoint).toBe(join(out, 'last.safetensors'));
      const meta = parseSafetensors(new Uint8Array(readFileSync(checkpoint))).metadata;
      expect(JSON.parse(meta.position)).toMatchObject({ epoch: 2, step: Number(step) });
      const log = events(join(out, 'log.jsonl'));
      expect(log.at(-1)).toMatchObject({
        event: 'interrupted',
        signal,
        epoch: 2,
        step: Number(step),
      });

      const again = await nitro(command.split(' '));
      expect(again.code, again.stderr).toBe(0);
      expect(temps(out)).toEqual([]);
      expect(Buffer.compare(readFileSync(checkpoint), unbroken[backend].last), 'last').toBe(0);
      expect(
        Buffer.compare(readFileSync(join(out, 'best.safetensors')), unbroken[backend].best),
      ).toBe(0);
      const resumed = events(join(out, 'log.jsonl'));
      expect(epochFacts(resumed)).toEqual(epochFacts(unbroken[backend].log));
      expect(resumed.filter((e) => e.event === 'start').map((e) => e.resumedAtStep)).toEqual([
        undefined,
        Number(step),
      ]);
    },
  );
});

describe('a folder that holds a run is never written over', () => {
  function snapshot(out: string): [string, string][] {
    return readdirSync(out)
      .sort()
      .map((f) => [f, readFileSync(join(out, f)).toString('base64')]);
  }

  it('a fresh train into it refuses in one line naming --resume, --force and --out', async () => {
    const out = join(dir, 'unbroken-cpu');
    const before = snapshot(out);
    const r = await nitro(['train', ...flags('cpu', out)]);
    expect(r.code).toBe(2);
    expect(stderrLines(r.stderr)).toEqual([
      `nitro-d train: ${out} holds a run (last.safetensors, best.safetensors, log.jsonl); continue it with --resume ${join(out, 'last.safetensors')}, move it aside to ${out}.N with --force, or pick another --out`,
    ]);
    expect(snapshot(out)).toEqual(before);
  });

  it('--log naming an existing file refuses and leaves the file as it was', async () => {
    const log = join(dir, 'kept.jsonl');
    writeFileSync(log, '{"event":"mine"}\n');
    const out = join(dir, 'log-kept');
    const r = await nitro(['train', ...flags('cpu', out), '--log', log]);
    expect(r.code).toBe(2);
    expect(stderrLines(r.stderr)).toHaveLength(1);
    expect(stderrLines(r.stderr)[0]).toContain(`holds a run (${log})`);
    expect(readFileSync(log, 'utf8')).toBe('{"event":"mine"}\n');
  });

  it('--force moves the earlier run aside to OUT.1, then OUT.2, deleting nothing', async () => {
    const out = join(dir, 'forced');
    expect((await nitro(['train', ...flags('cpu', out)])).code).toBe(0);
    const first = snapshot(out);
    const r = await nitro(['train', ...flags('cpu', out), '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(stderrLines(r.stderr)).toEqual([
      `nitro-d train: moved the earlier run to ${out}.1`,
      expect.stringMatching(/^done: \d+ epochs/),
    ]);
    expect(snapshot(`${out}.1`)).toEqual(first);
    expect(Buffer.compare(readFileSync(join(out, 'last.safetensors')), unbroken.cpu.last)).toBe(0);
    const second = snapshot(out);
    expect((await nitro(['train', ...flags('cpu', out), '--force'])).code).toBe(0);
    expect(snapshot(`${out}.1`)).toEqual(first);
    expect(snapshot(`${out}.2`)).toEqual(second);
  });

  it('--resume of another run into it refuses without --force', async () => {
    const out = join(dir, 'unbroken-cpu');
    const before = snapshot(out);
    const other = join(dir, 'forced.1', 'last.safetensors');
    const r = await nitro(['train', ...flags('cpu', out), '--resume', other]);
    expect(r.code).toBe(2);
    expect(stderrLines(r.stderr)[0]).toMatch(/holds another run .*--force/);
    expect(snapshot(out)).toEqual(before);
  });
});
