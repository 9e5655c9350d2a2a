/**
 * The benchmark page's view of kernel-variant tuning: the tuner's table (a section per GEMM op,
 * a column per variant with its milliseconds per call, the winner) and the training table's cell
 * naming the variants a run used, tuned ones marked.
 */
import type { TuneRow } from '../../src/index.ts';
import { GEMM_OPS, type GemmOp, variantsOf } from '../../src/kernels/gemm-tiles.ts';

const OP_TITLES: Record<GemmOp, string> = {
  linear: 'linear forward',
  linearInputGrad: 'linear input gradient',
  linearWeightGrad: 'linear weight gradient',
  conv2d: 'conv forward',
  conv2dWeightGrad: 'conv weight gradient',
};

/** Variant columns of the table: as many as the op with the most variants has. */
export const VARIANT_COLUMNS = Math.max(...GEMM_OPS.map((op) => variantsOf(op).length));

const SKIPPED: Record<NonNullable<TuneRow['skipped']>, string> = {
  tiny: 'small: default only',
  'time budget': 'over the time budget',
};

function ms(v: number | null): string {
  if (v === null) return '–';
  return String(Number(v.toPrecision(3)));
}

function td(row: HTMLTableRowElement, text: string, className?: string): HTMLTableCellElement {
  const cell = row.insertCell();
  cell.textContent = text;
  if (className) cell.className = className;
  return cell;
}

/** The tuner's rows, grouped by op in a tbody each (the tuner reports them largest first). */
export class TuneTable {
  private readonly groups = new Map<GemmOp, HTMLTableSectionElement>();

  constructor(private readonly table: HTMLTableElement) {}

  clear(): void {
    for (const body of this.groups.values()) body.remove();
    this.groups.clear();
  }

  get rowCount(): number {
    return this.table.querySelectorAll('tr[data-key]').length;
  }

  private group(op: GemmOp): HTMLTableSectionElement {
    const existing = this.groups.get(op);
    if (existing) return existing;
    const body = document.createElement('tbody');
    body.dataset.op = op;
    const head = body.insertRow();
    head.className = 'group';
    const title = document.createElement('th');
    title.colSpan = 2;
    title.textContent = OP_TITLES[op];
    head.append(title);
    const labels = variantsOf(op).map((v) => v.label);
    for (let i = 0; i < VARIANT_COLUMNS; i++) {
      const th = document.createElement('th');
      th.className = 'num variant';
      th.textContent = labels[i] ?? '';
      head.append(th);
    }
    head.append(document.createElement('th'), document.createElement('th'));
    // Sections in the order of GEMM_OPS, whatever order the shapes come in.
    const later = GEMM_OPS.slice(GEMM_OPS.indexOf(op) + 1)
      .map((o) => this.groups.get(o))
      .find((b) => b !== undefined);
    this.table.insertBefore(body, later ?? null);
    this.groups.set(op, body);
    return body;
  }

  add(r: TuneRow): HTMLTableRowElement {
    const row = this.group(r.op).insertRow();
    row.dataset.key = r.key;
    row.dataset.winner = r.winner;
    row.dataset.default = r.defaultVariant;
    if (r.skipped) row.dataset.skipped = r.skipped;
    if (r.winner !== r.defaultVariant) row.classList.add('changed');
    td(row, r.shape, 'shape');
    td(row, String(r.calls), 'num');
    const labels = variantsOf(r.op).map((v) => v.label);
    for (let i = 0; i < VARIANT_COLUMNS; i++) {
      const label = labels[i];
      if (label === undefined) {
        td(row, '');
        continue;
      }
      const value = r.ms[label] ?? null;
      const cell = td(row, ms(value), value === null ? 'num none' : 'num');
      cell.dataset.variant = label;
      if (value !== null) cell.dataset.value = String(value);
      if (label === r.winner && value !== null) cell.classList.add('win');
    }
    const winner = td(row, r.winner, 'variant');
    const mark = document.createElement('span');
    mark.className = 'default';
    mark.textContent = r.winner === r.defaultVariant ? 'default' : 'tuned';
    winner.append(mark);
    td(row, r.skipped ? SKIPPED[r.skipped] : '', 'none');
    return row;
  }
}

/** The training table's cell: how many op shapes ran a tuned variant, each shape's variant on opening. */
export function variantsCell(
  cell: HTMLTableCellElement,
  variants: readonly { key: string; variant: string; tuned: boolean; note?: string }[],
): void {
  cell.replaceChildren();
  cell.className = 'variants';
  const tuned = variants.filter((v) => v.tuned).length;
  cell.dataset.tuned = String(tuned);
  cell.dataset.shapes = String(variants.length);
  if (!variants.length) {
    cell.textContent = '–';
    cell.classList.add('none');
    return;
  }
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = tuned ? `${tuned} of ${variants.length} tuned` : 'defaults';
  const list = document.createElement('ul');
  for (const v of variants) {
    const item = document.createElement('li');
    if (v.tuned) item.className = 'tuned';
    item.textContent = `${v.key} ${v.variant}${v.tuned ? ' (tuned)' : v.note ? ` (${v.note})` : ''}`;
    list.append(item);
  }
  details.append(summary, list);
  cell.append(details);
}
