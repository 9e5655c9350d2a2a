/** Number formatting for the page. */

/** 0.8731 -> "87.31 %". */
export function percent(fraction: number, digits = 2): string {
  return Number.isFinite(fraction) ? `${(100 * fraction).toFixed(digits)} %` : '–';
}

/** Basis points (integer, 10000 = 100 %) -> "87.31 %". */
export function percentBp(bp: number): string {
  return `${Math.floor(bp / 100)}.${String(bp % 100).padStart(2, '0')} %`;
}

/** Seconds -> "42 s", "3 min 05 s", "1 h 02 min". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** Images per second with sensible precision. */
export function rate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '–';
  if (perSecond >= 100) return Math.round(perSecond).toLocaleString('en-US');
  return perSecond.toFixed(perSecond >= 10 ? 1 : 2);
}

export function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

/** Uint8Array -> base64 (the test hook hands bytes to Playwright this way). */
export function toBase64(data: Uint8Array): string {
  let s = '';
  const chunk = 0x8000;
  for (let i = 0; i < data.length; i += chunk)
    s += String.fromCharCode(...data.subarray(i, i + chunk));
  return btoa(s);
}

export function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
