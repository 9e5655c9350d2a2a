/**
 * A one-line progress bar for the terminal (images/s and ETA), redrawn in place when stderr
 * is a TTY and printed every few seconds otherwise (CI logs).
 */
import type { EpochResult, StepProgress } from '../train/trainer.ts';

export interface ProgressState {
  label: string;
  done: number;
  total: number;
  /** Images per second over the current phase. */
  rate: number;
  /** Seconds left; default: what is left of `total` at `rate`. */
  eta?: number;
  extra?: string;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export class ProgressBar {
  private lastPrint = 0;
  private readonly tty: boolean;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 24,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update(state: ProgressState, force = false): void {
    const now = Date.now();
    if (!force && now - this.lastPrint < (this.tty ? 100 : 5000)) return;
    this.lastPrint = now;
    const frac = state.total > 0 ? Math.min(1, state.done / state.total) : 0;
    const filled = Math.round(frac * this.width);
    const bar = '█'.repeat(filled) + '░'.repeat(this.width - filled);
    const eta =
      state.eta ?? (state.rate > 0 ? (state.total - state.done) / state.rate : Number.NaN);
    const line = `${state.label} ${bar} ${state.done}/${state.total} ${Math.round(state.rate)} img/s ETA ${formatDuration(eta)}${state.extra ? ` ${state.extra}` : ''}`;
    if (this.tty) this.stream.write(`\r\x1b[2K${line}`);
    else this.stream.write(`${line}\n`);
  }

  /** Ends the current line (TTY) so the next output starts clean. */
  done(): void {
    if (this.tty) this.stream.write('\n');
  }
}

/**
 * The progress of a whole training run on a ProgressBar: the rate is measured from the end of
 * each epoch's first submission (which pays for pipeline creation and the first upload), so
 * nothing is shown until a steady rate exists, and the ETA covers every epoch left, with the
 * time each epoch spends outside its training steps (evaluation, checkpoints).
 */
export class RunProgress {
  private mark: { epoch: number; step: number; at: number } | undefined;
  private rate = 0;
  /** Seconds per epoch outside the training steps, from the last epoch that finished. */
  private overhead = 0;
  private epochStarted: number;

  constructor(
    private readonly bar: ProgressBar,
    private readonly epochs: number,
    private readonly batch: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.epochStarted = now();
  }

  step(p: StepProgress): void {
    const t = this.now();
    if (!this.mark || this.mark.epoch !== p.epoch) {
      this.mark = { epoch: p.epoch, step: p.step, at: t };
    } else {
      const seconds = (t - this.mark.at) / 1000;
      // Half a second of steady work, at least, before the rate is believed.
      if (seconds >= 0.5 && p.step > this.mark.step)
        this.rate = ((p.step - this.mark.step) * this.batch) / seconds;
    }
    if (this.rate <= 0) return;
    const left = (p.steps - p.step + (this.epochs - p.epoch) * p.steps) * this.batch;
    this.bar.update({
      label: `epoch ${p.epoch}/${this.epochs}`,
      done: p.step * this.batch,
      total: p.steps * this.batch,
      rate: this.rate,
      eta: left / this.rate + (this.epochs - p.epoch + 1) * this.overhead,
    });
  }

  epochDone(r: EpochResult): void {
    this.bar.done();
    const t = this.now();
    if (this.rate <= 0) this.rate = r.imagesPerSecond;
    if (this.rate > 0)
      this.overhead = Math.max(
        0,
        (t - this.epochStarted) / 1000 - r.train.output.total / this.rate,
      );
    this.epochStarted = t;
  }
}
