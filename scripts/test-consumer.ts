/**
 * Consumer tests: the package as a user gets it. Packs the repository (`npm pack`), installs the
 * tarball into a new project in a temporary folder outside the repository, and there:
 *
 *   pack          the tarball holds only what runs (dist, bin, README, LICENSE, the fetch script)
 *   install       npm install of the tarball prints no warning about nitro-d's own scripts
 *   cli           the installed `nitro-d --help` runs
 *   node cpu      README.md's Library snippet, one epoch on the demo's 3000-image sample
 *   node webgpu   the same on dawn.node
 *   node bits     both backends end with the same checkpoint bytes and logits
 *   no webgpu     installed without optional dependencies: WebGPU fails in one line, cpu works
 *   deno          four training steps in Deno on its WebGPU and on the CPU backend, same bits
 *   vite build    the consumer's own Vite builds a page that imports nitro-d
 *   chromium      that page trains MLP1 for two epochs in headless Chromium on WebGPU and CPU:
 *                 test accuracy well above chance, the same checkpoint bytes
 *   tsc bundler   the consumer's TypeScript files, strict, no skipLibCheck, moduleResolution
 *   tsc node16      bundler and node16: 0 errors
 *
 *   node_modules/.bin/vite-node scripts/test-consumer.ts [-- --no-build] [--report FILE] [--keep]
 *
 * --no-build packs the existing dist/ (test-all.sh has just built it); --report writes the
 * counts as a Vitest-style JSON report; --keep leaves the temporary folder. npm runs with
 * --prefer-offline, so packages come from the local cache (filled by npm ci) when they are there;
 * the consumer project gets the versions of @webgpu/types, typescript, vite and webgpu that this
 * repository's node_modules holds.
 */
