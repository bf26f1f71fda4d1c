import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileFilter, FilterError, MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, MAX_FILTER_NODES, tagsProblem } from '../src/index.ts';

const match = (filter: string, tags?: Record<string, string>) => compileFilter(filter)(tags);
const errorOf = (filter: string): FilterError => {
  try {
    compileFilter(filter);
  } catch (err) {
    if (err instanceof FilterError) return err;
    throw err;
  }
  throw new Error(`${filter} parsed`);
};

describe('publication filters', () => {
  it('compares strings and numbers, in sets, with && || ! and parentheses', () => {
    const aapl = { symbol: 'AAPL', priority: '3', region: 'us' };
    expect(match('symbol == "AAPL"', aapl)).toBe(true);
    expect(match('symbol != "AAPL"', aapl)).toBe(false);
    expect(match('symbol in ["AAPL", "MSFT"] && priority >= 2', aapl)).toBe(true);
    expect(match('symbol in ["MSFT"] || priority > 2', aapl)).toBe(true);
    expect(match('!(region == "us")', aapl)).toBe(false);
    expect(match('!region == "eu"', aapl)).toBe(true);
    expect(match('(symbol == "X" || region == "us") && !(priority < 3)', aapl)).toBe(true);
    // && binds tighter than ||.
    expect(match('symbol == "X" && region == "us" || priority == 3', aapl)).toBe(true);
    expect(match('symbol == "X" && (region == "us" || priority == 3)', aapl)).toBe(false);
  });

  it('numeric when both sides are numbers, else the strings compare', () => {
    expect(match('priority >= 2', { priority: '10' })).toBe(true); // numeric: 10 >= 2 (as strings "10" < "2")
    expect(match('priority == 2', { priority: '2.0' })).toBe(true);
    expect(match('priority in [1, 2e0]', { priority: '2' })).toBe(true);
    expect(match('v < 0', { v: '-0.5' })).toBe(true);
    expect(match('name < "b"', { name: 'alice' })).toBe(true);
    expect(match('name > 5', { name: 'abc' })).toBe(true); // "abc" > "5" as strings
    expect(match('q == "a\\"b\\\\"', { q: 'a"b\\' })).toBe(true);
  });

  it('a missing tag satisfies only !=; tags named like Object.prototype members are just tags', () => {
    expect(match('x == "1"', {})).toBe(false);
    expect(match('x != "1"', {})).toBe(true);
    expect(match('x in ["1"]', undefined)).toBe(false);
    expect(match('x < 5', undefined)).toBe(false);
    expect(match('constructor == "x"', {})).toBe(false);
    expect(match('toString != "x"', {})).toBe(true);
    expect(match('__proto__ == "x"', JSON.parse('{"__proto__":"x"}'))).toBe(true);
    expect(match('a.b:c-d_e == "1"', { 'a.b:c-d_e': '1' })).toBe(true);
  });

  it('a syntax error names the position', () => {
    expect(errorOf('symbol = "AAPL"')).toMatchObject({ position: 7, message: expect.stringMatching(/unexpected character "=" at position 7/) });
    expect(errorOf('symbol == ').message).toBe('expected a value (a "string" or a number) at position 10');
    expect(errorOf('symbol == AAPL').message).toBe('expected a value (a "string" or a number) at position 10');
    expect(errorOf('(a == 1').message).toBe('expected ), found the end at position 7');
    expect(errorOf('a == 1 b == 2').message).toBe('expected && or || or the end at position 7');
    expect(errorOf('a in ["x" "y"]').message).toBe('expected , or ] at position 10');
    expect(errorOf('a == "open').message).toBe('unterminated string at position 5');
    expect(errorOf('a == "\\n"').message).toMatch(/may be escaped in a string at position 6/);
    expect(errorOf('a == 1.').message).toBe('malformed number at position 5');
    expect(errorOf('   ').message).toBe('empty filter at position 0');
    expect(errorOf('&& a == 1').message).toBe('expected a tag name, ! or ( at position 0');
  });

  it('is bounded in length, nodes and nesting', () => {
    expect(errorOf(`a == "${'x'.repeat(MAX_FILTER_LENGTH)}"`).message).toMatch(/longer than 1024 characters/);
    const many = Array.from({ length: MAX_FILTER_NODES }, (_, i) => `t${i} == 1`).join(' || ');
    expect(errorOf(many).message).toMatch(new RegExp(`more than ${MAX_FILTER_NODES} comparisons`));
    expect(() => compileFilter(Array.from({ length: 30 }, (_, i) => `t${i} == 1`).join(' || '))).not.toThrow();
    expect(errorOf(`${'('.repeat(MAX_FILTER_DEPTH + 1)}a == 1${')'.repeat(MAX_FILTER_DEPTH + 1)}`).message).toMatch(/nested deeper than 16 at position 16/);
    expect(errorOf(`${'!'.repeat(MAX_FILTER_DEPTH + 1)}a == 1`).message).toMatch(/nested deeper/);
    expect(compileFilter(`${'('.repeat(MAX_FILTER_DEPTH)}a == 1${')'.repeat(MAX_FILTER_DEPTH)}`)({ a: '1' })).toBe(true);
  });

  it('any input either compiles or throws a FilterError within the string; a compiled filter never throws', () => {
    const alphabet = fc.constantFrom(...'ab1 ."\\!()[],=<>&|-e_:'.split(''), 'in', '==', '&&', '||', '"x"');
    fc.assert(fc.property(fc.array(alphabet, { maxLength: 60 }).map((a) => a.join('')), fc.dictionary(fc.constantFrom('a', 'b', 'in', 'e'), fc.string({ maxLength: 4 })), (src, tags) => {
      let f;
      try {
        f = compileFilter(src);
      } catch (err) {
        expect(err).toBeInstanceOf(FilterError);
        expect((err as FilterError).position).toBeGreaterThanOrEqual(0);
        expect((err as FilterError).position).toBeLessThanOrEqual(Math.max(src.length, 0));
        return;
      }
      expect(typeof f(tags)).toBe('boolean');
    }), { numRuns: 2000 });
  });

  it('tags: an object of bounded strings with names a filter can say', () => {
    expect(tagsProblem({ symbol: 'AAPL', 'a.b': '' })).toBeUndefined();
    expect(tagsProblem([])).toMatch(/object of strings/);
    expect(tagsProblem({ n: 1 })).toMatch(/tag n: a string/);
    expect(tagsProblem({ '1x': 'a' })).toMatch(/starting with a letter/);
    expect(tagsProblem({ 'a b': 'a' })).toMatch(/letters, digits/);
    expect(tagsProblem(Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`t${i}`, 'x'])))).toMatch(/at most 16 tags/);
    expect(tagsProblem({ v: 'x'.repeat(257) })).toMatch(/at most 256/);
  });
});
