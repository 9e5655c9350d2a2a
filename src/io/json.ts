/**
 * JSON with limits: nesting depth and duplicate keys are checked by an iterative scan before
 * JSON.parse runs, so a deeply nested document gives a one-line error naming its source instead
 * of a stack overflow, and a repeated key (which JSON.parse would silently resolve to its last
 * value) is refused. Runtime-neutral.
 */
import { InputError } from './errors.ts';

/** Deepest nesting accepted; model specs and checkpoint headers need fewer than 8 levels. */
export const MAX_JSON_DEPTH = 64;

export interface JsonOptions {
  /** Deepest nesting of arrays and objects accepted (default MAX_JSON_DEPTH). */
  maxDepth?: number;
  /** What the text is, for messages: "model spec m.json", "checkpoint c.safetensors: header". */
  what?: string;
}

/**
 * Parses `text` as JSON; errors are InputErrors reading "SOURCE: ..." on one line.
 * `file` names the file; `options.what` (default: the file) starts every message.
 */
export function parseJson(text: string, file: string, options: JsonOptions = {}): unknown {
  const what = options.what ?? file;
  const problem = scanJson(text, options.maxDepth ?? MAX_JSON_DEPTH);
  if (problem) throw new InputError(`${what}: ${jsonProblemText(problem)}`, file);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${what}: invalid JSON (${(e as Error).message})`, file);
  }
}

/** Why a JSON text is refused before parsing. `depth` 1 is the top-level object. */
export type JsonProblem =
  | { kind: 'depth'; maxDepth: number }
  | { kind: 'duplicate'; key: string; depth: number };

export function jsonProblemText(p: JsonProblem): string {
  if (p.kind === 'depth') return `JSON nested deeper than ${p.maxDepth} levels`;
  const key = JSON.stringify(p.key);
  return `duplicate key ${key.length > 80 ? `${key.slice(0, 77)}...` : key}${p.depth > 1 ? ` at depth ${p.depth}` : ''}`;
}

/**
 * Returns why `text` is refused (too deep, a duplicate key), or undefined. Malformed JSON is left
 * to JSON.parse: the scan only has to terminate on any input, not to validate.
 */
export function scanJson(text: string, maxDepth: number): JsonProblem | undefined {
  // One entry per open container: undefined for an array, the keys seen so far for an object.
  const stack: (Set<string> | undefined)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
      const keys = stack[stack.length - 1];
      if (expectKey && keys) {
        let key: string;
        try {
          key = JSON.parse(text.slice(start, i + 1)) as string;
        } catch {
          return undefined; // malformed string: JSON.parse reports it
        }
        if (keys.has(key)) return { kind: 'duplicate', key, depth: stack.length };
        keys.add(key);
        expectKey = false;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) return { kind: 'depth', maxDepth };
      const isObject = c === 0x7b;
      stack.push(isObject ? new Set() : undefined);
      expectKey = isObject;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] !== undefined;
    }
  }
  return undefined;
}