import { type SpawnOptions, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../e2e/chromium.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = join(ROOT, 'test/consumer/project');
const SAMPLE = join(ROOT, 'demo/public/data/fashion-mnist-sample');
const NO_WEBGPU =
  'install webgpu to use WebGPU in Node (npm install webgpu); --backend cpu works without it';

const args = process.argv.slice(2).filter((a) => a !== '--');
const noBuild = args.includes('--no-build');
const keep = args.includes('--keep');
const reportAt = args.indexOf('--report');
const report = reportAt >= 0 ? args[reportAt + 1] : undefined;
for (const [i, a] of args.entries()) {
  if (!['--no-build', '--keep', '--report'].includes(a) && args[i - 1] !== '--report') {
    console.error(`test-consumer: unknown argument ${a}`);
    process.exit(2);
  }
}

const env: NodeJS.ProcessEnv = {
  ...process.env,
  NODEVICE_SELECT: '1',
  NO_COLOR: '1',
  DENO_NO_UPDATE_CHECK: '1',
  npm_config_update_notifier: 'false',
};
const lavapipe = join(ROOT, '.cache/lavapipe/lvp_icd.json');
if (!env.VK_ICD_FILENAMES && existsSync(lavapipe)) env.VK_ICD_FILENAMES = lavapipe;

// --- processes -------------------------------------------------------------------------------

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  cmd: string,
  argv: string[],
  options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<Ran> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      ok({ code, stdout, stderr });
    });
  });
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function expectOk(r: Ran, what: string): Ran {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n${tail(r.stdout + r.stderr)}`);
  return r;
}

/** The last line of stdout that is a JSON object with `key`. */
function jsonLine<T>(r: Ran, key: string, what: string): T {
  for (const line of r.stdout.trim().split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    const value = JSON.parse(line) as Record<string, unknown>;
    if (key in value) return value[key] as T;
  }
  throw new Error(`${what} printed no {"${key}": ...} line\n${tail(r.stdout + r.stderr)}`);
}

function assert(ok: unknown, message: string): asserts ok {
  if (!ok) throw new Error(message);
}

// --- checks ----------------------------------------------------------------------------------

let passed = 0;
let failed = 0;
const failures: string[] = [];

/** Runs one check; a check whose prerequisite failed is counted as failed without running. */
async function check(
  name: string,
  body: () => Promise<string>,
  needs: boolean[] = [],
): Promise<boolean> {
  const t0 = performance.now();
  let ok = false;
  let detail: string;
  if (needs.some((n) => !n)) {
    detail = 'not run: an earlier check it needs failed';
  } else {
    try {
      detail = await body();
      ok = true;
    } catch (err) {
      detail = err instanceof Error ? err.message : String(err);
    }
  }
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  const [first, ...rest] = detail.split('\n');
  console.log(
    `consumer: ${ok ? 'ok  ' : 'FAIL'} ${name.padEnd(12)} ${secs.padStart(5)}s  ${first}`,
  );
  for (const line of rest) console.log(`    ${line}`);
  if (ok) passed++;
  else {
    failed++;
    failures.push(name);
  }
  return ok;
}

function version(pkg: string): string {
  return (
    JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
}

const npmInstallFlags = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=warn'];

/** Warnings npm printed that name nitro-d (its own scripts, bin, manifest). */
function ownWarnings(r: Ran): string[] {
  return (r.stdout + r.stderr)
    .split('\n')
    .filter((l) => /\bwarn/i.test(l) && /nitro-d/.test(l) && !/nitro-d-consumer/.test(l));
}

function otherWarnings(r: Ran): string {
  const lines = (r.stdout + r.stderr)
    .split('\n')
    .filter((l) => /@\d/.test(l) && /\bwarn/i.test(l) && !/nitro-d/.test(l));
  return lines.length === 0
    ? 'none'
    : lines.map((l) => l.replace(/^npm warn \S+\s+/, '')).join('; ');
}

/** README.md's Library snippet, the first ```js block of its "## Library" section. */
function readmeSnippet(): string {
  const section = readFileSync(join(ROOT, 'README.md'), 'utf8')
    .split(/^## /m)
    .find((s) => s.startsWith('Library\n'));
  const block = section && /```js\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('README.md: no ```js block in the "## Library" section');
  return block[1];
}

/** The snippet with the data folder, the backend and one epoch put in, each found once. */
function snippetFor(code: string, backend: 'webgpu' | 'cpu'): string {
  const substitute = (pattern: RegExp, replacement: string) => {
    const count = code.match(new RegExp(pattern.source, 'g'))?.length ?? 0;
    if (count !== 1)
      throw new Error(`README.md Library snippet: ${count} matches of ${pattern}, expected 1`);
    code = code.replace(pattern, replacement);
  };
  substitute(
    /await loadFashionMnist\([^)]*\)/,
    `await loadFashionMnist(${JSON.stringify(SAMPLE)})`,
  );
  substitute(/createBackend\([^)]*\)/, `createBackend(${JSON.stringify(backend)})`);
  substitute(/epochs: \d+/, 'epochs: 1');
  return `${code}
// consumer test: what the snippet computed
const { createHash } = await import('node:crypto');
console.log(JSON.stringify({ snippet: {
  kind: backend.kind,
  trainSamples: split.train.labels.length,
  logits: Array.from(logits),
  heads: heads.map((h) => Array.from(h)),
  checkpointBytes: checkpoint.length,
  checkpointSha256: createHash('sha256').update(checkpoint).digest('hex'),
} }));
`;
}

interface SnippetResult {
  kind: string;
  trainSamples: number;
  logits: number[];
  heads: number[][];
  checkpointBytes: number;
  checkpointSha256: string;
}

interface DenoResult {
  kind: string;
  description: string;
  initial: string;
  trained: string;
  logits: number[];
}

interface PageResult {
  kind: string;
  description: string;
  epochs: number;
  testAccuracyBp: number;
  checkpointSha256: string;
  ms: number;
}

/** Serves `dir` on 127.0.0.1 (a secure context, so the page gets WebGPU and crypto.subtle). */
async function serve(dir: string): Promise<{ url: string; close: () => void }> {
  const mime: Record<string, string> = {
    '.html': 'text/html',
    '.js': 'text/javascript',
    '.gz': 'application/octet-stream',
    '.wasm': 'application/wasm',
  };
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const file = normalize(join(dir, path === '/' ? 'index.html' : path));
    if (!file.startsWith(dir + sep)) {
      res.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (body) =>
        res
          .writeHead(200, { 'content-type': mime[extname(file)] ?? 'application/octet-stream' })
          .end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, close: () => server.close() };
}

