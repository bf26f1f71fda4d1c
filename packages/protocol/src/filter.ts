/**
 * Publication filters: a small language over a publication's tags (`Publication.tags`),
 * given on `subscribe` (and `history`) as `filter`, evaluated by the server.
 *
 *   symbol in ["AAPL", "MSFT"] && priority >= 2
 *   !(kind == "heartbeat") || region != "eu"
 *
 * Grammar (whitespace between tokens is ignored):
 *
 *   expr       := and ("||" and)*
 *   and        := unary ("&&" unary)*
 *   unary      := "!" unary | "(" expr ")" | comparison
 *   comparison := name op value | name "in" "[" value ("," value)* "]"
 *   op         := "==" | "!=" | "<" | "<=" | ">" | ">="
 *   name       := a tag name: a letter or "_", then letters, digits, "_", "-", "." or ":"
 *   value      := a string in double quotes (escapes \" and \\) | a number (-12, 3.5, 1e3)
 *
 * Tags are strings. A comparison is numeric when both the tag's value and the literal are
 * numbers, else it compares the strings (by UTF-16 code units; a number literal as written).
 * A publication without the tag satisfies only `!=`. Parsing is a hand-written tokenizer and
 * recursive descent (no regular expression, nothing evaluated), bounded in length
 * (`MAX_FILTER_LENGTH`), comparisons and values (`MAX_FILTER_NODES`) and nesting
 * (`MAX_FILTER_DEPTH`); an error names the position (0-based, in UTF-16 code units).
 */

/** Longest filter accepted, in characters. */
export const MAX_FILTER_LENGTH = 1024;
/** Most comparisons, `in` values and operators in one filter. */
export const MAX_FILTER_NODES = 64;
/** Deepest nesting of parentheses and `!`. */
export const MAX_FILTER_DEPTH = 16;

/** A filter that could not be parsed: `position` is where (0-based). */
export class FilterError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(`${message} at position ${position}`);
    this.name = 'FilterError';
    this.position = position;
  }
}

/** A compiled filter: true when a publication with these tags matches. */
export type TagFilter = (tags: Readonly<Record<string, string>> | undefined) => boolean;

type Token =
  | { kind: 'name'; text: string; at: number }
  | { kind: 'string'; text: string; at: number }
  | { kind: 'number'; text: string; value: number; at: number }
  | { kind: 'op'; text: string; at: number }
  | { kind: 'end'; text: ''; at: number };

const isLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isDigit = (c: number) => c >= 48 && c <= 57;
const isNameChar = (c: number) => isLetter(c) || isDigit(c) || c === 45 || c === 46 || c === 58;
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;

/** A number literal's end from `i` (digits, one fraction, one exponent), or -1 when there is none. */
function scanNumber(s: string, i: number): number {
  let j = i;
  if (s.charCodeAt(j) === 45) j++;
  const digitsFrom = j;
  while (isDigit(s.charCodeAt(j))) j++;
  if (j === digitsFrom) return -1;
  if (s.charCodeAt(j) === 46) {
    const f = ++j;
    while (isDigit(s.charCodeAt(j))) j++;
    if (j === f) return -1;
  }
  const e = s.charCodeAt(j);
  if (e === 101 || e === 69) {
    j++;
    const sign = s.charCodeAt(j);
    if (sign === 43 || sign === 45) j++;
    const f = j;
    while (isDigit(s.charCodeAt(j))) j++;
    if (j === f) return -1;
  }
  return j;
}

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const at = i;
    if (c === 34) {
      let text = '';
      i++;
      for (;;) {
        if (i >= s.length) throw new FilterError('unterminated string', at);
        const d = s.charCodeAt(i);
        if (d === 34) break;
        if (d === 92) {
          const n = s.charCodeAt(i + 1);
          if (n !== 34 && n !== 92) throw new FilterError('only \\" and \\\\ may be escaped in a string', i);
          text += s[i + 1];
          i += 2;
          continue;
        }
        text += s[i];
        i++;
      }
      i++;
      out.push({ kind: 'string', text, at });
      continue;
    }
    if (isDigit(c) || (c === 45 && isDigit(s.charCodeAt(i + 1)))) {
      const end = scanNumber(s, i);
      if (end === -1) throw new FilterError('malformed number', at);
      const text = s.slice(i, end);
      out.push({ kind: 'number', text, value: Number(text), at });
      i = end;
      continue;
    }
    if (isLetter(c)) {
      let j = i + 1;
      while (j < s.length && isNameChar(s.charCodeAt(j))) j++;
      out.push({ kind: 'name', text: s.slice(i, j), at });
      i = j;
      continue;
    }
    const two = s.slice(i, i + 2);
    if (two === '==' || two === '!=' || two === '<=' || two === '>=' || two === '&&' || two === '||') {
      out.push({ kind: 'op', text: two, at });
      i += 2;
      continue;
    }
    const one = s[i]!;
    if (one === '<' || one === '>' || one === '!' || one === '(' || one === ')' || one === '[' || one === ']' || one === ',') {
      out.push({ kind: 'op', text: one, at });
      i++;
      continue;
    }
    throw new FilterError(`unexpected character ${JSON.stringify(one)}`, at);
  }
  out.push({ kind: 'end', text: '', at: s.length });
  return out;
}

