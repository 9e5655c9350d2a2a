/**
 * Compute pipelines, cached by shader source, entry point and override constants. Bind group
 * layouts are read from the WGSL with wgsl_reflect, so each binding is declared once, in the
 * shader, and kernels bind their buffers by variable name.
 */
import { ResourceType, WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';

/** Where pipeline creation reports validation errors (the backend's ErrorSink). */
export interface ErrorSink {
  scoped<T>(what: string, f: () => T): T;
}

export interface BindingSlot {
  binding: number;
  type: GPUBufferBindingType;
}

export interface Kernel {
  /** Kernel family and entry point, e.g. "linear/forward"; used in every error message. */
  name: string;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  /** Bindings of group 0 used by this entry point, by WGSL variable name. */
  slots: Map<string, BindingSlot>;
}

export type Overrides = Record<string, number>;

function reflectSlots(source: string, entry: string, family: string): Map<string, BindingSlot> {
  const reflect = new WgslReflect(source);
  const fn = reflect.entry.compute.find((f) => f.name === entry);
  if (!fn) throw new Error(`shader ${family} has no compute entry point '${entry}'`);
  const slots = new Map<string, BindingSlot>();
  for (const v of fn.resources) {
    if (v.group !== 0) throw new Error(`shader ${family}: binding ${v.name} is not in group 0`);
    let type: GPUBufferBindingType;
    if (v.resourceType === ResourceType.Uniform) type = 'uniform';
    else if (v.resourceType === ResourceType.Storage)
      type = v.access === 'read' ? 'read-only-storage' : 'storage';
    else throw new Error(`shader ${family}: binding ${v.name} is not a buffer`);
    slots.set(v.name, { binding: v.binding, type });
  }
  return slots;
}

export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly kernels = new Map<string, Kernel>();
  private readonly reflected = new Map<string, Map<string, BindingSlot>>();

  constructor(
    private readonly device: GPUDevice,
    private readonly errors: ErrorSink,
  ) {}

  get size(): number {
    return this.kernels.size;
  }

  /** `family` names the shader file (e.g. "linear"), used for labels and errors. */
  get(family: string, source: string, entry: string, overrides: Overrides = {}): Kernel {
    const keys = Object.keys(overrides).sort();
    const key = `${source}\u0000${entry}\u0000${keys.map((k) => `${k}=${overrides[k]}`).join(',')}`;
    const hit = this.kernels.get(key);
    if (hit) return hit;
    const name = `${family}/${entry}`;
    let module = this.modules.get(source);
    if (!module) {
      module = this.errors.scoped(name, () =>
        this.device.createShaderModule({ code: source, label: family }),
      );
      this.modules.set(source, module);
    }
    const reflectKey = `${source}\u0000${entry}`;
    let slots = this.reflected.get(reflectKey);
    if (!slots) {
      slots = reflectSlots(source, entry, family);
      this.reflected.set(reflectKey, slots);
    }
    const entries: GPUBindGroupLayoutEntry[] = [...slots.values()].map((s) => ({
      binding: s.binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: s.type },
    }));
    const label = `${name}(${keys.map((k) => `${k}=${overrides[k]}`).join(',')})`;
    const kernel = this.errors.scoped(name, () => {
      const layout = this.device.createBindGroupLayout({ entries, label });
      const pipeline = this.device.createComputePipeline({
        label,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout], label }),
        compute: { module: module!, entryPoint: entry, constants: overrides },
      });
      return { name, pipeline, layout, slots: slots! };
    });
    this.kernels.set(key, kernel);
    return kernel;
  }
}
