/**
 * The demo page as a data-parallel worker: `nitro-d train --nats URL --workers 2` takes a
 * `nitro-d worker` process and the page, which joined over NATS's WebSocket listener from its
 * "Join a run as a worker" card; the run's last.safetensors is byte for byte the
 * single-device run's.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from '@playwright/test';
import { startNatsServer, type TestNatsServer } from '../test/nats-server.ts';
import { ensureCliBuild, ROOT, SAMPLE_DIR } from './pages/demo-page.ts';

const run = promisify(execFile);

// An MLP with dropout on 240 samples, 2 epochs of 12 steps: quick on the CPU backends.
const TRAIN = [
  'train',
  '--preset',
  'mlp1',
  '--data',
  SAMPLE_DIR,
  '--train-limit',
  '240',
  '--test-limit',
  '60',
  '--batch',
  '20',
  '--lr-inv',
  '64',
  '--epochs',
  '2',
  '--backend',
  'cpu',
  '--quiet',
];

/** Resolves with the process's exit code and what it printed. */
function finished(child: ChildProcess): Promise<{ code: number | null; output: string }> {
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}

test.describe('the demo page joins a run over NATS', () => {
  let server: TestNatsServer;
  let dir: string;
  test.beforeAll(async () => {
    await ensureCliBuild();
    server = await startNatsServer({ websocket: true });
    dir = mkdtempSync(join(tmpdir(), 'nitro-d-e2e-nats-'));
  });
  test.afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a browser worker (CPU backend) and a Node worker give the single-device bytes', async ({
    page,
  }) => {
    await run('node', ['bin/nitro-d.js', ...TRAIN, '--out', join(dir, 'single')], { cwd: ROOT });

    await page.goto('/index.html');
    await page.locator('input[name="backend"][value="cpu"]').check();
    await page.locator('#nats-url').fill(server.wsUrl!);
    await page.locator('#nats-group').fill('e2e');
    await page.locator('#worker-join').click();
    await expect(page.locator('#worker-status')).toHaveAttribute('data-state', 'waiting');

    const coordinator = finished(
      spawn(
        'node',
        [
          'bin/nitro-d.js',
          ...TRAIN,
          '--out',
          join(dir, 'nats'),
          '--nats',
          server.url,
          '--nats-group',
          'e2e',
          '--workers',
          '2',
          '--join-timeout',
          '120',
        ],
        { cwd: ROOT },
      ),
    );
    const worker = finished(
      spawn(
        'node',
        [
          'bin/nitro-d.js',
          'worker',
          '--nats',
          server.url,
          '--group',
          'e2e',
          '--backend',
          'cpu',
          '--wait',
          '120',
        ],
        { cwd: ROOT },
      ),
    );
    const c = await coordinator;
    expect(c.code, c.output).toBe(0);
    const w = await worker;
    expect(w.code, w.output).toBe(0);
    await expect(page.locator('#worker-status')).toHaveAttribute('data-state', 'ended', {
      timeout: 30_000,
    });
    const served = /Run \w+ ended: (\d+) steps served\./.exec(
      (await page.locator('#worker-status').textContent()) ?? '',
    );
    expect(Number(served?.[1])).toBe(24); // 2 epochs x 12 steps, rows split with the Node worker
    expect(
      readFileSync(join(dir, 'nats/last.safetensors')).equals(
        readFileSync(join(dir, 'single/last.safetensors')),
      ),
    ).toBe(true);
  });
});
