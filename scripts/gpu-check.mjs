#!/usr/bin/env node
/**
 * Helpers of scripts/gpu-check.sh, plain JavaScript so the bundle runs them with its own Node
 * and no build step:
 *   peak OUT.json [--quick]        the adapter's integer peak: register-only i32 multiply-add
 *                                  and dot4I8Packed loops, GOP/s (2 operations per multiply-add)
 *   compare EXPECTED GOT           safetensors files: same tensors, dtypes, shapes, every element
 *   table OUTDIR                   the summary table (markdown) of a gpu-check output folder
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// ---------------------------------------------------------------- peak

const CHAINS = 8;
const UNROLL = 4;

function peakShader(kind) {
  const names = Array.from({ length: CHAINS }, (_, i) => `a${i}`);
  const init = names.map((n, i) => `  var ${n} = bitcast<i32>(g.x) ^ ${i * 7919 + 1};`).join('\n');
  // Each chain depends on itself only, so the loop keeps CHAINS independent multiply-adds in
  // flight; the operands come from a uniform, so nothing folds at compile time.
  const step =
    kind === 'dot4'
      ? names.map((n) => `    ${n} = dot4I8Packed(bitcast<u32>(${n}), y) + ${n};`).join('\n')
      : names.map((n) => `    ${n} = ${n} * m + c;`).join('\n');
  const body = Array.from({ length: UNROLL }, () => step).join('\n');
  return `${kind === 'dot4' ? 'requires packed_4x8_integer_dot_product;\n' : ''}
@group(0) @binding(0) var<storage, read_write> sink: array<i32>;
@group(0) @binding(1) var<uniform> p: vec4<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let m = bitcast<i32>(p.y);
  let c = bitcast<i32>(p.z);
  let y = p.w;
${init}
  for (var i = 0u; i < p.x; i++) {
${body}
  }
  sink[g.x] = ${names.join(' ^ ')};
}
`;
}

/** Integer operations of one invocation-iteration: a dot4I8Packed is 4 multiply-adds. */
const OPS_PER_ITERATION = { i32: CHAINS * UNROLL * 2, dot4: CHAINS * UNROLL * 8 };

async function compiles(device, code) {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  const error = await device.popErrorScope();
  const message = info.messages.find((m) => m.type === 'error');
  if (message || error) return { module: null, error: (message ?? error).message.split('\n')[0] };
  return { module, error: null };
}

async function timePeak(device, kind, quick) {
  const code = peakShader(kind);
  const { module, error } = await compiles(device, code);
  if (!module) return { kind, skipped: `does not compile: ${error}` };
  const pipeline = await device.createComputePipelineAsync({
    layout: 'auto',
    compute: { module, entryPoint: 'main' },
  });
  const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  const workgroups = Math.min(maxGroups, quick ? 16 : 8192);
  const invocations = workgroups * 256;
  const sink = device.createBuffer({ size: invocations * 4, usage: GPUBufferUsage.STORAGE });
  const params = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: sink } },
      { binding: 1, resource: { buffer: params } },
    ],
  });
  const run = async (iterations) => {
    device.queue.writeBuffer(
      params,
      0,
      new Uint32Array([iterations, 0x01000193, 12345, 0x7f01fe03]),
    );
    await device.queue.onSubmittedWorkDone();
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(workgroups);
    pass.end();
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  // Grow the loop until the median dispatch takes targetMs, so submission overhead is noise.
  const targetMs = quick ? 30 : 150;
  let iterations = 16;
  await run(iterations); // the first dispatch may include the driver's shader compilation
  let median = 0;
  for (;;) {
    const samples = [];
    for (let i = 0; i < (quick ? 3 : 5); i++) samples.push(await run(iterations));
    samples.sort((a, b) => a - b);
    median = samples[samples.length >> 1];
    if (median >= targetMs / 2 || iterations >= 1 << 22) break;
    iterations *= median < targetMs / 16 ? 8 : 2;
  }
  const ops = invocations * iterations * OPS_PER_ITERATION[kind];
  sink.destroy();
  params.destroy();
  return {
    kind,
    workgroups,
    invocations,
    iterations,
    ops,
    ms: Number(median.toPrecision(4)),
    gops: Number((ops / median / 1e6).toPrecision(4)),
  };
}

async function peak(outFile, quick) {
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const gpu = create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('peak: no WebGPU adapter (check VK_ICD_FILENAMES)');
  const { vendor, architecture, device: dev, description } = adapter.info;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxComputeWorkgroupsPerDimension: adapter.limits.maxComputeWorkgroupsPerDimension,
    },
  });
  const report = {
    adapter: { vendor, architecture, device: dev, description },
    wgslDot4: gpu.wgslLanguageFeatures?.has('packed_4x8_integer_dot_product') ?? null,
    method:
      'register-only loops: 8 independent chains per invocation, 256 invocations per workgroup, wall clock of one dispatch (median)',
    results: [],
  };
  for (const kind of ['i32', 'dot4']) {
    const r = await timePeak(device, kind, quick);
    report.results.push(r);
    console.error(`peak: ${kind}: ${r.skipped ?? `${r.gops} GOP/s (${r.ms} ms per dispatch)`}`);
    writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
  }
  device.destroy();
  return 0;
}

