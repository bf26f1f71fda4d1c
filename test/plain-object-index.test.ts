import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Lint: no user-controlled string may index a plain object (`__proto__`, `constructor` and
 * `toString` are valid user ids and channel-name parts). Dictionaries are `Map`s or
 * `Object.create(null)`. This finds every plain-object dictionary (`Record<string, …> = {}`)
 * and every lookup in configured namespaces in the sources; each one must be listed below
 * with the reason its keys are not attacker-chosen. A new one fails here until reviewed.
 */
const ALLOWED: Record<string, { count: number; why: string }> = {
  'packages/server/src/auth/mint.ts': { count: 1, why: 'fixed claim names' },
  'packages/server/src/api/openapi.ts': { count: 1, why: 'route names from API_METHODS' },
  'packages/server/src/config.ts': { count: 2, why: 'operator configuration (file, environment)' },
  'packages/server/src/cli.ts': { count: 1, why: 'fixed flag names' },
  'packages/server/src/protocols/v1/replies.ts': { count: 1, why: 'reply(): fixed ack field names' },
  'packages/server/src/protocols/v1/commands/publish.ts': { count: 1, why: 'fixed ack field names' },
};

const ROOT = join(import.meta.dirname, '..');
const DICT = /Record<string,[^=;]*>\s*=\s*\{\s*\}|\{\s*\[\w+: string\]: [^}]*\}\s*=\s*\{\s*\}/g;
/** Indexing configured namespaces by a parsed channel's namespace without `Object.hasOwn`. */
const NAMESPACE_INDEX = /namespaces\[(?!['"`])/g;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'dist') continue;
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts') && !name.endsWith('.contract.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

describe('no user-controlled string indexes a plain object', () => {
  it('every plain-object dictionary in packages/*/src is reviewed; namespace lookups go through Object.hasOwn', () => {
    const found: Record<string, number> = Object.create(null);
    const unguarded: string[] = [];
    const pkgs = join(ROOT, 'packages');
    for (const pkg of readdirSync(pkgs)) {
      const src = join(pkgs, pkg, 'src');
      if (!statSync(src, { throwIfNoEntry: false })?.isDirectory()) continue;
      for (const file of sources(src)) {
        const text = readFileSync(file, 'utf8');
        const rel = relative(ROOT, file);
        const n = text.match(DICT)?.length ?? 0;
        if (n > 0) found[rel] = n;
        for (const line of text.split('\n')) {
          if (NAMESPACE_INDEX.test(line) && !line.includes('Object.hasOwn')) unguarded.push(`${rel}: ${line.trim()}`);
          NAMESPACE_INDEX.lastIndex = 0;
        }
      }
    }
    const expected = Object.fromEntries(Object.entries(ALLOWED).map(([f, a]) => [f, a.count]));
    expect({ ...found }, 'a new plain-object dictionary: use a Map or Object.create(null), or list it in ALLOWED with the reason its keys are safe').toEqual(expected);
    expect(unguarded).toEqual([]);
  });

  it('the check finds what it looks for', () => {
    expect('const x: Record<string, number> = {};'.match(DICT)).toHaveLength(1);
    expect('const y: { [k: string]: number } = {};'.match(DICT)).toHaveLength(1);
    expect('const z = new Map<string, number>();'.match(DICT)).toBeNull();
    expect(NAMESPACE_INDEX.test('const o = this.config.namespaces[ns];')).toBe(true);
  });
});
