/**
 * Runs the same op on the WebGPU backend and on the CPU backend (the oracle) and compares the
 * results element by element. Used by the kernels-*.test.ts files.
 */
import type { Backend, DType, Ops, Tensor } from '../src/backend.ts';
import { cpu, expectSameElements, webgpu } from './helpers.ts';

/** One logical tensor, allocated on both backends. */
export interface Twin {
  readonly gpu: Tensor;
  readonly cpu: Tensor;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

export class Twins {
  private readonly live: Twin[] = [];

  private constructor(
    readonly gpu: Backend,
    readonly cpu: Backend,
  ) {}

  static async create(): Promise<Twins> {
    return new Twins(await webgpu(), await cpu());
  }

  /** A tensor on both backends, filled with `values` (zero-filled when omitted). */
  tensor(shape: readonly number[], dtype: DType, values?: ArrayLike<number>, label = 't'): Twin {
    const t: Twin = {
      gpu: this.gpu.tensor(shape, dtype, label),
      cpu: this.cpu.tensor(shape, dtype, label),
      shape,
      dtype,
    };
    if (values) this.write(t, values);
    this.live.push(t);
    return t;
  }

  /** A view with another shape on both backends. */
  view(t: Twin, shape: readonly number[]): Twin {
    return {
      gpu: this.gpu.view(t.gpu, shape),
      cpu: this.cpu.view(t.cpu, shape),
      shape,
      dtype: t.dtype,
    };
  }

  write(t: Twin, values: ArrayLike<number>): void {
    this.gpu.write(t.gpu, values);
    this.cpu.write(t.cpu, values);
  }

  /** Issues the same ops on both backends; `on` maps a twin to the tensor of the backend at hand. */
  run(issue: (ops: Ops, on: (t: Twin) => Tensor) => void): void {
    issue(this.gpu.ops, (t) => t.gpu);
    issue(this.cpu.ops, (t) => t.cpu);
  }

  /** Reads a twin from both backends, asserts every element equal, returns the values. */
  async expectSame(t: Twin, what: string): Promise<Int32Array> {
    const [g, c] = await Promise.all([this.gpu.read(t.gpu), this.cpu.read(t.cpu)]);
    expectSameElements(g, c, what);
    return g;
  }

  /** Frees every tensor made since the last call. */
  disposeAll(): void {
    for (const t of this.live.splice(0)) {
      this.gpu.dispose(t.gpu);
      this.cpu.dispose(t.cpu);
    }
  }
}
