/** Canvas set-up shared by the page's charts: device-pixel sizing, a cleared 2D context, theme colours. */

export interface ChartCanvas {
  ctx: CanvasRenderingContext2D;
  /** Text and axis colour, and grid-line colour, from the --chart-ink / --chart-grid CSS variables. */
  ink: string;
  grid: string;
}

/** Sizes the canvas's backing store to `width` x `height` CSS pixels and clears it; undefined when it has no area. */
export function fitCanvas(
  canvas: HTMLCanvasElement,
  width: number,
  height: number,
  font: string,
): ChartCanvas | undefined {
  if (width === 0 || height === 0) return undefined;
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(width * dpr);
  const h = Math.round(height * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) return undefined;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = font;
  const style = getComputedStyle(canvas);
  return {
    ctx,
    ink: style.getPropertyValue('--chart-ink').trim() || '#475569',
    grid: style.getPropertyValue('--chart-grid').trim() || '#e2e8f0',
  };
}
