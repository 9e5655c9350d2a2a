/**
 * The trainer's resumable state, as a checkpoint stores it (JSON in its metadata): its types,
 * and the checks that a state read back from a file is one the trainer could have written.
 * Every check names the field, so a damaged or hand-edited checkpoint fails at once, in one
 * line, instead of epochs later (a null watch) or silently (a watch without its counters).
 */
import type { WatchState } from './schedule.ts';

/** Integer metric words of one split (see METRIC_WORDS) and the samples they count. */
export interface SplitWords {
  words: number[];
  total: number;
}

/**
 * The integer facts of the last completed epoch: enough to write its log record again when
 * a run was killed between its checkpoint and its log line (timings are not kept).
 */
export interface EpochSummary {
  epoch: number;
  lrInv: number;
  train: SplitWords;
  test?: SplitWords;
  best: boolean;
  plateau: boolean;
  stop: boolean;
}

/** The trainer's state between epochs, stored in checkpoints and checked field by field on resume. */
export interface TrainerState {
  /** Epochs completed. */
  epoch: number;
  lrInv: number;
  plateau: WatchState;
  early: WatchState;
  bestCorrect: number;
  bestEpoch: number;
  /** The last completed epoch (absent before the first, and in checkpoints of older versions). */
  last?: EpochSummary;
}

/** Where training stopped inside an epoch: the next step and the metrics accumulated so far. */
export interface ResumePosition {
  /** The epoch in progress (the state's epoch + 1). */
  epoch: number;
  /** Steps of it already done. */
  step: number;
  metrics: number[];
}

const I32_MAX = 0x7fffffff;

/** A checkpoint's trainer state that is malformed or out of range; the message names the field. */
export class TrainerStateError extends Error {
  override name = 'TrainerStateError';
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** Reads fields of a JSON value, each check failing with "WHERE: PATH must be ..., got V". */
class Reader {
  constructor(readonly where: string) {}

  fail(path: string, want: string, got: unknown): never {
    throw new TrainerStateError(`${this.where}: ${path} must be ${want}, got ${show(got)}`);
  }

  object(v: unknown, path: string, keys: readonly string[], optional: readonly string[] = []) {
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      this.fail(path, `an object {${keys.join(', ')}}`, v);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o))
      if (!keys.includes(k) && !optional.includes(k))
        throw new TrainerStateError(`${this.where}: unexpected field ${path}.${k}`);
    for (const k of keys) if (!(k in o)) this.fail(`${path}.${k}`, 'present', undefined);
    return o;
  }

  int(v: unknown, path: string, lo: number, hi = I32_MAX): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
      this.fail(path, `an integer in [${lo}, ${hi}]`, v);
    return v;
  }

  bool(v: unknown, path: string): boolean {
    if (typeof v !== 'boolean') this.fail(path, 'true or false', v);
    return v;
  }

  ints(v: unknown, path: string, length: number): number[] {
    if (!Array.isArray(v) || v.length !== length)
      this.fail(path, `an array of ${length} integers`, v);
    return v.map((x, i) => this.int(x, `${path}[${i}]`, -0x80000000));
  }
}

/** What a state is checked against: the model's head count and the protocol's watchers. */
export interface StateContext {
  /** Blocks of the model (metric words: (blocks + 1) * METRIC_WORDS). */
  blocks: number;
  metricWords: number;
  plateauPatience?: number;
  earlyPatience?: number;
}

function watch(r: Reader, v: unknown, path: string, patience?: number): WatchState {
  const o = r.object(v, path, ['bestCorrect', 'total', 'wait']);
  const total = r.int(o.total, `${path}.total`, 0);
  const bestCorrect = r.int(o.bestCorrect, `${path}.bestCorrect`, -1, total);
  const wait = r.int(o.wait, `${path}.wait`, 0, patience !== undefined ? patience - 1 : I32_MAX);
  if (bestCorrect < 0 && (total !== 0 || wait !== 0))
    r.fail(path, 'unstarted ({bestCorrect: -1, total: 0, wait: 0}) when bestCorrect is -1', o);
  if (bestCorrect >= 0 && total === 0) r.fail(`${path}.total`, 'positive', total);
  return { bestCorrect, total, wait };
}

