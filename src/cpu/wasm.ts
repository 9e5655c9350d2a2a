/**
 * The CPU backend's WebAssembly SIMD kernels: kernels.wat, assembled at build time into
 * kernels.wasm.ts (scripts/build-kernels.ts), instantiated here on a memory the caller gives or
 * a new one. kernels.wat documents each kernel; gemm.ts has a JavaScript twin of every kernel for
 * runtimes without WebAssembly SIMD. All arguments are byte offsets, strides or counts.
 */
import type { CnnKernels } from './cnn-kernels.ts';
import { KERNELS_SHARED_WASM, KERNELS_WASM } from './kernels.wasm.ts';

export type Axpy = (
  a: number,
  aM: number,
  aR: number,
  b: number,
  rowT: number,
  panelT: number,
  c: number,
  cM: number,
  m0: number,
  m1: number,
  P: number,
  R: number,
  accumulate: number,
) => void;

export type CopyRows = (
  src: number,
  dst: number,
  outer: number,
  oSrc: number,
  oDst: number,
  inner: number,
  iSrc: number,
  iDst: number,
  bytes: number,
) => void;

export type Dot16 = (
  pT: number,
  p: number,
  qLo: number,
  qHi: number,
  qRow: number,
  c: number,
  cP: number,
  cQ: number,
  m0: number,
  m1: number,
  N: number,
  I: number,
  J: number,
  pI: number,
  qI: number,
  accumulate: number,
) => void;
export type Split16 = (
  src: number,
  srcRow: number,
  lo: number,
  hi: number,
  dstRow: number,
  rows: number,
  chunks: number,
) => void;

export type PairRows = (
  src: number,
  srcRow: number,
  dst: number,
  dstRow: number,
  pairs: number,
  chunks: number,
) => void;

export type PackW = (
  src: number,
  srcRow: number,
  dst: number,
  blocks: number,
  chunks: number,
  half: number,
  list: number,
  cap: number,
) => number;
export type Sgd = (
  w: number,
  g: number,
  start: number,
  end: number,
  d: number,
  m: number,
  s: number,
  dDecay: number,
  mDecay: number,
  sDecay: number,
) => void;
export type Dot4 = (
  x: number,
  xRow: number,
  segs: number,
  segStride: number,
  w: number,
  c: number,
  cRow: number,
  b0: number,
  b1: number,
  blocks: number,
  chunks: number,
  accumulate: number,
  shift: number,
) => void;
export type FixLinear = (
  list: number,
  n: number,
  x: number,
  xRow: number,
  c: number,
  cRow: number,
  b0: number,
  b1: number,
) => void;
export type PackG = (
  g: number,
  gRow: number,
  O: number,
  pairs: number,
  lo: number,
  hi: number,
  dstRow: number,
  list: number,
  cap: number,
) => number;
export type Wgrad = (
  xp: number,
  xpRow: number,
  gp: number,
  gpRow: number,
  c: number,
  cRow: number,
  o0: number,
  o1: number,
  tiles: number,
  pairs: number,
  accumulate: number,
  shift: number,
) => void;
export type FixWgrad = (
  list: number,
  n: number,
  x: number,
  xRow: number,
  c: number,
  cRow: number,
  o0: number,
  o1: number,
  tiles: number,
) => void;

export type Scale8 = (
  c: number,
  cRow: number,
  bias: number,
  hasBias: number,
  out: number,
  rows: number,
  cols: number,
  d: number,
  m: number,
  s: number,
) => void;

export type Relu8 = (
  src: number,
  dst: number,
  n: number,
  slope: number,
  m: number,
  s: number,
  c: number,
) => void;

export type ReluBack = (
  d: number,
  dRow: number,
  x: number,
  xRow: number,
  rows: number,
  cols: number,
  slope: number,
  m: number,
  s: number,
) => void;

/** Bytes of one hi-correction list entry of packW and packG (three int32). */
export const LIST_ENTRY = 12;