/** A literal on the right of a comparison: its text, and its number when it is one. */
interface Literal {
  text: string;
  num: number | undefined;
}

/** The tag's value as a number, when it is one (the same syntax as a literal). */
function asNumber(v: string): number | undefined {
  return v.length > 0 && v.length <= 64 && scanNumber(v, 0) === v.length ? Number(v) : undefined;
}

/** -1, 0, 1: the tag's value against a literal (numeric when both are numbers). */
function compare(v: string, lit: Literal): number {
  if (lit.num !== undefined) {
    const n = asNumber(v);
    if (n !== undefined) return n < lit.num ? -1 : n > lit.num ? 1 : 0;
  }
  return v < lit.text ? -1 : v > lit.text ? 1 : 0;
}

function tagOf(tags: Readonly<Record<string, string>> | undefined, name: string): string | undefined {
  if (tags === undefined || !Object.hasOwn(tags, name)) return undefined;
  const v = tags[name];
  return typeof v === 'string' ? v : undefined;
}

class Parser {
  private readonly tokens: Token[];
  private i = 0;
  private nodes = 0;
  private depth = 0;

  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  private get peek(): Token {
    return this.tokens[this.i]!;
  }

  private next(): Token {
    return this.tokens[this.i++]!;
  }

  private count(at: number): void {
    if (++this.nodes > MAX_FILTER_NODES) throw new FilterError(`more than ${MAX_FILTER_NODES} comparisons, values and operators`, at);
  }

  private expect(text: string, what: string): Token {
    const t = this.next();
    if (t.kind !== 'op' || t.text !== text) throw new FilterError(`expected ${what}${t.kind === 'end' ? ', found the end' : ''}`, t.at);
    return t;
  }

  parse(): TagFilter {
    const f = this.or();
    const t = this.peek;
    if (t.kind !== 'end') throw new FilterError('expected && or || or the end', t.at);
    return f;
  }

  private or(): TagFilter {
    let left = this.and();
    while (this.peek.kind === 'op' && this.peek.text === '||') {
      this.count(this.next().at);
      const a = left;
      const b = this.and();
      left = (tags) => a(tags) || b(tags);
    }
    return left;
  }

  private and(): TagFilter {
    let left = this.unary();
    while (this.peek.kind === 'op' && this.peek.text === '&&') {
      this.count(this.next().at);
      const a = left;
      const b = this.unary();
      left = (tags) => a(tags) && b(tags);
    }
    return left;
  }

  private unary(): TagFilter {
    const t = this.peek;
    if (t.kind === 'op' && (t.text === '!' || t.text === '(')) {
      if (++this.depth > MAX_FILTER_DEPTH) throw new FilterError(`nested deeper than ${MAX_FILTER_DEPTH}`, t.at);
      this.next();
      let f: TagFilter;
      if (t.text === '!') {
        this.count(t.at);
        const inner = this.unary();
        f = (tags) => !inner(tags);
      } else {
        f = this.or();
        this.expect(')', ')');
      }
      this.depth--;
      return f;
    }
    return this.comparison();
  }

