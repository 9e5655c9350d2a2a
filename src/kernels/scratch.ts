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
    readonly owner: DeviceScratch,
    readonly role: string,
  ) {}

  /** The role's buffer now (binding it: an outgrown buffer a bind group holds stays counted). */
  bind(): GPUBuffer {
    return this.owner.bind(this.role);
  }
}

interface RoleState {
  handle: ScratchRole;
  buffer: GPUBuffer;
  /** A bind group holds the buffer. */
  bound: boolean;
}

/**
 * One backend's kernel scratch and uniform constants on its device (two backends, even on one
 * device, share neither).
 */
export class DeviceScratch {
  private readonly states = new Map<string, RoleState>();
  /** Bytes of outgrown buffers that bind groups still hold. */
  private retired = 0;
  private readonly uniforms = new Map<string, GPUBuffer>();

  /** `bindingLimit`: the largest buffer a role may take (default: the device's maxStorageBufferBindingSize). */
  constructor(
    readonly device: GPUDevice,
    readonly bindingLimit = device.limits.maxStorageBufferBindingSize,
  ) {}

  bind(role: string): GPUBuffer {
    const state = this.states.get(role);
    if (!state) throw new Error(`scratch ${role}: no buffer on this device`);
    state.bound = true;
    return state.buffer;
  }

  /** Bytes of the scratch: every role's buffer, plus outgrown ones still bound. */
  bytes(): number {
    let bytes = this.retired;
    for (const state of this.states.values()) bytes += state.buffer.size;
    return bytes;
  }

  /** Bytes of each role's current buffer (reports and tests). */
  roles(): Map<string, number> {
    return new Map([...this.states].map(([role, state]) => [role, state.buffer.size]));
  }

  /** The scratch role `role`, grown to at least `bytes`. */
  role(role: string, bytes: number): ScratchRole {
    const device = this.device;
    const need = Math.max(16, Math.ceil(bytes / 16) * 16);
    const have = this.states.get(role);
    if (have && have.buffer.size >= need) return have.handle;
    if (need > this.bindingLimit) {
      throw new Error(
        `scratch ${role}: ${need} bytes exceed the adapter's maxStorageBufferBindingSize (${this.bindingLimit})`,
      );
    }
    const buffer = device.createBuffer({ size: need, usage: STORAGE, label: `scratch ${role}` });
    if (have?.bound) this.retired += have.buffer.size;
    else have?.buffer.destroy();
    const handle = have?.handle ?? new ScratchRole(this, role);
    this.states.set(role, { handle, buffer, bound: false });
    return handle;
  }

  /** A small buffer for a binding the entry point names but this call neither reads nor writes. */
  placeholder(binding: string): ScratchRole {
    return this.role(`placeholder.${binding}`, 16);
  }

  /**
   * A uniform buffer holding `values` as i32 words (shapes and constants of one dispatch), shared
   * by every dispatch with the same values. Kernels take shapes this way rather than as override
   * constants, so one pipeline serves every layer.
   */
  constants(values: readonly number[], label: string): GPUBuffer {
    const key = values.join(',');
    let buffer = this.uniforms.get(key);
    if (!buffer) {
      const words = new Int32Array(Math.ceil(Math.max(values.length, 1) / 4) * 4);
      values.forEach((v, i) => {
        words[i] = v | 0;
      });
      buffer = this.device.createBuffer({
        size: words.byteLength,
        usage: UNIFORM | COPY_DST,
        label,
      });
      this.device.queue.writeBuffer(buffer, 0, words);
      this.uniforms.set(key, buffer);
    }
    return buffer;
  }
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
