/**
 * Storage traffic of the GEMM kernels: bytes read from and written to storage buffers by one
 * call of an op (every dispatch it issues) with one variant at one shape, beside its
 * multiply-adds. It is the figure that can be known without the GPU it is meant for: a kernel
 * that reads each operand once per workgroup tile instead of once per invocation reads less
 * per multiply-add on every adapter.
 *
 * Two sources, checked against each other by test/traffic.test.ts:
 * - a model per op family (src/ops/<family>/traffic.ts): a formula from the shape, the
 *   variant's tile parameters and the data-dependent facts of the call (`TrafficCase`);
 * - a count: `countedSource` rewrites a shader so that every storage load and store adds its
 *   bytes to an atomic counter in an extra binding, and the WebGPU backend's `countTraffic`
 *   runs ops with such pipelines on the current adapter.
 * The benchmark (`nitro-d bench-kernels --traffic`) reports the models: counting with atomics
 * is far too slow for the paper's shapes, and its 32-bit counters would wrap there.
 */

/** Storage traffic of one op call. */
export interface Traffic {
  readBytes: number;
  writeBytes: number;
  /** Multiply-adds the call computes (the GEMM's B·O·K, or the conv's). */
  macs: number;
}

/** Bytes per multiply-add (NaN-free: 0 when there are none). */
export function perMac(t: Traffic): { read: number; write: number } {
  return t.macs > 0
    ? { read: t.readBytes / t.macs, write: t.writeBytes / t.macs }
    : { read: 0, write: 0 };
}

/**
 * The facts of a call that change its traffic beside the shape and the variant. Every field is
 * optional; a model documents its defaults (those of the kernel benchmark's calls).
 */
export interface TrafficCase {
  /** int8 limbs the weights need (the dot4 paths read one limb plane per limb; default 1). */
  limbs?: number;
  /** The gradient operand (linear g, conv delta) is packed int8 (default false: int32). */
  gPacked?: boolean;
  /** Forward epilogue: raw int32 sums, NITRO-scaled int8, or scaled plus NITRO-ReLU. */
  epilogue?: 'raw' | 'scaled' | 'relu';
  /** The forward adds a bias. */
  bias?: boolean;
  /** Weight gradient fused with the IntegerSGD update (true) or written as raw sums. */
  sgd?: boolean;
  /** Input gradient with NITRO-ReLU's backward applied in the store. */
  relu?: boolean;
  /** Sparse conv weight gradient: the non-zero pixels per (sample, filter) map. */
  nonZeroPerMap?: number;
}

/**
 * A family's traffic model: the traffic of one call of `op` with `params` (a variant's, see
 * gemm-tiles.ts) at `dims` (the dimensions the variant policy sees, gemm-tiles.ts shapeKey).
 */
export type TrafficModel = (
  op: string,
  dims: readonly number[],
  params: Readonly<Record<string, number>>,
  c: TrafficCase,
) => Traffic;

/** Name of the counter binding `countedSource` adds. */
export const TRAFFIC_BINDING = 'nitro_traffic';

/** A storage binding of a counted shader: counters 2i (bytes read) and 2i + 1 (written). */
export interface CountedBinding {
  name: string;
  index: number;
  elementBytes: number;
}

/** A shader rewritten to count its storage traffic. */
export interface CountedShader {
  source: string;
  bindings: CountedBinding[];
  /** Binding number of the counter array (group 0). */
  counterBinding: number;
}

/** Counted bytes of one binding or of a whole count. */
export interface CountedBytes {
  readBytes: number;
  writeBytes: number;
}

/** What `countTraffic` measured: totals and bytes per `family.binding`. */
export interface TrafficCount extends CountedBytes {
  byBinding: Record<string, CountedBytes>;
}

const DECL =
  /@group\(0\)\s*@binding\((\d+)\)\s*var<storage,\s*(?:read|read_write)>\s*(\w+)\s*:\s*array<(.+?)>\s*;/g;

function elementBytes(type: string, name: string): number {
  const t = type.replace(/\s+/g, '');
  if (/^(u32|i32|f32)$/.test(t)) return 4;
  const v = t.match(/^vec([234])<(u32|i32|f32)>$/);
  if (v) return Number(v[1]) * 4;
  throw new Error(`countedSource: storage array ${name} of ${type} is not counted`);
}

/** Index just past the bracket matching the one at `open`. */
function closing(text: string, open: number, name: string): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '[') depth++;
    else if (text[i] === ']' && --depth === 0) return i + 1;
  }
  throw new Error(`countedSource: unbalanced index of ${name}`);
}

/** Function texts: from `fn` to the brace closing its body. */
function functions(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\bfn\s+\w+\s*\(/g)) {
    const open = text.indexOf('{', m.index);
    if (open < 0) break;
    let depth = 0;
    for (let i = open; i < text.length; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}' && --depth === 0) {
        out.push(text.slice(m.index, i + 1));
        break;
      }
    }
  }
  return out;
}

