import { describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { isGranted, matchChannelPattern } from '../src/index.ts';

/** The obvious definition, by regular expression (exponential on hostile patterns; small inputs only). */
function reference(pattern: string, channel: string): boolean {
  const body = pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`, 's').test(channel);
}

describe('matchChannelPattern', () => {
  test('agrees with the regular-expression definition on random patterns and names', () => {
    const text = (chars: string, max: number) => fc.string({ unit: fc.constantFrom(...chars.split('')), maxLength: max });
    fc.assert(fc.property(text('ab:*', 12), text('ab:', 14), (pattern, channel) => {
      expect(matchChannelPattern(pattern, channel)).toBe(reference(pattern, channel));
    }), { numRuns: 5000, seed: 0x5eed });
  });

  test('edge cases', () => {
    const cases: Array<[string, string, boolean]> = [
      ['', '', true], ['*', '', true], ['**', 'x', true], ['a*', 'a', true], ['*a', 'a', true], ['a*b', 'ab', true],
      ['a*b', 'axxb', true], ['a*b', 'axxbx', false], ['*b*', 'aaa', false], ['chat:*:x', 'chat:a:b:x', true],
      ['a*a*a', 'aa', false], ['a*a*a', 'aaa', true], ['*.*', 'a.b', true], ['*.*', 'ab', false],
    ];
    for (const [p, c, want] of cases) expect(matchChannelPattern(p, c), `${p} ~ ${c}`).toBe(want);
  });

  test('hostile patterns that make a backtracking regex run for minutes answer at once', () => {
    // In a child process with a deadline: a backtracking matcher blocks the thread for minutes
    // (the test would hang rather than fail). The deadline is 20 s for work that takes ms.
    const code = `
      import { isGranted, matchChannelPattern } from ${JSON.stringify(new URL('../src/channels.ts', import.meta.url).href)};
      const hostile = ['*a*a*a*a*a*a*a*a*a*a*a*b', '*a'.repeat(60) + '*b', 'a*'.repeat(127) + 'b'];
      const names = Array.from({ length: 2000 }, (_, i) => 'a'.repeat(200) + i);
      const matched = hostile.flatMap((p) => names.filter((n) => matchChannelPattern(p, n)));
      process.stdout.write(JSON.stringify({ matched, granted: isGranted(hostile, 'a'.repeat(250) + 'b') }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { timeout: 20_000, encoding: 'utf8' });
    expect(r.signal, 'the matcher was still running after 20 s (exponential backtracking)').toBeNull();
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ matched: [], granted: true });
  });
});
