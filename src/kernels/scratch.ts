/**
 * Device-side scratch buffers of the GEMM kernels (repacked inputs, weight limbs, raw sums),
 * one per role and device. Each op fills its scratch right before reading it, in the same
 * pass, so ops can share a role. A buffer that turns out too small is replaced by a larger one;
 * the old one stays alive as long as recorded programs' bind groups use it.
 */
const byDevice = new WeakMap<GPUDevice, Map<string, GPUBuffer>>();
const created = new WeakMap<GPUDevice, number>();

/** Bytes of every scratch buffer created on the device (grown-out ones included: recorded programs may still bind them). */
export function scratchBytes(device: GPUDevice): number {
  return created.get(device) ?? 0;
}

export function scratch(device: GPUDevice, role: string, bytes: number): GPUBuffer {
  let roles = byDevice.get(device);
  if (!roles) {
    roles = new Map();
    byDevice.set(device, roles);
  }
  const need = Math.max(16, Math.ceil(bytes / 16) * 16);
  const have = roles.get(role);
  if (have && have.size >= need) return have;
  // Grow geometrically so a sequence of larger layers does not allocate every time.
  const size = Math.max(need, have ? Math.min(have.size * 2, device.limits.maxStorageBufferBindingSize) : 0);
  if (size > device.limits.maxStorageBufferBindingSize) {
    throw new Error(`scratch ${role}: ${need} bytes exceed the adapter's maxStorageBufferBindingSize (${device.limits.maxStorageBufferBindingSize})`);
  }
  const buffer = device.createBuffer({ size: Math.max(need, size), usage: GPUBufferUsage.STORAGE, label: `scratch ${role}` });
  roles.set(role, buffer);
  created.set(device, scratchBytes(device) + buffer.size);
  return buffer;
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
    buffer = device.createBuffer({ size: words.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label });
    device.queue.writeBuffer(buffer, 0, words);
    m.set(key, buffer);
  }
  return buffer;
}