// ---------------------------------------------------------------- compare

const DTYPE_BYTES = { BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, F16: 2, I32: 4, U32: 4, F32: 4 };
Object.assign(DTYPE_BYTES, { I64: 8, U64: 8, F64: 8 });

function readSafetensors(file) {
  const bytes = readFileSync(file);
  if (bytes.length < 8) throw new Error(`${file}: shorter than a safetensors header`);
  const n = Number(bytes.readBigUInt64LE(0));
  if (n > bytes.length - 8) throw new Error(`${file}: header length ${n} exceeds the file`);
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  const tensors = new Map();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [a, b] = t.data_offsets;
    tensors.set(name, {
      dtype: t.dtype,
      shape: t.shape,
      data: bytes.subarray(8 + n + a, 8 + n + b),
    });
  }
  return tensors;
}

function element(data, dtype, i) {
  const w = DTYPE_BYTES[dtype] ?? 1;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (w === 1) return dtype === 'I8' ? view.getInt8(i) : view.getUint8(i);
  if (w === 2) return dtype === 'I16' ? view.getInt16(i * 2, true) : view.getUint16(i * 2, true);
  if (w === 4) return dtype === 'I32' ? view.getInt32(i * 4, true) : view.getUint32(i * 4, true);
  return view.getBigInt64(i * 8, true);
}

function compare(expectedFile, gotFile) {
  const expected = readSafetensors(expectedFile);
  const got = readSafetensors(gotFile);
  const problems = [];
  let elements = 0;
  for (const [name, e] of expected) {
    const g = got.get(name);
    if (!g) {
      problems.push(`${name}: missing`);
      continue;
    }
    if (g.dtype !== e.dtype || JSON.stringify(g.shape) !== JSON.stringify(e.shape)) {
      problems.push(
        `${name}: ${g.dtype}${JSON.stringify(g.shape)}, expected ${e.dtype}${JSON.stringify(e.shape)}`,
      );
      continue;
    }
    const w = DTYPE_BYTES[e.dtype] ?? 1;
    const count = e.data.length / w;
    elements += count;
    let differ = 0;
    let first = -1;
    for (let i = 0; i < count; i++) {
      // Element-wise through the bytes: the integers are equal exactly when their bytes are.
      if (e.data.compare(g.data, i * w, (i + 1) * w, i * w, (i + 1) * w) !== 0) {
        differ++;
        if (first < 0) first = i;
      }
    }
    if (differ)
      problems.push(
        `${name}: ${differ} of ${count} elements differ, first at ${first} (expected ${element(e.data, e.dtype, first)}, got ${element(g.data, g.dtype, first)})`,
      );
  }
  for (const name of got.keys()) if (!expected.has(name)) problems.push(`${name}: not expected`);
  if (problems.length) {
    for (const p of problems) console.log(`FAIL ${gotFile}: ${p}`);
    return 1;
  }
  console.log(`ok ${gotFile}: ${expected.size} tensors, ${elements} elements equal`);
  return 0;
}

// ---------------------------------------------------------------- table

function readJson(file) {
  if (!existsSync(file)) return null;
  const text = readFileSync(file, 'utf8').trim();
  // A section's stdout may hold one JSON object after other lines; take the last object.
  const start = text.lastIndexOf('\n{');
  try {
    return JSON.parse(start >= 0 ? text.slice(start + 1) : text);
  } catch {
    return null;
  }
}

const fmt = (x, digits = 3) =>
  x === null || x === undefined || Number.isNaN(x)
    ? '-'
    : Math.abs(x) >= 10 ** digits
      ? Math.round(x).toString()
      : Number(x.toPrecision(digits)).toString();
const pct = (x, p) => (x && p ? `${((100 * x) / p).toFixed(x / p < 0.01 ? 2 : 1)}%` : '-');
// A sparse variant skips the zero rows of its delta but is credited with the dense op's
// operations, so its GOP/s is dense-equivalent and no fraction of the peak.
const pctOf = (row, peakOf) =>
  row?.variant?.includes('sparse') ? 'sparse' : pct(row?.gops, peakOf(row?.variant));

