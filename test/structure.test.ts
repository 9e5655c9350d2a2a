/**
 * The shape of src/: no import cycles between files or between top-level folders (a file
 * directly in src/ counts as a folder of its own), and no module-level mutable state (a
 * top-level `let` or `var`, or a top-level const holding a new collection or buffer): such
 * state belongs to a backend instance, so two backends in one process share nothing.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cycles, folderGraph, importGraph, SRC, sourceFiles } from './structure.ts';

const MUTABLE =
  /^(?:export )?(?:let|var) \w+|^(?:export )?const \w+(?:: [^=]+)? = new (?:Map|WeakMap|Set|WeakSet|Array|Int8Array|Int16Array|Int32Array|Uint8Array|Uint32Array|ArrayBuffer)\b(?:<[^>]*>)?\([^;]*\);$/;

/**
 * Module-level state allowed anyway, each with why (none now). An entry whose state is gone
 * fails the test, so the list cannot keep stale exceptions.
 */
const KNOWN: Record<string, string> = {};

function mutableState(): string[] {
  const found: string[] = [];
  for (const file of sourceFiles()) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!MUTABLE.test(line)) continue;
      const name = line.match(/^(?:export )?((?:let|var|const) \w+)/)![1];
      found.push(`${relative(SRC, file)}:${name}`);
    }
  }
  return found;
}

describe('src/ imports', () => {
  const graph = importGraph();

  it('read every file and found imports', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get('model/model.ts')).toContain('model/network.ts');
  });

  it('form no cycle between files', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('form no cycle between folders', () => {
    expect(cycles(folderGraph(graph))).toEqual([]);
  });

  it('the cycle finder finds a cycle', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(cycles(g)).toEqual([['a', 'b', 'c']]);
  });
});

describe('src/ module state', () => {
  it('is none but the known exceptions', () => {
    const found = mutableState();
    expect(found.filter((f) => !(f in KNOWN))).toEqual([]);
    // An exception that is gone leaves the list too.
    expect(Object.keys(KNOWN).filter((k) => !found.includes(k))).toEqual([]);
  });

  it('the pattern finds state and passes constants', () => {
    for (const line of [
      'let cached = 0;',
      'const roles = new Map<string, number>();',
      'export var x = 1;',
    ])
      expect(MUTABLE.test(line), line).toBe(true);
    for (const line of [
      'const WG = 64;',
      'const isLe = new Uint8Array(b)[0] === 1;',
      '  let i = 0;',
    ])
      expect(MUTABLE.test(line), line).toBe(false);
  });
});
