/**
 * The messages between a data-parallel coordinator and its workers (over any Channel).
 *
 * worker → coordinator: `hello` (once: protocol version, backend, device), `grads` (one per
 * phase of a step: that phase's int32 gradient sums of the worker's rows, in the step's order,
 * and in phase 0 the step's metric words last), `weights` (the answer to `fetch`: the named
 * parameters, in that order), `failed` (the worker is giving up, why).
 * coordinator → worker: `init` (the model spec and every parameter by name: join, or re-sync
 * after a fault), `step` (the step's rows of the global batch: cursor, row offset, learning
 * rate, the samples packed four int8 to a word, the labels), `sums` (one per phase: the summed
 * gradients every worker applies), `fetch` (between steps: send the named parameters), `stop`.
 */
import type { Envelope } from './channel.ts';

/** The protocol a worker's hello names; the coordinator refuses another. */
export const PROTOCOL_VERSION = 2;

export type HelloHeader = {
  kind: 'hello';
  protocol: number;
  /** The worker's backend kind, e.g. "cpu" or "webgpu". */
  backend: string;
  /** Its device, for the run's header line. */
  device: string;
};

export type StepHeader = {
  kind: 'step';
  /** The coordinator's count of step attempts: replies name it. */
  id: number;
  /** The step cursor (the step's index in its epoch): keys dropout masks. */
  cursor: number;
  /** The worker's first row in the global batch and its number of rows. */
  offset: number;
  rows: number;
  lrInv: number;
};

export type GradsHeader = {
  kind: 'grads';
  id: number;
  phase: number;
};

export type SumsHeader = {
  kind: 'sums';
  id: number;
  phase: number;
};

export type InitHeader = {
  kind: 'init';
  /** The model spec (JSON). */
  spec: unknown;
  /** Parameter names, in the order of the message's arrays. */
  names: string[];
};

export type FetchHeader = {
  kind: 'fetch';
  /** Parameter names, in the order the answer's arrays take. */
  names: string[];
};

/** int8 values packed four to a little-endian word (the last word zero-padded). */
export function packInt8(values: ArrayLike<number>): Int32Array {
  const bytes = new Int8Array(Math.ceil(values.length / 4) * 4);
  bytes.set(values as ArrayLike<number>);
  return new Int32Array(bytes.buffer);
}

/** The first `count` int8 values of packed words. */
export function unpackInt8(words: Int32Array, count: number): Int8Array {
  if (count > words.length * 4)
    throw new Error(`protocol: ${words.length} words cannot hold ${count} int8 values`);
  return new Int8Array(words.buffer, words.byteOffset, count);
}

/**
 * Int32 values in memory that threads of one process can share, where the platform has it
 * (Node; a browser page only when cross-origin isolated), else ordinary memory. The exchange
 * keeps one such buffer per gradient on each side (a worker's gradient sums, the coordinator's
 * totals), so a step allocates nothing that size and a local worker thread posts no copy. They
 * are safe to share because of the step's order: a worker writes its buffer only after it got
 * the sums of its previous reply, which the coordinator sends once it has read every reply; the
 * coordinator writes its totals only once every worker has replied again, so after each has
 * taken the previous totals in (and after its own replica took them).
 */
export function sharedInt32(length: number): Int32Array {
  return typeof SharedArrayBuffer === 'function'
    ? new Int32Array(new SharedArrayBuffer(4 * length))
    : new Int32Array(length);
}

/** Whether an array lives in shared memory. */
export function isShared(a: Int32Array): boolean {
  return typeof SharedArrayBuffer === 'function' && a.buffer instanceof SharedArrayBuffer;
}

/** Payload bytes of a message (its arrays; the JSON header is small). */
export function payloadBytes(m: Envelope): number {
  let n = 0;
  for (const a of m.arrays) n += a.byteLength;
  return n;
}

/** A field of a header that must be a non-negative integer. */
export function intField(m: Envelope, field: string): number {
  const v = m.header[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new Error(
      `protocol: '${m.header.kind}' message field ${field} must be a non-negative integer, got ${JSON.stringify(v)}`,
    );
  return v;
}