function table(dir) {
  const lines = [];
  const info = readJson(join(dir, '01-info.json'));
  const peakReport = readJson(join(dir, '03-peak.json'));
  const a = peakReport?.adapter;
  lines.push(`adapter: ${info?.adapter ?? 'unknown (no 01-info.json)'}`);
  if (a)
    lines.push(
      `vendor: ${a.vendor || '-'}, architecture: ${a.architecture || '-'}, device: ${a.device || '-'}, description: ${a.description || '-'}`,
    );
  const env = join(dir, '00-env.txt');
  if (existsSync(env))
    for (const l of readFileSync(env, 'utf8').split('\n'))
      if (/^gpu-check: (vulkan |the adapter is|no WebGPU adapter)/.test(l))
        lines.push(l.slice('gpu-check: '.length));
  const golden = join(dir, '02-golden.txt');
  if (existsSync(golden)) {
    const g = readFileSync(golden, 'utf8').split('\n');
    const ok = g.filter((l) => l.startsWith('ok ')).length;
    const fail = g.filter((l) => l.startsWith('FAIL')).length;
    lines.push(`golden cases on WebGPU: ${ok} files bit-exact, ${fail} failed`);
  } else lines.push('golden cases on WebGPU: not run');

  const peaks = {};
  lines.push('', '| peak microbenchmark | GOP/s | ms per dispatch | invocations x iterations |');
  lines.push('|---|---:|---:|---:|');
  for (const r of peakReport?.results ?? []) {
    if (r.skipped) lines.push(`| ${r.kind} | - | - | ${r.skipped} |`);
    else {
      peaks[r.kind] = r.gops;
      lines.push(`| ${r.kind} | ${fmt(r.gops)} | ${r.ms} | ${r.invocations} x ${r.iterations} |`);
    }
  }
  if (!peakReport) lines.push('| (not run) | - | - | - |');
  const peakOf = (variant) => peaks[variant?.includes('dot4') ? 'dot4' : 'i32'] ?? null;

  const files = existsSync(dir) ? readdirSync(dir).sort() : [];
  const kernelRuns = files
    .filter((f) => /^04-bench-kernels.*\.json$/.test(f))
    .map((f) => readJson(join(dir, f)))
    .filter((k) => k);
  const batches = [...new Set(kernelRuns.map((k) => k.batch))].join(', ') || '-';
  lines.push(
    '',
    `| layer (bench-kernels, batch ${batches}) | op | default variant | GOP/s | % peak | best variant | GOP/s | % peak |`,
    '|---|---|---|---:|---:|---|---:|---:|',
  );
  const rows = kernelRuns.flatMap(
    (k) => k.results?.find((r) => r.backend === 'webgpu')?.rows ?? [],
  );
  const groups = new Map();
  for (const r of rows) {
    const key = `${r.layer}\u0000${r.op}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  for (const group of groups.values()) {
    const timed = group.filter((r) => r.gops !== null);
    const def = group.find((r) => r.isDefault) ?? group[0];
    const best = timed.reduce((b, r) => (b === null || r.gops > b.gops ? r : b), null);
    lines.push(
      `| ${def.layer} | ${def.op} | ${def.variant ?? '-'} | ${fmt(def.gops)} | ${pctOf(def, peakOf)} | ${best?.variant ?? '-'} | ${fmt(best?.gops)} | ${pctOf(best, peakOf)} |`,
    );
  }
  if (!rows.length) lines.push('| (not run) | | | | | | | |');

  const tuned = [];
  for (const f of files) {
    const m = f.match(/^05-tune-(.+)\.json$/);
    if (!m) continue;
    const t = readJson(join(dir, f));
    tuned.push(
      `${m[1]} ${t ? `${Object.keys(t.choices ?? {}).length} choices, ${fmt(t.elapsedMs / 1000)} s` : 'failed'}`,
    );
  }
  lines.push('', `tune: ${tuned.join('; ') || 'not run'}`);

  const maxPeak = Math.max(0, ...Object.values(peaks));
  lines.push(
    '',
    '| preset (bench) | batch | images/s | GOP/s | % best peak | ms per step | kernel ms per step |',
    '|---|---:|---:|---:|---:|---:|---:|',
  );
  const benches = files
    .filter((f) => /^06-bench-.+\.json$/.test(f))
    .map((f) => readJson(join(dir, f)))
    .filter((b) => b?.preset)
    .sort((x, y) => (x.preset === y.preset ? x.batch - y.batch : x.preset < y.preset ? -1 : 1));
  const any = benches.length > 0;
  for (const b of benches) {
    const kernelMs = b.kernelTiming === 'none' ? '-' : fmt(b.kernelMsPerStep);
    lines.push(
      `| ${b.preset} | ${b.batch} | ${fmt(b.imagesPerSecond, 4)} | ${fmt(b.gopsPerSecond)} | ${pct(b.gopsPerSecond, maxPeak)} | ${fmt(b.msPerStep)} | ${kernelMs} |`,
    );
  }
  if (!any) lines.push('| (not run) | | | | | | |');
  const largest = join(dir, '07-vgg8b-largest.txt');
  if (existsSync(largest)) lines.push('', readFileSync(largest, 'utf8').trim());
  const text = `${lines.join('\n')}\n`;
  writeFileSync(join(dir, 'table.md'), text);
  process.stdout.write(text);
  return 0;
}

// ---------------------------------------------------------------- main

const [command, ...args] = process.argv.slice(2);
const usage = 'usage: gpu-check.mjs peak OUT.json [--quick] | compare EXPECTED GOT | table OUTDIR';
let code = 2;
try {
  if (command === 'peak' && args[0]) code = await peak(args[0], args.includes('--quick'));
  else if (command === 'compare' && args.length === 2) code = compare(args[0], args[1]);
  else if (command === 'table' && args[0]) code = table(args[0]);
  else console.error(usage);
} catch (e) {
  console.error(`gpu-check.mjs ${command}: ${String(e?.message ?? e).split('\n')[0]}`);
  code = 1;
}
process.exitCode = code;
