import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { compactWgsl } from './src/kernels/compact-wgsl.ts';
import { defineConfig, type Plugin, type PreviewServer, type ViteDevServer } from 'vite';

/**
 * The pages bundle the library, which reaches Node-only modules (the dawn.node adapter, file
 * access) through dynamic imports that run only under Node or Deno. Rollup cannot link their
 * named `node:` imports against Vite's empty browser stand-in, so each builtin becomes a stub
 * whose members throw if they are ever called.
 */
function nodeBuiltinsForBrowser(): Plugin {
  const prefix = '\0node-builtin:';
  return {
    name: 'nitro-d:node-builtins-for-browser',
    enforce: 'pre',
    resolveId: (id) =>
      id.startsWith('node:') ? { id: prefix + id, syntheticNamedExports: true } : undefined,
    load: (id) =>
      id.startsWith(prefix)
        ? `export default new Proxy({}, { get: (_, key) => () => { throw new Error(${JSON.stringify(id.slice(prefix.length))} + '.' + String(key) + ' is not available in a browser'); } });`
        : undefined,
  };
}

/**
 * Built bundles carry the WGSL without its comments and indentation (compactWgsl): a shader's
 * text ships in every app that trains or predicts, and the comments are for readers of
 * shaders/. Dev servers and tests read the files as they are.
 */
function compactWgslPlugin(): Plugin {
  return {
    name: 'nitro-d:compact-wgsl',
    enforce: 'pre',
    load(id) {
      if (!id.endsWith('.wgsl?raw')) return undefined;
      const source = readFileSync(id.slice(0, -'?raw'.length), 'utf8');
      return `export default ${JSON.stringify(compactWgsl(source))};`;
    },
  };
}

/**
 * `npm run demo` (and `vite preview`) print the demo's URL; this adds the benchmark page's
 * under each of them.
 */
function printBenchUrl(): Plugin {
  const wrap = (server: ViteDevServer | PreviewServer) => {
    const print = server.printUrls.bind(server);
    server.printUrls = () => {
      print();
      const urls = server.resolvedUrls;
      for (const url of [...(urls?.local ?? []), ...(urls?.network ?? [])])
        server.config.logger.info(`  ➜  Bench:   ${url}bench.html`);
    };
  };
  return {
    name: 'nitro-d:print-bench-url',
    configureServer: wrap,
    configurePreviewServer: wrap,
  };
}

/**
 * Cross-origin isolation for the demo and benchmark pages: with it the browser gives the page
 * SharedArrayBuffer, which the CPU backend's worker threads need (without it the backend runs on
 * one thread and says so). A static host of dist/demo must send the same two headers.
 */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * The package's entry points (package.json `exports` and tsconfig.build.json `files` name the
 * same ones): dist/NAME.js for Node and Deno, dist/browser/NAME.js for bundlers' `browser`
 * condition, dist/NAME.d.ts from tsc.
 */
const ENTRIES = { index: 'src/index.ts', inference: 'src/inference.ts' };

// `vite build --mode lib`: the library and CLI bundle for Node and Deno (shaders inlined).
// `vite build --mode lib-browser`: the same library with Node builtins stubbed, so a consumer's
//   browser bundler never meets their named imports (Rollup cannot link them to its stand-in).
// `vite --mode demo` / `vite build --mode demo`: the demo and benchmark pages.
export default defineConfig(({ mode }) => {
  const entries = Object.fromEntries(
    Object.entries(ENTRIES).map(([name, file]) => [name, resolve(__dirname, file)]),
  );
  if (mode === 'lib') {
    return {
      build: {
        outDir: 'dist',
        emptyOutDir: true,
        target: 'es2022',
        sourcemap: false,
        minify: false,
        ssr: true,
        lib: {
          entry: {
            ...entries,
            cli: resolve(__dirname, 'src/cli/main.ts'),
            'parallel-worker': resolve(__dirname, 'src/parallel/node-worker.ts'),
          },
          formats: ['es'],
        },
        rollupOptions: { external: ['webgpu', /^node:/] },
      },
      plugins: [compactWgslPlugin()],
      ssr: { noExternal: ['wgsl_reflect'] },
    };
  }
  if (mode === 'lib-browser') {
    return {
      plugins: [nodeBuiltinsForBrowser(), compactWgslPlugin()],
      publicDir: false,
      build: {
        outDir: 'dist/browser',
        emptyOutDir: true,
        target: 'es2022',
        sourcemap: false,
        minify: false,
        lib: { entry: entries, formats: ['es'] },
      },
    };
  }
  return {
    root: 'demo',
    base: './',
    plugins: [nodeBuiltinsForBrowser(), printBenchUrl()],
    build: {
      outDir: resolve(__dirname, 'dist/demo'),
      emptyOutDir: true,
      target: 'es2022',
      rollupOptions: {
        input: {
          index: resolve(__dirname, 'demo/index.html'),
          bench: resolve(__dirname, 'demo/bench.html'),
        },
      },
    },
    server: { host: '127.0.0.1', port: 5173, strictPort: false, headers: ISOLATION_HEADERS },
    preview: { headers: ISOLATION_HEADERS },
  };
});
