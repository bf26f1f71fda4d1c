import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';

/**
 * docs/server-api.md states the configuration its examples assume; every channel its
 * examples name must belong to a namespace of that configuration (a reader who copies an
 * example must not meet `unknown_channel` without being told why).
 */
const doc = readFileSync(new URL('../../../../docs/server-api.md', import.meta.url), 'utf8');

describe('docs/server-api.md examples', () => {
  it('state the configuration they assume, and it is valid', () => {
    const block = /<!-- examples-config -->\n```json\n([\s\S]*?)\n```/.exec(doc);
    expect(block, 'an <!-- examples-config --> JSON block').not.toBeNull();
    const config = parseConfig({ ...JSON.parse(block![1]!), auth: { jwtSecret: 'doc-examples-secret-0123456789' } });
    const namespaces = new Set(Object.keys(config.namespaces));
    // Channel names in the examples: JSON fields, arrays of channels, and the Node client's arguments.
    const used = new Set<string>();
    for (const m of doc.matchAll(/"(?:channel|pointer|pattern)":"([a-z]+):/g)) used.add(m[1]!);
    for (const m of doc.matchAll(/"channels":\[([^\]]*)\]/g)) for (const c of m[1]!.matchAll(/"([a-z]+):/g)) used.add(c[1]!);
    for (const m of doc.matchAll(/api\.\w+\((?:'[^']*', )?'([a-z]+):[^']*'/g)) used.add(m[1]!);
    expect([...used].sort()).toEqual(['chat', 'news']);
    for (const ns of used) expect(namespaces.has(ns), `namespace "${ns}" of the examples`).toBe(true);
  });
});
