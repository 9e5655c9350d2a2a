/**
 * A one-line progress bar for the terminal (images/s and ETA), redrawn in place when stderr
 * is a TTY and printed every few seconds otherwise (CI logs).
 */
export interface ProgressState {
  label: string;
  done: number;
  total: number;
  /** Images per second over the current phase. */
  rate: number;
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
    const eta = state.rate > 0 ? (state.total - state.done) / state.rate : Number.NaN;
    const line = `${state.label} ${bar} ${state.done}/${state.total} ${Math.round(state.rate)} img/s ETA ${formatDuration(eta)}${state.extra ? ` ${state.extra}` : ''}`;
    if (this.tty) this.stream.write(`\r\x1b[2K${line}`);
    else this.stream.write(`${line}\n`);
  }

  /** Ends the current line (TTY) so the next output starts clean. */
  done(): void {
    if (this.tty) this.stream.write('\n');
  }
}
