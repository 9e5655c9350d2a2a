/**
 * Deno suite: the benchmark harness of the built bundle on Deno's WebGPU and on the CPU backend,
 * two steps of MLP1 at batch 8, with every field `nitro-d bench --json` promises.
 */
import type * as Nitro from '../../src/index.ts';

declare const Deno: {
  test(def: {
    name: string;
    fn: () => Promise<void>;
    sanitizeOps?: boolean;
    sanitizeResources?: boolean;
  }): void;
};

const lib = (await import(new URL('../../dist/index.js', import.meta.url).href)) as typeof Nitro;

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

function checkResult(r: Nitro.TrainingBenchResult, kind: string): void {
  check(
    r.preset === 'mlp1' && r.batch === 8 && r.steps === 2,
    `preset/batch/steps: ${r.preset} ${r.batch} ${r.steps}`,
  );
  check(r.backend === kind, `backend ${r.backend}`);
  check(r.runtime === 'deno', `runtime ${r.runtime}`);
  check(typeof r.adapter === 'string' && r.adapter.length > 0, 'adapter');
  for (const [name, v] of Object.entries({
    imagesPerSecond: r.imagesPerSecond,
    msPerStep: r.msPerStep,
    gopsPerSecond: r.gopsPerSecond,
    coldMs: r.coldMs,
  })) {
    check(v > 0, `${name} = ${v}`);
  }
  const geometry = lib.planFromSpec(lib.getPreset('mlp1').spec).geometry;
  check(r.opsPerStep === 2 * 8 * geometry.cost.trainMacs, `opsPerStep ${r.opsPerStep}`);
  check(
    r.kernels.reduce((a, k) => a + k.ops, 0) === r.opsPerStep,
    'kernel operations add up to the step',
  );
  check(r.memory.bytesInUse >= r.memory.minimumBytes && r.memory.minimumBytes > 0, 'memory');
  const json = JSON.parse(JSON.stringify(r)) as Record<string, unknown>;
  for (const field of ['imagesPerSecond', 'preset', 'batch', 'backend', 'adapter'])
    check(field in json, `JSON field ${field}`);
}

for (const kind of ['webgpu', 'cpu'] as const) {
  Deno.test({
    name: `benchTraining: mlp1, 2 steps at batch 8 on ${kind}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const backend = await lib.createBackend(kind, { timestamps: true });
      try {
        checkResult(
          await lib.benchTraining(backend, { preset: 'mlp1', batch: 8, steps: 2, warmup: 1 }),
          kind,
        );
      } finally {
        backend.destroy();
      }
    },
  });
}
