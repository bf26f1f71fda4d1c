import { BATCH_QUERY_FLAG, MAX_ID_LENGTH, tagsProblem, type AckFrame } from '@switchboard/protocol';
import type { HistoryResult, PublishResult } from './events.ts';
import { positionOf } from './replay.ts';
import { randomId } from './ids.ts';

/** Builds the socket URL: `ws(s)://`, path `/ws` when none is given, and `?batch=1`. */
export function socketUrl(url: string): string {
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  const u = base ? new URL(url, base) : new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new TypeError(`Switchboard: url must be ws://, wss://, http:// or https:// (got ${u.protocol})`);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/ws';
  u.searchParams.set(BATCH_QUERY_FLAG, '1');
  return u.toString();
}

/** What `history` resolves with, from its ack. */
export function historyResult(ack: AckFrame): HistoryResult {
  const next = positionOf(ack.next);
  return { epoch: ack.epoch ?? '', offset: ack.offset ?? 0, publications: ack.publications ?? [], more: ack.more === true, ...(next ? { next } : {}) };
}

/** A publish's `tags` checked (TypeError when bad), as the frame's field. */
export function tagsField(tags: Record<string, string> | undefined): { tags?: Record<string, string> } {
  if (tags === undefined) return {};
  const bad = tagsProblem(tags);
  if (bad) throw new TypeError(`Switchboard: publish: ${bad}`);
  return { tags };
}

/** Checks a publish/send payload and id; returns the id to use (random unless given). Throws TypeError. */
export function checkPayload(data: unknown, id: string | undefined): string {
  if (data === undefined) throw new TypeError('Switchboard: data is required (use null for none)');
  JSON.stringify(data); // throws now for data that cannot be sent (cycles, BigInt)
  if (id !== undefined && (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH)) throw new TypeError(`Switchboard: id must be a string of 1-${MAX_ID_LENGTH} characters`);
  return id ?? randomId();
}

/** Checks an `rpc` call's method name and data. Throws TypeError. */
export function checkRpc(method: unknown, data: unknown): void {
  if (typeof method !== 'string' || !/^[A-Za-z0-9_.:/-]{1,128}$/.test(method)) throw new TypeError('Switchboard: rpc: method must be 1-128 of A-Z a-z 0-9 _ . : / -');
  JSON.stringify(data); // throws now for data that cannot be sent (cycles, BigInt)
}

/** What `publish`/`send` resolve with, from the `ack`. */
export function publishResult(id: string, ack: AckFrame): PublishResult {
  return {
    id,
    duplicate: ack.duplicate === true,
    ...(typeof ack.offset === 'number' ? { offset: ack.offset } : {}),
    ...(typeof ack.epoch === 'string' ? { epoch: ack.epoch } : {}),
  };
}

/** The HTTP transports' base (`http(s)://host[/prefix]`, the path without its `/ws`) and query of a socket URL. */
export function httpEndpoints(wsUrl: string): { base: string; query: string } {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  return { base: `${u.origin}${u.pathname.replace(/\/ws\/?$/, '').replace(/\/$/, '')}`, query: u.search.slice(1) };
}
