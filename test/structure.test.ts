/**
 * The shape of src/: no import cycles between files or between top-level folders (a file
 * directly in src/ counts as a folder of its own).
 */
import { describe, expect, it } from 'vitest';
import { cycles, folderGraph, importGraph } from './structure.ts';

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
