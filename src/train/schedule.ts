/**
 * ReduceLROnPlateau and EarlyStopping as the NITRO-D protocol runs them (docs/algorithm.md §7.1):
 * both watch test accuracy, count from `fromEpoch` (1-based), keep a reference that moves only
 * on an improvement of at least `minDelta`, and fire after `patience` epochs without one.
 * Accuracy is compared exactly as integers: correct * 10000 against minDelta basis points * N.
 */

export interface PlateauConfig {
  /** lrInv is multiplied by this when the plateau fires (the learning rate divided). */
  factor: number;
  /** Minimum improvement in basis points of accuracy (100 = 1 percentage point). */
  minDeltaBp: number;
  patience: number;
  fromEpoch: number;
}

export interface EarlyStoppingConfig {
  minDeltaBp: number;
  patience: number;
  fromEpoch: number;
}

export interface WatchState {
  /** Best correct count seen since fromEpoch (or -1), and the sample count it was measured on. */
  bestCorrect: number;
  total: number;
  wait: number;
}

export function newWatch(): WatchState {
  return { bestCorrect: -1, total: 0, wait: 0 };
}

/**
 * Feeds one epoch's test result; returns true when the watcher fires (after which its counter
 * restarts, as the reference does for the plateau).
 */
export function observe(
  state: WatchState,
  config: { minDeltaBp: number; patience: number; fromEpoch: number },
  epoch: number,
  correct: number,
  total: number,
): boolean {
  if (epoch < config.fromEpoch) return false;
  // improvement >= minDelta  <=>  (correct/total - best/bestTotal) * 10000 >= minDeltaBp
  const improved =
    state.bestCorrect < 0 ||
    (correct * state.total - state.bestCorrect * total) * 10000 >=
      config.minDeltaBp * total * state.total;
  if (improved) {
    state.bestCorrect = correct;
    state.total = total;
    state.wait = 0;
    return false;
  }
  state.wait += 1;
  if (state.wait >= config.patience) {
    state.wait = 0;
    return true;
  }
  return false;
}

/** Accuracy in basis points, truncated (integer). */
export function basisPoints(correct: number, total: number): number {
  return total > 0 ? Math.floor((correct * 10000) / total) : 0;
}

/** "88.66%" from basis points, for display only. */
export function formatBp(bp: number): string {
  return `${Math.floor(bp / 100)}.${String(bp % 100).padStart(2, '0')}%`;
}
