/**
 * The CPU backend on 1 and more threads, in one run: the thread ceiling of this machine (a
 * trivially parallel WebAssembly SIMD loop, scripts/thread-ceiling.ts), then `nitro-d bench
 * --backend cpu --threads T` for each preset and thread count, repeated in alternation (best
 * run kept, as other processes on a shared machine only ever slow a run down), with the load
 * average before and after. Needs the built CLI (`npm run build`).
 *
 *   npx vite-node scripts/bench-threads.ts -- [--threads 1,2] [--presets mlp2,cnn-small,vgg8b]
 *     [--batch 64] [--rounds 3] [--out results/cpu-backend-threads-run.md]
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

const argv = process.argv.slice(2).filter((a) => a !== '--');
function flag(name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
}
const threads = flag('threads', '1,2').split(',').map(Number);
const presets = flag('presets', 'mlp2,cnn-small,vgg8b').split(',');
const batch = Number(flag('batch', '64'));
const rounds = Number(flag('rounds', '3'));
const outPath = flag('out', 'results/cpu-backend-threads-run.md');
/** Timed steps per preset: about a second or more of training each. */
const STEPS: Record<string, number> = {
  mlp1: 400,
  mlp2: 400,
  mlp3: 100,
  'cnn-small': 30,
  vgg8b: 3,
};

const fmt = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
const loadBefore = loadavg();

const ceilingText = execFileSync(
  'node_modules/.bin/vite-node',
  ['scripts/thread-ceiling.ts', '--', '--threads', threads.join(','), '--out', '/dev/null'],
  { encoding: 'utf8' },
);
const ceiling = new Map<number, number>();
for (const m of ceilingText.matchAll(/^\| (\d+) \| ([\d.]+) \|/gm))
  ceiling.set(Number(m[1]), Number(m[2]));

interface Run {
  imagesPerSecond: number;
  adapter: string;
}
const best = new Map<string, Run>();
for (let r = 0; r < rounds; r++) {
  for (const preset of presets) {
    for (const t of threads) {
      const steps = STEPS[preset] ?? 20;
      const args = [
        'bin/nitro-d.js',
        'bench',
        '--backend',
        'cpu',
        '--threads',
        String(t),
        '--preset',
        preset,
        '--batch',
        String(batch),
        '--steps',
        String(steps),
        '--kernel-timing',
        'none',
        '--json',
      ];
      const out = JSON.parse(
        execFileSync('node', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
      ) as Run;
      const key = `${preset}/${t}`;
      const prev = best.get(key);
      if (!prev || out.imagesPerSecond > prev.imagesPerSecond) best.set(key, out);
      console.error(`${preset} threads ${t} round ${r + 1}: ${out.imagesPerSecond} images/s`);
    }
  }
}
const loadAfter = loadavg();

const one = threads[0];
const lines = [
  `# The CPU backend on ${threads.join(' and ')} threads`,
  '',
  `${new Date().toISOString()}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}; load average ${fmt(loadBefore)} before, ${fmt(loadAfter)} after.`,
  `Batch ${batch}, best of ${rounds} alternating runs of \`node bin/nitro-d.js bench --backend cpu --threads T --preset P --batch ${batch} --steps N --kernel-timing none\`.`,
  '',
  `Thread ceiling (trivially parallel SIMD loop): ${threads.map((t) => `${t} thread${t > 1 ? 's' : ''} ${ceiling.get(t)?.toFixed(1) ?? '?'} GOP/s`).join(', ')}.`,
  '',
  `| preset | ${threads.map((t) => `${t} thread${t > 1 ? 's' : ''} images/s`).join(' | ')} | ${threads
    .slice(1)
    .map((t) => `${t} vs ${one}`)
    .join(' | ')} | ${threads
    .slice(1)
    .map((t) => `ceiling ${t} vs ${one}`)
    .join(' | ')} |`,
  `| --- | ${threads.map(() => '---:').join(' | ')} | ${threads
    .slice(1)
    .map(() => '---:')
    .join(' | ')} | ${threads
    .slice(1)
    .map(() => '---:')
    .join(' | ')} |`,
  ...presets.map((p) => {
    const base = best.get(`${p}/${one}`)?.imagesPerSecond ?? 0;
    const cells = threads.map((t) => String(best.get(`${p}/${t}`)?.imagesPerSecond ?? '?'));
    const scaling = threads
      .slice(1)
      .map((t) => `${((best.get(`${p}/${t}`)?.imagesPerSecond ?? 0) / base).toFixed(2)}x`);
    const ceil = threads
      .slice(1)
      .map((t) => `${((ceiling.get(t) ?? 0) / (ceiling.get(one) ?? 1)).toFixed(2)}x`);
    return `| ${p} | ${cells.join(' | ')} | ${scaling.join(' | ')} | ${ceil.join(' | ')} |`;
  }),
  '',
  `Command: \`npx vite-node scripts/bench-threads.ts -- --threads ${threads.join(',')} --presets ${presets.join(',')} --batch ${batch} --rounds ${rounds}\``,
  '',
];
const text = lines.join('\n');
console.log(text);
writeFileSync(outPath, text);
