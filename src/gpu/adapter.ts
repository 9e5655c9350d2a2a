/** What an adapter is, from `requestAdapter` alone (before any device is made). */

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
}

export function summarizeAdapter(adapter: GPUAdapter): AdapterSummary {
  const ai = adapter.info ?? ({} as GPUAdapterInfo);
  const fallback = (ai as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    vendor: ai.vendor ?? '',
    architecture: ai.architecture ?? '',
    device: ai.device ?? '',
    description: ai.description ?? '',
    isFallbackAdapter: Boolean(
      fallback ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
    ),
    features: [...adapter.features].map(String).sort(),
  };
}

/** A CPU implementation of WebGPU: flagged as a fallback, or named as Mesa's or Google's. */
export function isSoftwareAdapter(a: Omit<AdapterSummary, 'features'>): boolean {
  return (
    a.isFallbackAdapter ||
    /llvmpipe|lavapipe|swiftshader/i.test(
      `${a.vendor} ${a.architecture} ${a.device} ${a.description}`,
    )
  );
}
