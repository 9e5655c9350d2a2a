/** Is WebGPU there, and what adapter is it: probing without creating a device, and the info panel. */

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  limits: Record<string, number>;
  /** The adapter says it is a fallback adapter (GPUAdapterInfo.isFallbackAdapter), if known. */
  fallback?: boolean;
  /** Where the numbers come from: the adapter (before a device exists) or the device the page uses. */
  source: 'adapter' | 'device';
}

export type WebGpuProbe =
  | { available: true; adapter: AdapterSummary }
  | { available: false; reason: string };

function limitsOf(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key in limits) {
    const v = (limits as unknown as Record<string, unknown>)[key];
    if (typeof v === 'number') out[key] = v;
  }
  return out;
}

export async function probeWebGpu(): Promise<WebGpuProbe> {
  if (!window.isSecureContext) {
    return {
      available: false,
      reason:
        'this page is not served from a secure context (https or localhost), and browsers only offer WebGPU there',
    };
  }
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu)
    return {
      available: false,
      reason: 'this browser does not offer WebGPU (navigator.gpu is missing)',
    };
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return {
      available: false,
      reason: `requesting a WebGPU adapter failed: ${(e as Error).message ?? e}`,
    };
  }
  if (!adapter)
    return {
      available: false,
      reason:
        'the browser has WebGPU but found no usable adapter (it may be disabled or blocklisted for this GPU)',
    };
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  // Older browsers have the flag on the adapter itself.
  const fallback =
    info.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    available: true,
    adapter: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      fallback,
      features: [...adapter.features].map(String).sort(),
      limits: limitsOf(adapter.limits),
      source: 'adapter',
    },
  };
}

/** CPU renderers behind WebGPU adapters, as their adapter info names them. */
const SOFTWARE_RENDERERS: [RegExp, string][] = [
  [/swiftshader/i, 'SwiftShader'],
  [/llvmpipe/i, 'llvmpipe'],
  [/lavapipe/i, 'lavapipe'],
  [/basic render driver/i, 'Microsoft Basic Render Driver'],
];

/**
 * Whether the adapter renders on the CPU (a software fallback, 10 to 100 times slower than a
 * GPU): the name of the renderer, 'a fallback adapter', or undefined for a hardware adapter.
 */
export function softwareRenderer(a: AdapterSummary): string | undefined {
  const text = [a.vendor, a.architecture, a.device, a.description].join(' ');
  for (const [re, name] of SOFTWARE_RENDERERS) if (re.test(text)) return name;
  return a.fallback ? 'a fallback adapter' : undefined;
}

/** The limits that decide which models and batch sizes fit, shown first. */
const KEY_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
];

function formatLimit(name: string, v: number): string {
  if (/Size$/.test(name) && v >= 1024 * 1024 && !/WorkgroupSize/.test(name)) {
    return `${(v / (1024 * 1024)).toFixed(v % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
  }
  return v.toLocaleString('en-US');
}

function row(dl: HTMLElement, term: string, value: string): void {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = value || '–';
  dl.append(dt, dd);
}

/** `cpu.description`: the CPU backend's own description, e.g. "CPU (WebAssembly SIMD kernels)". */
export function renderAdapter(
  container: HTMLElement,
  adapter: AdapterSummary | undefined,
  cpu: { active: boolean; description?: string },
): void {
  container.replaceChildren();
  const dl = document.createElement('dl');
  dl.className = 'adapter';
  if (cpu.active || !adapter) {
    row(dl, 'backend', `${cpu.description ?? 'CPU'}; same integer results as WebGPU`);
  }
  if (adapter) {
    row(dl, 'vendor', adapter.vendor);
    row(dl, 'architecture', adapter.architecture);
    if (adapter.device) row(dl, 'device', adapter.device);
    if (adapter.description) row(dl, 'description', adapter.description);
    const software = softwareRenderer(adapter);
    if (software) row(dl, 'renders', `on the CPU (${software}): a software adapter`);
  }
  container.append(dl);
  if (!adapter) return;
  const features = document.createElement('div');
  features.className = 'chips';
  features.setAttribute('aria-label', 'features');
  for (const f of adapter.features) {
    const chip = document.createElement('span');
    chip.className = 'chip';
    chip.textContent = f;
    features.append(chip);
  }
  if (adapter.features.length === 0) features.textContent = 'no optional features';
  const fh = document.createElement('h4');
  fh.textContent = `Features (${adapter.features.length})`;
  container.append(fh, features);

  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = `Limits (${adapter.source === 'device' ? 'granted to the page' : 'of the adapter'})`;
  details.append(summary);
  const table = document.createElement('table');
  table.className = 'limits';
  const names = Object.keys(adapter.limits).sort((a, b) => {
    const ka = KEY_LIMITS.indexOf(a);
    const kb = KEY_LIMITS.indexOf(b);
    return (ka < 0 ? 99 : ka) - (kb < 0 ? 99 : kb) || a.localeCompare(b);
  });
  for (const name of names) {
    const tr = table.insertRow();
    const k = tr.insertCell();
    k.textContent = name;
    const v = tr.insertCell();
    v.textContent = formatLimit(name, adapter.limits[name]);
    if (KEY_LIMITS.includes(name)) tr.className = 'key';
  }
  details.append(table);
  container.append(details);
}
