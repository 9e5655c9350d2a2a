/**
 * Device-side scratch of the GEMM kernels (repacked inputs, weight limbs, raw sums, sparse delta
 * lists), one buffer per role and device. Each op fills its scratch right before reading it, in
 * the same pass, so ops share a role: the linear and conv weight limbs are one.
 *
 * A dispatch binds a role, not a buffer (`ScratchRole`), and its bind group is made when it is
 * first submitted. Recording a whole training step first grows each role to exactly what its
 * largest layer needs, so one buffer per role serves every layer and device memory is that
 * need, not a trail of outgrown buffers. A buffer outgrown after a submitted program bound it
 * stays alive for that program, and stays counted.
 */
// GPUBufferUsage flags (values fixed by the WebGPU spec), spelled out so the wrappers can also
// run where no WebGPU runtime is loaded (planning.ts).
const STORAGE = 0x80;
const UNIFORM = 0x40;
const COPY_DST = 0x08;

export class ScratchRole {
  constructor(
    readonly device: GPUDevice,
    readonly role: string,
  ) {}

  /** The role's buffer now (binding it: an outgrown buffer a bind group holds stays counted). */
  bind(): GPUBuffer {
    const state = stateOf(this.device, this.role);
    state.bound = true;
    return state.buffer;
  }
}

interface RoleState {
  handle: ScratchRole;
  buffer: GPUBuffer;
  /** A bind group holds the buffer. */
  bound: boolean;
}

const byDevice = new WeakMap<GPUDevice, Map<string, RoleState>>();
/** Bytes of outgrown buffers that bind groups still hold. */
const retired = new WeakMap<GPUDevice, number>();

function rolesOf(device: GPUDevice): Map<string, RoleState> {
  let roles = byDevice.get(device);
  if (!roles) {
    roles = new Map();
    byDevice.set(device, roles);
  }
  return roles;
}

function stateOf(device: GPUDevice, role: string): RoleState {
  const state = rolesOf(device).get(role);
  if (!state) throw new Error(`scratch ${role}: no buffer on this device`);
  return state;
}

/** Bytes of the device's scratch: every role's buffer, plus outgrown ones still bound. */
export function scratchBytes(device: GPUDevice): number {
  let bytes = retired.get(device) ?? 0;
  for (const state of byDevice.get(device)?.values() ?? []) bytes += state.buffer.size;
  return bytes;
}

/** Bytes of each role's current buffer (reports and tests). */
export function scratchRoles(device: GPUDevice): Map<string, number> {
  return new Map(
    [...(byDevice.get(device) ?? new Map<string, RoleState>())].map(([role, state]) => [
      role,
      state.buffer.size,
    ]),
  );
}

/** The scratch role `role`, grown to at least `bytes`. */
export function scratch(device: GPUDevice, role: string, bytes: number): ScratchRole {
  const roles = rolesOf(device);
  const need = Math.max(16, Math.ceil(bytes / 16) * 16);
  const have = roles.get(role);
  if (have && have.buffer.size >= need) return have.handle;
  if (need > device.limits.maxStorageBufferBindingSize) {
    throw new Error(
      `scratch ${role}: ${need} bytes exceed the adapter's maxStorageBufferBindingSize (${device.limits.maxStorageBufferBindingSize})`,
    );
  }
  const buffer = device.createBuffer({ size: need, usage: STORAGE, label: `scratch ${role}` });
  if (have?.bound) retired.set(device, (retired.get(device) ?? 0) + have.buffer.size);
  else have?.buffer.destroy();
  const handle = have?.handle ?? new ScratchRole(device, role);
  roles.set(role, { handle, buffer, bound: false });
  return handle;
}

/** A small buffer for a binding the entry point names but this call neither reads nor writes. */
export function placeholder(device: GPUDevice, binding: string): ScratchRole {
  return scratch(device, `placeholder.${binding}`, 16);
}

/** The least a chunked scratch may take, however small the layer. */
const CHUNK_MIN_BYTES = 64 * 1024;

/**
 * Rows (weight rows, conv filters) per chunk when a layer's scratch of `bytes` for `rows` rows
 * may take only `budget` bytes (or CHUNK_MIN_BYTES if more): as few chunks as fit, each a whole
 * multiple of 8 rows, so no register tile or packed int8 output word straddles two chunks. With
 * `least` below 8, a layer whose chunks of 8 rows would take twice the budget or more gets
 * chunks of `least` rows instead.
 */
export function chunkRows(rows: number, bytes: number, budget: number, least = 8): number {
  const chunks = Math.ceil(bytes / Math.max(CHUNK_MIN_BYTES, budget));
  const per = Math.ceil(rows / chunks);
  return Math.min(rows, per <= least ? least : Math.ceil(per / 8) * 8);
}

const uniforms = new WeakMap<GPUDevice, Map<string, GPUBuffer>>();

/**
 * A uniform buffer holding `values` as i32 words (shapes and constants of one dispatch), shared
 * by every dispatch with the same values. Kernels take shapes this way rather than as override
 * constants, so one pipeline serves every layer.
 */
export function constants(device: GPUDevice, values: readonly number[], label: string): GPUBuffer {
  let m = uniforms.get(device);
  if (!m) {
    m = new Map();
    uniforms.set(device, m);
  }
  const key = values.join(',');
  let buffer = m.get(key);
  if (!buffer) {
    const words = new Int32Array(Math.ceil(Math.max(values.length, 1) / 4) * 4);
    values.forEach((v, i) => {
      words[i] = v | 0;
    });
    buffer = device.createBuffer({ size: words.byteLength, usage: UNIFORM | COPY_DST, label });
    device.queue.writeBuffer(buffer, 0, words);
    m.set(key, buffer);
  }
  return buffer;
}
