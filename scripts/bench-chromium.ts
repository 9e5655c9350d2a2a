/**
 * The training benchmark (benchTraining) of a built tree in headless Chromium, printing the same
 * JSON object as `nitro-d bench --json` on stdout:
 *
 *   node_modules/.bin/vite-node scripts/bench-chromium.ts -- --root DIR --preset mlp1 --batch 64
 *     [--steps N] [--warmup N] [--backend webgpu|cpu] [--kernel-timing none|solo|timestamps|auto]
 *   ... --kernels LAYER [--batch B]   every kernel variant of the paper's layers whose name contains
 *                                     LAYER (as `nitro-d bench-kernels --variants`; table on stderr)
 *
 * DIR is a tree where `npm run build` has run (default: this one); its dist/index.js is served
 * from 127.0.0.1 with a small page of its own that imports it, so any revision whose library
 * exports createBackend and benchTraining can be measured, whatever its demo pages take from
 * their URL. Chromium is Debian's /usr/bin/chromium (CHROMIUM_PATH overrides), started as the
 * test suites start it (e2e/chromium.ts); its WebGPU adapter is its own, named in the result.
 * Used by scripts/bench-matrix.sh.
 */
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../e2e/chromium.ts';

const USAGE =
  'usage: bench-chromium.ts --root DIR --preset P [--batch B] [--steps N] [--warmup N] [--backend webgpu|cpu] [--kernel-timing T] [--kernels LAYER]';

const MIME: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.map': 'application/json',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.html': 'text/html',
};

// The page: imports the tree's library and exposes one call that runs the benchmark.
const HARNESS = `<!doctype html><meta charset="utf-8"><title>bench harness</title>
<script type="module">
import * as lib from '/dist/index.js';
window.runBench = async (o) => {
  const backend = await lib.createBackend(o.backend, { timestamps: o.kernelTiming === 'auto' || o.kernelTiming === 'timestamps' });
  try {
    return await lib.benchTraining(backend, {
      preset: o.preset, batch: o.batch, steps: o.steps, warmup: o.warmup, kernelTiming: o.kernelTiming,
      onPhase: (p) => console.log('bench: ' + p),
    });
  } finally {
    backend.destroy();
  }
};
window.runKernels = async (o) => {
  const backend = await lib.createBackend('webgpu', { timestamps: o.timing !== 'solo' });
  try {
    const shapes = lib.paperKernelShapes(o.batch).filter((s) => s.layer.includes(o.filter));
    const result = await lib.benchKernels(backend, shapes, { timing: o.timing, variants: true, onRow: (r) => console.log('bench: ' + r.layer + ' ' + r.op + ' ' + (r.variant ?? '')) });
    return { batch: o.batch, results: [result], table: lib.formatKernelBench([result]) };
  } finally {
    backend.destroy();
  }
};
window.harnessReady = true;
</script>`;

function parse(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') continue;
    if (!a.startsWith('--') || i + 1 >= args.length)
      throw new Error(`bad argument '${a}'\n${USAGE}`);
    out[a.slice(2)] = args[++i];
  }
  const known = [
    'root',
    'preset',
    'batch',
    'steps',
    'warmup',
    'backend',
    'kernel-timing',
    'kernels',
  ];
  for (const k of Object.keys(out))
    if (!known.includes(k)) throw new Error(`unknown option --${k}\n${USAGE}`);
  return out;
}

function int(flags: Record<string, string>, name: string): number | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new Error(`--${name} must be a non-negative integer, got '${v}'`);
  return Number(v);
}

async function main(): Promise<void> {
  const flags = parse(process.argv.slice(2));
  const root = resolve(flags.root ?? fileURLToPath(new URL('..', import.meta.url)));
  const dist = join(root, 'dist/index.js');
  await stat(dist).catch(() => {
    throw new Error(`${dist} is missing; run npm run build in ${root}`);
  });
  const options = {
    preset: flags.preset ?? 'mlp1',
    batch: int(flags, 'batch'),
    steps: int(flags, 'steps'),
    warmup: int(flags, 'warmup'),
    backend: flags.backend ?? 'webgpu',
    kernelTiming: flags['kernel-timing'] ?? 'none',
  };
  if (options.backend !== 'webgpu' && options.backend !== 'cpu')
    throw new Error(`--backend must be webgpu or cpu, got '${options.backend}'`);

  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (path === '/' || path === '/harness.html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(HARNESS);
      return;
    }
    const file = normalize(join(root, path));
    if (!file.startsWith(join(root, 'dist') + sep)) {
      res.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (body) =>
        res
          .writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' })
          .end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => console.error(`chromium: ${m.text()}`));
    page.on('pageerror', (e) => console.error(`chromium: page error: ${e.message}`));
    await page.goto(`http://127.0.0.1:${port}/harness.html`);
    await page.waitForFunction(
      () => (window as unknown as { harnessReady?: boolean }).harnessReady === true,
      undefined,
      { timeout: 60_000 },
    );
    if (flags.kernels !== undefined) {
      // Every kernel variant at the paper's layers whose name contains --kernels (bench-kernels --variants).
      const k = {
        batch: options.batch ?? 64,
        filter: flags.kernels,
        timing: options.kernelTiming === 'none' ? 'auto' : options.kernelTiming,
      };
      const out = (await page.evaluate(
        (o) =>
          (window as unknown as { runKernels(o: unknown): Promise<{ table: string }> }).runKernels(
            o,
          ),
        k,
      )) as Record<string, unknown>;
      console.error(out.table);
      delete out.table;
      console.log(JSON.stringify({ ...out, browserVersion: browser.version() }));
      return;
    }
    const result = (await page.evaluate(
      (o) => (window as unknown as { runBench(o: unknown): Promise<unknown> }).runBench(o),
      options,
    )) as Record<string, unknown>;
    result.browserVersion = browser.version();
    console.log(JSON.stringify(result));
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e: unknown) => {
  console.error(`bench-chromium: ${(e as Error).message}`);
  process.exit(1);
});
