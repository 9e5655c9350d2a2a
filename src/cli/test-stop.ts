/**
 * A test-only hook that freezes the process at a named point, so that a test can kill it
 * exactly there instead of hoping a timer lands in the right millisecond.
 *
 * NITRO_D_TEST_STOP_AT=STAGE[@N] stops (SIGSTOP) the N-th time (default 1) STAGE is reached,
 * after printing "NITRO_D_TEST_STOPPED STAGE@N" on stderr. The test then sends SIGKILL (or
 * SIGINT/SIGTERM and SIGCONT, to see the process go on from there). Stages of `train`:
 * best-written / best-renamed, last-written / last-renamed (the temporary file of a
 * checkpoint written, then renamed over the target), log-appended (an epoch's record), step
 * (a chunk of training steps done).
 */
import { writeSync } from 'node:fs';
import process from 'node:process';

export const STOP_ENV = 'NITRO_D_TEST_STOP_AT';

/** A function to call at each stage; does nothing unless the environment asks for a stop. */
export function testStopper(spec = process.env[STOP_ENV]): (stage: string) => void {
  if (!spec) return () => {};
  const m = /^([a-z-]+)(?:@(\d+))?$/.exec(spec);
  if (!m) throw new Error(`${STOP_ENV} must be STAGE or STAGE@N, got '${spec}'`);
  const stage = m[1];
  const at = Number(m[2] ?? 1);
  let seen = 0;
  return (s: string) => {
    if (s !== stage || ++seen !== at) return;
    writeSync(2, `NITRO_D_TEST_STOPPED ${stage}@${at}\n`);
    process.kill(process.pid, 'SIGSTOP');
  };
}
