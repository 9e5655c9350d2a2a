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
