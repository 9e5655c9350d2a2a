/**
 * Getting a WebGPU device in every runtime: the browser and Deno expose `navigator.gpu`;
 * Node gets it from the `webgpu` package (dawn.node), with software Vulkan drivers as a
 * fallback on machines without a GPU (see ./node-gpu.ts).
 */
import { type AdapterSummary, summarizeAdapter } from './adapter.ts';

export { type AdapterSummary, isSoftwareAdapter, summarizeAdapter } from './adapter.ts';

/** The adapter a WebGPU context runs on: its identity, features and the limits it was given. */
export interface DeviceInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Which runtime produced the device. */
  runtime: 'browser' | 'deno' | 'node';
  features: string[];
  limits: Record<string, number>;
  /** The adapter says it is a fallback (software) adapter. */
  isFallbackAdapter?: boolean;
  /** WGSL language features of the runtime (`navigator.gpu.wgslLanguageFeatures`). */
  wgslFeatures?: string[];
}

export interface GpuContext {
  adapter: GPUAdapter;
  device: GPUDevice;
  info: DeviceInfo;
}

export interface DeviceOptions {
  powerPreference?: GPUPowerPreference;
  /** Ask for 'timestamp-query' when the adapter has it, unquantized under Node (benchmarks). */
  timestamps?: boolean;
  /** Under Node: print the drivers' notices (Dawn's warnings about drivers it rejects). */
  verbose?: boolean;
}

/** Limits the kernels benefit from; each is raised to the adapter's maximum. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
] as const;

function runtimeName(): DeviceInfo['runtime'] {
  if ('Deno' in globalThis) return 'deno';
  if (typeof (globalThis as { window?: unknown }).window !== 'undefined') return 'browser';
  return 'node';
}

/** The runtime has no WebGPU adapter (no `navigator.gpu`, or no adapter behind it). */
export class WebGPUUnavailableError extends Error {
  override name = 'WebGPUUnavailableError';
}

async function requestAdapter(options: DeviceOptions): Promise<GPUAdapter> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) {
    const adapter = await nav.gpu.requestAdapter({ powerPreference: options.powerPreference });
    if (adapter) return adapter;
    if (runtimeName() !== 'node') {
      throw new WebGPUUnavailableError(
        'WebGPU is present but no adapter was found (in Chromium start it with --enable-unsafe-webgpu, or enable WebGPU in the browser settings)',
      );
    }
  }
  if (runtimeName() !== 'node') {
    throw new WebGPUUnavailableError(
      'WebGPU is not available in this runtime (use a browser with WebGPU, e.g. Chrome 113+, or Deno 2)',
    );
  }
  const { nodeAdapter } = await import('./node-gpu.ts');
  // Dawn rounds timestamps down to multiples of 65 536 ns unless told not to.
  return nodeAdapter(
    options.powerPreference,
    options.timestamps ? ['disable-dawn-features=timestamp_quantization'] : [],
    options.verbose,
  );
}

/**
 * The adapter WebGPU would use, from `requestAdapter` alone (no device is made; under Node the
 * system's drivers are asked in a child process, software fallbacks aside), or why there is none.
 */
export async function probeAdapter(
  options: DeviceOptions = {},
): Promise<{ adapter?: AdapterSummary; missing?: string }> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (runtimeName() !== 'node') {
    if (!nav?.gpu) return { missing: 'WebGPU is not available in this runtime' };
    const adapter = await nav.gpu.requestAdapter({ powerPreference: options.powerPreference });
    return adapter ? { adapter: summarizeAdapter(adapter) } : { missing: 'no WebGPU adapter' };
  }
  const { probeNodeAdapters, softwareIcds } = await import('./node-gpu.ts');
  const probe = await probeNodeAdapters();
  if (options.verbose && probe.log) process.stderr.write(probe.log);
  if (!probe.binding) return { missing: 'the webgpu package is not installed' };
  const { adapter, label } = probe.entries[0];
  if (adapter) return { adapter };
  if (label.startsWith('VK_ICD_FILENAMES=')) return { missing: `no WebGPU adapter with ${label}` };
  return {
    missing: softwareIcds().length
      ? 'no hardware GPU adapter, only software Vulkan; --backend webgpu uses it'
      : 'no WebGPU adapter',
  };
}

/** Requests an adapter and a device with the limits the kernels use raised to the adapter's maximum. */
export async function createGpuContext(options: DeviceOptions = {}): Promise<GpuContext> {
  const adapter = await requestAdapter(options);
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  const requiredFeatures: GPUFeatureName[] = [];
  if (options.timestamps && adapter.features.has('timestamp-query'))
    requiredFeatures.push('timestamp-query');
  const device = await adapter.requestDevice({
    requiredLimits,
    requiredFeatures,
    label: 'nitro-d',
  });
  const ai = adapter.info ?? ({} as GPUAdapterInfo);
  const limits: Record<string, number> = {};
  for (const key in device.limits) {
    const v = (device.limits as unknown as Record<string, number>)[key];
    if (typeof v === 'number') limits[key] = v;
  }
  const info: DeviceInfo = {
    vendor: ai.vendor ?? '',
    architecture: ai.architecture ?? '',
    device: ai.device ?? '',
    description: ai.description ?? '',
    runtime: runtimeName(),
    features: [...device.features].map(String).sort(),
    limits,
    isFallbackAdapter: summarizeAdapter(adapter).isFallbackAdapter,
    wgslFeatures: wgslLanguageFeatures(),
  };
  return { adapter, device, info };
}

/** `navigator.gpu.wgslLanguageFeatures` (under Node, the webgpu package's), or undefined. */
function wgslLanguageFeatures(): string[] | undefined {
  const nav = (globalThis as { navigator?: { gpu?: { wgslLanguageFeatures?: Iterable<string> } } })
    .navigator;
  const set = nav?.gpu?.wgslLanguageFeatures;
  return set ? [...set].map(String).sort() : undefined;
}

/** One line naming the adapter, e.g. "google / swiftshader / SwiftShader driver (node)". */
export function adapterName(info: DeviceInfo): string {
  const parts = [info.vendor, info.architecture, info.description || info.device].filter((s) => s);
  return `${parts.join(' / ') || 'unknown adapter'} (${info.runtime})`;
}
