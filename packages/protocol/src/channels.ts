/** Longest channel name the protocol allows (a server may set a lower limit). */
export const MAX_CHANNEL_LENGTH = 255;
/** Longest user id (and so personal channel name minus `#`). */
export const MAX_USER_ID_LENGTH = 128;

const USER_ID_RE = /^[A-Za-z0-9_.@=+-]+$/;
const NAMESPACE_RE = /^[A-Za-z0-9_-]+$/;
const NAME_RE = /^[A-Za-z0-9_.@=+,;:-]+$/;

export interface ParsedChannel {
  /** `''` for channels without a namespace, `'#'` for personal channels. */
  namespace: string;
  /** The owner of a personal channel `#<userId>`. */
  owner?: string;
}

/** True when `id` may be a user id: 1–128 of `A-Z a-z 0-9 _ . @ = + -`. */
export function isValidUserId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_USER_ID_LENGTH && USER_ID_RE.test(id);
}

/**
 * Parses a channel name, or returns a message that says what is wrong with it.
 *
 * - `#<userId>`: a user's personal channel (namespace `#`).
 * - `namespace:name`: a channel in a namespace (`name` may contain further `:`).
 * - `name`: a channel without a namespace (namespace `''`).
 *
 * Allowed characters: `A-Z a-z 0-9 _ . @ = + , ; : -` (`;` so that every Pusher channel name is one). Pattern characters (`*`, `?`), spaces,
 * slashes and control characters are refused, so a name can never act as a wildcard or a path.
 */
export function parseChannel(channel: unknown, maxLength = MAX_CHANNEL_LENGTH): ParsedChannel | string {
  if (typeof channel !== 'string' || channel.length === 0) return 'channel must be a non-empty string';
  if (channel.length > maxLength) return `channel name longer than ${maxLength} characters`;
  if (channel[0] === '#') {
    const owner = channel.slice(1);
    if (!isValidUserId(owner)) return 'personal channel must be # followed by a valid user id';
    return { namespace: '#', owner };
  }
  if (!NAME_RE.test(channel)) return 'channel name has characters outside A-Z a-z 0-9 _ . @ = + , ; : -';
  const colon = channel.indexOf(':');
  if (colon === -1) return { namespace: '' };
  const namespace = channel.slice(0, colon);
  if (!NAMESPACE_RE.test(namespace)) return 'namespace must be A-Z a-z 0-9 _ -';
  if (colon === channel.length - 1) return 'channel name after the namespace is empty';
  return { namespace };
}

/** The personal channel of a user. */
export function personalChannel(userId: string): string {
  return `#${userId}`;
}

/**
 * Matches a channel against a grant pattern: `*` matches any run of characters (including
 * none); every other character is literal. `"chat:*"` matches `"chat:lobby"`, `"*"` every
 * channel. Personal channels are not granted by patterns: only their owner may use them.
 *
 * Iterative two-pointer matching with no regular expression: on a mismatch it resumes just
 * after the latest `*` (only that one: earlier stars can never do better), so any pattern
 * costs at most O(pattern × channel) steps and never backtracks exponentially
 * (`*a*a*a*a*a*a*a*a*a*a*a*b` against a long run of `a`s answers at once).
 */
export function matchChannelPattern(pattern: string, channel: string): boolean {
  if (!pattern.includes('*')) return pattern === channel;
  let p = 0;
  let c = 0;
  let star = -1; // index in `pattern` of the latest `*` seen
  let resume = 0; // index in `channel` where that star's run currently ends
  while (c < channel.length) {
    if (p < pattern.length && pattern.charCodeAt(p) === 42 /* * */) {
      star = p++;
      resume = c;
    } else if (p < pattern.length && pattern.charCodeAt(p) === channel.charCodeAt(c)) {
      p++;
      c++;
    } else if (star !== -1) {
      p = star + 1;
      c = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}

/** True when any of `patterns` grants `channel`. */
export function isGranted(patterns: readonly string[], channel: string): boolean {
  for (const p of patterns) if (matchChannelPattern(p, channel)) return true;
  return false;
}
