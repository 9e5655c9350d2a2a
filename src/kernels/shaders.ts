/**
 * WGSL sources by file name. WGSL has no imports: a shader names the files it uses in an
 * `// include: a.wgsl, b.wgsl` line, and shaderSource appends them (each once, in order), so
 * every shader says itself what it is compiled with.
 */
import activation from '../../shaders/activation.wgsl?raw';
import conv from '../../shaders/conv.wgsl?raw';
import data from '../../shaders/data.wgsl?raw';
import intCommon from '../../shaders/int-common.wgsl?raw';
import linear from '../../shaders/linear.wgsl?raw';
import linearTiled from '../../shaders/linear-tiled.wgsl?raw';
import loss from '../../shaders/loss.wgsl?raw';
import misc from '../../shaders/misc.wgsl?raw';
import nitro from '../../shaders/nitro.wgsl?raw';
import packedInt8 from '../../shaders/packed-int8.wgsl?raw';
import pool from '../../shaders/pool.wgsl?raw';
import sgd from '../../shaders/sgd.wgsl?raw';

const FILES: Readonly<Record<string, string>> = {
  'activation.wgsl': activation,
  'conv.wgsl': conv,
  'data.wgsl': data,
  'int-common.wgsl': intCommon,
  'linear.wgsl': linear,
  'linear-tiled.wgsl': linearTiled,
  'loss.wgsl': loss,
  'misc.wgsl': misc,
  'nitro.wgsl': nitro,
  'packed-int8.wgsl': packedInt8,
  'pool.wgsl': pool,
  'sgd.wgsl': sgd,
};

const INCLUDE = /^\/\/ include: (.+)$/m;

/** shaders/<file> followed by what it includes (and what they include), each file once. */
export function shaderSource(file: string): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  const add = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const text = FILES[name];
    if (text === undefined) throw new Error(`shader ${name}: no such file in shaders/`);
    parts.push(text);
    const m = text.match(INCLUDE);
    if (m) for (const inc of m[1].split(',')) add(inc.trim());
  };
  add(file);
  return parts.join('\n');
}

/**
 * A shader family's WGSL with its compute entry points and override constants, declared in
 * TypeScript so that kernel wrappers name them with checked types, and checked against the
 * WGSL itself by reflection (test/shaders.test.ts).
 */
export interface Shader<E extends string = string, O extends string = string> {
  /** The family, e.g. "linear": shaders/<family>.wgsl, kernel names "<family>/<entry>". */
  readonly family: string;
  /** shaders/<family>.wgsl with what it includes. */
  readonly source: string;
  readonly entries: readonly E[];
  readonly overrides: readonly O[];
}

/** Override constants of a shader by name (each optional: the WGSL has defaults). */
export type OverrideValues<O extends string> = Partial<Record<O, number>>;

export function defineShader<const E extends string, const O extends string>(
  family: string,
  entries: readonly E[],
  overrides: readonly O[],
): Shader<E, O> {
  return { family, source: shaderSource(`${family}.wgsl`), entries, overrides };
}

/**
 * Refuses an entry point or override constant the shader does not declare (values assembled
 * at run time, such as a kernel variant's, pass the type check as a plain record).
 */
export function checkKernel(shader: Shader, entry: string, overrides: object): void {
  if (!shader.entries.includes(entry))
    throw new Error(`shader ${shader.family} has no compute entry point '${entry}'`);
  for (const k of Object.keys(overrides))
    if (!shader.overrides.includes(k))
      throw new Error(`shader ${shader.family} has no override constant '${k}'`);
}
