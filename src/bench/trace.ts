/**
 * A backend that passes everything through to another one and remembers the op calls of each
 * recorded program, so a benchmark can count their cost and replay every call on its own.
 */
import type { Backend, DType, Ops, Program, Tensor } from '../backend.ts';
import type { OpName } from './cost.ts';

export interface OpCall {
  op: OpName;
  params: unknown;
}

export class TracingBackend implements Backend {
  readonly kind: Backend['kind'];
  readonly description: string;
  /** Op calls of every program recorded through this backend. */
  readonly traces = new Map<Program, OpCall[]>();

  constructor(readonly inner: Backend) {
    this.kind = inner.kind;
    this.description = inner.description;
  }

  get ops(): Ops {
    return this.inner.ops;
  }

  tensor(shape: readonly number[], dtype: DType, label: string): Tensor {
    return this.inner.tensor(shape, dtype, label);
  }

  view(t: Tensor, shape: readonly number[], label?: string): Tensor {
    return this.inner.view(t, shape, label);
  }

  write(t: Tensor, values: ArrayLike<number>): void {
    this.inner.write(t, values);
  }

  read(t: Tensor): Promise<Int32Array> {
    return this.inner.read(t);
  }

  dispose(t: Tensor): void {
    this.inner.dispose(t);
  }

  record(label: string, build: (ops: Ops) => void): Program {
    const calls: OpCall[] = [];
    const program = this.inner.record(label, (ops) => {
      const traced = {} as Record<OpName, (p: unknown) => void>;
      for (const op of Object.keys(ops) as OpName[]) {
        const fn = ops[op] as (p: unknown) => void;
        traced[op] = (params: unknown) => {
          calls.push({ op, params });
          fn(params);
        };
      }
      build(traced as unknown as Ops);
    });
    this.traces.set(program, calls);
    return program;
  }

  /** Records one traced call again as a program of its own. */
  recordCall(call: OpCall): Program {
    return this.inner.record(call.op, (ops) => (ops[call.op] as (p: unknown) => void)(call.params));
  }

  run(program: Program, times?: number): void {
    this.inner.run(program, times);
  }

  sync(): Promise<void> {
    return this.inner.sync();
  }

  bytesInUse(): number {
    return this.inner.bytesInUse();
  }

  /** The inner backend belongs to the caller. */
  destroy(): void {}
}
