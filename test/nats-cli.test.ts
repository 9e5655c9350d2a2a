/**
 * The NATS command lines end to end on a private nats-server: `nitro-d train --nats URL
 * --workers 2` served by two `nitro-d worker` processes (one joining mid-run) writes the
 * single-device run's last.safetensors byte for byte, and the flags' errors are one line each.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import process from 'node:process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, nitro, requireBuild, ROOT, stderrLines } from './cli-helpers.ts';
import { type TestNatsServer, startNatsServer } from './nats-server.ts';

const DATA = join(ROOT, 'demo/public/data/fashion-mnist-sample');
let dir: string;
let server: TestNatsServer;

beforeAll(async () => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'nitro-d-nats-cli-'));
  // A CNN whose linear block updates twice per step, with dropout: every reduce phase crosses NATS.
  writeFileSync(
    join(dir, 'cnn.json'),
    JSON.stringify({
      input: [1, 28, 28],
      classes: 10,
      features: [{ conv: 4, kernel: 3, padding: 1 }, { pool: 2 }],
      hidden: [24],
      dropout: { features: 0, hidden: 100 },
    }),
  );
  server = await startNatsServer();
});

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const RUN = (out: string) => [
  'train',
  '--model',
  join(dir, 'cnn.json'),
  '--data',
  DATA,
  '--train-limit',
  '240',
  '--test-limit',
  '60',
  '--batch',
  '20',
  '--lr-inv',
  '64',
  '--epochs',
  '3',
  '--backend',
  'cpu',
  '--quiet',
  '--out',
  join(dir, out),
];

/** `node bin/nitro-d.js ARGS` as a child process, with its output and exit code when done. */
function spawnCli(args: string[]) {
  const child = spawn('node', [CLI, ...args], { cwd: ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

const readIfThere = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('nitro-d train --nats and nitro-d worker', () => {
  it('two worker processes, one joining mid-run: last.safetensors byte-identical', async () => {
    const single = await nitro(RUN('single'));
    expect(single.code, single.stderr).toBe(0);
    // The coordinator freezes itself after its 3rd step; the second worker announces itself
    // meanwhile. The first worker is frozen before the coordinator goes on, so step 4 waits for
    // it while the coordinator takes the newcomer (its log says so); then both go on. A join
    // mid-run at a known point, however loaded the machine.
    const coordinator = spawn(
      'node',
      [
        CLI,
        ...RUN('nats'),
        '--steps-per-submit',
        '1',
        '--nats',
        server.url,
        '--nats-group',
        'cli',
        '--workers',
        '1',
      ],
      { cwd: ROOT, env: { ...process.env, NITRO_D_TEST_STOP_AT: 'step@3' } },
    );
    let stderr = '';
    const stopped = new Promise<void>((resolve) =>
      coordinator.stderr.on('data', (d) => {
        stderr += d;
        if (stderr.includes('NITRO_D_TEST_STOPPED step@3')) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => coordinator.on('exit', resolve));
    const worker = (name: string) =>
      spawnCli([
        'worker',
        '--nats',
        server.url,
        '--group',
        'cli',
        '--backend',
        'cpu',
        '--wait',
        '60',
        '--name',
        name,
      ]);
    const first = worker('first');
    await stopped;
    const second = worker('second');
    await new Promise((r) => setTimeout(r, 800)); // its announcements wait in the coordinator's socket
    first.child.kill('SIGSTOP');
    coordinator.kill('SIGCONT');
    const log = join(dir, 'nats/log.jsonl');
    for (let t = 0; t < 600 && !readIfThere(log).includes('worker-joined'); t++)
      await new Promise((r) => setTimeout(r, 100));
    first.child.kill('SIGCONT');
    const [code, w1, w2] = await Promise.all([exited, first.done, second.done]);
    expect(code, stderr).toBe(0);
    expect(w1.code, w1.stderr).toBe(0);
    expect(w2.code, w2.stderr).toBe(0);
    expect(w1.stdout).toMatch(/joined run \w+ as worker \w+/);
    const served = (out: string) => Number(/ended: (\d+) steps served/.exec(out)?.[1] ?? -1);
    expect(served(w1.stdout)).toBe(36); // 3 epochs x 12 steps, from the start
    expect(served(w2.stdout)).toBeGreaterThan(0);
    expect(served(w2.stdout)).toBeLessThan(34);
    expect(readFileSync(join(dir, 'nats/last.safetensors'))).toEqual(
      readFileSync(join(dir, 'single/last.safetensors')),
    );
    expect(sha(join(dir, 'nats/last.safetensors'))).toBe(sha(join(dir, 'single/last.safetensors')));
    const records = readFileSync(log, 'utf8');
    expect(records).toContain('"backend":"data-parallel"');
    expect(records).toMatch(/"event":"worker-joined","worker":"worker second \(cpu, NATS\)"/);
  });

  it('the header names the NATS workers and their backends', async () => {
    const coordinator = nitro([
      ...RUN('header').filter((a) => a !== '--quiet'),
      '--nats',
      server.url,
      '--nats-group',
      'hdr',
      '--workers',
      '1',
    ]);
    const w = await nitro([
      'worker',
      '--nats',
      server.url,
      '--group',
      'hdr',
      '--backend',
      'cpu',
      '--name',
      'solo',
    ]);
    const c = await coordinator;
    expect(c.code, c.stderr).toBe(0);
    expect(w.code, w.stderr).toBe(0);
    expect(c.stderr).toMatch(
      /waiting up to 600 s for 1 worker on nats:\/\/127\.0\.0\.1:\d+ \(group hdr\)/,
    );
    expect(c.stderr).toMatch(/worker solo \(cpu, NATS\) joined \(cpu on .+\): 1 of 1\n/);
    expect(c.stderr).toMatch(
      /backend: data-parallel on 1 NATS worker via nats:\/\/[^ ]+ \(group hdr\): worker solo \(cpu, NATS\) on /,
    );
  });

  it.each([
    [['worker'], 2, 'nitro-d worker: --nats URL is required'],
    [
      ['worker', '--nats', 'nats://127.0.0.1:1', '--backend', 'cpu'],
      1,
      /^nitro-d worker: cannot connect to NATS at nats:\/\/127\.0\.0\.1:1: /,
    ],
    [
      ['worker', '--nats', 'http://x', '--backend', 'cpu'],
      1,
      'nitro-d worker: --nats "http://x": expected nats://HOST:PORT (or ws://, wss://, tls://)',
    ],
    [['train', '--nats', 'nats://127.0.0.1:4222'], 2, 'nitro-d train: --nats needs --workers'],
    [
      ['train', '--nats', 'x', '--workers', '2'],
      2,
      "nitro-d train: --nats must be a nats:// (or tls://, ws://, wss://) URL, got 'x'",
    ],
    [
      ['train', '--workers', '2', '--nats-group', 'g'],
      2,
      'nitro-d train: --nats-group needs --nats',
    ],
    [
      ['train', '--nats', 'nats://h:1', '--workers', '2', '--nats-group', 'a.b'],
      2,
      "nitro-d train: --nats-group must be 1 to 64 letters, digits, '-' or '_', got 'a.b'",
    ],
  ] as [string[], number, string | RegExp][])(
    '%j: one line, exit %d',
    async (args, code, message) => {
      const r = await nitro(args);
      expect(r.code, r.stderr).toBe(code);
      const lines = stderrLines(r.stderr).filter((l) => !l.startsWith('backend: '));
      expect(lines).toHaveLength(1);
      if (typeof message === 'string') expect(lines[0]).toBe(message);
      else expect(lines[0]).toMatch(message);
    },
  );

  it('a worker with no run and a coordinator with no worker give up, naming the server', async () => {
    const w = await nitro([
      'worker',
      '--nats',
      server.url,
      '--group',
      'none',
      '--backend',
      'cpu',
      '--wait',
      '1',
      '--quiet',
    ]);
    expect(w.code).toBe(1);
    expect(stderrLines(w.stderr)).toEqual([
      `nitro-d worker: no run took this worker on ${server.url} (subject nitro-d.none.join) within 1 s`,
    ]);
    const c = await nitro([
      ...RUN('alone'),
      '--nats',
      server.url,
      '--nats-group',
      'none',
      '--workers',
      '2',
      '--join-timeout',
      '1',
    ]);
    expect(c.code).toBe(1);
    const lines = stderrLines(c.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^nitro-d train: data-parallel: 0 of 2 workers joined nats:\/\/127\.0\.0\.1:\d+ \(group none\) within 1000 ms \(no worker joined on nats:\/\/127\.0\.0\.1:\d+ \(subject nitro-d\.none\.join\) within 1 s\)$/,
    );
  });
});
