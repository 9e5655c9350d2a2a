/** A grid of test images with the model's prediction and the true label. */
import type { Dataset } from '../../src/index.ts';
import type { Prediction } from './session.ts';

/** Draws sample `index` of a raw (pixel - 128) single-channel data set into a canvas of its size. */
function drawSample(canvas: HTMLCanvasElement, ds: Dataset, index: number): void {
  const [, H, W] = ds.shape;
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const img = ctx.createImageData(W, H);
  const base = index * ds.shape[0] * H * W;
  for (let i = 0; i < H * W; i++) {
    const v = ds.images[base + i] + 128;
    img.data[4 * i] = v;
    img.data[4 * i + 1] = v;
    img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

export function renderImageGrid(
  container: HTMLElement,
  raw: Dataset | undefined,
  predictions: Prediction[],
  names: string[],
  options: { mistakesOnly: boolean; max: number },
): void {
  container.replaceChildren();
  if (!raw || predictions.length === 0) {
    const p = document.createElement('p');
    p.className = 'empty';
    p.textContent = 'Appears after the first epoch.';
    container.append(p);
    return;
  }
  const shown = predictions
    .filter((p) => !options.mistakesOnly || p.predicted !== p.label)
    .slice(0, options.max);
  if (shown.length === 0) {
    const p = document.createElement('p');
    p.className = 'empty';
    p.textContent = `No mistakes among the first ${predictions.length} test images.`;
    container.append(p);
    return;
  }
  for (const p of shown) {
    const ok = p.predicted === p.label;
    const fig = document.createElement('figure');
    fig.className = ok ? 'right' : 'wrong';
    const canvas = document.createElement('canvas');
    drawSample(canvas, raw, p.index);
    const caption = document.createElement('figcaption');
    const pred = document.createElement('span');
    pred.className = 'pred';
    pred.textContent = `${ok ? '✓' : '✗'} ${names[p.predicted] ?? p.predicted}`;
    caption.append(pred);
    if (!ok) {
      const truth = document.createElement('span');
      truth.className = 'truth';
      truth.textContent = `true: ${names[p.label] ?? p.label}`;
      caption.append(truth);
    }
    fig.title = `test image ${p.index}: predicted ${names[p.predicted] ?? p.predicted}, true ${names[p.label] ?? p.label}`;
    fig.append(canvas, caption);
    container.append(fig);
  }
}
