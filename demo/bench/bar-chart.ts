/**
 * Horizontal bars on a canvas: one labelled bar per result, coloured by engine, on a log scale
 * when the values span more than two decades (images/s of an MLP and of VGG8B differ 1000-fold).
 */
import { fitCanvas } from '../ui/canvas.ts';

export interface Bar {
  label: string;
  value: number;
  color: string;
  /** Shown at the end of the bar. */
  text: string;
}

const ROW = 26;
const TOP = 6;
const AXIS = 26;

function ticksLinear(max: number): number[] {
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = 0; out.length === 0 || out[out.length - 1] < max; v += step) out.push(v);
  return out;
}

function tickText(v: number): string {
  if (v >= 1e6) return `${v / 1e6}M`;
  if (v >= 1e3) return `${v / 1e3}k`;
  return String(Number(v.toPrecision(3)));
}

/** Draws the bars; the canvas takes the height the rows need. */
export function drawBars(
  canvas: HTMLCanvasElement,
  bars: Bar[],
  options: { unit: string; emptyText?: string },
): void {
  const height = TOP + Math.max(1, bars.length) * ROW + AXIS;
  canvas.style.height = `${height}px`;
  const width = canvas.clientWidth;
  const c = fitCanvas(canvas, width, height, '12px system-ui, sans-serif');
  if (!c) return;
  const { ctx, ink, grid } = c;
  const shown = bars.filter((b) => b.value > 0 && Number.isFinite(b.value));
  if (shown.length === 0) {
    ctx.fillStyle = ink;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(options.emptyText ?? 'no results yet', width / 2, height / 2);
    return;
  }
  const max = Math.max(...shown.map((b) => b.value));
  const min = Math.min(...shown.map((b) => b.value));
  const log = max / min > 100;
  const unitText = `${options.unit}${log ? ', log scale' : ''}`;
  const left =
    12 +
    Math.max(
      ctx.measureText(unitText).width + 16,
      ...bars.map((b) => ctx.measureText(b.label).width),
    );
  const right = 12 + Math.max(...bars.map((b) => ctx.measureText(b.text).width));
  const plotW = Math.max(20, width - left - right);
  const plotH = bars.length * ROW;
  let X: (v: number) => number;
  let ticks: number[];
  if (log) {
    const lo = 10 ** Math.floor(Math.log10(min));
    const hi = 10 ** Math.ceil(Math.log10(max));
    ticks = [];
    for (let v = lo; v <= hi * 1.0001; v *= 10) ticks.push(v);
    X = (v) =>
      left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
  } else {
    ticks = ticksLinear(max);
    const hi = ticks[ticks.length - 1];
    X = (v) => left + (v / hi) * plotW;
  }

  ctx.strokeStyle = grid;
  ctx.fillStyle = ink;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const t of ticks) {
    const x = Math.round(X(t)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(x, TOP);
    ctx.lineTo(x, TOP + plotH);
    ctx.stroke();
    ctx.fillText(tickText(t), x, TOP + plotH + 5);
  }
  // The unit under the bar labels, clear of the tick values.
  ctx.textAlign = 'right';
  ctx.fillText(unitText, left - 16, TOP + plotH + 5);

  bars.forEach((b, i) => {
    const y = TOP + i * ROW;
    ctx.fillStyle = ink;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    ctx.fillText(b.label, left - 8, y + ROW / 2);
    if (!(b.value > 0)) return;
    const x0 = log ? left : X(0);
    const x1 = Math.max(x0 + 2, X(b.value));
    ctx.fillStyle = b.color;
    ctx.beginPath();
    ctx.roundRect(x0, y + 5, x1 - x0, ROW - 10, 3);
    ctx.fill();
    ctx.fillStyle = ink;
    ctx.textAlign = 'left';
    ctx.fillText(b.text, x1 + 6, y + ROW / 2);
  });
}
