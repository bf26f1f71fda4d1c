import type { Node } from '../../../node.ts';
import type { Operations } from '../../../api/operations.ts';
import type { ResolvedChannel } from '../../../channels.ts';
import { pusherChannel, pusherNameOf, type PusherApp, type PusherChannel } from '../apps.ts';
import { isReservedEvent, publicationData, valueOfText } from '../events.ts';
import { connectionIdOf } from '../socket-id.ts';
import { PusherHttpError } from './request-auth.ts';

/** The body of `POST /apps/<id>/events`. */
export interface TriggerRequest {
  name?: unknown;
  data?: unknown;
  channels?: unknown;
  channel?: unknown;
  socket_id?: unknown;
  info?: unknown;
}

/** Channels one event may go to, and events one batch may carry (Pusher's limits). */
const MAX_CHANNELS = 100;
const MAX_BATCH = 10;
const MAX_EVENT_NAME = 200;

type Info = Record<string, { subscription_count?: number; user_count?: number }>;

/** What the info attributes ask for; 400 for unknown ones and for `user_count` off presence channels. */
function infoWanted(info: unknown, presenceOnly: boolean): { subscriptions: boolean; users: boolean } {
  if (info === undefined || info === '') return { subscriptions: false, users: false };
  if (typeof info !== 'string') throw new PusherHttpError(400, 'info must be a comma-separated string');
  const wanted = { subscriptions: false, users: false };
  for (const attr of info.split(',')) {
    if (attr === 'subscription_count') wanted.subscriptions = true;
    else if (attr === 'user_count') {
      if (!presenceOnly) throw new PusherHttpError(400, 'user_count is only available for presence channels');
      wanted.users = true;
    } else if (attr !== 'cache') throw new PusherHttpError(400, `Unsupported info attribute: ${attr.slice(0, 64)}`);
  }
  return wanted;
}

/**
 * What the Pusher HTTP API does: triggers are publications in the app's namespace (stored in
 * history where it keeps it, delivered on every node, never to `socket_id`), channel queries
 * read the node directory (cluster mode: every node's counts, at most a second old) and the
 * presence store.
 */
export class PusherEvents {
  private readonly node: Node;
  private readonly ops: Operations;

  constructor(node: Node, ops: Operations) {
    this.node = node;
    this.ops = ops;
  }

  private channelOf(app: PusherApp, name: unknown): { pc: PusherChannel; ch: ResolvedChannel } {
    const pc = pusherChannel(app, name, this.node.config.limits.maxChannelLength);
    if (typeof pc === 'string') throw new PusherHttpError(400, `Invalid channel name ${JSON.stringify(String(name).slice(0, 210))}: ${pc}`);
    return { pc, ch: this.node.resolve(pc.channel) };
  }

  /** Checks one event; answers its channels and what publishing it takes. */
  private prepare(app: PusherApp, e: TriggerRequest, channels: unknown[]) {
    if (typeof e.name !== 'string' || e.name.length === 0) throw new PusherHttpError(400, 'name must be a non-empty string');
    if (e.name.length > MAX_EVENT_NAME) throw new PusherHttpError(400, `Event name too long: at most ${MAX_EVENT_NAME} characters`);
    if (isReservedEvent(e.name)) throw new PusherHttpError(400, 'Event names starting with pusher: or pusher_internal: are reserved');
    if (typeof e.data !== 'string') throw new PusherHttpError(400, 'data must be a string (the JSON text of the event data)');
    if (Buffer.byteLength(e.data) > app.maxEventBytes) throw new PusherHttpError(413, `Payload too large: data over ${app.maxEventBytes} bytes`);
    if (channels.length === 0) throw new PusherHttpError(400, 'channels must name at least one channel');
    if (channels.length > MAX_CHANNELS) throw new PusherHttpError(400, `Too many channels: at most ${MAX_CHANNELS}`);
    const resolved = channels.map((c) => this.channelOf(app, c));
    if (resolved.length > 1 && resolved.some((r) => r.pc.kind === 'encrypted')) {
      throw new PusherHttpError(400, 'Encrypted channels take one channel per event');
    }
    let except: string | undefined;
    if (e.socket_id !== undefined) {
      except = typeof e.socket_id === 'string' ? connectionIdOf(e.socket_id) : undefined;
      if (except === undefined) throw new PusherHttpError(400, 'Invalid socket_id');
    }
    const info = infoWanted(e.info, resolved.every((r) => r.pc.kind === 'presence'));
    return { resolved, except, info, data: publicationData(e.name, valueOfText(e.data)) };
  }

