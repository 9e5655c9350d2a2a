/**
 * A backend that keeps only shapes. Recording runs the build and collects the op calls instead
 * of running them, and every tensor allocation is listed, so the real network code can be
 * traced without a device: for the memory plan, the tuner's op shapes, and (with the WebGPU
 * kernel wrappers as its ops) the kernels' scratch.
 */
import type { Backend, DType, Ops, Program, Tensor } from '../backend.ts';
import { deviceBytes } from '../backend.ts';

export interface Allocation {
  label: string;
  shape: readonly number[];
  dtype: DType;
  bytes: number;
}

export class ShapeBackend implements Backend {
  readonly kind = 'cpu' as const;
  readonly description = 'shapes only';
  /** Op calls made through `ops`, in order. */
  readonly calls: { op: string; params: unknown }[] = [];
  /** Tensors allocated (views excluded), in order. */
  readonly allocations: Allocation[] = [];
  readonly ops: Ops;

  /** `inner`: ops to pass each call on to after collecting it (e.g. kernel wrappers that only size scratch). */
  constructor(inner?: Ops) {
    this.ops = new Proxy({} as Ops, {
      get: (_, op) => (params: unknown) => {
        this.calls.push({ op: String(op), params });
        if (inner) (inner[op as keyof Ops] as (p: unknown) => void)(params);
      },
    });
  }

  tensor(shape: readonly number[], dtype: DType, label: string): Tensor {
    this.allocations.push({ label, shape: [...shape], dtype, bytes: deviceBytes(shape, dtype) });
    return { shape: [...shape], dtype, label, size: shape.reduce((a, b) => a * b, 1) };
  }

  view(t: Tensor, shape: readonly number[], label?: string): Tensor {
    return {
      shape: [...shape],
      dtype: t.dtype,
      label: label ?? t.label,
      size: shape.reduce((a, b) => a * b, 1),
    };
  }

  write(): void {}

  read(t: Tensor): Promise<Int32Array> {
    return Promise.resolve(new Int32Array(t.size));
  }

  dispose(): void {}

  record(label: string, build: (ops: Ops) => void): Program {
    build(this.ops);
    return { label } as Program;
  }

  run(): void {}

  sync(): Promise<void> {
    return Promise.resolve();
  }

  bytesInUse(): number {
    return 0;
  }

  destroy(): void {}
}
