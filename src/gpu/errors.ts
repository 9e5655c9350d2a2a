/**
 * WebGPU reports most errors asynchronously. Everything the engine creates or submits runs
 * inside an error scope tagged with the kernel's name; the first error (or a device loss) is
 * kept and thrown from the next `sync()` or readback, so nothing fails silently.
 */

export class GpuError extends Error {
  override name = 'GpuError';
}

export class DeviceLostError extends GpuError {
  override name = 'DeviceLostError';
}

export class ErrorSink {
  private first: Error | undefined;
  private readonly pending: Promise<void>[] = [];
  lost = false;

  constructor(private readonly device: GPUDevice) {
    device.addEventListener('uncapturederror', (event) => {
      const e = (event as GPUUncapturedErrorEvent).error;
      this.record(new GpuError(`uncaptured WebGPU error: ${e.message}`));
    });
    void device.lost.then((info) => {
      this.lost = true;
      if (info.reason !== 'destroyed' || !this.destroyedOnPurpose) {
        this.record(new DeviceLostError(`GPU device lost (${info.reason}): ${info.message}`));
      }
    });
  }

  destroyedOnPurpose = false;

  record(error: Error): void {
    this.first ??= error;
  }

  /** Runs `fn` inside validation and out-of-memory scopes, attributing errors to `name`. */
  scoped<T>(name: string, fn: () => T): T {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    const result = fn();
    const check = (e: GPUError | null) => {
      if (e) this.record(new GpuError(`${name}: ${e.message}`));
    };
    this.pending.push(
      this.device.popErrorScope().then(check),
      this.device.popErrorScope().then(check),
    );
    return result;
  }

  /** Throws the first error seen so far, after all pending scopes have settled. */
  async check(): Promise<void> {
    if (this.pending.length) await Promise.all(this.pending.splice(0));
    if (this.first) throw this.first;
  }

  /** The first error without waiting (for synchronous paths). */
  throwIfFailed(): void {
    if (this.first) throw this.first;
  }
}
