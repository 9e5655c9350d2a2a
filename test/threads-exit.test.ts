/**
 * A Node process that made a threaded CPU backend exits when its work is done, whether or not it
 * called destroy(): idle workers never keep it alive. Runs the built bundle (dist/index.js).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const index = fileURLToPath(new URL('../dist/index.js', import.meta.url));

function run(destroy: boolean) {
  const script = `
    import { createCpuBackend } from ${JSON.stringify(index)};
    const b = await createCpuBackend({ threads: 3 });
    const x = b.tensor([64, 300], 'i8', 'x');
    const w = b.tensor([70, 300], 'i32', 'w');
    b.write(w, Int32Array.from({ length: 70 * 300 }, (_, i) => (i * 7919) % 1000));
    b.write(x, Int32Array.from({ length: 64 * 300 }, (_, i) => (i % 255) - 127));
    const z = b.tensor([64, 70], 'i32', 'z');
    b.ops.linear({ x, w, out: z });
    const r = await b.read(z);
    ${destroy ? 'b.destroy();' : ''}
    console.log(b.description, r[5]);
  `;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 30000,
  });
}

describe('a process with CPU backend threads', () => {
  it.each([true, false])('exits when done (destroy() called: %s)', (destroy) => {
    const r = run(destroy);
    expect(r.error, r.stderr).toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^CPU \(WebAssembly SIMD kernels, 3 threads\) -?\d+\n$/);
  });
});