/** A function whose parameter or local is named like a storage array must not index that name. */
function checkShadowing(text: string, bindings: readonly CountedBinding[]): void {
  for (const f of functions(text))
    for (const { name } of bindings)
      if (
        new RegExp(`\\b(let|var|const)\\s+${name}\\b|[(,]\\s*${name}\\s*:`).test(f) &&
        new RegExp(`(?<![\\w.])${name}\\s*\\[`).test(f)
      )
        throw new Error(`countedSource: a local or parameter shadows storage array ${name}`);
}

/**
 * `source` with every load and store of a storage array counted: a load `x[i]` becomes a call
 * that adds the element's bytes to counter 2k and returns the element, a store `x[i] = v` is
 * preceded by one that adds them to counter 2k + 1 (a compound assignment counts both). Line comments are dropped first. Refuses what it cannot count
 * exactly: a local or parameter that shadows a storage array, a store inside an expression,
 * a pointer to an element (atomics: no GEMM kernel uses them).
 */
export function countedSource(source: string): CountedShader {
  const text = source.replace(/\/\/[^\n]*/g, '');
  const bindings: CountedBinding[] = [];
  let maxBinding = -1;
  for (const m of text.matchAll(/@binding\((\d+)\)/g))
    maxBinding = Math.max(maxBinding, Number(m[1]));
  const declSpans: [number, number][] = [];
  for (const m of text.matchAll(DECL)) {
    const name = m[2];
    bindings.push({ name, index: bindings.length, elementBytes: elementBytes(m[3], name) });
    declSpans.push([m.index, m.index + m[0].length]);
  }
  checkShadowing(text, bindings);
  const byName = new Map(bindings.map((b) => [b.name, b]));
  const counterBinding = maxBinding + 1;
  const pattern = new RegExp(`(?<![\\w.])(${bindings.map((b) => b.name).join('|')})\\s*\\[`, 'g');

  const rewrite = (part: string): string => {
    if (bindings.length === 0) return part;
    let out = '';
    let at = 0;
    pattern.lastIndex = 0;
    for (let m = pattern.exec(part); m; m = pattern.exec(part)) {
      const b = byName.get(m[1])!;
      const open = m.index + m[0].length - 1;
      const end = closing(part, open, b.name);
      const index = rewrite(part.slice(open + 1, end - 1));
      const after = part.slice(end).match(/^\s*([-+*/%&|^]|<<|>>)?=(?!=)/);
      const before = part.slice(0, m.index);
      const pointer = /(?<!&)&\s*$/.test(before);
      const c = `${TRAFFIC_BINDING}[${2 * b.index}u]`;
      const w = `${TRAFFIC_BINDING}[${2 * b.index + 1}u]`;
      const n = `${b.elementBytes}u`;
      if (pointer) {
        throw new Error(`countedSource: a pointer to an element of ${b.name} is not counted`);
      } else if (after) {
        if (!/(^|[{};])\s*$/.test(before))
          throw new Error(`countedSource: a store to ${b.name} inside an expression`);
        const count = after[1]
          ? `atomicAdd(&${c}, ${n}); atomicAdd(&${w}, ${n}); `
          : `atomicAdd(&${w}, ${n}); `;
        out += `${part.slice(at, m.index)}${count}${b.name}[${index}]`;
        at = end;
      } else {
        out += `${part.slice(at, m.index)}nitro_load_${b.name}(${index})`;
        at = end;
      }
      pattern.lastIndex = end;
    }
    return out + part.slice(at);
  };

  // Declarations stay as they are; everything between them is rewritten.
  let body = '';
  let at = 0;
  for (const [s, e] of declSpans) {
    body += rewrite(text.slice(at, s)) + text.slice(s, e);
    at = e;
  }
  body += rewrite(text.slice(at));
  const types = new Map<string, string>();
  for (const m of text.matchAll(DECL)) types.set(m[2], m[3]);
  const helpers = bindings.map(
    (b) =>
      `fn nitro_load_${b.name}(i: u32) -> ${types.get(b.name)} {\n` +
      `  atomicAdd(&${TRAFFIC_BINDING}[${2 * b.index}u], ${b.elementBytes}u);\n` +
      `  return ${b.name}[i];\n}`,
  );
  const counter = `@group(0) @binding(${counterBinding}) var<storage, read_write> ${TRAFFIC_BINDING}: array<atomic<u32>>;`;
  return {
    source: [body, counter, ...helpers].join('\n'),
    bindings,
    counterBinding,
  };
}

/** Bytes of a counter buffer's contents (2 u32 per binding), per binding name. */
export function countedBytes(
  shader: CountedShader,
  counters: Uint32Array,
  prefix: string,
  into: TrafficCount,
): void {
  for (const b of shader.bindings) {
    const readBytes = counters[2 * b.index] ?? 0;
    const writeBytes = counters[2 * b.index + 1] ?? 0;
    if (readBytes === 0 && writeBytes === 0) continue;
    const key = `${prefix}.${b.name}`;
    const prev = into.byBinding[key] ?? { readBytes: 0, writeBytes: 0 };
    into.byBinding[key] = {
      readBytes: prev.readBytes + readBytes,
      writeBytes: prev.writeBytes + writeBytes,
    };
    into.readBytes += readBytes;
    into.writeBytes += writeBytes;
  }
}
