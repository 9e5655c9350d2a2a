/**
 * Every relative Markdown link of the hand-written pages (README.md, docs/*.md, results/**.md,
 * test/golden/README.md) names a file or folder that exists, so moving or removing a file
 * cannot leave a dead link behind. docs/api is generated and not checked.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Markdown files under `dir` (relative to the root), recursively when `deep`. */
function markdownIn(dir: string, deep: boolean): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory() && deep) out.push(...markdownIn(path, deep));
    else if (e.isFile() && e.name.endsWith('.md')) out.push(path);
  }
  return out;
}

function pages(): string[] {
  return [
    'README.md',
    ...markdownIn('docs', false),
    ...markdownIn('results', true),
    'test/golden/README.md',
  ].sort();
}

/**
 * Link targets of a Markdown text, outside fenced code blocks and inline code: inline links
 * and images `[text](target "title")` and reference definitions `[label]: target`.
 */
function linkTargets(markdown: string): string[] {
  const targets: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (fenced) continue;
    const text = line.replace(/(`+)[^`]*?\1/g, '');
    for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(m[1]);
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(text);
    if (def) targets.push(def[1]);
  }
  return targets;
}

/** Whether a target points into the repository (not a URL, not an anchor of the same page). */
function isRelative(target: string): boolean {
  return !/^(?:[a-z][a-z0-9+.-]*:|#|\/\/)/i.test(target);
}

function deadLinks(page: string): string[] {
  const text = readFileSync(join(ROOT, page), 'utf8');
  const dead: string[] = [];
  for (const target of linkTargets(text).filter(isRelative)) {
    const path = decodeURIComponent(target.replace(/[#?].*$/, ''));
    if (path === '') continue;
    const full = join(ROOT, dirname(page), path);
    const inside = !relative(ROOT, full).startsWith('..');
    if (!inside || !existsSync(full)) dead.push(`${page}: ${target}`);
    else if (path.endsWith('/') && !statSync(full).isDirectory()) dead.push(`${page}: ${target}`);
  }
  return dead;
}

describe('Markdown links', () => {
  it('finds inline links, images and definitions, skipping code', () => {
    const md = [
      'See [a](docs/a.md#x), ![shot](img/s.png "title") and [b][ref].',
      '`[not](code.md)` and [web](https://example.org) and [top](#anchor)',
      '```',
      '[inside](fence.md)',
      '```',
      '[ref]: results/r.md',
    ].join('\n');
    const found = linkTargets(md);
    expect(found).toEqual([
      'docs/a.md#x',
      'img/s.png',
      'https://example.org',
      '#anchor',
      'results/r.md',
    ]);
    expect(found.filter(isRelative)).toEqual(['docs/a.md#x', 'img/s.png', 'results/r.md']);
  });

  it('every relative link of the hand-written pages resolves', () => {
    const all = pages();
    expect(all).toContain('results/README.md');
    expect(all.some((p) => p.startsWith('docs/api'))).toBe(false);
    const checked = all.flatMap((p) =>
      linkTargets(readFileSync(join(ROOT, p), 'utf8')).filter(isRelative),
    );
    // The pages do link to each other; a parser that found nothing would pass vacuously.
    expect(checked.length).toBeGreaterThan(20);
    expect(all.flatMap(deadLinks)).toEqual([]);
  });
});
