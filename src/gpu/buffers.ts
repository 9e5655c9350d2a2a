/**
 * Storage and staging buffers, recycled by exact size. Training allocates every tensor once
 * up front; the pool pays off for eager use (tests, evaluation, the demo's resets).
 */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly staging = new Map<number, GPUBuffer[]>();

  constructor(private readonly device: GPUDevice) {}

  acquire(bytes: number, label: string): GPUBuffer {
    const size = Math.max(4, bytes);
    const reused = this.free.get(size)?.pop();
    if (reused) {
      // Tensors start zero-filled, recycled or not.
      this.device.queue.writeBuffer(reused, 0, new Uint8Array(size));
      return reused;
    }
    return this.device.createBuffer({
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      label,
    });
  }

  release(buffer: GPUBuffer): void {
    const list = this.free.get(buffer.size) ?? [];
    list.push(buffer);
    this.free.set(buffer.size, list);
  }

  acquireStaging(bytes: number): GPUBuffer {
    const size = Math.max(4, bytes);
    return (
      this.staging.get(size)?.pop() ??
      this.device.createBuffer({
        size,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        label: 'readback',
      })
    );
  }

  releaseStaging(buffer: GPUBuffer): void {
    const list = this.staging.get(buffer.size) ?? [];
    list.push(buffer);
    this.staging.set(buffer.size, list);
  }

  destroy(): void {
    for (const list of [...this.free.values(), ...this.staging.values()])
      for (const b of list) b.destroy();
    this.free.clear();
    this.staging.clear();
  }
}
