import { filteredPage, parseFilter } from '../subscriptions/filter.ts';
import { hostname } from 'node:os';
import {
  ReplyError, matchChannelPattern, personalChannel,
} from '@switchboard/protocol';
import type { Node } from '../node.ts';
import { assertOwnerOnly, type ResolvedChannel } from '../channels.ts';
import { ApiError, fromReplyError, renameField } from './errors.ts';
import type { Operations } from './operations.ts';
import type {
  AccessResponse, BroadcastResponse, ChannelsResponse, HistoryRequest, HistoryResponse, InfoResponse, PresenceResponse, PublishResponse,
} from './schemas.ts';

function publishAnswer(r: { epoch?: string; offset?: number; duplicate: boolean }): PublishResponse {
  return { ...(r.epoch !== undefined ? { epoch: r.epoch } : {}), ...(r.offset !== undefined ? { offset: r.offset } : {}), duplicate: r.duplicate };
}

/**
 * Operations on one gateway node. Delivery goes through the node's broker (so publications,
 * `sendToAll`, disconnects and unsubscribes reach every node of a cluster); `presence` reads
 * the node's presence store (Redis in cluster mode); `channels` and `info` read the node
 * directory when there is one (cluster mode), else this node's hub. Store and broker failures
 * become temporary `ReplyError('internal')`s (503) through `node.failures`.
 */
export class NodeOperations implements Operations {
  private readonly node: Node;
  private readonly startedAt = Date.now();

  constructor(node: Node) {
    this.node = node;
  }