function split(r: Reader, v: unknown, path: string, words: number): SplitWords {
  const o = r.object(v, path, ['words', 'total']);
  return {
    words: r.ints(o.words, `${path}.words`, words),
    total: r.int(o.total, `${path}.total`, 1),
  };
}

/**
 * A trainer state read from JSON, checked field by field (types, ranges, and how the fields
 * relate: the best epoch is a completed one, a watcher that has not started has no counts).
 * Throws TrainerStateError "WHERE: trainer.FIELD must be ..., got VALUE".
 */
export function checkTrainerState(value: unknown, ctx: StateContext, where: string): TrainerState {
  const r = new Reader(where);
  const o = r.object(
    value,
    'trainer',
    ['epoch', 'lrInv', 'plateau', 'early', 'bestCorrect', 'bestEpoch'],
    ['last'],
  );
  const epoch = r.int(o.epoch, 'trainer.epoch', 0);
  const lrInv = r.int(o.lrInv, 'trainer.lrInv', 1);
  const plateau = watch(r, o.plateau, 'trainer.plateau', ctx.plateauPatience);
  const early = watch(r, o.early, 'trainer.early', ctx.earlyPatience);
  const bestEpoch = r.int(o.bestEpoch, 'trainer.bestEpoch', epoch > 0 ? 1 : 0, epoch);
  const bestCorrect = r.int(o.bestCorrect, 'trainer.bestCorrect', epoch > 0 ? 0 : -1);
  if (epoch === 0 && bestCorrect !== -1)
    r.fail('trainer.bestCorrect', '-1 before any epoch', bestCorrect);
  const state: TrainerState = { epoch, lrInv, plateau, early, bestCorrect, bestEpoch };
  if (o.last !== undefined) {
    if (epoch === 0)
      throw new TrainerStateError(`${where}: unexpected field trainer.last before any epoch`);
    const l = r.object(
      o.last,
      'trainer.last',
      ['epoch', 'lrInv', 'train', 'best', 'plateau', 'stop'],
      ['test'],
    );
    state.last = {
      epoch: r.int(l.epoch, 'trainer.last.epoch', epoch, epoch),
      lrInv: r.int(l.lrInv, 'trainer.last.lrInv', 1),
      train: split(r, l.train, 'trainer.last.train', ctx.metricWords),
      test:
        l.test === undefined ? undefined : split(r, l.test, 'trainer.last.test', ctx.metricWords),
      best: r.bool(l.best, 'trainer.last.best'),
      plateau: r.bool(l.plateau, 'trainer.last.plateau'),
      stop: r.bool(l.stop, 'trainer.last.stop'),
    };
    if (state.last.test === undefined) delete state.last.test;
  }
  return state;
}

/**
 * A mid-epoch position read from JSON, checked against the state it continues and the
 * epoch's step count. Throws TrainerStateError "WHERE: position.FIELD must be ...".
 */
export function checkResumePosition(
  value: unknown,
  state: TrainerState,
  ctx: StateContext & { steps: number },
  where: string,
): ResumePosition {
  const r = new Reader(where);
  const o = r.object(value, 'position', ['epoch', 'step', 'metrics']);
  const epoch = r.int(o.epoch, 'position.epoch', state.epoch + 1, state.epoch + 1);
  if (ctx.steps < 2) r.fail('position', 'absent: an epoch of 1 step has no middle', o);
  const step = r.int(o.step, 'position.step', 1, ctx.steps - 1);
  return { epoch, step, metrics: r.ints(o.metrics, 'position.metrics', ctx.metricWords) };
}