  private value(): Literal {
    const t = this.next();
    if (t.kind === 'string') return { text: t.text, num: undefined };
    if (t.kind === 'number') return { text: t.text, num: t.value };
    throw new FilterError('expected a value (a "string" or a number)', t.at);
  }

  private comparison(): TagFilter {
    const t = this.next();
    if (t.kind !== 'name') throw new FilterError(t.kind === 'end' ? 'expected a tag name, found the end' : 'expected a tag name, ! or (', t.at);
    this.count(t.at);
    const name = t.text;
    const op = this.next();
    if (op.kind === 'name' && op.text === 'in') {
      this.expect('[', '[ after in');
      const set: Literal[] = [];
      for (;;) {
        this.count(this.peek.at);
        set.push(this.value());
        const sep = this.next();
        if (sep.kind === 'op' && sep.text === ']') break;
        if (sep.kind !== 'op' || sep.text !== ',') throw new FilterError('expected , or ]', sep.at);
      }
      return (tags) => {
        const v = tagOf(tags, name);
        if (v === undefined) return false;
        for (const lit of set) if (compare(v, lit) === 0) return true;
        return false;
      };
    }
    if (op.kind !== 'op' || !['==', '!=', '<', '<=', '>', '>='].includes(op.text)) {
      throw new FilterError('expected ==, !=, <, <=, >, >= or in', op.at);
    }
    const lit = this.value();
    switch (op.text) {
      case '==': return (tags) => { const v = tagOf(tags, name); return v !== undefined && compare(v, lit) === 0; };
      case '!=': return (tags) => { const v = tagOf(tags, name); return v === undefined || compare(v, lit) !== 0; };
      case '<': return (tags) => { const v = tagOf(tags, name); return v !== undefined && compare(v, lit) < 0; };
      case '<=': return (tags) => { const v = tagOf(tags, name); return v !== undefined && compare(v, lit) <= 0; };
      case '>': return (tags) => { const v = tagOf(tags, name); return v !== undefined && compare(v, lit) > 0; };
      default: return (tags) => { const v = tagOf(tags, name); return v !== undefined && compare(v, lit) >= 0; };
    }
  }
}

/**
 * Parses a filter (see this module) into a function over a publication's tags; throws
 * `FilterError` naming the position of the first problem.
 */
export function compileFilter(source: string): TagFilter {
  if (source.length > MAX_FILTER_LENGTH) throw new FilterError(`longer than ${MAX_FILTER_LENGTH} characters`, MAX_FILTER_LENGTH);
  if (source.trim() === '') throw new FilterError('empty filter', 0);
  return new Parser(tokenize(source)).parse();
}

/** Most tags on one publication. */
export const MAX_TAGS = 16;
/** Longest tag name and value, in characters. */
export const MAX_TAG_NAME_LENGTH = 64;
export const MAX_TAG_VALUE_LENGTH = 256;

/** What is wrong with a publication's `tags`, or undefined when they are fine (names as in filters, string values, bounded). */
export function tagsProblem(tags: unknown): string | undefined {
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) return 'tags must be an object of strings';
  const names = Object.keys(tags);
  if (names.length > MAX_TAGS) return `at most ${MAX_TAGS} tags`;
  for (const name of names) {
    if (name.length === 0 || name.length > MAX_TAG_NAME_LENGTH || !isLetter(name.charCodeAt(0))) return `tag name ${JSON.stringify(name.slice(0, MAX_TAG_NAME_LENGTH))}: 1-${MAX_TAG_NAME_LENGTH} characters, starting with a letter or _`;
    for (let i = 1; i < name.length; i++) if (!isNameChar(name.charCodeAt(i))) return `tag name ${JSON.stringify(name)}: letters, digits, _ - . : only`;
    const v = (tags as Record<string, unknown>)[name];
    if (typeof v !== 'string' || v.length > MAX_TAG_VALUE_LENGTH) return `tag ${name}: a string of at most ${MAX_TAG_VALUE_LENGTH} characters`;
  }
  return undefined;
}
