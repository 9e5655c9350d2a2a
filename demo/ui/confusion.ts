/** The test set's confusion matrix as a table: rows are true classes, columns predictions, shaded by row share. */

export function renderConfusion(
  container: HTMLElement,
  matrix: number[][] | undefined,
  names: string[],
): void {
  container.replaceChildren();
  if (!matrix || matrix.length === 0) {
    const p = document.createElement('p');
    p.className = 'empty';
    p.textContent = 'Appears after the first epoch.';
    container.append(p);
    return;
  }
  const C = matrix.length;
  const table = document.createElement('table');
  table.className = 'confusion';
  const head = table.createTHead().insertRow();
  const corner = document.createElement('th');
  corner.className = 'corner';
  corner.innerHTML = '<span>true ↓</span><span>predicted →</span>';
  head.append(corner);
  for (let p = 0; p < C; p++) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = String(p);
    th.title = names[p] ?? String(p);
    head.append(th);
  }
  const recall = document.createElement('th');
  recall.textContent = 'recall';
  recall.className = 'recall';
  head.append(recall);
  const body = table.createTBody();
  for (let t = 0; t < C; t++) {
    const row = body.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = `${t} ${names[t] ?? ''}`.trim();
    row.append(th);
    const total = matrix[t].reduce((a, b) => a + b, 0);
    for (let p = 0; p < C; p++) {
      const n = matrix[t][p];
      const cell = row.insertCell();
      cell.textContent = n === 0 ? '' : String(n);
      const share = total > 0 ? n / total : 0;
      // Correct predictions in green, confusions in red; the shade is the share of the row.
      const hue = t === p ? '142 70% 36%' : '0 72% 50%';
      cell.style.background =
        share > 0 ? `hsl(${hue} / ${Math.min(1, 0.08 + share * 0.92).toFixed(3)})` : '';
      if (share > 0.55) cell.classList.add('strong');
      cell.title = `true ${names[t] ?? t}, predicted ${names[p] ?? p}: ${n} of ${total}`;
    }
    const r = row.insertCell();
    r.className = 'recall';
    r.textContent = total > 0 ? `${((100 * matrix[t][t]) / total).toFixed(0)}%` : '–';
  }
  container.append(table);
}
