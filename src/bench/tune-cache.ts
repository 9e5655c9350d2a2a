/**
 * Where tuned variant choices are kept: one JSON document of entries keyed by the adapter
 * (vendor, architecture, device, description with its driver version, runtime) and the engine
 * version (a hash of the GEMM kernels' WGSL and the variant tables), so a choice measured on
 * one adapter or an older kernel is never installed on another. The store is a small
 * interface: a file in Node and Deno (src/cli/tune-store.ts), localStorage in the browser.
 */
import { shader as convShader } from '../ops/conv/gpu.ts';
import { shader as linearShader, tiledShader as linearTiledShader } from '../ops/linear/gpu.ts';
import type { Backend } from '../backend.ts';
import { setTunedVariants } from '../gpu/variants.ts';
import { WebGPUBackend } from '../gpu/webgpu-backend.ts';
import { findVariant, GEMM_OPS, type GemmOp, variantsOf } from '../kernels/gemm-tiles.ts';
import { jsonProblemText, MAX_JSON_DEPTH, scanJson } from '../io/json.ts';
import { compactWgsl } from '../kernels/compact-wgsl.ts';

/** Reads and writes the whole cache document (text). */
export interface TuneStore {
  /** The stored text, or undefined when nothing is stored yet. */
  load(): string | undefined;
  /** Replaces the stored text. */
  save(text: string): void;
  /** Where it lives, for messages. */
  readonly where: string;
}

/** The kernel variants `nitro-d tune` chose for one adapter and engine version. */
export interface TuneEntry {
  adapter: string;
  engine: string;
  /** Shape key -> variant label. */
  choices: Record<string, string>;
  /** What was tuned, for people reading the file (e.g. "mlp1 batch 64"). */
  tuned: string[];
  savedAt: string;
}

interface TuneDocument {
  format: 'nitro-d tuned variants';
  version: 1;
  entries: Record<string, TuneEntry>;
}

function fnv1a(text: string, h = 0x811c9dc5): number {
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Changes whenever the GEMM kernels or their variant tables change. */
export function engineVersion(): string {
  // The built form: the same in a checkout (raw shader files) and in its bundle.
  let h = fnv1a(compactWgsl(linearShader.source));
  h = fnv1a(compactWgsl(convShader.source), h);
  h = fnv1a(compactWgsl(linearTiledShader.source), h);
  for (const op of GEMM_OPS)
    h = fnv1a(
      `${op}:${variantsOf(op)
        .map((v) => v.label)
        .join(',')}`,
      h,
    );
  return h.toString(16).padStart(8, '0');
}

/** The adapter identity of a WebGPU backend (undefined for the CPU backend: it has no variants). */
export function adapterKey(backend: Backend): string | undefined {
  if (!(backend instanceof WebGPUBackend)) return undefined;
  const i = backend.info;
  return [i.vendor, i.architecture, i.device, i.description, i.runtime].join(' | ');
}

/** Key of a cache entry: adapter and engine version. */
export function cacheKey(adapter: string, engine = engineVersion()): string {
  return `${adapter} @ ${engine}`;
}

function parse(store: TuneStore): TuneDocument {
  const empty: TuneDocument = { format: 'nitro-d tuned variants', version: 1, entries: {} };
  const text = store.load();
  if (text === undefined || text.trim() === '') return empty;
  const problem = scanJson(text, MAX_JSON_DEPTH);
  if (problem) throw new Error(`tuned variants ${store.where}: ${jsonProblemText(problem)}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `tuned variants ${store.where}: not JSON (${(e as Error).message.split('\n')[0]})`,
    );
  }
  const d = doc as Partial<TuneDocument>;
  if (
    d?.format !== empty.format ||
    d.version !== 1 ||
    typeof d.entries !== 'object' ||
    d.entries === null
  ) {
    throw new Error(
      `tuned variants ${store.where}: not a version 1 'nitro-d tuned variants' document`,
    );
  }
  return d as TuneDocument;
}

/** Only labels the variant tables still know (shape key "op:dims"). */
function valid(choices: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, label] of Object.entries(choices)) {
    const op = key.split(':')[0] as GemmOp;
    if (GEMM_OPS.includes(op) && typeof label === 'string' && findVariant(op, label))
      out[key] = label;
  }
  return out;
}

/** The entry for this adapter and engine, if any. */
export function loadTuned(store: TuneStore, adapter: string): TuneEntry | undefined {
  const entry = parse(store).entries[cacheKey(adapter)];
  if (!entry || typeof entry.choices !== 'object' || entry.choices === null) return undefined;
  return { ...entry, choices: valid(entry.choices) };
}

/** Merges choices into this adapter's entry (newer choices win per shape) and writes the store. */
export function saveTuned(
  store: TuneStore,
  adapter: string,
  choices: Record<string, string>,
  what: string,
): TuneEntry {
  const doc = parse(store);
  const key = cacheKey(adapter);
  const before = doc.entries[key];
  const entry: TuneEntry = {
    adapter,
    engine: engineVersion(),
    choices: { ...(before ? valid(before.choices) : {}), ...valid(choices) },
    tuned: [...new Set([...(before?.tuned ?? []), what])],
    savedAt: new Date().toISOString(),
  };
  doc.entries[key] = entry;
  store.save(`${JSON.stringify(doc, null, 2)}\n`);
  return entry;
}

/**
 * Removes every entry of `adapter` (this engine version's and older ones) and writes the store;
 * returns how many there were. Entries of other adapters stay.
 */
export function forgetTuned(store: TuneStore, adapter: string): number {
  const doc = parse(store);
  const keys = Object.keys(doc.entries).filter(
    (k) => doc.entries[k]?.adapter === adapter || k === cacheKey(adapter),
  );
  if (!keys.length) return 0;
  for (const k of keys) delete doc.entries[k];
  store.save(`${JSON.stringify(doc, null, 2)}\n`);
  return keys.length;
}

/**
 * Installs the cached choices for `backend`'s adapter (setTunedVariants); returns how many
 * shapes they cover (0 when there is no entry or the backend has no variants). Programs
 * recorded afterwards use them.
 */
export function installTuned(store: TuneStore, backend: Backend): number {
  const adapter = adapterKey(backend);
  if (!adapter) return 0;
  const entry = loadTuned(store, adapter);
  if (!entry) return 0;
  setTunedVariants(backend, entry.choices);
  return Object.keys(entry.choices).length;
}

/** A store in the browser's localStorage (or any object with the same two methods). */
export function localStorageStore(
  storage: { getItem(key: string): string | null; setItem(key: string, value: string): void } = (
    globalThis as unknown as { localStorage: Storage }
  ).localStorage,
  key = 'nitro-d.tuned-variants',
): TuneStore {
  return {
    where: `localStorage['${key}']`,
    load: () => storage.getItem(key) ?? undefined,
    save: (text) => storage.setItem(key, text),
  };
}
