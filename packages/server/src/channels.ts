import { ReplyError, isGranted, parseChannel, type ParsedChannel } from '@switchboard/protocol';
import type { Config, NamespaceOptions } from './config.ts';
import type { Identity } from './identity.ts';
import type { DevLenience } from './lenience.ts';

/** Retention of one channel's stream. */
export interface HistoryOptions {
  /** Keep at most this many publications. */
  size: number;
  /** Keep each publication at most this long (ms). */
  ttlMs: number;
}

/** A channel name checked and resolved to its namespace's options. */
export interface ResolvedChannel extends ParsedChannel {
  name: string;
  options: NamespaceOptions;
  /** Retention when the namespace keeps history. */
  history: HistoryOptions | undefined;
  /**
   * Dev mode only (`serve --dev`): grants this channel's namespace requires are not enforced,
   * and each command let through only because of that is logged (docs/configuration.md).
   */
  dev: DevLenience | undefined;
}

const PERSONAL_DEFAULTS: NamespaceOptions = {
  history: { size: 100, ttl: 7 * 86_400_000 },
  presence: false, joinLeave: false, clientPublish: false, directMessages: true, allowSubscribe: false, allowPublish: false, publicationWebhooks: false, delta: null, conflation: null, presenceUpdates: false,
};

/**
 * A namespace that dev mode opens because it is not configured: history and presence, as
 * the dev banner says (its grants are still checked, and a missing one only logged).
 */
const DEV_OPEN_NAMESPACE: NamespaceOptions = {
  history: { size: 1000, ttl: 86_400_000 },
  presence: true, joinLeave: true, clientPublish: true, directMessages: true, allowSubscribe: false, allowPublish: false, publicationWebhooks: false, delta: null, conflation: null, presenceUpdates: true,
};

/** What a Pusher cache channel keeps when its namespace keeps no history: the last event, 30 minutes (Pusher's). */
const PUSHER_CACHE_RETENTION: HistoryOptions = { size: 1, ttlMs: 30 * 60_000 };
const CACHE_PREFIXES = ['cache-', 'private-cache-', 'presence-cache-', 'private-encrypted-cache-'];

/** Resolves channel names against the configured namespaces. */
export class ChannelResolver {
  private readonly config: Config;
  /** Namespaces of Pusher apps (`pusher.apps`): their cache channels keep at least their last event. */
  private readonly pusherNamespaces: ReadonlySet<string>;
  private readonly cache = new Map<string, ResolvedChannel>();
  /** The configured `#` namespace with the personal default retention (built once). */
  private personal: NamespaceOptions | undefined;
  private readonly retentions = new WeakMap<NamespaceOptions, HistoryOptions>();

  /** Dev mode: what it lets through that production would refuse, logged. */
  private readonly dev: DevLenience | undefined;

  constructor(config: Config, dev?: DevLenience) {
    this.config = config;
    this.dev = config.dev ? dev : undefined;
    this.pusherNamespaces = new Set(config.pusher.apps.map((a) => a.namespace));
  }

  /**
   * Retention of a channel: its namespace's; a Pusher cache channel (`<ns>:cache-…` of a
   * Pusher app's namespace) keeps at least its last event for 30 minutes (docs/pusher.md).
   */
  private retentionOf(options: NamespaceOptions, namespace: string, name: string): HistoryOptions | undefined {
    const r = this.retention(options);
    if (r || this.pusherNamespaces.size === 0 || !this.pusherNamespaces.has(namespace)) return r;
    const local = name.slice(namespace.length + 1);
    return CACHE_PREFIXES.some((p) => local.startsWith(p)) ? PUSHER_CACHE_RETENTION : undefined;
  }

  /** The options of a namespace, or undefined when it is not configured. */
  namespace(ns: string): NamespaceOptions | undefined {
    // `ns` comes from a client's channel name: `__proto__:x` must not find Object.prototype.
    const o = Object.hasOwn(this.config.namespaces, ns) ? this.config.namespaces[ns] : undefined;
    // Personal channels keep history unless "#" turns it off (history: null), so private
    // messages reach users who were offline.
    if (o) {
      if (ns !== '#' || o.history !== undefined) return o;
      return (this.personal ??= { ...o, history: PERSONAL_DEFAULTS.history });
    }
    return ns === '#' ? PERSONAL_DEFAULTS : undefined;
  }

  private retention(options: NamespaceOptions): HistoryOptions | undefined {
    const h = options.history;
    if (!h) return undefined;
    let r = this.retentions.get(options);
    if (!r) this.retentions.set(options, (r = { size: h.size, ttlMs: h.ttl }));
    return r;
  }

  /** Throws `bad_request` for a malformed name, `unknown_channel` for an unconfigured namespace. */
  resolve(channel: unknown): ResolvedChannel {
    if (typeof channel === 'string') {
      const hit = this.cache.get(channel);
      if (hit) return hit;
    }
    const parsed = parseChannel(channel, this.config.limits.maxChannelLength);
    if (typeof parsed === 'string') throw new ReplyError('bad_request', parsed);
    let options = this.namespace(parsed.namespace);
    if (!options && this.dev) {
      options = DEV_OPEN_NAMESPACE;
      this.dev.allowed('unconfigured_namespace', parsed.namespace, channel as string);
    }
    if (!options) {
      throw new ReplyError('unknown_channel', parsed.namespace === '' ? 'channels without a namespace are not enabled' : `namespace "${parsed.namespace}" is not configured`);
    }
    // One literal shape (no spread, owner always present) and one retention object per
    // namespace: the cache holds an entry per channel, personal channels included.
    const resolved: ResolvedChannel = { namespace: parsed.namespace, owner: parsed.owner, name: channel as string, options, history: this.retentionOf(options, parsed.namespace, channel as string), dev: this.dev };
    if (this.cache.size > 50_000) this.cache.clear();
    this.cache.set(resolved.name, resolved);
    return resolved;
  }
}

/** Throws `permission_denied` unless `who` may subscribe to `ch`. Personal channels: only their owner. */
export function assertCanSubscribe(who: Identity, ch: ResolvedChannel): void {
  if (ch.owner !== undefined) return assertOwnerOnly(who.user, ch);
  if (ch.options.allowSubscribe || isGranted(who.grants.subscribe, ch.name)) return;
  if (ch.dev) return ch.dev.allowed('subscribe_grant', ch.namespace, ch.name);
  throw new ReplyError('permission_denied', `no grant to subscribe to ${ch.name}`);
}

/**
 * Throws `permission_denied` when `ch` is another user's personal channel: whoever asks (a
 * client, the server API, a stored server-side subscription, a control message from another
 * node), `#<user>` is subscribed by `user` alone.
 */
export function assertOwnerOnly(user: string | undefined, ch: ResolvedChannel): void {
  if (ch.owner === undefined || ch.owner === user) return;
  throw new ReplyError('permission_denied', `${ch.name} is a personal channel: only user "${ch.owner}" may be subscribed to it`);
}

/** Throws `permission_denied` unless `who` may publish to `ch`. */
export function assertCanPublish(who: Identity, ch: ResolvedChannel): void {
  if (ch.owner !== undefined) throw new ReplyError('permission_denied', 'publish to personal channels with "send"');
  if (!ch.options.clientPublish) throw new ReplyError('permission_denied', `clients may not publish in namespace "${ch.namespace}"`);
  if (ch.options.allowPublish || isGranted(who.grants.publish, ch.name)) return;
  if (ch.dev) return ch.dev.allowed('publish_grant', ch.namespace, ch.name);
  throw new ReplyError('permission_denied', `no grant to publish to ${ch.name}`);
}
