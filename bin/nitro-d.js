#!/usr/bin/env node
// The CLI entry: runs the built bundle (`npm run build` in a checkout; a packed package ships it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(cli)) {
  console.error('nitro-d: dist/cli.js is missing; run `npm run build` in the nitro-d folder first');
  process.exit(1);
}
const { main } = await import(cli);
process.exitCode = await main(process.argv.slice(2));
