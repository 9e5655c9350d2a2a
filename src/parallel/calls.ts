/**
 * A training step as data: the op calls a Network records, captured instead of run, so a
 * coordinator and its workers can each take their part of the same step. Split at its
 * `reduce` points, a step becomes phases that a worker runs between the exchanges of gradients.
 */
import type { Ops, ReduceParams, ReducingOps } from '../backend.ts';
import { CHECKS } from '../ops/checked.ts';

/** One captured op call: its name and parameters (tensors by reference). */
export type OpCall =
  | { [K in keyof Ops]: { op: K; params: Parameters<Ops[K]>[0] } }[keyof Ops]
  | { op: 'reduce'; params: ReduceParams };

/** The calls `build` makes on data-parallel ops, in order (nothing runs). */
export function captureCalls(build: (ops: ReducingOps) => void): OpCall[] {
  const calls: OpCall[] = [];
  const ops = {} as Record<string, (p: unknown) => void>;
  for (const op of [...Object.keys(CHECKS), 'reduce'])
    ops[op] = (params) => calls.push({ op, params } as OpCall);
  build(ops as unknown as ReducingOps);
  return calls;
}

/** Issues captured calls on `ops` (a reduce has no op to run on: callers take it out first). */
export function replay(ops: Ops, calls: readonly OpCall[]): void {
  for (const c of calls) {
    if (c.op === 'reduce') throw new Error('replay: a reduce is the caller’s to run');
    (ops[c.op] as (p: unknown) => void).call(ops, c.params);
  }
}

/** A step split at its reduces: segments[i] runs before reduces[i]; the last one after the last. */
export interface Phases {
  segments: OpCall[][];
  reduces: ReduceParams[];
}

export function splitPhases(calls: readonly OpCall[]): Phases {
  const segments: OpCall[][] = [[]];
  const reduces: ReduceParams[] = [];
  for (const c of calls) {
    if (c.op === 'reduce') {
      reduces.push(c.params);
      segments.push([]);
    } else segments[segments.length - 1].push(c);
  }
  return { segments, reduces };
}
