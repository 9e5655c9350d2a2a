/**
 * WGSL as built bundles carry it: without comments, indentation or blank lines, the
 * `// include:` lines kept (src/kernels/shaders.ts resolves them). The Vite build applies it
 * to every shader; the tuner's engine version hashes this form, so a checkout and its built
 * CLI agree on which tuned choices are theirs.
 */
export function compactWgsl(source: string): string {
  const kept = source
    .split('\n')
    .map((line) => (/^\/\/ include: /.test(line) ? line : line.replace(/\/\/.*$/, '').trim()))
    .filter((line) => line !== '');
  return `${kept.join('\n')}\n`;
}
