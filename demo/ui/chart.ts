/**
 * A small line chart on a canvas: a few series of (x, y) points, nice axis ticks, crisp at any
 * device pixel ratio, redrawn on resize and at most once per frame. The page's needs (a handful of
 * series, a few thousand points) do not justify a chart library.
 */
import { fitCanvas } from './canvas.ts';

export interface Series {
  name: string;
  color: string;
  points: [number, number][];
  /** Line width in CSS pixels (default 1.5). */
  width?: number;
  /** Draws a dot at every point (for per-epoch values). */
  markers?: boolean;
  hidden?: boolean;
}

export interface ChartOptions {
  /** Formats a y tick. */
  yFormat: (v: number) => string;
  /** Fixed y range ends; otherwise taken from the data. */
  yMin?: number;
  yMax?: number;
  /** The x axis shows at least [0, xSpan]. */
  xSpan?: number;
  xLabel?: string;
  /** Shown while there is no point to draw. */
  emptyText?: string;
}

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten). */
export function niceTicks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    ticks.push(Math.round(v / step) * step);
  return ticks;
}

export class LineChart {
  private series: Series[] = [];
  private frame = 0;
  private readonly observer: ResizeObserver;

  constructor(
    readonly canvas: HTMLCanvasElement,
    readonly options: ChartOptions,
  ) {
    this.observer = new ResizeObserver(() => this.draw());
    this.observer.observe(canvas);
  }

  setSeries(series: Series[]): void {
    this.series = series;
    this.draw();
  }

  /** Schedules a redraw for the next frame. */
  draw(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  /** Draws now (tests and screenshots do not wait for a frame). */
  render(): void {
    const width = this.canvas.clientWidth;
    const height = this.canvas.clientHeight;
    const c = fitCanvas(this.canvas, width, height, '11px system-ui, sans-serif');
    if (!c) return;
    const { ctx, ink, grid } = c;

    const visible = this.series.filter((s) => !s.hidden && s.points.length > 0);
    const all = visible.flatMap((s) => s.points);
    const o = this.options;
    let xMax = Math.max(o.xSpan ?? 1, ...all.map((p) => p[0]));
    const xMin = 0;
    let yMin = o.yMin ?? Math.min(...all.map((p) => p[1]));
    let yMax = o.yMax ?? Math.max(...all.map((p) => p[1]));
    if (!Number.isFinite(yMin) || !Number.isFinite(yMax)) {
      yMin = o.yMin ?? 0;
      yMax = o.yMax ?? 1;
    }
    if (yMax - yMin < 1e-9) {
      const pad = Math.abs(yMax) * 0.1 || 1;
      yMin = o.yMin ?? yMin - pad;
      yMax = o.yMax ?? yMax + pad;
    } else if (o.yMin === undefined || o.yMax === undefined) {
      const pad = (yMax - yMin) * 0.06;
      if (o.yMin === undefined) yMin -= pad;
      if (o.yMax === undefined) yMax += pad;
    }
    // Without data the y axis has no meaningful scale: draw the frame only.
    const yTicks =
      all.length > 0 ? niceTicks(yMin, yMax, Math.max(2, Math.floor(height / 40))) : [];
    const left = 8 + Math.max(24, ...yTicks.map((t) => ctx.measureText(o.yFormat(t)).width));
    const right = 10;
    const top = 8;
    const bottom = 30;
    const plotW = Math.max(10, width - left - right);
    const plotH = Math.max(10, height - top - bottom);
    const xTicks = niceTicks(xMin, xMax, Math.max(2, Math.floor(plotW / 60))).filter(
      (t) => Number.isInteger(t) || xMax < 2,
    );
    xMax = Math.max(xMax, xTicks[xTicks.length - 1] ?? xMax);
    const X = (x: number) => left + ((x - xMin) / (xMax - xMin)) * plotW;
    const Y = (y: number) => top + (1 - (y - yMin) / (yMax - yMin)) * plotH;

    ctx.strokeStyle = grid;
    ctx.lineWidth = 1;
    ctx.fillStyle = ink;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const t of yTicks) {
      if (t < yMin - 1e-9 || t > yMax + 1e-9) continue;
      const y = Math.round(Y(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(left + plotW, y);
      ctx.stroke();
      ctx.fillText(o.yFormat(t), left - 6, y);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const t of xTicks) {
      const x = Math.round(X(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + plotH);
      ctx.stroke();
      ctx.fillText(String(t), x, top + plotH + 5);
    }
    if (o.xLabel) {
      ctx.textAlign = 'right';
      ctx.fillText(o.xLabel, left + plotW, top + plotH + 17);
    }

    ctx.save();
    ctx.beginPath();
    // Room for the markers of points on the plot's edges (the last epoch sits on the right one).
    ctx.rect(left - 6, top - 6, plotW + 12, plotH + 12);
    ctx.clip();
    ctx.lineJoin = 'round';
    ctx.lineCap = 'round';
    for (const s of visible) {
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      ctx.lineWidth = s.width ?? 1.5;
      ctx.beginPath();
      s.points.forEach(([x, y], i) => {
        if (i === 0) ctx.moveTo(X(x), Y(y));
        else ctx.lineTo(X(x), Y(y));
      });
      ctx.stroke();
      if (s.markers || s.points.length === 1) {
        for (const [x, y] of s.points) {
          ctx.beginPath();
          ctx.arc(X(x), Y(y), (s.width ?? 1.5) + 1.5, 0, 2 * Math.PI);
          ctx.fill();
        }
      }
    }
    ctx.restore();

    if (all.length === 0) {
      ctx.strokeStyle = grid;
      ctx.strokeRect(left + 0.5, top + 0.5, plotW, plotH);
    }
    if (all.length === 0 && o.emptyText) {
      ctx.fillStyle = ink;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText(o.emptyText, left + plotW / 2, top + plotH / 2);
    }
  }

  dispose(): void {
    this.observer.disconnect();
    if (this.frame) cancelAnimationFrame(this.frame);
  }
}
