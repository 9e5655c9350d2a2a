/**
 * The bytes a NATS channel sends: an envelope as one binary message (JSON header + int32
 * arrays, little-endian on every host, no floats), and the frames that carry a message in
 * chunks no larger than the server's payload limit, with sequence numbers for acks and
 * retransmission. Pure functions: the channel in nats.ts owns the state.
 */
import type { Envelope } from './channel.ts';

/** "NDPF" as a little-endian u32: every frame starts with it, so stray messages are told apart. */
export const FRAME_MAGIC = 0x4650444e;
/** Bytes before a DATA frame's chunk. */
export const DATA_HEADER_BYTES = 24;
/** An ACK frame's size. */
export const ACK_BYTES = 16;
/** Control frames (join handshake) carry small JSON; anything larger is malformed. */
export const MAX_CONTROL_BYTES = 64 * 1024;

export const FRAME_DATA = 1;
export const FRAME_ACK = 2;
export const FRAME_CONTROL = 3;
/** DATA flag: the sender closed the channel; the frame has no chunk. */
export const FLAG_FIN = 1;

/** Host byte order: the int32 payloads are copied as bytes when it is little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Parsed frame; chunk and control bytes are views into the received message. */
export type Frame =
  | { type: 'data'; seq: number; fin: boolean; total: number; offset: number; chunk: Uint8Array }
  | { type: 'ack'; next: number }
  | { type: 'control'; body: Record<string, unknown> };

/** Bytes of an envelope's encoding (without building it). */
export function envelopeBytes(message: Envelope): number {
  const header = new TextEncoder().encode(JSON.stringify(message.header)).length;
  let n = 8 + 4 * message.arrays.length + pad4(header);
  for (const a of message.arrays) n += a.byteLength;
  return n;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * u32 header bytes, u32 array count, u32 element count per array, the UTF-8 JSON header padded
 * to 4 bytes, then each array's int32 elements, little-endian.
 */
export function encodeEnvelope(message: Envelope): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify(message.header));
  const count = message.arrays.length;
  let total = 8 + 4 * count + pad4(header.length);
  for (const a of message.arrays) total += a.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, header.length, true);
  view.setUint32(4, count, true);
  for (let i = 0; i < count; i++) view.setUint32(8 + 4 * i, message.arrays[i].length, true);
  let at = 8 + 4 * count;
  out.set(header, at);
  at += pad4(header.length);
  for (const a of message.arrays) {
    if (LITTLE_ENDIAN) out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    else for (let i = 0; i < a.length; i++) view.setInt32(at + 4 * i, a[i], true);
    at += a.byteLength;
  }
  return out;
}

