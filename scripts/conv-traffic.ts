/**
 * Storage bytes per multiply-add of every conv kernel variant at VGG8B's conv layers (the
 * bench-kernels shapes), from the traffic models (src/ops/traffic.ts, each checked against the
 * counted traffic by test/traffic.test.ts), as a Markdown table. The weight gradient's delta is
 * as sparse as the block's head pooling leaves it in training (one non-zero pixel per window).
 *
 *   npx vite-node scripts/conv-traffic.ts [-- --batch 64]
 */
import { paperKernelShapes } from '../src/bench/kernels.ts';
import { variantsOf } from '../src/kernels/gemm-tiles.ts';
import { perMac } from '../src/kernels/traffic.ts';
import { gemmTraffic } from '../src/ops/traffic.ts';

const at = process.argv.indexOf('--batch');
const batch = at > 0 ? Number(process.argv[at + 1]) : 64;
if (!Number.isInteger(batch) || batch < 1)
  throw new Error('conv-traffic: --batch needs an integer >= 1');

/** Pixels per (sample, filter) map that the head's max pooling keeps (one per window). */
function windows(h: number, w: number, pool?: { kernel: number[]; padding: number[] }): number {
  if (!pool) return h * w;
  const [kh, kw] = pool.kernel;
  const [ph, pw] = pool.padding;
  return (Math.floor((h + 2 * ph - kh) / kh) + 1) * (Math.floor((w + 2 * pw - kw) / kw) + 1);
}

const ops = ['conv2d', 'conv2dWeightGrad'] as const;
console.log(`Batch ${batch}; read / written bytes per multiply-add.\n`);
for (const op of ops) {
  const labels = variantsOf(op).map((v) => v.label);
  console.log(`| ${op} layer | K | ${labels.join(' | ')} |`);
  console.log(`|---|---:|${labels.map(() => '---:').join('|')}|`);
  for (const s of paperKernelShapes(batch)) {
    if (s.kind !== 'conv') continue;
    const dims = [s.batch, s.channels, s.height, s.width, s.filters, s.kernel, s.padding];
    const ho = s.height + 2 * s.padding - s.kernel + 1;
    const wo = s.width + 2 * s.padding - s.kernel + 1;
    const c = op === 'conv2d' ? {} : { nonZeroPerMap: windows(ho, wo, s.headPool) };
    const cells = variantsOf(op).map((v) => {
      const t = perMac(gemmTraffic(op, dims, v, c));
      return `${t.read.toFixed(3)} / ${t.write.toFixed(3)}`;
    });
    console.log(`| ${s.layer} | ${s.channels * s.kernel * s.kernel} | ${cells.join(' | ')} |`);
  }
  console.log('');
}