export interface Kernels extends CnnKernels {
  readonly packW: PackW;
  readonly dot4: Dot4;
  readonly fixLinear: FixLinear;
  readonly packG: PackG;
  readonly wgrad: Wgrad;
  readonly fixWgrad: FixWgrad;
  readonly sgd: Sgd;
  readonly scale8: Scale8;
  readonly relu8: Relu8;
  readonly reluBack: ReluBack;
  readonly pairRows: PairRows;
  readonly axpy32: Axpy;
  readonly axpy8: Axpy;
  readonly dot16: Dot16;
  readonly split16: Split16;
  readonly copyRows: CopyRows;
}

export interface SimdKernels extends Kernels {
  /** The memory the kernels address (imported: shared when several instances use it). */
  readonly memory: WebAssembly.Memory;
  /** peak(n): n rounds of 64 multiply-adds in registers (the bench's per-core ceiling). */
  readonly peak: (n: number) => number;
}

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** The module's bytes for a plain or shared memory. */
export function kernelModuleBytes(shared = false): Uint8Array<ArrayBuffer> {
  return decode(shared ? KERNELS_SHARED_WASM : KERNELS_WASM);
}

function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer === 'function' && memory.buffer instanceof SharedArrayBuffer;
}

/** The module's bytes where WebAssembly and its SIMD extension are there, else null. */
function validBytes(shared: boolean): Uint8Array<ArrayBuffer> | null {
  if (typeof WebAssembly !== 'object') return null;
  try {
    const bytes = kernelModuleBytes(shared);
    return WebAssembly.validate(bytes) ? bytes : null;
  } catch {
    return null;
  }
}

/** A compiled kernel module, for a plain or a shared memory (compileKernelModule). */
export interface KernelModule {
  readonly module: WebAssembly.Module;
  readonly shared: boolean;
}

/**
 * The kernels instantiated on `memory` (a new plain one of one page when omitted; a shared
 * memory needs the module compiled with shared true).
 */
export function instantiateKernels(
  compiled: KernelModule,
  memory: WebAssembly.Memory = new WebAssembly.Memory({ initial: 1 }),
): SimdKernels {
  if (isShared(memory) !== compiled.shared)
    throw new Error(
      `instantiateKernels: the module imports a ${compiled.shared ? 'shared' : 'plain'} memory, the memory given is ${isShared(memory) ? 'shared' : 'plain'}`,
    );
  const instance = new WebAssembly.Instance(compiled.module, { env: { memory } });
  return { ...(instance.exports as unknown as Omit<SimdKernels, 'memory'>), memory };
}

/**
 * The kernel module compiled synchronously, or null where WebAssembly or its SIMD extension is
 * missing, a content security policy forbids compiling, or the runtime compiles only
 * asynchronously (browsers' main threads refuse modules over 4 KB: use compileKernelModuleAsync).
 */
export function compileKernelModule(shared = false): KernelModule | null {
  const bytes = validBytes(shared);
  if (!bytes) return null;
  try {
    return { module: new WebAssembly.Module(bytes), shared };
  } catch {
    return null;
  }
}

/** compileKernelModule with WebAssembly.compile, which every runtime allows. */
export async function compileKernelModuleAsync(shared = false): Promise<KernelModule | null> {
  const bytes = validBytes(shared);
  if (!bytes) return null;
  try {
    return { module: await WebAssembly.compile(bytes), shared };
  } catch {
    return null;
  }
}

/** A new instance of the kernels on a plain memory of its own, compiled synchronously, or null. */
export function compileSimdKernels(): SimdKernels | null {
  const compiled = compileKernelModule();
  return compiled ? instantiateKernels(compiled) : null;
}

/** compileSimdKernels, compiled asynchronously. */
export async function compileSimdKernelsAsync(): Promise<SimdKernels | null> {
  const compiled = await compileKernelModuleAsync();
  return compiled ? instantiateKernels(compiled) : null;
}