/**
 * Decodes what encodeEnvelope made. Throws a one-line Error on any inconsistency; `bytes` is
 * read in place on little-endian hosts when it starts at a 4-byte boundary (the arrays are
 * views into it), so the caller hands over a buffer it no longer writes.
 */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  if (bytes.length < 8) throw new Error(`message of ${bytes.length} bytes is shorter than 8`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerBytes = view.getUint32(0, true);
  const count = view.getUint32(4, true);
  if (count > (bytes.length - 8) / 4)
    throw new Error(`message declares ${count} arrays in ${bytes.length} bytes`);
  let at = 8 + 4 * count;
  if (headerBytes > bytes.length - at)
    throw new Error(`message declares a ${headerBytes}-byte header in ${bytes.length} bytes`);
  const lengths: number[] = [];
  let data = 0;
  for (let i = 0; i < count; i++) {
    const n = view.getUint32(8 + 4 * i, true);
    lengths.push(n);
    data += 4 * n;
  }
  const expected = at + pad4(headerBytes) + data;
  if (expected !== bytes.length)
    throw new Error(`message is ${bytes.length} bytes, its fields add up to ${expected}`);
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(at, at + headerBytes)),
    );
  } catch (e) {
    throw new Error(`message header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw new Error('message header is not a JSON object');
  if (typeof (header as { kind?: unknown }).kind !== 'string')
    throw new Error('message header has no string "kind"');
  at += pad4(headerBytes);
  const arrays: Int32Array[] = [];
  const inPlace = LITTLE_ENDIAN && (bytes.byteOffset & 3) === 0;
  for (const n of lengths) {
    if (inPlace) arrays.push(new Int32Array(bytes.buffer, bytes.byteOffset + at, n));
    else {
      const a = new Int32Array(n);
      for (let i = 0; i < n; i++) a[i] = view.getInt32(at + 4 * i, true);
      arrays.push(a);
    }
    at += 4 * n;
  }
  return { header: header as Envelope['header'], arrays };
}

/** A sequence number as two u32 words: exact up to 2^53, far past any run's frame count. */
function setSeq(view: DataView, at: number, seq: number): void {
  view.setUint32(at, seq % 0x100000000, true);
  view.setUint32(at + 4, Math.floor(seq / 0x100000000), true);
}

function getSeq(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 0x100000000;
}

/** magic, type u8, flags u8, 2 bytes zero, seq u64, message bytes u32, chunk offset u32, chunk. */
export function dataFrame(
  seq: number,
  total: number,
  offset: number,
  chunk: Uint8Array,
  fin = false,
): Uint8Array {
  const out = new Uint8Array(DATA_HEADER_BYTES + chunk.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, FRAME_MAGIC, true);
  out[4] = FRAME_DATA;
  out[5] = fin ? FLAG_FIN : 0;
  setSeq(view, 8, seq);
  view.setUint32(16, total, true);
  view.setUint32(20, offset, true);
  out.set(chunk, DATA_HEADER_BYTES);
  return out;
}

/** magic, type u8, 3 bytes zero, 4 bytes zero, the next sequence number expected (u64). */
export function ackFrame(next: number): Uint8Array {
  const out = new Uint8Array(ACK_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, FRAME_MAGIC, true);
  out[4] = FRAME_ACK;
  setSeq(view, 8, next);
  return out;
}

/** magic, type u8, 3 bytes zero, then a UTF-8 JSON object. */
export function controlFrame(body: Record<string, unknown>): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(body));
  const out = new Uint8Array(8 + json.length);
  new DataView(out.buffer).setUint32(0, FRAME_MAGIC, true);
  out[4] = FRAME_CONTROL;
  out.set(json, 8);
  return out;
}

/** Parses one NATS message; throws a one-line Error saying what is wrong with it. */
export function parseFrame(bytes: Uint8Array): Frame {
  if (bytes.length < 8) throw new Error(`frame of ${bytes.length} bytes is shorter than 8`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== FRAME_MAGIC) throw new Error('not a nitro-d frame (bad magic)');
  const type = bytes[4];
  if (type === FRAME_DATA) {
    if (bytes.length < DATA_HEADER_BYTES)
      throw new Error(`data frame of ${bytes.length} bytes is shorter than ${DATA_HEADER_BYTES}`);
    const fin = (bytes[5] & FLAG_FIN) !== 0;
    const total = view.getUint32(16, true);
    const offset = view.getUint32(20, true);
    const chunk = bytes.subarray(DATA_HEADER_BYTES);
    if (fin && (chunk.length !== 0 || total !== 0)) throw new Error('closing frame carries data');
    if (offset > total || chunk.length > total - offset)
      throw new Error(`chunk [${offset}, +${chunk.length}) overruns its ${total}-byte message`);
    if (!fin && chunk.length === 0) throw new Error('data frame with an empty chunk');
    return { type: 'data', seq: getSeq(view, 8), fin, total, offset, chunk };
  }
  if (type === FRAME_ACK) {
    if (bytes.length !== ACK_BYTES)
      throw new Error(`ack frame is ${bytes.length} bytes, not ${ACK_BYTES}`);
    return { type: 'ack', next: getSeq(view, 8) };
  }
  if (type === FRAME_CONTROL) {
    if (bytes.length > 8 + MAX_CONTROL_BYTES)
      throw new Error(`control frame of ${bytes.length} bytes is over ${MAX_CONTROL_BYTES}`);
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8)));
    } catch (e) {
      throw new Error(`control frame is not UTF-8 JSON (${(e as Error).message})`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new Error('control frame is not a JSON object');
    return { type: 'control', body: body as Record<string, unknown> };
  }
  throw new Error(`unknown frame type ${type}`);
}