  /** Runs `fn`; a `ReplyError` it throws is the API error naming `field`. */
  private field<T>(field: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ReplyError) throw fromReplyError(err, field);
      throw err;
    }
  }

  /** Resolves a channel name; a bad one is a 400 naming `field`, an unknown namespace a 404. */
  private resolve(channel: string, field: string): ResolvedChannel {
    try {
      return this.node.resolve(channel);
    } catch (err) {
      if (err instanceof ReplyError) throw fromReplyError(err, field);
      throw err;
    }
  }

  async publish(channel: string, data: unknown, idempotencyKey?: string, tags?: Record<string, string>): Promise<PublishResponse> {
    const ch = this.resolve(channel, 'channel');
    return publishAnswer(await this.node.publish(ch, data, { ...(idempotencyKey !== undefined ? { id: idempotencyKey } : {}), ...(tags !== undefined ? { tags } : {}) }));
  }

  async broadcast(channels: readonly string[], data: unknown, idempotencyKey?: string, tags?: Record<string, string>): Promise<BroadcastResponse> {
    const resolved = channels.map((c, i) => this.resolve(c, `channels.${i}`));
    const meta = { ...(idempotencyKey !== undefined ? { id: idempotencyKey } : {}), ...(tags !== undefined ? { tags } : {}) };
    const results = await Promise.all(resolved.map(async (ch) => {
      try {
        return { channel: ch.name, ...publishAnswer(await this.node.publish(ch, data, meta)) };
      } catch {
        // `node.publish` reported it (rate-limited) and rejected with a temporary error.
        return { channel: ch.name, error: { code: 'internal', message: 'temporary failure; retry this channel', temporary: true } };
      }
    }));
    return { results };
  }

  async send(user: string, data: unknown, idempotencyKey?: string): Promise<PublishResponse> {
    return this.publish(personalChannel(user), data, idempotencyKey).catch(renameField('channel', 'user'));
  }

  /** A store or broker call: its failure is a temporary error (503), logged rate-limited. */
  private guard<T>(op: string, p: Promise<T>): Promise<T> {
    return p.catch((err) => {
      throw this.node.failures.unavailable(err, `server API ${op}`);
    });
  }

  async sendToAll(data: unknown): Promise<{ connections: number }> {
    // Every node (this one included) gets it once over the broker's control channel.
    await this.guard('push all', this.node.broker.publishControl({ type: 'all', data, ts: Date.now() }));
    // Cluster mode: every live node's clients as last announced (this node's are current).
    const nodes = await this.node.directory?.nodes().catch(() => undefined);
    return { connections: nodes ? nodes.reduce((n, x) => n + x.clients, 0) : this.node.hub.clients.size };
  }

  async disconnect(user: string, o: { session?: string; code: number; reason: string }): Promise<void> {
    await this.guard('disconnect', this.node.broker.publishControl({
      type: 'disconnect', user, code: o.code, reason: o.reason,
      ...(o.session !== undefined ? { session: o.session } : {}),
    }));
  }

  async subscribe(user: string, channel: string, persist: boolean): Promise<void> {
    const ch = this.resolve(channel, 'channel');
    assertOwnerOnly(user, ch); // bob is never subscribed to #alice, not even by the backend
    // Stored before the live connections are told: a connection authenticating meanwhile reads it.
    if (persist) await this.guard('subscribe', this.node.serverSubscriptions.add(user, ch.name));
    await this.guard('subscribe', this.node.broker.publishControl({ type: 'subscribe', user, channel: ch.name, persist }));
  }

  async unsubscribe(user: string, channel: string): Promise<void> {
    const ch = this.resolve(channel, 'channel');
    await this.guard('unsubscribe', this.node.serverSubscriptions.remove(user, ch.name));
    await this.guard('unsubscribe', this.node.broker.publishControl({ type: 'unsubscribe', user, channel: ch.name }));
  }

  async block(user: string, o: { ttlSec?: number; reason?: string }): Promise<void> {
    const until = o.ttlSec === undefined ? Infinity : Date.now() + o.ttlSec * 1000;
    // Stored first: an authentication that misses the control message reads it there.
    await this.guard('block', this.node.access.block(user, until, o.reason));
    await this.guard('block', this.node.broker.publishControl({ type: 'access', user, action: 'block' }));
  }

  async unblock(user: string): Promise<void> {
    await this.guard('unblock', this.node.access.unblock(user));
  }

  async revoke(user: string, beforeSec?: number): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    const tolerance = this.node.config.auth.clockToleranceSec;
    if (beforeSec !== undefined && beforeSec > now + tolerance) {
      throw new ApiError(400, 'bad_request', `before: ${beforeSec} is in the future (now is ${now}); to refuse every token, block the user`, 'before');
    }
    const before = beforeSec ?? now;
    await this.guard('revoke', this.node.access.revoke(user, before));
    await this.guard('revoke', this.node.broker.publishControl({ type: 'access', user, action: 'revoke', before }));
  }

  async access(user: string): Promise<AccessResponse> {
    const e = await this.guard('access', this.node.access.get(user));
    const blocked = e?.blockedUntil !== undefined;
    return {
      user,
      blocked,
      ...(blocked && Number.isFinite(e.blockedUntil) ? { until: Math.ceil(e.blockedUntil! / 1000) } : {}),
      ...(blocked && e.reason !== undefined ? { reason: e.reason } : {}),
      ...(e?.revokedBefore !== undefined ? { revokedBefore: e.revokedBefore } : {}),
    };
  }

  async presence(channel: string): Promise<PresenceResponse> {
    const ch = this.resolve(channel, 'channel');
    if (!ch.options.presence) throw new ApiError(404, 'not_available', `presence is not enabled in namespace "${ch.namespace}"`);
    return { presence: await this.node.tracker.members(ch.name) };
  }

  async history(req: HistoryRequest): Promise<HistoryResponse> {
    const ch = this.resolve(req.channel, 'channel');
    if (!ch.history) throw new ApiError(404, 'not_available', `channel ${ch.name} keeps no history (namespace "${ch.namespace}" has no history option)`);
    const max = this.node.config.limits.historyLimit;
    if (req.limit !== undefined && req.limit > max) throw new ApiError(400, 'bad_request', `limit: at most ${max} (limits.historyLimit)`, 'limit');
    const filter = req.filter !== undefined ? this.field('filter', () => parseFilter(req.filter!, '')) : undefined;
    const r = await this.guard('history', this.node.historyReads.read(ch.name, { since: req.since, limit: req.limit ?? Math.min(100, max), reverse: req.reverse, retention: ch.history }));
    if (!r.recoverable) {
      throw new ApiError(410, 'unrecoverable_position', `since: position not retained; the stream is at ${r.position.epoch}/${r.position.offset}`);
    }
    return { epoch: r.position.epoch, offset: r.position.offset, ...filteredPage(r.publications, filter), ...(r.more ? { more: true } : {}) };
  }

  async channels(pattern?: string): Promise<ChannelsResponse> {
    const out: ChannelsResponse['channels'] = [];
    // Cluster mode: every live node's channels (others' as of their last flush, ≤ 1 s old).
    const all = this.node.directory
      ? await this.guard('channels', this.node.directory.channels())
      : new Map([...this.node.hub.channelNames()].map((name) => [name, this.node.hub.subscribers(name)?.size ?? 0]));
    for (const [name, subscribers] of all) {
      if (pattern !== undefined && !matchChannelPattern(pattern, name)) continue;
      out.push({ channel: name, subscribers });
    }
    out.sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
    return { channels: out };
  }

  async info(): Promise<InfoResponse> {
    // Cluster mode: every live node, as each announces itself in Redis.
    if (this.node.directory) {
      const nodes = await this.guard('info', this.node.directory.nodes());
      const totals = { clients: 0, users: 0, channels: 0, subscriptions: 0 };
      for (const n of nodes) for (const k of Object.keys(totals) as Array<keyof typeof totals>) totals[k] += n[k];
      return { nodes, totals };
    }
    const stats = this.node.hub.stats;
    return {
      nodes: [{ id: this.node.id, name: hostname(), pid: process.pid, uptimeMs: Date.now() - this.startedAt, ...stats }],
      totals: { ...stats },
    };
  }
}