async function main(): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), 'nitro-d-consumer-'));
  const app = join(work, 'app');
  const bare = join(work, 'no-webgpu');
  mkdirSync(app);
  mkdirSync(bare);
  console.log(`consumer: project in ${app}`);
  let tarball = '';

  const packed = await check('pack', async () => {
    if (!noBuild) expectOk(await run('npm', ['run', '--silent', 'build'], { cwd: ROOT }), 'build');
    const r = expectOk(
      await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
        cwd: ROOT,
      }),
      'npm pack',
    );
    const [info] = JSON.parse(r.stdout) as {
      filename: string;
      size: number;
      files: { path: string; mode: number }[];
    }[];
    tarball = join(work, info.filename);
    const allowed =
      /^(LICENSE|README\.md|package\.json|bin\/nitro-d\.js|scripts\/fetch-lavapipe\.sh|dist\/(browser\/)?[^/]+\.js|dist\/([a-z]+\/)*[^/]+\.d\.ts)$/;
    const extra = info.files.map((f) => f.path).filter((p) => !allowed.test(p));
    assert(extra.length === 0, `unexpected files in the tarball: ${extra.join(', ')}`);
    const paths = new Set(info.files.map((f) => f.path));
    for (const need of [
      'LICENSE',
      'README.md',
      'bin/nitro-d.js',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/browser/index.js',
      'dist/cli.js',
      'scripts/fetch-lavapipe.sh',
    ])
      assert(paths.has(need), `the tarball lacks ${need}`);
    const bin = info.files.find((f) => f.path === 'bin/nitro-d.js')!;
    assert((bin.mode & 0o111) !== 0, `bin/nitro-d.js has mode ${bin.mode.toString(8)}`);
    return `${info.filename}: ${info.files.length} files, ${Math.round(info.size / 1024)} kB`;
  });

  const installed = await check('install', async () => {
    writeFileSync(
      join(app, 'package.json'),
      `${JSON.stringify({ name: 'nitro-d-consumer', private: true, type: 'module' }, null, 2)}\n`,
    );
    const r = expectOk(
      await run(
        'npm',
        [
          'install',
          ...npmInstallFlags,
          tarball,
          ...['@webgpu/types', 'typescript', 'vite', 'webgpu'].map((p) => `${p}@${version(p)}`),
        ],
        { cwd: app, timeoutMs: 300_000 },
      ),
      'npm install',
    );
    const own = ownWarnings(r);
    assert(own.length === 0, `npm warned about nitro-d:\n${own.join('\n')}`);
    for (const f of ['nitro-d/dist/index.js', 'webgpu/package.json', '.bin/nitro-d'])
      assert(existsSync(join(app, 'node_modules', f)), `node_modules/${f} is missing`);
    return `no warning about nitro-d (other packages: ${otherWarnings(r)})`;
  }, [packed]);

  await check('cli', async () => {
    const r = expectOk(
      await run(join(app, 'node_modules/.bin/nitro-d'), ['--help'], { cwd: app }),
      'nitro-d --help',
    );
    assert(r.stdout.trim().length > 0, 'nitro-d --help printed nothing');
    return `nitro-d --help: ${r.stdout.trim().split('\n')[0]}`;
  }, [installed]);

  const snippets: Partial<Record<'cpu' | 'webgpu', SnippetResult>> = {};
  const snippetOk: boolean[] = [];
  for (const backend of ['cpu', 'webgpu'] as const) {
    snippetOk.push(
      await check(`node ${backend}`, async () => {
        const file = join(app, `snippet-${backend}.mjs`);
        writeFileSync(file, snippetFor(readmeSnippet(), backend));
        const r = expectOk(await run('node', [file], { cwd: app }), `node ${file}`);
        const s = jsonLine<SnippetResult>(r, 'snippet', file);
        const epoch = /^epoch 1: test accuracy (\d+\.\d\d%)$/m.exec(r.stdout);
        assert(epoch, `no "epoch 1: test accuracy N%" line from onEpoch\n${tail(r.stdout)}`);
        assert(s.kind === backend, `backend.kind is ${s.kind}`);
        assert(s.trainSamples === 3000, `${s.trainSamples} training samples, expected 3000`);
        assert(s.logits.length === 10 && s.heads.length === 3, 'logits or heads shape');
        snippets[backend] = s;
        return `README snippet, 1 epoch on 3000 images: test accuracy ${epoch[1]}, checkpoint ${s.checkpointBytes} bytes`;
      }, [installed]),
    );
  }

  await check(
    'node bits',
    async () => {
      const { cpu, webgpu } = snippets as Required<typeof snippets>;
      assert(
        cpu.checkpointSha256 === webgpu.checkpointSha256,
        `checkpoints differ: cpu ${cpu.checkpointSha256}, webgpu ${webgpu.checkpointSha256}`,
      );
      assert(
        JSON.stringify([cpu.logits, cpu.heads]) === JSON.stringify([webgpu.logits, webgpu.heads]),
        'logits differ',
      );
      return `webgpu == cpu: checkpoint sha256 ${cpu.checkpointSha256.slice(0, 16)}..., logits ${cpu.logits.join(' ')}`;
    },
    snippetOk,
  );

  await check('no webgpu', async () => {
    writeFileSync(
      join(bare, 'package.json'),
      `${JSON.stringify({ name: 'nitro-d-consumer-bare', private: true, type: 'module' })}\n`,
    );
    const inst = expectOk(
      await run('npm', ['install', ...npmInstallFlags, '--omit=optional', tarball], {
        cwd: bare,
        timeoutMs: 300_000,
      }),
      'npm install --omit=optional',
    );
    const own = ownWarnings(inst);
    assert(own.length === 0, `npm warned about nitro-d:\n${own.join('\n')}`);
    assert(!existsSync(join(bare, 'node_modules/webgpu')), 'webgpu was installed anyway');
    const probe = join(bare, 'probe.mjs');
    writeFileSync(
      probe,
      `import { createBackend } from 'nitro-d';
let message = 'createBackend("webgpu") succeeded';
try { await createBackend('webgpu'); } catch (err) { message = err.message; }
const cpu = await createBackend('cpu');
console.log(JSON.stringify({ probe: { message, cpu: cpu.kind } }));
`,
    );
    const r = expectOk(await run('node', [probe], { cwd: bare }), 'node probe.mjs');
    const p = jsonLine<{ message: string; cpu: string }>(r, 'probe', probe);
    assert(p.message === NO_WEBGPU, `createBackend('webgpu') said: ${p.message}`);
    assert(p.cpu === 'cpu', `createBackend('cpu') gave ${p.cpu}`);
    return `createBackend('webgpu'): "${p.message}"; cpu works`;
  }, [packed]);

  await check('deno', async () => {
    cpSync(join(FIXTURES, 'deno-step.ts'), join(app, 'deno-step.ts'));
    const r = await run(
      join(ROOT, 'node_modules/.bin/deno'),
      ['run', '-A', '--no-check', 'deno-step.ts', SAMPLE],
      { cwd: app },
    );
    // Deno on lavapipe sometimes aborts in glibc while tearing WebGPU down at exit, after
    // everything ran (see scripts/test-deno.sh); the printed result still counts.
    const teardown = r.code !== 0 && /double free or corruption/.test(r.stderr);
    if (!teardown) expectOk(r, 'deno run deno-step.ts');
    const [gpu, cpu] = jsonLine<DenoResult[]>(r, 'deno', 'deno-step.ts');
    assert(gpu?.kind === 'webgpu' && cpu?.kind === 'cpu', 'backends');
    assert(gpu.trained !== gpu.initial, 'training did not change the weights');
    assert(gpu.initial === cpu.initial, 'initial weights differ between backends');
    assert(gpu.trained === cpu.trained, 'trained weights differ between backends');
    assert(JSON.stringify(gpu.logits) === JSON.stringify(cpu.logits), 'logits differ');
    return `4 steps of MLP1 on ${gpu.description}: same checkpoint and logits as cpu${teardown ? ' (Deno aborted at exit after printing)' : ''}`;
  }, [installed]);

  const built = await check('vite build', async () => {
    for (const f of ['index.html', 'main.ts']) cpSync(join(FIXTURES, f), join(app, f));
    cpSync(SAMPLE, join(app, 'public/data'), { recursive: true });
    const r = expectOk(
      await run(join(app, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], {
        cwd: app,
      }),
      'vite build',
    );
    const warnings = (r.stdout + r.stderr).trim();
    assert(warnings === '', `vite build warned:\n${tail(warnings)}`);
    assert(existsSync(join(app, 'dist/index.html')), 'vite build wrote no dist/index.html');
    return 'a page importing nitro-d, built without warnings';
  }, [installed]);

  await check('chromium', async () => {
    const server = await serve(join(app, 'dist'));
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    const errors: string[] = [];
    try {
      const page = await browser.newPage();
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      await page.goto(server.url);
      await page.waitForFunction(
        () => (window as { consumerResult?: unknown }).consumerResult !== undefined,
        undefined,
        { timeout: 150_000 },
      );
      const out = (await page.evaluate(
        () => (window as { consumerResult?: unknown }).consumerResult,
      )) as { results?: PageResult[]; error?: string };
      if (out.error) throw new Error(`the page failed: ${out.error}`);
      const [gpu, cpu] = out.results ?? [];
      assert(gpu?.kind === 'webgpu' && cpu?.kind === 'cpu', 'backends');
      for (const r of [gpu, cpu]) {
        assert(r.epochs === 2, `${r.kind}: ${r.epochs} epochs`);
        assert(r.testAccuracyBp >= 4000, `${r.kind}: test accuracy ${r.testAccuracyBp} bp`);
      }
      assert(gpu.checkpointSha256 === cpu.checkpointSha256, 'checkpoints differ');
      assert(errors.length === 0, `console errors: ${errors.join('; ')}`);
      return (
        `MLP1, 2 epochs of 640 images: test accuracy ${gpu.testAccuracyBp / 100} % on ${gpu.description} ` +
        `(${gpu.ms} ms) and cpu (${cpu.ms} ms), same checkpoint`
      );
    } finally {
      await browser.close();
      server.close();
    }
  }, [built]);

  for (const resolution of ['bundler', 'node16'] as const) {
    await check(`tsc ${resolution}`, async () => {
      for (const f of ['consumer.ts', 'main.ts', 'deno-step.ts'])
        cpSync(join(FIXTURES, f), join(app, f));
      writeFileSync(join(app, 'readme-snippet.ts'), readmeSnippet());
      const config = join(app, `tsconfig.${resolution}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: resolution === 'bundler' ? 'ESNext' : 'Node16',
            moduleResolution: resolution,
            strict: true,
            skipLibCheck: false,
            noEmit: true,
          },
          files: ['consumer.ts', 'main.ts', 'deno-step.ts', 'readme-snippet.ts'],
        }),
      );
      const r = await run(
        join(app, 'node_modules/.bin/tsc'),
        ['-p', config, '--listFiles', '--pretty', 'false'],
        { cwd: app },
      );
      const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
      assert(
        r.code === 0 && errors.length === 0,
        `${errors.length} errors:\n${tail(errors.join('\n'), 20)}`,
      );
      const files = r.stdout.split('\n').filter((l) => l.includes('/node_modules/nitro-d/'));
      assert(
        files.some((f) => f.endsWith('/node_modules/nitro-d/dist/index.d.ts')),
        'tsc did not read node_modules/nitro-d/dist/index.d.ts',
      );
      return `0 errors, strict, no skipLibCheck, ${files.length} nitro-d declaration files checked`;
    }, [installed]);
  }

  console.log(
    `consumer: ${passed} passed, ${failed} failed${failures.length ? ` (${failures.join(', ')})` : ''}`,
  );
  if (keep) console.log(`consumer: kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
  if (report) {
    writeFileSync(
      report,
      JSON.stringify({
        numPassedTests: passed,
        numFailedTests: failed,
        numPendingTests: 0,
        numTodoTests: 0,
      }),
    );
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
