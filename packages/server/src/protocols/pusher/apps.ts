import { isValidUserId } from '@switchboard/protocol';
import type { Config, PusherAppConfig } from '../../config.ts';

/** One Pusher app as configured (`pusher.apps`). */
export type PusherApp = PusherAppConfig;

/** The kinds of Pusher channel, by prefix. */
type PusherChannelKind = 'public' | 'private' | 'encrypted' | 'presence' | 'user';

/** A Pusher channel name checked and mapped onto its Switchboard channel. */
export interface PusherChannel {
  /** The name Pusher clients use (`private-orders`). */
  name: string;
  kind: PusherChannelKind;
  /** A cache channel (`cache-`, `private-cache-`, `presence-cache-`, `private-encrypted-cache-`). */
  cache: boolean;
  /** The Switchboard channel (`<namespace>:<name>`; a user channel is the user's `#<id>`). */
  channel: string;
  /** A user channel's user (`#server-to-user-<id>`). */
  user?: string;
}

/** Characters of a Pusher channel name (Pusher's alphabet). */
const NAME_RE = /^[A-Za-z0-9_\-=@,.;]+$/;
/** The longest Pusher channel name (as Pusher's server libraries check it). */
const MAX_PUSHER_CHANNEL = 200;
const USER_PREFIX = '#server-to-user-';

const KINDS: ReadonlyArray<[prefix: string, kind: PusherChannelKind, cache: boolean]> = [
  ['private-encrypted-cache-', 'encrypted', true],
  ['private-encrypted-', 'encrypted', false],
  ['private-cache-', 'private', true],
  ['private-', 'private', false],
  ['presence-cache-', 'presence', true],
  ['presence-', 'presence', false],
  ['cache-', 'public', true],
];

/** Kind and cache flag of a Pusher channel name. */
function kindOf(name: string): { kind: PusherChannelKind; cache: boolean } {
  if (name.startsWith(USER_PREFIX)) return { kind: 'user', cache: false };
  for (const [prefix, kind, cache] of KINDS) if (name.startsWith(prefix)) return { kind, cache };
  return { kind: 'public', cache: false };
}

/**
 * Maps a Pusher channel name of `app` onto its Switchboard channel, or says what is wrong
 * with it. Pusher's alphabet (`A-Z a-z 0-9 _ - = @ , . ;`) is inside Switchboard's, so
 * `orders` is `<namespace>:orders` unchanged; `#server-to-user-<id>` is the user's personal
 * channel `#<id>` (a valid user id).
 */
export function pusherChannel(app: Pick<PusherApp, 'namespace'>, name: unknown, maxChannelLength = 255): PusherChannel | string {
  if (typeof name !== 'string' || name.length === 0) return 'channel must be a non-empty string';
  if (name.length > MAX_PUSHER_CHANNEL) return `channel name longer than ${MAX_PUSHER_CHANNEL} characters`;
  if (name.startsWith(USER_PREFIX)) {
    const user = name.slice(USER_PREFIX.length);
    if (!isValidUserId(user)) return 'user channel must be #server-to-user- followed by a user id (1-128 of A-Z a-z 0-9 _ . @ = + -)';
    return { name, kind: 'user', cache: false, channel: `#${user}`, user };
  }
  if (!NAME_RE.test(name)) return 'channel name has characters outside A-Z a-z 0-9 _ - = @ , . ;';
  const channel = `${app.namespace}:${name}`;
  if (channel.length > maxChannelLength) return `channel name longer than ${maxChannelLength - app.namespace.length - 1} characters`;
  return { name, ...kindOf(name), channel };
}

/**
 * The Pusher name of a Switchboard channel as a Pusher client sees it: the namespace
 * dropped (`px:orders` → `orders`), a personal channel `#<id>` as `#server-to-user-<id>`.
 */
export function pusherNameOf(channel: string): string {
  if (channel.charCodeAt(0) === 35 /* # */) return USER_PREFIX + channel.slice(1);
  return channel.slice(channel.indexOf(':') + 1);
}

/** The configured apps, by key (WebSocket path), by id (HTTP API) and by namespace (webhooks). */
export class PusherApps {
  private readonly byKey = new Map<string, PusherApp>();
  private readonly byId = new Map<string, PusherApp>();
  private readonly byNamespace = new Map<string, PusherApp[]>();

  constructor(config: Pick<Config, 'pusher'>) {
    for (const app of config.pusher.apps) {
      this.byKey.set(app.key, app);
      this.byId.set(app.id, app);
      const list = this.byNamespace.get(app.namespace);
      if (list) list.push(app);
      else this.byNamespace.set(app.namespace, [app]);
    }
  }

  get size(): number {
    return this.byId.size;
  }

  withKey(key: string): PusherApp | undefined {
    return this.byKey.get(key);
  }

  withId(id: string): PusherApp | undefined {
    return this.byId.get(id);
  }

  /** The apps whose channels live in a namespace (usually one). */
  inNamespace(namespace: string): readonly PusherApp[] {
    return this.byNamespace.get(namespace) ?? [];
  }

  all(): Iterable<PusherApp> {
    return this.byId.values();
  }
}
