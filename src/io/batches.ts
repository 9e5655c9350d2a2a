/**
 * Batches and prediction inputs (docs/contract.md §3): `x` I32 [S, B, C, H, W] with values in
 * [-128, 127] and `y` I32 [S, B] class indices; inputs `x` I32 [N, C, H, W].
 */
import {
  formatShape,
  parseSafetensors,
  SafetensorsError,
  serializeSafetensors,
  type SafetensorsTensor,
} from './safetensors.ts';

export interface Batches {
  steps: number;
  batch: number;
  /** [C, H, W] of one sample. */
  shape: [number, number, number];
  x: Int32Array;
  y: Int32Array;
}

export interface Inputs {
  count: number;
  shape: [number, number, number];
  x: Int32Array;
}

export interface BatchCheck {
  /** Sample shape [C, H, W] the model expects. */
  shape?: readonly number[];
  /** Number of classes: labels must lie in [0, classes). */
  classes?: number;
}

function only(
  kind: string,
  file: string,
  tensors: Map<string, SafetensorsTensor>,
  names: string[],
): void {
  for (const name of names) {
    if (!tensors.has(name))
      throw new SafetensorsError(`${kind} ${file}: missing tensor ${name}`, file, name);
  }
  for (const name of tensors.keys()) {
    if (!names.includes(name))
      throw new SafetensorsError(`${kind} ${file}: unexpected tensor ${name}`, file, name);
  }
}

function checkSample(
  kind: string,
  file: string,
  t: SafetensorsTensor,
  rank: number,
  want?: readonly number[],
): void {
  if (t.shape.length !== rank) {
    const dims = rank === 5 ? '[S, B, C, H, W]' : '[N, C, H, W]';
    throw new SafetensorsError(
      `${kind} ${file}: tensor x has shape ${formatShape(t.shape)}, expected ${dims}`,
      file,
      'x',
    );
  }
  const names = rank === 5 ? ['steps S', 'batch size B'] : ['input count N'];
  for (const [i, what] of names.entries()) {
    if (t.shape[i] === 0)
      throw new SafetensorsError(
        `${kind} ${file}: tensor x has shape ${formatShape(t.shape)}: ${what} must be at least 1`,
        file,
        'x',
      );
  }
  const sample = t.shape.slice(rank - 3);
  if (want && (want.length !== 3 || sample.some((d, i) => d !== want[i]))) {
    throw new SafetensorsError(
      `${kind} ${file}: tensor x has samples ${formatShape(sample)}, the model expects ${formatShape(want)}`,
      file,
      'x',
    );
  }
  const x = t.data;
  for (let i = 0; i < x.length; i++) {
    if (x[i] < -128 || x[i] > 127) {
      throw new SafetensorsError(
        `${kind} ${file}: tensor x value ${x[i]} at ${i} is outside [-128, 127]`,
        file,
        'x',
      );
    }
  }
}

/** Reads training batches (docs/contract.md §3), checked against the model's sample shape and classes. */
export function parseBatches(bytes: Uint8Array, file = '<bytes>', check: BatchCheck = {}): Batches {
  const kind = 'batches';
  const { tensors } = parseSafetensors(bytes, { file, kind, dtypes: ['I32'] });
  only(kind, file, tensors, ['x', 'y']);
  const x = tensors.get('x')!;
  const y = tensors.get('y')!;
  checkSample(kind, file, x, 5, check.shape);
  const [steps, batch] = x.shape;
  if (y.shape.length !== 2 || y.shape[0] !== steps || y.shape[1] !== batch) {
    throw new SafetensorsError(
      `${kind} ${file}: tensor y has shape ${formatShape(y.shape)}, expected [${steps}, ${batch}]`,
      file,
      'y',
    );
  }
  const classes = check.classes ?? 0x7fffffff;
  for (let i = 0; i < y.data.length; i++) {
    if (y.data[i] < 0 || y.data[i] >= classes) {
      throw new SafetensorsError(
        `${kind} ${file}: tensor y label ${y.data[i]} at ${i} is outside [0, ${classes})`,
        file,
        'y',
      );
    }
  }
  return { steps, batch, shape: [x.shape[2], x.shape[3], x.shape[4]], x: x.data, y: y.data };
}

/** Reads prediction inputs (docs/contract.md §3), checked against the model's sample shape. */
export function parseInputs(
  bytes: Uint8Array,
  file = '<bytes>',
  check: Pick<BatchCheck, 'shape'> = {},
): Inputs {
  const kind = 'input';
  const { tensors } = parseSafetensors(bytes, { file, kind, dtypes: ['I32'] });
  only(kind, file, tensors, ['x']);
  const x = tensors.get('x')!;
  checkSample(kind, file, x, 4, check.shape);
  return { count: x.shape[0], shape: [x.shape[1], x.shape[2], x.shape[3]], x: x.data };
}

export function serializeBatches(b: Batches): Uint8Array {
  const [c, h, w] = b.shape;
  return serializeSafetensors({
    x: { shape: [b.steps, b.batch, c, h, w], data: b.x },
    y: { shape: [b.steps, b.batch], data: b.y },
  });
}

export function serializeInputs(inputs: Inputs): Uint8Array {
  return serializeSafetensors({ x: { shape: [inputs.count, ...inputs.shape], data: inputs.x } });
}
