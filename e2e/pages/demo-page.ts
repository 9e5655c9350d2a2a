/** Driving the demo page (demo/index.html) the way a user does, plus its window.nitroDemo hook. */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, type Page } from '@playwright/test';
import { parseSafetensors } from '../../src/io/safetensors.ts';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const ARTIFACTS = join(ROOT, 'e2e/artifacts');
export const SAMPLE_DIR = 'demo/public/data/fashion-mnist-sample';

export interface RunSettings {
  preset: string;
  epochs: number;
  trainLimit?: number;
  testLimit?: number;
  seed?: number;
  batch?: number;
  lrInv?: number;
  backend?: 'webgpu' | 'cpu';
  /** The bundled sample (default) or the IDX files given to the page. */
  data?: 'sample' | 'files';
}

export class DemoPage {
  constructor(readonly page: Page) {}

  async goto(): Promise<void> {
    await this.page.goto('/index.html');
    await this.page.waitForFunction(() => window.nitroDemo !== undefined);
    await this.page.evaluate(() => window.nitroDemo!.ready());
  }

  /** Fills the form: preset, data, epochs, sample limits, backend. */
  async configure(s: RunSettings): Promise<void> {
    const p = this.page;
    await p.selectOption('#preset', s.preset);
    await p.check(`input[name="data"][value="${s.data ?? 'sample'}"]`);
    await p.fill('#epochs', String(s.epochs));
    if (s.seed !== undefined) await p.fill('#seed', String(s.seed));
    if (s.batch !== undefined) await p.fill('#batch', String(s.batch));
    if (s.lrInv !== undefined) await p.fill('#lr-inv', String(s.lrInv));
    if (s.trainLimit !== undefined || s.testLimit !== undefined) {
      const details = p.locator('details.advanced');
      if ((await details.getAttribute('open')) === null) await details.locator('summary').click();
      await p.fill('#train-limit', s.trainLimit === undefined ? '' : String(s.trainLimit));
      await p.fill('#test-limit', s.testLimit === undefined ? '' : String(s.testLimit));
    }
    if (s.backend) await p.check(`input[name="backend"][value="${s.backend}"]`);
  }

  /** Presses Start and waits until training has finished (phase "ready") without an error. */
  async train(timeout: number): Promise<void> {
    await this.page.click('#start');
    await expect(this.page.locator('body')).toHaveAttribute('data-phase', /^(ready|error)$/, {
      timeout,
    });
    await this.expectNoError();
    await expect(this.page.locator('body')).toHaveAttribute('data-phase', 'ready');
  }

  async expectNoError(): Promise<void> {
    const error = this.page.locator('#error');
    if (await error.isVisible())
      throw new Error(
        `the page shows an error: ${await this.page.locator('#error-text').textContent()}`,
      );
  }

  /** The test accuracy the page shows, in percent. */
  async shownTestAccuracy(): Promise<number> {
    const text = (await this.page.locator('#test-accuracy').textContent()) ?? '';
    const m = /(\d+(?:\.\d+)?)\s*%/.exec(text);
    if (!m) throw new Error(`no accuracy in the test accuracy tile: "${text}"`);
    return Number(m[1]);
  }

  /** Clicks the download button and returns the downloaded file's bytes and name. */
  async downloadCheckpoint(): Promise<{ bytes: Buffer; name: string }> {
    const [download] = await Promise.all([
      this.page.waitForEvent('download'),
      this.page.click('#download'),
    ]);
    const path = await download.path();
    return { bytes: readFileSync(path), name: download.suggestedFilename() };
  }

  screenshot(name: string): Promise<string> {
    return saveScreenshot(this.page, name);
  }
}

/** A full-page screenshot in e2e/artifacts (kept by CI as a test artifact); returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage: true });
  return path;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const run = promisify(execFile);

/** Builds dist/ (what bin/nitro-d.js runs) when it is missing or older than the sources. */
export async function ensureCliBuild(): Promise<void> {
  const cli = join(ROOT, 'dist/cli.js');
  const sources = Math.max(newestMtime(join(ROOT, 'src')), newestMtime(join(ROOT, 'shaders')));
  if (existsSync(cli) && statSync(cli).mtimeMs >= sources) return;
  await run(
    join(ROOT, 'node_modules/.bin/vite'),
    ['build', '--mode', 'lib', '--logLevel', 'warn'],
    { cwd: ROOT },
  );
}

const cliRuns = new Map<string, Promise<Buffer>>();

/**
 * `nitro-d train` on the bundled sample with the same settings as the page, once per settings;
 * returns its last.safetensors.
 */
export function cliCheckpoint(s: RunSettings): Promise<Buffer> {
  const args = [
    'train',
    '--preset',
    s.preset,
    '--dataset',
    'fashion-mnist',
    '--data',
    SAMPLE_DIR,
    '--epochs',
    String(s.epochs),
    ...(s.trainLimit === undefined ? [] : ['--train-limit', String(s.trainLimit)]),
    ...(s.testLimit === undefined ? [] : ['--test-limit', String(s.testLimit)]),
    ...(s.seed === undefined ? [] : ['--seed', String(s.seed)]),
    ...(s.batch === undefined ? [] : ['--batch', String(s.batch)]),
    ...(s.lrInv === undefined ? [] : ['--lr-inv', String(s.lrInv)]),
    '--backend',
    'webgpu',
    '--quiet',
  ];
  const key = args.join(' ');
  let result = cliRuns.get(key);
  if (!result) {
    result = (async () => {
      await ensureCliBuild();
      const out = mkdtempSync(join(tmpdir(), 'nitro-d-e2e-'));
      try {
        await run('node', ['bin/nitro-d.js', ...args, '--out', out], {
          cwd: ROOT,
          timeout: 300_000,
        });
      } catch (e) {
        const err = e as { stderr?: string; message: string };
        throw new Error(`nitro-d ${key} failed: ${err.stderr || err.message}`);
      }
      return readFileSync(join(out, 'last.safetensors'));
    })();
    cliRuns.set(key, result);
  }
  return result;
}

/**
 * Expects two safetensors files to hold the same tensors (names, shapes, every element); the
 * failure message names the first tensor and element that differ. Metadata is not compared.
 */
export function expectSameTensors(actual: Uint8Array, expected: Uint8Array, what: string): void {
  // Plain copies: a Node Buffer's slice() shares memory, which the parser does not expect.
  const a = parseSafetensors(new Uint8Array(actual), { file: `${what} (actual)` });
  const e = parseSafetensors(new Uint8Array(expected), { file: `${what} (expected)` });
  expect([...a.tensors.keys()].sort(), `${what}: tensor names`).toEqual(
    [...e.tensors.keys()].sort(),
  );
  for (const [name, t] of e.tensors) {
    const got = a.tensors.get(name)!;
    expect(got.shape, `${what}: shape of ${name}`).toEqual(t.shape);
    let first = -1;
    let count = 0;
    for (let i = 0; i < t.data.length; i++) {
      if (got.data[i] !== t.data[i]) {
        if (first < 0) first = i;
        count++;
      }
    }
    if (first >= 0) {
      throw new Error(
        `${what}: ${name}: ${count} of ${t.data.length} elements differ; first at ${first}: got ${got.data[first]}, expected ${t.data[first]}`,
      );
    }
  }
}

export function goldenDir(name: string): string {
  return join(ROOT, 'test/golden', name);
}

export function readBase64(file: string): string {
  return readFileSync(file).toString('base64');
}
