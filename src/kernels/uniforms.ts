/**
 * Uniform structs written by member name: the layout (each member's word offset) is read from
 * the WGSL with wgsl_reflect, so a wrapper names the values it sets and the order of the
 * struct's fields is declared once, in the shader.
 */
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';

export class UniformLayout<K extends string> {
  private constructor(
    readonly struct: string,
    /** Word offset of each member. */
    private readonly offsets: ReadonlyMap<K, number>,
    private readonly words: number,
  ) {}

  /** The layout of struct `struct` in `source`, whose members must be 32-bit integers. */
  static of<K extends string>(source: string, struct: string): UniformLayout<K> {
    const s = new WgslReflect(source).structs.find((x) => x.name === struct);
    if (!s) throw new Error(`uniform struct ${struct} not found in the shader`);
    const offsets = new Map<K, number>();
    for (const m of s.members) {
      if (m.size !== 4 || (m.type.name !== 'i32' && m.type.name !== 'u32'))
        throw new Error(`uniform struct ${struct}: member ${m.name} is not an i32 or u32`);
      offsets.set(m.name as K, m.offset / 4);
    }
    return new UniformLayout(struct, offsets, Math.ceil(s.size / 4));
  }

  /** Member names, in the shader's order. */
  get members(): K[] {
    return [...this.offsets.keys()];
  }

  /** The struct's words from a value for every member (u32 members as their bits). */
  pack(values: Readonly<Record<K, number>>): number[] {
    const out = new Array<number>(this.words).fill(0);
    for (const [name, at] of this.offsets) {
      const v = values[name];
      if (!Number.isInteger(v))
        throw new Error(`uniform ${this.struct}.${name}: ${v} is not an integer`);
      out[at] = v;
    }
    for (const name of Object.keys(values))
      if (!this.offsets.has(name as K))
        throw new Error(`uniform ${this.struct} has no member ${name}`);
    return out;
  }
}
