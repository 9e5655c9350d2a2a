import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// `vite build --mode lib`: the library and CLI bundle for Node and Deno (shaders inlined).
// `vite --mode demo` / `vite build --mode demo`: the demo and benchmark pages.
export default defineConfig(({ mode }) => {
  if (mode === 'lib') {
    return {
      build: {
        outDir: 'dist',
        emptyOutDir: true,
        target: 'es2022',
        sourcemap: true,
        minify: false,
        ssr: true,
        lib: {
          entry: { index: resolve(__dirname, 'src/index.ts'), cli: resolve(__dirname, 'src/cli/main.ts') },
          formats: ['es'],
        },
        rollupOptions: { external: ['webgpu', /^node:/] },
      },
      ssr: { noExternal: ['wgsl_reflect'] },
    };
  }
  return {
    root: 'demo',
    base: './',
    build: {
      outDir: resolve(__dirname, 'dist/demo'),
      emptyOutDir: true,
      target: 'es2022',
      rollupOptions: { input: { index: resolve(__dirname, 'demo/index.html'), bench: resolve(__dirname, 'demo/bench.html') } },
    },
    server: { host: '127.0.0.1', port: 5173, strictPort: false },
  };
});
