/**
 * Property/fuzz tests of every parser: 2,000 generated inputs each per run, fixed seeds, built
 * as structured mutations of valid files (test/fuzz/drivers.ts). Each input must either parse
 * into a result that keeps the format's invariants or fail with one line of InputError naming
 * the file; an input a mutation made invalid must never be accepted.
 */
import { describe, expect, it } from 'vitest';
import { allDrivers, fuzz } from './fuzz/drivers.ts';

const RUNS = 2000;
const SEED = 20261203;

describe('fuzzed parser input: a valid parse or a one-line error naming the file', () => {
  for (const [i, driver] of allDrivers().entries()) {
    it(`${driver.area}: ${RUNS} inputs`, { timeout: 60_000 }, async () => {
      const counts = await fuzz(driver, { runs: RUNS, seed: SEED + i, check: true });
      expect(counts.tried).toBe(RUNS);
      expect(counts.failures).toEqual([]);
      // The mutations reach both sides: some inputs parse, most are refused.
      expect(counts.valid).toBeGreaterThan(0);
      expect(counts.clean).toBeGreaterThan(RUNS / 4);
    });
  }
});