  private async publish(app: PusherApp, p: ReturnType<PusherEvents['prepare']>): Promise<Info | undefined> {
    const meta = { publisher: `pusher:${app.id}`, ...(p.except !== undefined ? { except: p.except } : {}) };
    await Promise.all(p.resolved.map(({ ch }) => this.node.publish(ch, p.data, meta)));
    if (!p.info.subscriptions && !p.info.users) return undefined;
    return this.infoOf(p.resolved, p.info);
  }

  private async infoOf(resolved: Array<{ pc: PusherChannel; ch: ResolvedChannel }>, wanted: { subscriptions: boolean; users: boolean }): Promise<Info> {
    const counts = wanted.subscriptions ? await this.counts(resolved.map((r) => r.ch.name)) : undefined;
    const out = Object.create(null) as Info;
    for (const { pc, ch } of resolved) {
      const entry: Info[string] = {};
      if (counts) entry.subscription_count = counts.get(ch.name) ?? 0;
      if (wanted.users) entry.user_count = Object.keys(await this.node.tracker.members(ch.name)).length;
      out[pc.name] = entry;
    }
    return out;
  }

  /** Subscriber counts of channels (cluster mode: every node's). */
  private async counts(names: string[]): Promise<Map<string, number>> {
    const all = (await this.ops.channels()).channels;
    const want = new Set(names);
    return new Map(all.filter((c) => want.has(c.channel)).map((c) => [c.channel, c.subscribers]));
  }

  /** `POST /apps/<id>/events`. */
  async trigger(app: PusherApp, body: TriggerRequest | undefined): Promise<unknown> {
    const e = body ?? {};
    const channels = Array.isArray(e.channels) ? e.channels : e.channel !== undefined ? [e.channel] : [];
    const info = await this.publish(app, this.prepare(app, e, channels));
    return info ? { channels: info } : {};
  }

  /** `POST /apps/<id>/batch_events`: every event checked before any is published. */
  async batch(app: PusherApp, body: unknown): Promise<unknown> {
    const batch = (body as { batch?: unknown } | undefined)?.batch;
    if (!Array.isArray(batch) || batch.length === 0) throw new PusherHttpError(400, 'batch must be a non-empty array of events');
    if (batch.length > MAX_BATCH) throw new PusherHttpError(400, `Batch too large: at most ${MAX_BATCH} events`);
    const prepared = batch.map((e: TriggerRequest & { channel?: unknown }) => this.prepare(app, { ...e, channels: undefined }, [e.channel]));
    const answers: Array<Info[string]> = [];
    for (const p of prepared) {
      const info = await this.publish(app, p);
      answers.push(info ? Object.values(info)[0]! : {});
    }
    return prepared.some((p) => p.info.subscriptions || p.info.users) ? { batch: answers } : {};
  }

  /** `GET /apps/<id>/channels`: the app's occupied channels, by prefix. */
  async channels(app: PusherApp, prefix: string | undefined, info: string | undefined): Promise<unknown> {
    const wanted = infoWanted(info, prefix !== undefined && prefix.startsWith('presence-'));
    if (wanted.subscriptions) throw new PusherHttpError(400, 'subscription_count is not available for the channel list');
    const ns = `${app.namespace}:`;
    const out = Object.create(null) as Info;
    for (const { channel, subscribers } of (await this.ops.channels(`${ns}*`)).channels) {
      const name = pusherNameOf(channel);
      if (subscribers === 0 || (prefix !== undefined && !name.startsWith(prefix))) continue;
      out[name] = wanted.users ? { user_count: Object.keys(await this.node.tracker.members(channel)).length } : {};
    }
    return { channels: out };
  }

  /** `GET /apps/<id>/channels/<name>`. */
  async channel(app: PusherApp, name: string, info: string | undefined): Promise<unknown> {
    const { pc, ch } = this.channelOf(app, name);
    const wanted = infoWanted(info, pc.kind === 'presence');
    const count = (await this.counts([ch.name])).get(ch.name) ?? 0;
    return {
      occupied: count > 0,
      ...(wanted.subscriptions ? { subscription_count: count } : {}),
      ...(wanted.users ? { user_count: Object.keys(await this.node.tracker.members(ch.name)).length } : {}),
    };
  }

  /** `GET /apps/<id>/channels/<name>/users`: a presence channel's members. */
  async users(app: PusherApp, name: string): Promise<unknown> {
    const { pc, ch } = this.channelOf(app, name);
    if (pc.kind !== 'presence') throw new PusherHttpError(400, 'Users are only listed for presence channels');
    return { users: Object.keys(await this.node.tracker.members(ch.name)).map((id) => ({ id })) };
  }
}
